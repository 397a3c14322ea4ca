//! Choosing the accelerator: KVM where the host has hardware virtualization, else TCG.

use std::fmt;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccelRequest {
    /// KVM on hosts with hardware virtualization, else TCG.
    Auto,
    Kvm,
    Tcg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    /// TCG gets `max` so the guest sees every feature QEMU can emulate; KVM passes the
    /// host CPU through, less `arch-capabilities`: QEMU 7.2 aborts setting that MSR under
    /// the software KVM (PVM) these machines have, and the kernel never reads it.
    pub fn cpu_model(self) -> &'static str {
        match self {
            Accel::Kvm => "host,-arch-capabilities",
            Accel::Tcg => "max",
        }
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `/dev/kvm` could be opened read-write, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvmDevice {
    ReadWrite,
    Unusable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccelDecision {
    pub accel: Accel,
    /// Why `auto` fell back to TCG, for a notice on stderr.
    pub fallback_reason: Option<String>,
}

/// `auto` demands both hardware virtualization flags and a usable `/dev/kvm`: some hosts
/// offer a software KVM (e.g. PVM) whose `/dev/kvm` opens fine but runs our early boot far
/// slower than TCG does.
pub fn decide(request: AccelRequest, cpuinfo: &str, kvm: &KvmDevice) -> AccelDecision {
    let chosen = |accel| AccelDecision {
        accel,
        fallback_reason: None,
    };
    match request {
        AccelRequest::Kvm => chosen(Accel::Kvm),
        AccelRequest::Tcg => chosen(Accel::Tcg),
        AccelRequest::Auto => {
            let hardware = has_hardware_virtualization(cpuinfo);
            let reason = match (hardware, kvm) {
                (true, KvmDevice::ReadWrite) => return chosen(Accel::Kvm),
                (true, KvmDevice::Unusable(why)) => format!("/dev/kvm: {why}"),
                (false, KvmDevice::ReadWrite) => {
                    "/proc/cpuinfo has no vmx/svm (this /dev/kvm is a software KVM)".to_owned()
                }
                (false, KvmDevice::Unusable(why)) => {
                    format!("/proc/cpuinfo has no vmx/svm and /dev/kvm: {why}")
                }
            };
            AccelDecision {
                accel: Accel::Tcg,
                fallback_reason: Some(reason),
            }
        }
    }
}

fn has_hardware_virtualization(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|line| line.starts_with("flags"))
        .filter_map(|line| line.split_once(':'))
        .any(|(_, flags)| {
            flags
                .split_whitespace()
                .any(|flag| flag == "vmx" || flag == "svm")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_VMX: &str =
        "processor\t: 0\nflags\t\t: fpu vme de pse vmx sse2\ncpu MHz\t\t: 2596.142\n";
    const WITH_SVM: &str = "processor\t: 0\nflags\t\t: fpu svm sse2\n";
    const PLAIN: &str = "processor\t: 0\nflags\t\t: fpu vme de pse sse2 hypervisor\n";
    // "vmx" inside another word must not count.
    const LOOKALIKE: &str = "flags\t\t: fpu vmx_ept svmx\nvmx flags\t: ept\n";

    fn auto(cpuinfo: &str, kvm: KvmDevice) -> AccelDecision {
        decide(AccelRequest::Auto, cpuinfo, &kvm)
    }

    #[test]
    fn auto_picks_kvm_with_flags_and_device() {
        assert_eq!(auto(WITH_VMX, KvmDevice::ReadWrite).accel, Accel::Kvm);
        assert_eq!(auto(WITH_SVM, KvmDevice::ReadWrite).accel, Accel::Kvm);
    }

    #[test]
    fn auto_falls_back_on_software_kvm() {
        let decision = auto(PLAIN, KvmDevice::ReadWrite);
        assert_eq!(decision.accel, Accel::Tcg);
        assert!(decision.fallback_reason.unwrap().contains("software KVM"));
    }

    #[test]
    fn auto_falls_back_without_device() {
        let decision = auto(WITH_VMX, KvmDevice::Unusable("permission denied".into()));
        assert_eq!(decision.accel, Accel::Tcg);
        assert!(
            decision
                .fallback_reason
                .unwrap()
                .contains("permission denied")
        );
    }

    #[test]
    fn flag_matching_is_by_whole_word() {
        assert_eq!(auto(LOOKALIKE, KvmDevice::ReadWrite).accel, Accel::Tcg);
    }

    #[test]
    fn explicit_requests_are_obeyed() {
        let none = KvmDevice::Unusable("absent".into());
        assert_eq!(decide(AccelRequest::Kvm, PLAIN, &none).accel, Accel::Kvm);
        assert_eq!(
            decide(AccelRequest::Tcg, WITH_VMX, &KvmDevice::ReadWrite).accel,
            Accel::Tcg
        );
    }
}
