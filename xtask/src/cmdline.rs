//! The kernel command line xtask passes: the user's options plus host facts.

/// Appends `tsc_khz=` unless the caller already chose one, so a user can override it.
pub fn kernel_cmdline(user_options: &str, host_tsc_khz: Option<u64>) -> String {
    let mut options: Vec<String> = user_options.split_whitespace().map(str::to_owned).collect();
    if let Some(khz) = host_tsc_khz
        && !has_option(user_options, "tsc_khz")
    {
        options.push(format!("tsc_khz={khz}"));
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
    fn adds_host_tsc() {
        assert_eq!(
            kernel_cmdline("log=info", Some(2_596_142)),
            "log=info tsc_khz=2596142"
        );
        assert_eq!(kernel_cmdline("", Some(1000)), "tsc_khz=1000");
    }

    #[test]
    fn keeps_user_tsc() {
        assert_eq!(
            kernel_cmdline("tsc_khz=5 log=info", Some(1000)),
            "tsc_khz=5 log=info"
        );
    }

    #[test]
    fn normalises_spacing_and_skips_unknown_tsc() {
        assert_eq!(
            kernel_cmdline("  log=info   test=heap ", None),
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
