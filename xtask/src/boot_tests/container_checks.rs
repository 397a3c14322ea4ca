//! Checks about what the container did: its output (the console without the kernel's own
//! lines) and what it left on the host.

use std::path::PathBuf;

use super::userland::snapshot::TreeSnapshot;

#[derive(Debug, Clone)]
pub enum ContainerCheck {
    /// The container's output is exactly this.
    Output(String),
    /// The container's output, after `rules` made what must differ between two runs equal,
    /// is exactly `expected` (a host run's output under the same rules).
    OutputNormalised {
        expected: String,
        rules: Vec<Normalise>,
    },
    /// The container's output has exactly these lines, in any order (readdir order is not
    /// something the sandbox promises to keep).
    OutputUnordered(String),
    /// The output is a mount table (`/proc/mounts` format) whose device, mount point, type
    /// and `ro`/`rw` are these, in order (sizes and other options vary with the machine).
    MountTable(Vec<[String; 4]>),
    /// After the boot, the host path is in this state.
    HostPath { path: PathBuf, state: HostState },
    /// After the boot, the host tree is byte for byte what it was before.
    HostTreeUnchanged(TreeSnapshot),
}

/// Something two runs of the same commands cannot agree on, made equal on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalise {
    /// A line `PREFIX<seconds since the epoch>` (`date +%s`): the clock when it ran. It
    /// must be within a day of the host's clock when checked; it then reads `PREFIX<now>`.
    /// A line that fails that is left as it is, so the comparison fails on it.
    EpochSeconds(&'static str),
}

/// How far the sandbox's clock may be from the host's (it is set from the host's at boot).
const CLOCK_SLACK_SECONDS: u64 = 24 * 3600;

/// `text` with every rule applied to every line.
pub fn normalise(text: &str, rules: &[Normalise]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    text.split_inclusive('\n')
        .map(|line| {
            rules
                .iter()
                .find_map(|rule| rule.apply(line, now))
                .unwrap_or_else(|| line.to_owned())
        })
        .collect()
}

