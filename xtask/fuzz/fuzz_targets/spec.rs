//! The container spec parser and the mount plan compiler (`kernel::container`): the bytes
//! of boot module 0 (an OCI `config.json`), compiled under every sandbox option and with
//! the host's `bind_file=` notes, as the kernel does at boot; each plan that compiles is
//! then built (`container::build`) over tmpfs stand-ins for the shares, which must end in
//! a namespace or a `BuildError`, never a panic.
#![no_main]

use std::fmt::Write as _;

use kernel::container::{
    self, Channel, FileAccess, FileBind, FileKind, MountKind, Overlay, SandboxOptions, Spec,
};
use libfuzzer_sys::fuzz_target;
use sandbox_fuzz::stand_ins::StandIns;

const OVERLAYS: [Overlay; 3] = [Overlay::None, Overlay::Root, Overlay::All];
const ACCESSES: [FileAccess; 2] = [FileAccess::Exclusive, FileAccess::Shared];

fuzz_target!(|data: &[u8]| {
    let mut text = String::new();
    let spec = match Spec::parse(data) {
        Ok(spec) => spec,
        Err(error) => {
            // The console line and status the kernel would end with.
            let _ = write!(text, "{error}");
            let _ = error.exit_status();
            return;
        }
    };
    for overlay in OVERLAYS {
        for file_access in ACCESSES {
            for file_access_mounts in ACCESSES {
                let options = SandboxOptions {
                    overlay,
                    file_access,
                    file_access_mounts,
                };
                compile_and_check(&spec, &options, &[], &mut text);
            }
        }
    }
    // The host's `bind_file=` notes: one per bind mount whose destination ends in a name,
    // as if each shared a file, plus a note for a channel no mount takes.
    let mut binds: Vec<FileBind> = spec
        .mounts
        .iter()
        .filter(|mount| mount.is_bind())
        .enumerate()
        .filter_map(|(index, mount)| {
            let name = mount.destination.rsplit('/').next()?;
            let note = FileBind {
                channel: Channel::Mount(index),
                name: name.to_owned(),
            };
            FileBind::parse(&note.to_option_value())
        })
        .collect();
    compile_and_check(&spec, &SandboxOptions::default(), &binds, &mut text);
    binds.push(FileBind {
        channel: Channel::Mount(binds.len() + spec.mounts.len()),
        name: "stray".to_owned(),
    });
    assert!(container::compile(&spec, &SandboxOptions::default(), &binds).is_err());
});

fn compile_and_check(spec: &Spec, options: &SandboxOptions, binds: &[FileBind], text: &mut String) {
    let plan = match container::compile(spec, options, binds) {
        Ok(plan) => plan,
        Err(error) => {
            let _ = write!(text, "{error}");
            let _ = error.exit_status();
            return;
        }
    };
    for warning in &plan.warnings {
        let _ = write!(text, "{warning}");
    }
    match container::build::build(&plan, &StandIns::default()) {
        Ok(ns) => {
            let table = container::build::mounts_text(&ns);
            assert!(table.lines().count() >= 1, "a namespace has its root mount");
        }
        Err(error) => {
            let _ = write!(text, "{error}");
        }
    }
    // A plan's own channels are exactly what it asks for, and a missing one is refused.
    let channels = plan.channels();
    let tags: Vec<String> = channels.iter().map(|channel| channel.tag()).collect();
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    container::check_channels(&plan, &tags).expect("a plan accepts its own channels");
    assert!(container::check_channels(&plan, &tags[1..]).is_err());
    for mount in &plan.mounts {
        assert!(
            mount.destination.starts_with('/'),
            "{:?}",
            mount.destination
        );
        if let MountKind::Bind(bind) = &mount.kind {
            assert!(channels.contains(&bind.channel));
        }
        let _ = mount.origin.field();
    }
    assert!(!plan.process.args.is_empty());
    // Look-ups answered from the path's shape, so every branch of the search is reached.
    let found = plan.process.resolve(|path| match path.len() % 3 {
        0 => None,
        1 => Some(FileKind::Directory),
        _ => Some(FileKind::NotDirectory),
    });
    match found {
        Ok(path) => assert!(path.starts_with('/'), "{path:?}"),
        Err(error) => {
            let _ = write!(text, "{error}");
            let _ = error.exit_status();
        }
    }
}
