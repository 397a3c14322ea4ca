//! Facts about the host machine that shape how QEMU is launched: its CPU flags and
//! frequency, and whether `/dev/kvm` opens.

use std::fs::{self, OpenOptions};

use super::KvmDevice;

pub fn cpuinfo() -> String {
    // A host without /proc is treated as one with no flags and no frequency: TCG, no tsc_khz.
    fs::read_to_string("/proc/cpuinfo").unwrap_or_default()
}

pub fn kvm_device() -> KvmDevice {
    match OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        Ok(_) => KvmDevice::ReadWrite,
        Err(error) => KvmDevice::Unusable(error.to_string()),
    }
}

/// The TSC frequency in kHz, from the first `cpu MHz` line. Under TCG the guest's TSC
/// ticks at the host's rate, and the kernel cannot calibrate it cheaply, so we tell it.
pub fn tsc_khz(cpuinfo: &str) -> Option<u64> {
    cpuinfo
        .lines()
        .filter(|line| line.starts_with("cpu MHz"))
        .filter_map(|line| line.split_once(':'))
        .filter_map(|(_, mhz)| mhz.trim().parse::<f64>().ok())
        .find(|mhz| mhz.is_finite() && *mhz > 0.0)
        .map(|mhz| (mhz * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsc_khz_rounds_cpu_mhz() {
        let cpuinfo =
            "processor\t: 0\ncpu MHz\t\t: 2596.142\nprocessor\t: 1\ncpu MHz\t\t: 2700.000\n";
        assert_eq!(tsc_khz(cpuinfo), Some(2_596_142));
        assert_eq!(tsc_khz("cpu MHz\t: 1999.9996\n"), Some(2_000_000));
    }

    #[test]
    fn tsc_khz_absent_or_garbage() {
        assert_eq!(tsc_khz("processor\t: 0\n"), None);
        assert_eq!(tsc_khz("cpu MHz\t\t: unknown\n"), None);
        assert_eq!(tsc_khz("cpu MHz\t\t: 0\n"), None);
    }
}
