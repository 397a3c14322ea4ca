//! proc, middle: `/proc/sys`, the sysctl tree, reduced to the read-only values programs
//! commonly read (host name and release, limits the runtime and libc size things by),
//! plus whatever the spec's `linux.sysctl` set: each key shows its value at its path, a
//! default replaced or a file (and directories) added — podman's default
//! `net.ipv4.ping_group_range` reads back as it was given. `kernel.hostname` and
//! `kernel.domainname` stay live: the spec's values set the UTS names themselves.
//! Writes are not supported: every file is mode 0444 here, unlike Linux's 0644 knobs.

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::view::SystemView;
use crate::container::spec::Sysctl;
use crate::fs::synthetic::{FixedDir, InoCounter, Node};

const DIRECTORY_MODE: u32 = 0o555;
const VALUE_MODE: u32 = 0o444;

/// The keys whose files show the UTS names, live.
const UTS_KEYS: [[&str; 2]; 2] = [["kernel", "hostname"], ["kernel", "domainname"]];

/// The tree before it becomes nodes, so the spec's keys can be placed among the defaults.
enum Item {
    Value(Node),
    Directory(Vec<(String, Item)>),
}

impl Item {
    fn directory(children: impl IntoIterator<Item = (&'static str, Item)>) -> Item {
        Item::Directory(
            children
                .into_iter()
                .map(|(name, item)| (name.to_string(), item))
                .collect(),
        )
    }

    fn into_node(self, inos: &mut InoCounter) -> Node {
        match self {
            Item::Value(node) => node,
            Item::Directory(children) => {
                let ino = inos.allocate();
                let children = children
                    .into_iter()
                    .fold(FixedDir::new(), |dir, (name, item)| {
                        dir.with(&name, item.into_node(inos))
                    });
                Node::directory(ino, DIRECTORY_MODE, children)
            }
        }
    }
}

/// A fixed sysctl value, one line.
fn value(inos: &mut InoCounter, text: &str) -> Item {
    Item::Value(Node::constant(inos.allocate(), VALUE_MODE, text))
}

/// A sysctl value read from the system each time, with its newline.
fn system_value(
    inos: &mut InoCounter,
    system: &Arc<dyn SystemView>,
    read: fn(&dyn SystemView) -> Vec<u8>,
) -> Item {
    let system = system.clone();
    Item::Value(Node::file(inos.allocate(), VALUE_MODE, move || {
        let mut text = read(&*system);
        text.push(b'\n');
        Ok(text)
    }))
}

/// One of the pipe user limits in force (see [`crate::fs::pipe::accounting`]).
fn pipe_limit(inos: &mut InoCounter, pick: fn((u64, u64)) -> u64) -> Item {
    Item::Value(Node::file(inos.allocate(), VALUE_MODE, move || {
        let limits = crate::fs::pipe::accounting::PIPE_USERS.limits();
        Ok(alloc::format!("{}\n", pick(limits)).into_bytes())
    }))
}

/// The `/proc/sys` directory node.
pub fn sys_tree(inos: &mut InoCounter, system: &Arc<dyn SystemView>) -> Node {
    let kernel = Item::directory([
        (
            "hostname",
            system_value(inos, system, |system| system.hostname()),
        ),
        (
            "domainname",
            system_value(inos, system, |system| system.domainname()),
        ),
        (
            "osrelease",
            system_value(inos, system, |system| system.release()),
        ),
        ("ostype", value(inos, "Linux\n")),
        (
            "version",
            system_value(inos, system, |system| system.version()),
        ),
        ("pid_max", value(inos, "4194304\n")),
        ("ngroups_max", value(inos, "65536\n")),
        ("cap_last_cap", value(inos, "40\n")),
        ("overflowuid", value(inos, "65534\n")),
        ("overflowgid", value(inos, "65534\n")),
    ]);
    let fs = Item::directory([
        ("file-max", value(inos, "9223372036854775807\n")),
        ("nr_open", value(inos, "1048576\n")),
        (
            "pipe-max-size",
            value(
                inos,
                &alloc::format!("{}\n", crate::fs::pipe::buffer::MAX_UNPRIVILEGED_CAPACITY),
            ),
        ),
        ("pipe-user-pages-hard", pipe_limit(inos, |(_, hard)| hard)),
        ("pipe-user-pages-soft", pipe_limit(inos, |(soft, _)| soft)),
    ]);
    let vm = Item::directory([
        ("overcommit_memory", value(inos, "0\n")),
        ("max_map_count", value(inos, "65530\n")),
    ]);
    let mut tree = Item::directory([("fs", fs), ("kernel", kernel), ("vm", vm)]);
    for setting in system.sysctl() {
        place(&mut tree, &setting, inos);
    }
    tree.into_node(inos)
}

/// Puts one spec setting into the tree. A key that names a directory, or runs through
/// a file, cannot be shown (Linux's write would fail with `EISDIR`/`ENOTDIR`); it is
/// logged and left out rather than ending a boot the spec check already passed.
fn place(tree: &mut Item, setting: &Sysctl, inos: &mut InoCounter) {
    let names: Vec<&str> = setting.path().collect();
    if UTS_KEYS.iter().any(|key| key[..] == names[..]) {
        return;
    }
    let Some((leaf, parents)) = names.split_last() else {
        return;
    };
    let mut here = tree;
    for name in parents {
        let Item::Directory(children) = here else {
            log::warn!(target: "sandbox", "linux.sysctl {:?}: a file is on its path; not shown", setting.key);
            return;
        };
        let index = match children.iter().position(|(child, _)| child == name) {
            Some(index) => index,
            None => {
                children.push((name.to_string(), Item::Directory(Vec::new())));
                children.len() - 1
            }
        };
        here = &mut children[index].1;
    }
    let Item::Directory(children) = here else {
        log::warn!(target: "sandbox", "linux.sysctl {:?}: a file is on its path; not shown", setting.key);
        return;
    };
    let mut text = setting.value.clone();
    text.push('\n');
    let item = value(inos, &text);
    match children.iter_mut().find(|(child, _)| child == leaf) {
        Some((_, Item::Directory(_))) => {
            log::warn!(target: "sandbox", "linux.sysctl {:?} names a directory; not shown", setting.key);
        }
        Some((_, existing)) => *existing = item,
        None => children.push((leaf.to_string(), item)),
    }
}
