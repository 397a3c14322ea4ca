//! Writes the 9p targets' seeds: real sessions of the client with the `p9` crate's server
//! (the one vfs-core's tests use) over a temporary directory, recorded as `p9-client`
//! scripts, and every distinct reply of them as a `p9-reply` input.
//!
//! `cargo run --manifest-path xtask/fuzz/Cargo.toml --example record_p9_seeds -- xtask/fuzz/seeds`
//! (the seeds are committed; rerun this when the script format or the op table changes).

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sandbox_fuzz::{Op, Script, frame_for};
use vfs_core::errno::{Errno, Result};
use vfs_core::p9::Transport;

/// Forwards to the real server and keeps each exchange.
struct Recorder {
    server: Mutex<p9::Server>,
    max_message_size: u32,
    exchanges: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl Transport for Recorder {
    fn max_message_size(&self) -> u32 {
        self.max_message_size
    }

    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize> {
        let mut out = Vec::new();
        self.server
            .lock()
            .unwrap()
            .handle_message(&mut Cursor::new(request), &mut out)
            .map_err(|_| Errno::EIO)?;
        self.exchanges
            .lock()
            .unwrap()
            .push((request.to_vec(), out.clone()));
        let target = reply.get_mut(..out.len()).ok_or(Errno::EIO)?;
        target.copy_from_slice(&out);
        Ok(out.len())
    }
}

// Op codes and name indices, as `sandbox_fuzz::apply` reads them.
const LOOKUP: u8 = 0;
const POP: u8 = 1;
const GETATTR: u8 = 2;
const READ: u8 = 3;
const READDIR: u8 = 4;
const READLINK: u8 = 5;
const WRITE: u8 = 6;
const CREATE: u8 = 7;
const UNLINK: u8 = 8;
const RMDIR: u8 = 9;
const RENAME: u8 = 10;
const STATFS: u8 = 11;
const SETATTR: u8 = 12;
const OPEN: u8 = 13;
const LINK: u8 = 14;
const APPEND: u8 = 15;
const FSYNC: u8 = 16;
const A: u8 = 0;
const DIR: u8 = 1;
const FILE: u8 = 2;
const SYMLINK: u8 = 3;
const NEW: u8 = 4;
const DOTDOT: u8 = 6;

fn op(code: u8, a: u8, b: u8) -> Op {
    Op { code, a, b }
}

/// (seed name, transport limit byte, shared, ops)
fn scripts() -> Vec<(&'static str, u8, bool, Vec<Op>)> {
    let browse = vec![
        op(READDIR, 40, 0),
        op(LOOKUP, DIR, 0),
        op(READDIR, 40, 0),
        op(LOOKUP, FILE, 0),
        op(GETATTR, 0, 0),
        op(OPEN, 0, 0),
        op(READ, 4, 0),
        op(POP, 0, 0),
        op(POP, 0, 0),
        op(LOOKUP, SYMLINK, 0),
        op(READLINK, 0, 0),
        op(POP, 0, 0),
        op(STATFS, 0, 0),
    ];
    vec![
        ("browse", 8, false, browse.clone()),
        ("browse-shared", 8, true, browse),
        (
            "split-read",
            0,
            false,
            vec![op(LOOKUP, FILE, 0), op(OPEN, 0, 0), op(READ, 20, 0)],
        ),
        (
            "write",
            8,
            false,
            vec![
                op(LOOKUP, FILE, 0),
                op(OPEN, 2, 0),
                op(WRITE, 3, 1),
                op(APPEND, 1, 4),
                op(FSYNC, 0, 0),
                op(SETATTR, 1, 2),
                op(SETATTR, 2, 0o55),
                op(GETATTR, 0, 0),
                op(READ, 2, 0),
            ],
        ),
        (
            "create",
            8,
            false,
            vec![
                op(CREATE, NEW, 0),
                op(OPEN, 2, 0),
                op(WRITE, 1, 0),
                op(POP, 0, 0),
                op(LOOKUP, DIR, 0),
                op(CREATE, NEW, 1),
                op(POP, 0, 0),
                op(CREATE, A, 2),
                op(CREATE, NEW, 3),
                op(POP, 0, 0),
                op(LOOKUP, A, 0),
                op(LINK, NEW, 0),
                op(RENAME, NEW, 2 * NEW),
                op(POP, 0, 0),
                op(UNLINK, NEW, 0),
                op(LOOKUP, DIR, 0),
                op(RMDIR, NEW, 0),
                op(READDIR, 40, 0),
            ],
        ),
        (
            "errors",
            8,
            false,
            vec![
                op(LOOKUP, NEW, 0),
                op(LOOKUP, DOTDOT, 0),
                op(RMDIR, FILE, 0),
                op(UNLINK, DIR, 0),
                op(LOOKUP, FILE, 0),
                op(READDIR, 4, 0),
                op(LOOKUP, A, 0),
                op(READLINK, 0, 0),
            ],
        ),
    ]
}

fn fill_tree(root: &Path) {
    std::fs::create_dir(root.join("dir")).unwrap();
    std::fs::write(root.join("dir/file"), b"inside the directory\n").unwrap();
    let content: Vec<u8> = (0..24 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("file"), content).unwrap();
    std::os::unix::fs::symlink("file", root.join("link")).unwrap();
    std::fs::write(root.join("a"), b"a\n").unwrap();
}

/// A short stable name for a seed's bytes (FNV-1a).
fn digest(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

fn main() {
    let out: PathBuf = std::env::args_os()
        .nth(1)
        .expect("usage: record_p9_seeds SEEDS_DIR")
        .into();
    let client_dir = out.join("p9-client");
    let reply_dir = out.join("p9-reply");
    std::fs::create_dir_all(&client_dir).unwrap();
    std::fs::create_dir_all(&reply_dir).unwrap();
    for (name, limit, shared, ops) in scripts() {
        let tree = tempfile::tempdir().unwrap();
        fill_tree(tree.path());
        let server = p9::Server::new(tree.path(), Default::default(), Default::default()).unwrap();
        let head = Script::encode_head(limit, shared, &ops);
        let recorder = Arc::new(Recorder {
            server: Mutex::new(server),
            max_message_size: Script::parse(&head).unwrap().max_message_size(),
            exchanges: Mutex::new(Vec::new()),
        });
        sandbox_fuzz::run(recorder.clone(), shared, &ops);
        let exchanges = recorder.exchanges.lock().unwrap();
        let mut seed = head;
        for (request, reply) in exchanges.iter() {
            frame_for(request, reply, &mut seed);
            std::fs::write(reply_dir.join(digest(reply)), reply).unwrap();
        }
        std::fs::write(client_dir.join(name), &seed).unwrap();
        println!(
            "{name}: {} exchanges, {} bytes",
            exchanges.len(),
            seed.len()
        );
    }
}
