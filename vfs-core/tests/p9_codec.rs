//! The 9P2000.L codec: every message round-trips, the bytes match the protocol's layout,
//! and no input, however malformed, makes a decoder panic: it is rejected with `EIO`.

use proptest::prelude::*;
use vfs_core::errno::Errno;
use vfs_core::p9::message::{
    Attr, Dirent, Dirents, FsStats, Qid, Reply, Request, SetAttrFields, encode_dirents,
};
use vfs_core::p9::wire::Data;

const QID: Qid = Qid {
    kind: 0x80,
    version: 7,
    path: 0x0123_4567_89ab_cdef,
};

fn every_request() -> Vec<Request<'static>> {
    vec![
        Request::Version {
            msize: 512 * 1024,
            version: b"9P2000.L",
        },
        Request::Flush { old_tag: 3 },
        Request::Attach {
            fid: 0,
            afid: u32::MAX,
            uname: b"root",
            aname: b"/export",
            n_uname: 0,
        },
        Request::Walk {
            fid: 1,
            new_fid: 2,
            names: vec![b"usr", b"lib", b"x"],
        },
        Request::Walk {
            fid: 1,
            new_fid: 2,
            names: vec![],
        },
        Request::GetAttr {
            fid: 1,
            request_mask: 0x3fff,
        },
        Request::SetAttr {
            fid: 1,
            fields: SetAttrFields {
                valid: 0x1ff,
                mode: 0o755,
                uid: 1,
                gid: 2,
                size: 3,
                atime_sec: 4,
                atime_nsec: 5,
                mtime_sec: 6,
                mtime_nsec: 7,
            },
        },
        Request::Lopen { fid: 1, flags: 2 },
        Request::Lcreate {
            fid: 1,
            name: b"new",
            flags: 2,
            mode: 0o644,
            gid: 100,
        },
        Request::Read {
            fid: 1,
            offset: 1 << 40,
            count: 65536,
        },
        Request::Write {
            fid: 1,
            offset: 9,
            data: Data(b"payload"),
        },
        Request::Readdir {
            fid: 1,
            offset: 0x7fff_ffff_ffff_ffff,
            count: 8192,
        },
        Request::Mkdir {
            dir_fid: 1,
            name: b"d",
            mode: 0o755,
            gid: 0,
        },
        Request::Mknod {
            dir_fid: 1,
            name: b"null",
            mode: 0o20666,
            major: 1,
            minor: 3,
            gid: 0,
        },
        Request::Symlink {
            dir_fid: 1,
            name: b"l",
            target: b"../t",
            gid: 0,
        },
        Request::Readlink { fid: 1 },
        Request::Link {
            dir_fid: 1,
            fid: 2,
            name: b"hard",
        },
        Request::UnlinkAt {
            dir_fid: 1,
            name: b"gone",
            flags: 0x200,
        },
        Request::RenameAt {
            old_dir_fid: 1,
            old_name: b"a",
            new_dir_fid: 2,
            new_name: b"b",
        },
        Request::Fsync {
            fid: 1,
            datasync: 1,
        },
        Request::StatFs { fid: 1 },
        Request::XattrWalk {
            fid: 1,
            new_fid: 3,
            name: b"user.x",
        },
        Request::Clunk { fid: 1 },
    ]
}

fn every_reply() -> Vec<Reply<'static>> {
    let attr = Attr {
        valid: 0x7ff,
        qid: QID,
        mode: 0o40755,
        uid: 1,
        gid: 2,
        nlink: 3,
        size: 4096,
        ..Attr::default()
    };
    let stats = FsStats {
        fs_type: 0xef53,
        block_size: 4096,
        blocks: 10,
        blocks_free: 5,
        blocks_available: 4,
        files: 9,
        files_free: 8,
        fsid: 77,
        name_max: 255,
    };
    vec![
        Reply::Lerror { errno: 2 },
        Reply::Version {
            msize: 65560,
            version: b"9P2000.L",
        },
        Reply::Flush {},
        Reply::Attach { qid: QID },
        Reply::Walk {
            qids: vec![QID, Qid::default()],
        },
        Reply::GetAttr { attr },
        Reply::SetAttr {},
        Reply::Lopen {
            qid: QID,
            iounit: 0,
        },
        Reply::Lcreate {
            qid: QID,
            iounit: 8192,
        },
        Reply::Read {
            data: Data(b"contents"),
        },
        Reply::Write { count: 7 },
        Reply::Readdir { data: Data(b"") },
        Reply::Mkdir { qid: QID },
        Reply::Mknod { qid: QID },
        Reply::Symlink { qid: QID },
        Reply::Readlink { target: b"/target" },
        Reply::Link {},
        Reply::UnlinkAt {},
        Reply::RenameAt {},
        Reply::Fsync {},
        Reply::StatFs { stats },
        Reply::XattrWalk { size: 12 },
        Reply::Clunk {},
    ]
}

