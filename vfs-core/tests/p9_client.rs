//! The client against scripted servers: msize and version negotiation, reply checking
//! (tag, type, errno range), and the fid bookkeeping when replies are errors, malformed or
//! missing. Each scripted server answers a decoded request with a reply of its choosing.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use vfs_core::errno::{Errno, Result};
use vfs_core::p9::client::{MAX_MSIZE, MIN_MSIZE};
use vfs_core::p9::message::{Attr, Qid, Reply, Request};
use vfs_core::p9::{Client, Transport};

type Script = dyn Fn(&Request<'_>) -> Option<Vec<u8>> + Send + Sync;

/// A server made of a function from request to raw reply bytes (`None`: transport error).
struct ScriptedChannel {
    max_message_size: u32,
    script: Box<Script>,
    log: Mutex<Vec<(u16, u8, Option<u32>)>>,
}

impl ScriptedChannel {
    fn new(
        max_message_size: u32,
        script: impl Fn(&Request<'_>) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(ScriptedChannel {
            max_message_size,
            script: Box::new(script),
            log: Mutex::new(Vec::new()),
        })
    }

    /// `(tag, type, fid)` of every request, the fid only for clunks.
    fn log(&self) -> Vec<(u16, u8, Option<u32>)> {
        self.log.lock().unwrap().clone()
    }

    fn clunked(&self) -> Vec<u32> {
        self.log()
            .into_iter()
            .filter_map(|(_, _, fid)| fid)
            .collect()
    }
}

impl Transport for ScriptedChannel {
    fn max_message_size(&self) -> u32 {
        self.max_message_size
    }

    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize> {
        let (tag, decoded) = Request::decode(request).unwrap();
        let fid = if let Request::Clunk { fid } = decoded {
            Some(fid)
        } else {
            None
        };
        self.log
            .lock()
            .unwrap()
            .push((tag, decoded.type_code(), fid));
        let bytes = (self.script)(&decoded).ok_or(Errno::EIO)?;
        reply[..bytes.len()].copy_from_slice(&bytes);
        Ok(bytes.len())
    }
}

fn framed(tag: u16, reply: Reply<'_>) -> Vec<u8> {
    let mut bytes = Vec::new();
    reply.encode(tag, &mut bytes).unwrap();
    bytes
}

/// The reply a well-behaved server gives, with tag 0 (the client's only tag when calls do
/// not overlap), for the requests these tests need.
fn good_reply(request: &Request<'_>) -> Vec<u8> {
    match request {
        Request::Version { msize, .. } => framed(
            0xffff,
            Reply::Version {
                msize: *msize,
                version: b"9P2000.L",
            },
        ),
        Request::Attach { .. } => framed(
            0,
            Reply::Attach {
                qid: Qid {
                    kind: 0x80,
                    version: 0,
                    path: 1,
                },
            },
        ),
        Request::Walk { names, .. } => framed(
            0,
            Reply::Walk {
                qids: vec![Qid::default(); names.len()],
            },
        ),
        Request::GetAttr { .. } => framed(
            0,
            Reply::GetAttr {
                attr: Attr {
                    valid: 0x7ff,
                    mode: 0o40755,
                    ..Attr::default()
                },
            },
        ),
        Request::Read { .. } => framed(
            0,
            Reply::Read {
                data: vfs_core::p9::wire::Data(b""),
            },
        ),
        _ => framed(0, Reply::Clunk {}),
    }
}

