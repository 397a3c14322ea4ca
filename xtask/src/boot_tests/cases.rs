//! The boot test table.

use super::checks::Check::{CmdlineSeen, Line, ModuleSeen, Ready, Status, UsableMemory};
use super::{Case, TestModule, TestShares};
use crate::qemu::{Accel, Machine, MemorySize};

/// Kernel failure statuses (see README): each test mode must end in its own.
const BAD_CMDLINE: u8 = 120;
const PAGE_FAULT: u8 = 122;
const DOUBLE_FAULT: u8 = 123;
const CPU_EXCEPTION: u8 = 124;
const OUT_OF_MEMORY: u8 = 121;
const KERNEL_PANIC: u8 = 125;

/// `accel` is the suite's accelerator. Plain boots always run under TCG too, the one
/// accelerator every host has.
pub fn cases(accel: Accel, module: &TestModule, shares: &TestShares) -> Vec<Case> {
    let module_seen = ModuleSeen {
        crc32: module.crc32,
        len: module.len,
    };
    let microvm = |name: &str| Case::new(name, Machine::Microvm, accel);

    let mut accels = vec![Accel::Tcg];
    if accel != Accel::Tcg {
        accels.push(accel);
    }
    let mut cases: Vec<Case> = accels
        .iter()
        .flat_map(|&boot_accel| Machine::ALL.map(|machine| ready_case(machine, boot_accel)))
        .collect();

    cases.extend(Machine::ALL.map(|machine| {
        // log=error: the bootinfo lines must show at every level.
        let case = Case::new("bootinfo", machine, accel)
            .options("log=error test=bootinfo")
            .initrd(&module.path);
        let memory = case.memory;
        case.expect(Status(0))
            .expect(CmdlineSeen)
            .expect(module_seen.clone())
            .expect(UsableMemory { machine, memory })
    }));

    cases.extend([64, 128, 4096].map(|mib| {
        let memory = MemorySize::from_mib(mib);
        microvm(&format!("memory-{memory}"))
            .memory(memory)
            .options("test=bootinfo")
            .expect(Status(0))
            .expect(UsableMemory {
                machine: Machine::Microvm,
                memory,
            })
    }));

    // Too little RAM for the kernel and a container: not a panic but the README's status,
    // with a message saying how much there is and how much it takes.
    cases.push(
        microvm("memory-6M-too-little")
            .memory(MemorySize::from_mib(6))
            .expect(Line(&[
                "memory: out of memory during boot: ",
                " KiB of RAM, ",
                " KiB in reserve and a container needs ",
            ]))
            .expect(Status(OUT_OF_MEMORY)),
    );

    cases.extend([
        microvm("heap")
            .options("test=heap")
            .expect(Line(&["test heap: ok allocations="]))
            .expect(Status(0)),
        microvm("pagefault")
            .options("test=pagefault")
            .expect(Line(&["page fault", "cr2=0x"]))
            .expect(Status(PAGE_FAULT)),
        microvm("int3")
            .options("test=int3")
            .expect(Line(&["breakpoint"]))
            .expect(Status(CPU_EXCEPTION)),
        microvm("doublefault")
            .options("test=doublefault")
            .expect(Line(&["double fault"]))
            .expect(Status(DOUBLE_FAULT)),
        panic_case(Machine::Microvm, accel),
        panic_case(Machine::Q35, accel),
        microvm("bad-option")
            .options("bogus=1")
            .expect(Line(&["bogus"]))
            .expect(Status(BAD_CMDLINE)),
        microvm("bad-virtio-mmio-device")
            .options("virtio_mmio.device=512")
            .expect(Line(&["virtio_mmio.device", "SIZE@ADDRESS"]))
            .expect(Status(BAD_CMDLINE)),
    ]);
    cases.push(
        microvm("dma-exhausted")
            .options("test=dma")
            .expect(Line(&["no memory for", "DMA pages"]))
            .expect(Line(&["test dma: ok"]))
            .expect(Status(0)),
    );
    cases.push(unmappable_mmio_case(accel, shares));
    cases.extend(Machine::ALL.map(|machine| virtio_case(machine, accel, shares)));
    cases.extend(Machine::ALL.map(|machine| bundle_case(machine, accel, shares)));
    cases
}

/// Both transports find every 9p share, read its tag and get a 9P2000.L answer.
fn virtio_case(machine: Machine, accel: Accel, shares: &TestShares) -> Case {
    Case::new("virtio", machine, accel)
        .options("test=virtio")
        .share("rootfs", &shares.root)
        .share("m0", &shares.extra)
        .expect(Line(&["virtio: 9p tag=rootfs msize=", "version=9P2000.L"]))
        .expect(Line(&["virtio: 9p tag=m0 msize=", "version=9P2000.L"]))
        .expect(Line(&["virtio: 2 9p device(s)"]))
        .expect(Status(0))
}

