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
    fn option_lookup_is_by_key() {
        assert!(has_option("log=info tsc_khz=1", "tsc_khz"));
        assert!(!has_option("log=info my_tsc_khz=1", "tsc_khz"));
        assert!(has_option("flag", "flag"));
    }
}
