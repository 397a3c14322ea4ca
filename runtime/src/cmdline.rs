//! The kernel command line xtask passes: the user's options plus host facts.

/// Appends the host facts the guest cannot find out itself, each unless the caller already
/// chose one (so a user can override it): `tsc_khz=` (the guest TSC runs at the host's
/// rate under TCG), `wallclock=` (the real time: the VM has no clock it reads) and
/// `entropy=` (random bytes from the host, mixed into the guest's generator).
pub fn kernel_cmdline(user_options: &str, host_tsc_khz: Option<u64>) -> String {
    let wallclock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_nanos());
    let entropy = host_entropy_hex();
    kernel_cmdline_with(user_options, host_tsc_khz, wallclock, entropy.as_deref())
}

/// 32 bytes from the host's random source as hex; `None` if it cannot be read.
fn host_entropy_hex() -> Option<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn kernel_cmdline_with(
    user_options: &str,
    tsc_khz: Option<u64>,
    wallclock_ns: Option<u128>,
    entropy: Option<&str>,
) -> String {
    let mut options: Vec<String> = user_options.split_whitespace().map(str::to_owned).collect();
    let facts = [
        ("tsc_khz", tsc_khz.map(|khz| khz.to_string())),
        ("wallclock", wallclock_ns.map(|ns| ns.to_string())),
        ("entropy", entropy.map(str::to_owned)),
    ];
    for (key, value) in facts {
        if let Some(value) = value
            && !has_option(user_options, key)
        {
            options.push(format!("{key}={value}"));
        }
    }
    options.join(" ")
}

/// The sandbox's `key=value` words, then the user's options; a key the user gave is left
/// out of ours so the line says each thing once.
pub fn with_sandbox_options(user_options: &str, sandbox: &[(&str, String)]) -> String {
    let ours = sandbox
        .iter()
        .filter(|(key, _)| !has_option(user_options, key))
        .map(|(key, value)| format!("{key}={value}"));
    ours.chain(user_options.split_whitespace().map(str::to_owned))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn has_option(cmdline: &str, key: &str) -> bool {
    cmdline
        .split_whitespace()
        .any(|option| option.split_once('=').map_or(option, |(name, _)| name) == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_host_facts() {
        assert_eq!(
            kernel_cmdline_with("log=info", Some(2_596_142), Some(17), Some("00ff")),
            "log=info tsc_khz=2596142 wallclock=17 entropy=00ff"
        );
        assert_eq!(
            kernel_cmdline_with("", Some(1000), None, None),
            "tsc_khz=1000"
        );
        let line = kernel_cmdline("", None);
        assert!(
            line.contains("wallclock=") && line.contains("entropy="),
            "{line}"
        );
    }

    #[test]
    fn keeps_user_choices() {
        assert_eq!(
            kernel_cmdline_with("tsc_khz=5 log=info wallclock=3", Some(1000), Some(9), None),
            "tsc_khz=5 log=info wallclock=3"
        );
    }

    #[test]
    fn normalises_spacing_and_skips_unknown_facts() {
        assert_eq!(
            kernel_cmdline_with("  log=info   test=heap ", None, None, None),
            "log=info test=heap"
        );
    }

    #[test]
    fn sandbox_options_come_first_and_yield_to_the_users() {
        let sandbox = [
            ("overlay", "root".to_owned()),
            ("log", "warn".to_owned()),
            ("bind_file", "m0:x".to_owned()),
        ];
        assert_eq!(
            with_sandbox_options("", &sandbox),
            "overlay=root log=warn bind_file=m0:x"
        );
        assert_eq!(
            with_sandbox_options(" log=info test=heap", &sandbox),
            "overlay=root bind_file=m0:x log=info test=heap"
        );
    }

    #[test]
    fn option_lookup_is_by_key() {
        assert!(has_option("log=info tsc_khz=1", "tsc_khz"));
        assert!(!has_option("log=info my_tsc_khz=1", "tsc_khz"));
        assert!(has_option("flag", "flag"));
    }
}