/// `virtio_mmio.device=` entries whose registers cannot be mapped (past the physical address
/// space, on RAM, too large, misaligned) are each reported and skipped: the boot goes on and
/// the real device is still found.
fn unmappable_mmio_case(accel: Accel, shares: &TestShares) -> Case {
    Case::new("virtio-mmio-unmappable", Machine::Microvm, accel)
        .options(
            "test=virtio virtio_mmio.device=4K@0xfffffffffffff000:5 \
             virtio_mmio.device=512@0x100000:5 virtio_mmio.device=1024M@0xc0000000:5 \
             virtio_mmio.device=512@0xfeb00e02:5",
        )
        .share("rootfs", &shares.root)
        .expect(Line(&[
            "virtio_mmio.device=4K@0xfffffffffffff000:5",
            "outside device-register address space",
            "device skipped",
        ]))
        .expect(Line(&["virtio_mmio.device=512@0x100000:5", "overlaps RAM"]))
        .expect(Line(&[
            "virtio_mmio.device=1024M@0xc0000000:5",
            "bad register window size",
        ]))
        .expect(Line(&["virtio-mmio at 0xfeb00e02", "4-byte aligned"]))
        .expect(Line(&["virtio: 9p tag=rootfs msize=", "version=9P2000.L"]))
        .expect(Line(&["virtio: 1 9p device(s)"]))
        .expect(Status(0))
}

/// A bundle's shares as `run` makes them: every channel's device is found by its tag, and
/// the kernel takes the sandbox options and the `bind_file=` note for the file bind.
fn bundle_case(machine: Machine, accel: Accel, shares: &TestShares) -> Case {
    let bundle = &shares.bundle;
    let mut options = String::from(
        "test=virtio overlay=all file_access=shared file_access_mounts=exclusive cid=boot-test",
    );
    for bind in &bundle.file_binds {
        options.push_str(&format!(" bind_file={}", bind.to_option_value()));
    }
    Case::new("bundle-channels", machine, accel)
        .options(&options)
        .initrd(&bundle.spec_file)
        .shares(&bundle.shares)
        .expect(Line(&["virtio: 9p tag=rootfs msize="]))
        .expect(Line(&["virtio: 9p tag=m0 msize="]))
        .expect(Line(&["virtio: 9p tag=m1 msize="]))
        .expect(Line(&["virtio: 3 9p device(s)"]))
        .expect(Status(0))
}

fn ready_case(machine: Machine, accel: Accel) -> Case {
    Case::new("ready", machine, accel)
        .options("log=info")
        .expect(Ready)
        .expect(Status(0))
}

fn panic_case(machine: Machine, accel: Accel) -> Case {
    Case::new("panic", machine, accel)
        .options("test=panic")
        .expect(Line(&["kernel panic"]))
        .expect(Line(&["test=panic requested"]))
        .expect(Status(KERNEL_PANIC))
}

pub fn filtered(cases: Vec<Case>, filter: Option<&str>) -> Vec<Case> {
    match filter {
        Some(needle) => cases
            .into_iter()
            .filter(|case| case.name.contains(needle))
            .collect(),
        None => cases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot_tests::checks::Check;

    fn shares() -> TestShares {
        let bundle = crate::bundle::Bundle {
            spec_file: "/nonexistent/config.json".into(),
            shares: Vec::new(),
            file_binds: Vec::new(),
            warnings: Vec::new(),
        };
        TestShares {
            root: "/nonexistent/root".into(),
            extra: "/nonexistent/m0".into(),
            bundle,
        }
    }

    fn module() -> TestModule {
        TestModule {
            path: "/nonexistent".into(),
            crc32: 0,
            len: 0,
        }
    }

    fn names(cases: &[Case]) -> Vec<&str> {
        cases.iter().map(|case| case.name.as_str()).collect()
    }

    #[test]
    fn names_are_unique() {
        for accel in [Accel::Tcg, Accel::Kvm] {
            let cases = cases(accel, &module(), &shares());
            let mut seen = names(&cases);
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), cases.len());
        }
    }

    #[test]
    fn kvm_suite_also_boots_under_tcg() {
        let cases = cases(Accel::Kvm, &module(), &shares());
        let names = names(&cases);
        assert!(names.contains(&"microvm-ready"));
        assert!(names.contains(&"microvm-ready-kvm"));
        assert!(names.contains(&"q35-ready-kvm"));
    }

    #[test]
    fn filter_matches_substrings() {
        let cases = filtered(cases(Accel::Tcg, &module(), &shares()), Some("q35"));
        assert!(!cases.is_empty());
        assert!(cases.iter().all(|case| case.name.starts_with("q35-")));
    }

    #[test]
    fn every_case_checks_the_exit_status() {
        for case in cases(Accel::Tcg, &module(), &shares()) {
            assert!(
                case.checks
                    .iter()
                    .any(|check| matches!(check, Check::Status(_))),
                "{}",
                case.name
            );
        }
    }
}
