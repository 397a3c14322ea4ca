//! proc, middle: `/proc/sys`, the sysctl tree, reduced to the read-only values programs
//! commonly read (host name and release, limits the runtime and libc size things by).
//! Writes are not supported: every file is mode 0444 here, unlike Linux's 0644 knobs.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::view::SystemView;
use crate::fs::synthetic::{FixedDir, InoCounter, Node};

const DIRECTORY_MODE: u32 = 0o555;
const VALUE_MODE: u32 = 0o444;

/// A fixed sysctl value, one line.
fn value(inos: &mut InoCounter, text: &str) -> Node {
    Node::constant(inos.allocate(), VALUE_MODE, text)
}

/// A sysctl value read from the system each time, with its newline.
fn system_value(
    inos: &mut InoCounter,
    system: &Arc<dyn SystemView>,
    read: fn(&dyn SystemView) -> Vec<u8>,
) -> Node {
    let system = system.clone();
    Node::file(inos.allocate(), VALUE_MODE, move || {
        let mut text = read(&*system);
        text.push(b'\n');
        Ok(text)
    })
}

fn directory(inos: &mut InoCounter, children: FixedDir) -> Node {
    Node::directory(inos.allocate(), DIRECTORY_MODE, children)
}

/// The `/proc/sys` directory node.
pub fn sys_tree(inos: &mut InoCounter, system: &Arc<dyn SystemView>) -> Node {
    let kernel = FixedDir::new()
        .with(
            "hostname",
            system_value(inos, system, |system| system.hostname()),
        )
        .with(
            "osrelease",
            system_value(inos, system, |system| system.release()),
        )
        .with("ostype", value(inos, "Linux\n"))
        .with(
            "version",
            system_value(inos, system, |system| system.version()),
        )
        .with("pid_max", value(inos, "4194304\n"))
        .with("ngroups_max", value(inos, "65536\n"))
        .with("cap_last_cap", value(inos, "40\n"))
        .with("overflowuid", value(inos, "65534\n"))
        .with("overflowgid", value(inos, "65534\n"));
    let fs = FixedDir::new()
        .with("file-max", value(inos, "9223372036854775807\n"))
        .with("nr_open", value(inos, "1048576\n"));
    let vm = FixedDir::new()
        .with("overcommit_memory", value(inos, "0\n"))
        .with("max_map_count", value(inos, "65530\n"));
    let sys = FixedDir::new()
        .with("fs", directory(inos, fs))
        .with("kernel", directory(inos, kernel))
        .with("vm", directory(inos, vm));
    directory(inos, sys)
}