fn connect(
    script: impl Fn(&Request<'_>) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> (Arc<ScriptedChannel>, Arc<Client>) {
    let channel = ScriptedChannel::new(MAX_MSIZE, script);
    let client = Client::connect(channel.clone()).unwrap();
    (channel, client)
}

#[test]
fn msize_is_the_smallest_of_channel_server_and_client_limits() {
    let channel = ScriptedChannel::new(4 << 20, |request| Some(good_reply(request)));
    assert_eq!(
        Client::connect(channel).unwrap().msize(),
        MAX_MSIZE,
        "proposal capped at 512 KiB"
    );
    let channel = ScriptedChannel::new(100_000, |request| Some(good_reply(request)));
    assert_eq!(
        Client::connect(channel).unwrap().msize(),
        100_000,
        "channel limit"
    );
    let channel = ScriptedChannel::new(MAX_MSIZE, |_| {
        Some(framed(
            0xffff,
            Reply::Version {
                msize: 65560,
                version: b"9P2000.L",
            },
        ))
    });
    assert_eq!(
        Client::connect(channel).unwrap().msize(),
        65560,
        "server's choice"
    );
    let channel = ScriptedChannel::new(MIN_MSIZE - 1, |request| Some(good_reply(request)));
    assert_eq!(Client::connect(channel).err(), Some(Errno::EINVAL));
}

#[test]
fn bad_version_replies_are_refused() {
    let cases: [(Vec<u8>, Errno); 5] = [
        (
            framed(
                0xffff,
                Reply::Version {
                    msize: 8192,
                    version: b"9P2000",
                },
            ),
            Errno::EPROTO,
        ),
        (
            framed(
                0xffff,
                Reply::Version {
                    msize: MAX_MSIZE + 1,
                    version: b"9P2000.L",
                },
            ),
            Errno::EIO,
        ),
        (
            framed(
                0xffff,
                Reply::Version {
                    msize: 512,
                    version: b"9P2000.L",
                },
            ),
            Errno::EIO,
        ),
        (framed(0xffff, Reply::Lerror { errno: 22 }), Errno::EINVAL),
        (
            framed(
                3,
                Reply::Version {
                    msize: 8192,
                    version: b"9P2000.L",
                },
            ),
            Errno::EIO,
        ),
    ];
    for (reply, errno) in cases {
        let channel = ScriptedChannel::new(MAX_MSIZE, move |_| Some(reply.clone()));
        assert_eq!(Client::connect(channel).err(), Some(errno));
    }
}

#[test]
fn replies_must_match_the_request_tag_and_type() {
    let answer = Arc::new(Mutex::new(Vec::new()));
    let scripted = answer.clone();
    let (_, client) = connect(move |request| match request {
        Request::Version { .. } | Request::Attach { .. } => Some(good_reply(request)),
        _ => Some(scripted.lock().unwrap().clone()),
    });
    let (root, _) = client.attach(b"root", b"", 0).unwrap();
    let cases = [
        (
            framed(
                1,
                Reply::GetAttr {
                    attr: Attr {
                        valid: 0x7ff,
                        mode: 0o100644,
                        ..Attr::default()
                    },
                },
            ),
            Errno::EIO,
        ),
        (framed(0, Reply::Clunk {}), Errno::EIO),
        (framed(0, Reply::Lerror { errno: 2 }), Errno::ENOENT),
        (framed(0, Reply::Lerror { errno: 39 }), Errno::ENOTEMPTY),
        (framed(0, Reply::Lerror { errno: 0 }), Errno::EIO),
        (framed(0, Reply::Lerror { errno: 100_000 }), Errno::EIO),
        (vec![1, 2, 3], Errno::EIO),
    ];
    for (reply, errno) in cases {
        *answer.lock().unwrap() = reply;
        assert_eq!(root.getattr(0x7ff).err(), Some(errno));
    }
}

#[test]
fn a_malformed_walk_reply_clunks_the_new_fid_and_reuses_its_number() {
    let (channel, client) = connect(|request| match request {
        // Two qids for one name: the reply is malformed, the server's state unknown.
        Request::Walk { .. } => Some(framed(
            0,
            Reply::Walk {
                qids: vec![Qid::default(); 2],
            },
        )),
        _ => Some(good_reply(request)),
    });
    let (root, _) = client.attach(b"root", b"", 0).unwrap();
    assert_eq!(root.walk(&[b"x"]).err(), Some(Errno::EIO));
    assert_eq!(
        channel.clunked(),
        vec![1],
        "the possibly-created fid 1 was clunked"
    );
    assert_eq!(client.stats().live_fids, 1);
    assert_eq!(client.stats().quarantined_fids, 0);
    assert_eq!(root.walk(&[b"x"]).err(), Some(Errno::EIO));
    assert_eq!(channel.clunked(), vec![1, 1], "and its number used again");
}

#[test]
fn a_server_error_or_short_walk_frees_the_number_without_a_clunk() {
    let (channel, client) = connect(|request| match request {
        Request::Walk { names, .. } if names.len() == 2 => Some(framed(
            0,
            Reply::Walk {
                qids: vec![Qid::default()],
            },
        )),
        Request::Walk { .. } => Some(framed(0, Reply::Lerror { errno: 2 })),
        _ => Some(good_reply(request)),
    });
    let (root, _) = client.attach(b"root", b"", 0).unwrap();
    assert_eq!(root.walk(&[b"a", b"b"]).err(), Some(Errno::ENOENT));
    assert_eq!(root.walk(&[b"a"]).err(), Some(Errno::ENOENT));
    assert!(channel.clunked().is_empty());
    drop(root);
    assert_eq!(channel.clunked(), vec![0]);
    assert_eq!(client.stats().live_fids, 0);
}

#[test]
fn dropped_fids_clunk_and_failed_clunks_are_counted() {
    let clunk_fails = Arc::new(Mutex::new(None::<Option<Vec<u8>>>));
    let scripted = clunk_fails.clone();
    let (channel, client) =
        connect(
            move |request| match (request, scripted.lock().unwrap().clone()) {
                (Request::Clunk { .. }, Some(reply)) => reply,
                _ => Some(good_reply(request)),
            },
        );
    let (root, _) = client.attach(b"root", b"", 0).unwrap();
    let (a, _) = root.walk(&[]).unwrap();
    let (b, _) = root.walk(&[b"x"]).unwrap();
    assert_eq!((a.id(), b.id()), (1, 2));
    assert_eq!(client.stats().live_fids, 3);

    *clunk_fails.lock().unwrap() = Some(Some(framed(0, Reply::Lerror { errno: 9 })));
    drop(a);
    assert_eq!(client.stats().clunk_errors, 1);
    // 9P: a clunk releases the fid even when it reports an error, so 1 is free again.
    assert_eq!(root.walk(&[]).unwrap().0.id(), 1);

    *clunk_fails.lock().unwrap() = Some(None);
    drop(b);
    assert_eq!(
        client.stats().quarantined_fids,
        1,
        "no answer: the server may still hold fid 2"
    );
    *clunk_fails.lock().unwrap() = None;
    let (c, _) = root.walk(&[]).unwrap();
    let (d, _) = root.walk(&[]).unwrap();
    assert!(
        c.id() != 2 && d.id() != 2,
        "a quarantined number is never handed out again"
    );
    assert!(channel.clunked().contains(&1));
}

#[test]
fn every_request_gets_a_real_tag() {
    let (channel, client) = connect(|request| Some(good_reply(request)));
    let (root, _) = client.attach(b"root", b"", 0).unwrap();
    root.getattr(0x7ff).unwrap();
    drop(root);
    let log = channel.log();
    assert_eq!(log[0].0, 0xffff, "only Tversion uses NOTAG");
    assert!(
        log[1..].iter().all(|&(tag, _, _)| tag == 0),
        "one request at a time reuses tag 0: {log:?}"
    );
    assert_eq!(client.stats().requests, 3);
}

#[test]
fn reads_larger_than_msize_are_split_and_stop_at_a_short_reply() {
    let counts = Arc::new(Mutex::new(Vec::new()));
    let seen = counts.clone();
    let channel = ScriptedChannel::new(8192, move |request| match request {
        Request::Read { offset, count, .. } => {
            seen.lock().unwrap().push((*offset, *count));
            // A 20000-byte file of the byte pattern `offset % 251`.
            let end = (*offset + u64::from(*count)).min(20_000);
            let data: Vec<u8> = (*offset..end.max(*offset))
                .map(|i| (i % 251) as u8)
                .collect();
            Some(framed(
                0,
                Reply::Read {
                    data: vfs_core::p9::wire::Data(&data),
                },
            ))
        }
        _ => Some(good_reply(request)),
    });
    let client = Client::connect(channel).unwrap();
    let (root, _) = client.attach(b"root", b"", 0).unwrap();
    let mut buf = vec![0u8; 50_000];
    assert_eq!(root.read_at(0, &mut buf).unwrap(), 20_000);
    assert!(
        buf[..20_000]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8)
    );
    let counts = counts.lock().unwrap().clone();
    assert_eq!(counts, vec![(0, 8181), (8181, 8181), (16362, 8181)]);
}