#[test]
fn every_request_round_trips() {
    let mut seen = std::collections::BTreeSet::new();
    for (tag, request) in every_request().into_iter().enumerate() {
        let mut bytes = Vec::new();
        request.encode(tag as u16, &mut bytes).unwrap();
        assert_eq!(
            u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        assert_eq!(bytes[4], request.type_code());
        assert_eq!(Request::decode(&bytes), Ok((tag as u16, request.clone())));
        seen.insert(request.type_code());
    }
    // Every T-message the client sends: version, flush, attach, walk, getattr, setattr,
    // lopen, lcreate, read, write, readdir, mkdir, mknod, symlink, readlink, link,
    // unlinkat, renameat, fsync, statfs, xattrwalk, clunk.
    let expected = [
        100, 108, 104, 110, 24, 26, 12, 14, 116, 118, 40, 72, 18, 16, 22, 70, 76, 74, 50, 8, 30,
        120,
    ];
    assert_eq!(seen, expected.into_iter().collect());
}

#[test]
fn every_reply_round_trips_and_answers_its_request() {
    let requests = every_request();
    for (tag, reply) in every_reply().into_iter().enumerate() {
        let mut bytes = Vec::new();
        reply.encode(tag as u16, &mut bytes).unwrap();
        assert_eq!(Reply::decode(&bytes), Ok((tag as u16, reply.clone())));
        if !matches!(reply, Reply::Lerror { .. }) {
            assert!(
                requests
                    .iter()
                    .any(|r| r.type_code() + 1 == reply.type_code()),
                "{reply:?} answers nothing"
            );
        }
    }
}

#[test]
fn bytes_match_the_protocol_layout() {
    let mut bytes = Vec::new();
    Request::Version {
        msize: 8192,
        version: b"9P2000.L",
    }
    .encode(0xffff, &mut bytes)
    .unwrap();
    assert_eq!(
        bytes,
        b"\x15\x00\x00\x00\x64\xff\xff\x00\x20\x00\x00\x08\x009P2000.L"
    );
    Request::Walk {
        fid: 1,
        new_fid: 2,
        names: vec![b"ab"],
    }
    .encode(5, &mut bytes)
    .unwrap();
    assert_eq!(
        bytes,
        b"\x15\x00\x00\x00\x6e\x05\x00\x01\x00\x00\x00\x02\x00\x00\x00\x01\x00\x02\x00ab"
    );
    Reply::Lerror { errno: 39 }.encode(5, &mut bytes).unwrap();
    assert_eq!(bytes, b"\x0b\x00\x00\x00\x07\x05\x00\x27\x00\x00\x00");
}

#[test]
fn directory_entries_round_trip() {
    let entries = [
        Dirent {
            qid: QID,
            offset: 1,
            kind: 4,
            name: b".",
        },
        Dirent {
            qid: Qid::default(),
            offset: 0x7fff_ffff_ffff_ffff,
            kind: 8,
            name: b"file",
        },
    ];
    let mut payload = Vec::new();
    encode_dirents(&entries, &mut payload).unwrap();
    let decoded: Vec<_> = Dirents::new(&payload).collect::<Result<_, _>>().unwrap();
    assert_eq!(decoded, entries);
    let cut: Vec<_> = Dirents::new(&payload[..payload.len() - 1]).collect();
    assert_eq!(cut.last(), Some(&Err(Errno::EIO)));
}

#[test]
fn malformed_frames_are_eio() {
    let mut bytes = Vec::new();
    Reply::Write { count: 1 }.encode(0, &mut bytes).unwrap();
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        Reply::decode(&longer),
        Err(Errno::EIO),
        "size field disagrees"
    );
    longer[0] += 1;
    assert_eq!(
        Reply::decode(&longer),
        Err(Errno::EIO),
        "trailing byte inside the frame"
    );
    assert_eq!(Reply::decode(&bytes[..6]), Err(Errno::EIO));
    let mut unknown = bytes.clone();
    unknown[4] = 200;
    assert_eq!(Reply::decode(&unknown), Err(Errno::EIO));
    let mut request_type = bytes.clone();
    request_type[4] = 118; // Twrite is not a reply
    assert_eq!(Reply::decode(&request_type), Err(Errno::EIO));
}

fn assert_rejected_with_eio<T: std::fmt::Debug>(result: Result<T, Errno>) {
    if let Err(errno) = result {
        assert_eq!(errno, Errno::EIO);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        assert_rejected_with_eio(Reply::decode(&bytes));
        assert_rejected_with_eio(Request::decode(&bytes));
        for entry in Dirents::new(&bytes) {
            assert_rejected_with_eio(entry);
        }
    }

    #[test]
    fn framed_garbage_never_panics_the_reply_decoder(
        type_code in any::<u8>(),
        tag in any::<u16>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        // A correct size field and header get the decoder past framing into every body.
        let mut bytes = ((body.len() + 7) as u32).to_le_bytes().to_vec();
        bytes.push(type_code);
        bytes.extend_from_slice(&tag.to_le_bytes());
        bytes.extend_from_slice(&body);
        assert_rejected_with_eio(Reply::decode(&bytes));
    }

    #[test]
    fn corrupted_valid_replies_never_panic(
        which in 0usize..23,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let reply = every_reply().swap_remove(which);
        let mut bytes = Vec::new();
        reply.encode(1, &mut bytes).unwrap();
        for (position, value) in flips {
            let len = bytes.len();
            bytes[position % len] = value;
        }
        assert_rejected_with_eio(Reply::decode(&bytes));
        assert_rejected_with_eio(Reply::decode(&bytes[..cut % (bytes.len() + 1)]));
    }
}