impl Normalise {
    /// The line rewritten, or `None` when the rule does not take it.
    fn apply(self, line: &str, now: u64) -> Option<String> {
        match self {
            Normalise::EpochSeconds(prefix) => {
                let (body, end) = match line.strip_suffix('\n') {
                    Some(body) => (body, "\n"),
                    None => (line, ""),
                };
                let seconds: u64 = body.strip_prefix(prefix)?.trim().parse().ok()?;
                (seconds.abs_diff(now) <= CLOCK_SLACK_SECONDS)
                    .then(|| format!("{prefix}<now>{end}"))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostState {
    Absent,
    Directory,
    File { contents: Vec<u8> },
    Symlink { target: PathBuf },
}

/// The console without the kernel's lines: its log lines (`[  0.001234] LEVEL …`) and
/// its own `sandbox: …` lines.
pub fn container_output(console: &str) -> String {
    console
        .split_inclusive('\n')
        .filter(|line| !line.starts_with("sandbox: ") && !is_kernel_log_line(line))
        .collect()
}

fn is_kernel_log_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('[') else {
        return false;
    };
    let Some((stamp, _)) = rest.split_once("] ") else {
        return false;
    };
    let stamp = stamp.trim_start();
    !stamp.is_empty() && stamp.chars().all(|c| c.is_ascii_digit() || c == '.')
}

impl ContainerCheck {
    pub fn verify(&self, console: &str) -> Result<(), String> {
        let output = container_output(console);
        match self {
            ContainerCheck::Output(expected) if output == *expected => Ok(()),
            ContainerCheck::Output(expected) => Err(format!(
                "container output {output:?}, expected {expected:?}"
            )),
            ContainerCheck::OutputNormalised { expected, rules } => {
                let got = normalise(&output, rules);
                if got == *expected {
                    Ok(())
                } else {
                    Err(format!(
                        "container output (normalised: {rules:?}) differs from the host's: {}",
                        first_difference(&got, expected)
                    ))
                }
            }
            ContainerCheck::OutputUnordered(expected) => {
                let mut got: Vec<&str> = output.lines().collect();
                let mut wanted: Vec<&str> = expected.lines().collect();
                got.sort_unstable();
                wanted.sort_unstable();
                if got == wanted {
                    Ok(())
                } else {
                    Err(format!(
                        "container output lines {got:?}, expected (any order) {wanted:?}"
                    ))
                }
            }
            ContainerCheck::MountTable(expected) => {
                let got: Vec<[String; 4]> = output.lines().map(mount_fields).collect();
                if got == *expected {
                    Ok(())
                } else {
                    Err(format!("mount table {got:?}, expected {expected:?}"))
                }
            }
            ContainerCheck::HostPath { path, state } => {
                let seen = host_state(path);
                if seen == *state {
                    Ok(())
                } else {
                    Err(format!(
                        "{} on the host is {seen:?}, expected {state:?}",
                        path.display()
                    ))
                }
            }
            ContainerCheck::HostTreeUnchanged(before) => match TreeSnapshot::take(&before.root) {
                Ok(after) => before.differences(&after).map_or(Ok(()), |changes| {
                    Err(format!(
                        "the container changed the host tree {}: {changes}",
                        before.root.display()
                    ))
                }),
                Err(error) => Err(format!(
                    "snapshot of {} after the boot: {error}",
                    before.root.display()
                )),
            },
        }
    }
}

/// Where two long outputs part, for a failure message a person can read: the first line
/// that differs (numbered) and the line counts; the whole output is in the console dump.
fn first_difference(got: &str, expected: &str) -> String {
    let (got_lines, expected_lines): (Vec<&str>, Vec<&str>) =
        (got.lines().collect(), expected.lines().collect());
    let index = got_lines
        .iter()
        .zip(&expected_lines)
        .position(|(a, b)| a != b)
        .unwrap_or(got_lines.len().min(expected_lines.len()));
    format!(
        "line {}: sandbox {:?}, host {:?} ({} lines against {})",
        index + 1,
        got_lines.get(index).copied().unwrap_or("<end>"),
        expected_lines.get(index).copied().unwrap_or("<end>"),
        got_lines.len(),
        expected_lines.len()
    )
}

/// device, mount point, type, and the first option (`ro` or `rw`).
fn mount_fields(line: &str) -> [String; 4] {
    let mut fields = line.split(' ');
    let mut next = || fields.next().unwrap_or_default().to_owned();
    let (device, point, kind, options) = (next(), next(), next(), next());
    let access = options.split(',').next().unwrap_or_default().to_owned();
    [device, point, kind, access]
}

fn host_state(path: &std::path::Path) -> HostState {
    match std::fs::symlink_metadata(path) {
        Err(_) => HostState::Absent,
        Ok(meta) if meta.is_dir() => HostState::Directory,
        Ok(meta) if meta.is_symlink() => HostState::Symlink {
            target: std::fs::read_link(path).unwrap_or_default(),
        },
        Ok(_) => HostState::File {
            contents: std::fs::read(path).unwrap_or_default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_leaves_out_kernel_lines() {
        let console =
            "[  0.001234] WARN  spec: ignored\nhello\n[x] not a log line\nsandbox: exit status 0\n";
        assert_eq!(container_output(console), "hello\n[x] not a log line\n");
    }

    #[test]
    fn epoch_lines_near_now_are_made_equal_and_others_left() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let rules = [Normalise::EpochSeconds("date: ")];
        let text = format!("a\ndate: {}\ndate: 0\ndate: soon\nb date: {now}\n", now - 5);
        assert_eq!(
            normalise(&text, &rules),
            format!("a\ndate: <now>\ndate: 0\ndate: soon\nb date: {now}\n")
        );
        assert_eq!(normalise("date: 1", &[]), "date: 1");
    }

    #[test]
    fn the_first_difference_is_named() {
        assert_eq!(
            first_difference("a\nb\n", "a\nc\nd\n"),
            "line 2: sandbox \"b\", host \"c\" (2 lines against 3)"
        );
        assert_eq!(
            first_difference("a\n", "a\nd\n"),
            "line 2: sandbox \"<end>\", host \"d\" (1 lines against 2)"
        );
    }

    #[test]
    fn mount_fields_keep_ro_rw_only() {
        assert_eq!(
            mount_fields("tmpfs /tmp tmpfs rw,relatime,size=65344k 0 0"),
            ["tmpfs", "/tmp", "tmpfs", "rw"].map(str::to_owned)
        );
    }
}