#[test]
fn a_read_reply_longer_than_asked_is_eio() {
    let (_, client) = connect(|request| match request {
        Request::Read { .. } => Some(framed(
            0,
            Reply::Read {
                data: vfs_core::p9::wire::Data(b"too much"),
            },
        )),
        _ => Some(good_reply(request)),
    });
    let (root, _) = client.attach(b"root", b"", 0).unwrap();
    assert_eq!(root.read_at(0, &mut [0u8; 4]).err(), Some(Errno::EIO));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever bytes come back, every client operation returns (an error, or something it
    /// could parse) and never panics; the fid books stay consistent.
    #[test]
    fn arbitrary_replies_never_panic_the_client(replies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..32)) {
        let replies = Arc::new(Mutex::new(replies));
        let scripted = replies.clone();
        let (_, client) = connect(move |request| match request {
            Request::Version { .. } | Request::Attach { .. } => Some(good_reply(request)),
            _ => {
                let mut replies = scripted.lock().unwrap();
                let next = replies.pop().unwrap_or_default();
                // Give the garbage a valid frame half of the time, so bodies get decoded.
                if next.first().is_some_and(|b| b % 2 == 0) {
                    let mut framed = ((next.len() + 6) as u32).to_le_bytes().to_vec();
                    framed.push(next[0] | 1);
                    framed.extend_from_slice(&[0, 0]);
                    framed.extend_from_slice(&next[1..]);
                    Some(framed)
                } else {
                    Some(next)
                }
            }
        });
        let (root, _) = client.attach(b"root", b"", 0).unwrap();
        let _ = root.getattr(0x7ff);
        let _ = root.walk(&[b"a", b"b"]);
        let _ = root.read_at(0, &mut [0u8; 100]);
        let _ = root.write_at(0, b"data");
        let _ = root.readdir(0, &mut |_| true);
        let _ = root.readlink();
        let _ = root.statfs();
        let _ = root.lopen(0);
        drop(root);
        let stats = client.stats();
        prop_assert_eq!(stats.live_fids, 0);
    }
}

