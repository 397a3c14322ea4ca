//! QEMU command lines: machine profile + accelerator + what to boot. Shared by the
//! runtime's sandboxes and by `xtask` (its `run`, tests and benchmarks), so both boot the
//! kernel the same way.

mod accel;
pub mod host;
mod machine;
mod memory;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

pub use accel::{Accel, AccelDecision, AccelRequest, KvmDevice, decide as decide_accel};
pub use machine::Machine;
pub use memory::{BadMemorySize, MemorySize};

pub const QEMU_BINARY: &str = "qemu-system-x86_64";

/// Resolves `request` on this host (its `/proc/cpuinfo` and `/dev/kvm`).
pub fn decide_accel_here(request: AccelRequest) -> AccelDecision {
    decide_accel(request, &host::cpuinfo(), &host::kvm_device())
}

/// A host directory shared with the guest over virtio-9p (QEMU's `local` backend).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The mount tag the guest finds the device by (`rootfs`, `m0`, …).
    pub tag: String,
    pub path: PathBuf,
    pub readonly: bool,
}

impl Share {
    /// `-fsdev` and `-device` for share number `index`. `security_model=none`: the host
    /// files keep the host's ownership and modes, as a container runtime's bind mount does.
    fn args(&self, index: usize, machine: Machine) -> [OsString; 4] {
        let id = format!("fs{index}");
        let mut fsdev = OsString::from(format!("local,id={id},security_model=none,path="));
        fsdev.push(escape_option_value(&self.path.to_string_lossy()));
        if self.readonly {
            fsdev.push(",readonly=on");
        }
        let device = format!(
            "{},fsdev={id},mount_tag={}",
            machine.nine_p_device(),
            escape_option_value(&self.tag)
        );
        ["-fsdev".into(), fsdev, "-device".into(), device.into()]
    }
}

/// QEMU option values escape a comma by doubling it.
fn escape_option_value(value: &str) -> String {
    value.replace(',', ",,")
}

/// Everything needed to boot the kernel once.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub machine: Machine,
    pub accel: Accel,
    pub memory: MemorySize,
    /// vCPUs (`-smp`); the kernel starts every one the machine's ACPI tables list.
    pub cpus: u32,
    pub kernel: PathBuf,
    /// The exact kernel command line (`-append`).
    pub cmdline: String,
    pub initrd: Option<PathBuf>,
    /// 9p shares, in the order the guest should see them.
    pub shares: Vec<Share>,
}

impl Invocation {
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["-machine".into(), self.machine.machine_option().into()];
        args.extend(machine::COMMON_ARGS.iter().map(OsString::from));
        args.extend(
            ["-cpu", self.accel.cpu_model(), "-accel", self.accel.name()].map(OsString::from),
        );
        args.extend(["-m".into(), self.memory.to_string().into()]);
        if self.cpus > 1 {
            args.extend(["-smp".into(), self.cpus.to_string().into()]);
        }
        args.extend(["-kernel".into(), self.kernel.clone().into_os_string()]);
        // QEMU omits an empty -append, and the kernel then sees no command line at all;
        // pass it always so "empty" is exact too.
        args.extend(["-append".into(), OsString::from(&self.cmdline)]);
        if let Some(initrd) = &self.initrd {
            args.extend(["-initrd".into(), initrd.clone().into_os_string()]);
        }
        for (index, share) in self.shares.iter().enumerate() {
            args.extend(share.args(index, self.machine));
        }
        args
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(QEMU_BINARY);
        command.args(self.args());
        command
    }

    /// The command as a shell line, for error messages a person can paste.
    pub fn shell_line(&self) -> String {
        let quoted = self
            .args()
            .into_iter()
            .map(|arg| shell_quote(&arg.to_string_lossy()));
        std::iter::once(QEMU_BINARY.to_owned())
            .chain(quoted)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=,./:+@".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(machine: Machine, accel: Accel) -> Invocation {
        Invocation {
            machine,
            accel,
            memory: MemorySize::from_mib(128),
            cpus: 1,
            kernel: "target/kernel".into(),
            cmdline: "log=info tsc_khz=1000".into(),
            initrd: None,
            shares: Vec::new(),
        }
    }

    fn joined(invocation: &Invocation) -> String {
        invocation
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn microvm_tcg_line() {
        let line = joined(&invocation(Machine::Microvm, Accel::Tcg));
        assert!(line.starts_with(
            "-machine microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on -nodefaults"
        ));
        assert!(line.contains("-device isa-debug-exit,iobase=0xf4,iosize=0x04"));
        assert!(line.contains(
            "-cpu max -accel tcg -m 128M -kernel target/kernel -append log=info tsc_khz=1000"
        ));
        assert!(!line.contains("-initrd"));
    }

    #[test]
    fn q35_kvm_line_with_initrd() {
        let mut q35 = invocation(Machine::Q35, Accel::Kvm);
        q35.initrd = Some("spec.json".into());
        let line = joined(&q35);
        assert!(line.starts_with("-machine q35 -nodefaults"));
        assert!(line.contains("-cpu host,-arch-capabilities -accel kvm"));
        assert!(line.ends_with("-initrd spec.json"));
    }

    #[test]
    fn shell_line_quotes_the_append_string() {
        let line = invocation(Machine::Microvm, Accel::Tcg).shell_line();
        assert!(line.contains("-append 'log=info tsc_khz=1000'"));
    }

    #[test]
    fn shares_become_fsdev_and_the_machines_9p_device() {
        for (machine, device) in [
            (Machine::Microvm, "virtio-9p-device"),
            (Machine::Q35, "virtio-9p-pci"),
        ] {
            let mut invocation = invocation(machine, Accel::Tcg);
            invocation.shares = vec![
                Share {
                    tag: "rootfs".into(),
                    path: "/srv/a,b".into(),
                    readonly: true,
                },
                Share {
                    tag: "m0".into(),
                    path: "/srv/c".into(),
                    readonly: false,
                },
            ];
            let line = joined(&invocation);
            assert!(
                line.contains("-fsdev local,id=fs0,security_model=none,path=/srv/a,,b,readonly=on"),
                "{line}"
            );
            assert!(
                line.contains(&format!("-device {device},fsdev=fs0,mount_tag=rootfs")),
                "{line}"
            );
            assert!(
                line.contains("-fsdev local,id=fs1,security_model=none,path=/srv/c -device"),
                "{line}"
            );
            assert!(
                line.ends_with(&format!("-device {device},fsdev=fs1,mount_tag=m0")),
                "{line}"
            );
        }
    }
}