/// Found by `cargo xtask fuzz p9-client`: a getattr reply naming another object (another
/// qid path, another type) changed what `stat` said the inode was. As in Linux, an inode
/// keeps its number and type; the permission bits and the rest come from the server.
#[test]
fn getattr_keeps_the_inodes_number_and_type() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use vfs_core::FileType;
    use vfs_core::inode::{CachePolicy, FileSystem};
    use vfs_core::p9::{P9FileSystem, P9MountOptions};

    let getattrs = AtomicU32::new(0);
    let channel = ScriptedChannel::new(MAX_MSIZE, move |request| match request {
        Request::GetAttr { .. } if getattrs.fetch_add(1, Ordering::Relaxed) > 0 => Some(framed(
            0,
            Reply::GetAttr {
                attr: Attr {
                    valid: 0x7ff,
                    qid: Qid {
                        kind: 0,
                        version: 0,
                        path: 99,
                    },
                    mode: 0o100640,
                    ..Attr::default()
                },
            },
        )),
        _ => Some(good_reply(request)),
    });
    let options = P9MountOptions {
        policy: CachePolicy::Revalidate,
        ..P9MountOptions::default()
    };
    let fs = P9FileSystem::new(channel, &options, 5).unwrap();
    let root = fs.root();
    let stat = root.getattr().unwrap();
    assert_eq!(stat.ino, root.ino());
    assert_eq!(stat.file_type(), Some(FileType::Directory));
    assert_eq!(stat.mode & 0o7777, 0o640);
}

/// A hostile server whose directory cookies go 1 → 2 → 3 → 1 … would make a read of the
/// whole directory (an overlay merge, an emptiness check) go on forever; the client sees
/// the cycle and stops with `EIO` after a bounded number of replies.
#[test]
fn directory_cookies_that_cycle_end_the_read_with_eio() {
    let (channel, client) = connect(|request| match request {
        Request::Readdir { offset, .. } => {
            let next = offset % 3 + 1;
            let mut data = Vec::new();
            vfs_core::p9::message::encode_dirents(
                &[vfs_core::p9::message::Dirent {
                    qid: Qid::default(),
                    offset: next,
                    kind: 8,
                    name: b"again",
                }],
                &mut data,
            )
            .unwrap();
            Some(framed(
                0,
                Reply::Readdir {
                    data: vfs_core::p9::wire::Data(&data),
                },
            ))
        }
        _ => Some(good_reply(request)),
    });
    let (root, _) = client.attach(b"root", b"", 0).unwrap();
    let mut entries = 0;
    let result = root.readdir(0, &mut |_| {
        entries += 1;
        true
    });
    assert_eq!(result, Err(Errno::EIO));
    assert!(entries < 16, "{entries} entries before the cycle was seen");
    let readdirs = channel
        .log()
        .iter()
        .filter(|(_, kind, _)| *kind == 40)
        .count();
    assert!(readdirs < 16, "{readdirs} Treaddir requests");
}
