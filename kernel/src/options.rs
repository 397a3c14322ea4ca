//! The kernel command line: the sandbox's options, `key=value` separated by spaces.
//!
//! Every option is known by name; anything else stops the boot with a message naming it,
//! because a misspelt sandbox option silently ignored is a sandbox configured wrongly.

use core::fmt;

use log::LevelFilter;

use crate::container::{FileAccess, FileBind, Overlay, SandboxOptions, ShareAlias};

/// A deliberate failure or check the boot tests ask for (`test=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelfTest {
    PageFault,
    Breakpoint,
    Panic,
    DoubleFault,
    Heap,
    BootInfo,
    Virtio,
    NineP,
    NinePBench,
    /// A DMA request the frame allocator cannot meet fails as an error, not a panic.
    Dma,
}

impl SelfTest {
    const NAMES: &'static [(&'static str, SelfTest)] = &[
        ("pagefault", SelfTest::PageFault),
        ("int3", SelfTest::Breakpoint),
        ("panic", SelfTest::Panic),
        ("doublefault", SelfTest::DoubleFault),
        ("heap", SelfTest::Heap),
        ("bootinfo", SelfTest::BootInfo),
        ("virtio", SelfTest::Virtio),
        ("9p", SelfTest::NineP),
        ("9p-bench", SelfTest::NinePBench),
        ("dma", SelfTest::Dma),
    ];
}

/// Where the container's standard streams go (`stdio=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stdio {
    /// The kernel's console (COM1) carries them with the kernel's own lines, and nothing
    /// is ever typed: what the boot tests read.
    #[default]
    Console,
    /// Their own serial ports, as `cargo xtask run` gives them: COM2 carries the input
    /// (framed by `tty::wire`) and the output (the terminal, or stdout), COM3 stderr.
    Ports,
    /// The host runtime's control channel (`control`): a virtio-console port carries
    /// the lifecycle, signals, exec and every process's streams, each apart.
    Control,
}

/// Borrows from the command line: it is parsed before the heap exists.
#[derive(Clone, Copy, Debug)]
pub struct Options<'a> {
    pub log: LevelFilter,
    pub test: Option<SelfTest>,
    /// TSC frequency, when the host knows it better than CPUID does (TCG).
    pub tsc_khz: Option<u64>,
    /// `overlay=`, `file_access=`, `file_access_mounts=`.
    pub sandbox: SandboxOptions,
    /// `cid=`: the container's name, for messages.
    pub cid: Option<&'a str>,
    /// `wallclock=`: the host's time at launch, nanoseconds since the Unix epoch (the VM has
    /// no battery clock the kernel reads), the base of `CLOCK_REALTIME`.
    pub wallclock_ns: Option<i64>,
    /// `entropy=`: hex bytes from the host's random source, mixed into the kernel's.
    pub entropy: Option<&'a str>,
    /// `stdio=console|ports|control`.
    pub stdio: Stdio,
}

#[derive(Debug)]
pub enum OptionError<'a> {
    NotUtf8,
    Unknown(&'a str),
    MissingValue(&'a str),
    BadValue {
        option: &'a str,
        value: &'a str,
        expected: &'static str,
    },
}

impl fmt::Display for OptionError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => write!(f, "not valid UTF-8"),
            Self::Unknown(option) => write!(
                f,
                "unknown option `{option}` (known: log, test, tsc_khz, overlay, file_access, \
                 file_access_mounts, cid, wallclock, entropy, stdio, bind_file, share_alias, \
                 virtio_mmio.device)"
            ),
            Self::MissingValue(option) => {
                write!(f, "option `{option}` needs a value (`{option}=...`)")
            }
            Self::BadValue {
                option,
                value,
                expected,
            } => {
                write!(
                    f,
                    "option `{option}` has bad value `{value}`; expected {expected}"
                )
            }
        }
    }
}

impl<'a> Options<'a> {
    pub fn parse(cmdline: &'a [u8]) -> Result<Options<'a>, OptionError<'a>> {
        let text = core::str::from_utf8(cmdline).map_err(|_| OptionError::NotUtf8)?;
        let mut options = Options {
            log: LevelFilter::Warn,
            test: None,
            tsc_khz: None,
            sandbox: SandboxOptions::default(),
            cid: None,
            wallclock_ns: None,
            entropy: None,
            stdio: Stdio::Console,
        };
        for word in text.split_ascii_whitespace() {
            let (option, value) = word
                .split_once('=')
                .ok_or(OptionError::MissingValue(word))?;
            let bad = |expected| OptionError::BadValue {
                option,
                value,
                expected,
            };
            match option {
                "log" => {
                    options.log =
                        parse_level(value).ok_or_else(|| bad("error|warn|info|debug|trace|off"))?
                }
                "test" => {
                    let found = SelfTest::NAMES.iter().find(|(name, _)| *name == value);
                    let expected =
                        "pagefault|int3|panic|doublefault|heap|bootinfo|virtio|9p|9p-bench";
                    options.test = Some(found.ok_or_else(|| bad(expected))?.1);
                }
                "tsc_khz" => {
                    let khz = value.parse::<u64>().ok().filter(|&khz| khz > 0);
                    options.tsc_khz = Some(khz.ok_or_else(|| bad("a positive number of kHz"))?);
                }
                "overlay" => {
                    options.sandbox.overlay =
                        Overlay::from_name(value).ok_or_else(|| bad(Overlay::EXPECTED))?
                }
                "file_access" => {
                    options.sandbox.file_access =
                        FileAccess::from_name(value).ok_or_else(|| bad(FileAccess::EXPECTED))?;
                }
                "file_access_mounts" => {
                    options.sandbox.file_access_mounts =
                        FileAccess::from_name(value).ok_or_else(|| bad(FileAccess::EXPECTED))?;
                }
                "cid" => {
                    if !is_container_id(value) {
                        return Err(bad(CID_EXPECTED));
                    }
                    options.cid = Some(value);
                }
                "wallclock" => {
                    let ns = value.parse::<i64>().ok().filter(|&ns| ns >= 0);
                    options.wallclock_ns =
                        Some(ns.ok_or_else(|| bad("nanoseconds since the Unix epoch"))?);
                }
                "entropy" => {
                    let hex = value.len() % 2 == 0
                        && value.len() <= 128
                        && value.bytes().all(|b| b.is_ascii_hexdigit());
                    if !hex {
                        return Err(bad("up to 64 bytes as hex digits"));
                    }
                    options.entropy = Some(value);
                }
                "stdio" => {
                    options.stdio = match value {
                        "console" => Stdio::Console,
                        "ports" => Stdio::Ports,
                        "control" => Stdio::Control,
                        _ => return Err(bad("console|ports|control")),
                    }
                }
                // Written by the host, not a person: channel m<i> shares a bind-mounted
                // file's directory (see `container::channel`); read by `file_binds`.
                BIND_FILE => {
                    if !FileBind::is_valid(value) {
                        return Err(bad(FileBind::EXPECTED));
                    }
                }
                // Written by the host: channel m<i> reads m<j>'s device (both share one
                // host directory; see `container::channel`); read by `share_aliases`.
                SHARE_ALIAS => {
                    if ShareAlias::parse(value).is_none() {
                        return Err(bad(ShareAlias::EXPECTED));
                    }
                }
                // Linux's syntax for virtio-mmio devices the VMM did not describe in ACPI
                // (microvm with acpi=off, Firecracker); read by `devices`.
                VIRTIO_MMIO_DEVICE => {
                    if drivers::virtio::parse_cmdline_device(value).is_none() {
                        return Err(bad("SIZE@ADDRESS[:IRQ], e.g. 512@0xfeb00e00:12"));
                    }
                }
                _ => return Err(OptionError::Unknown(option)),
            }
        }
        Ok(options)
    }
}

const VIRTIO_MMIO_DEVICE: &str = "virtio_mmio.device";
const BIND_FILE: &str = "bind_file";
const SHARE_ALIAS: &str = "share_alias";
const CID_EXPECTED: &str = "1-64 of A-Z a-z 0-9 _ . + -";

/// runsc's rule for container ids, so a name that works there works here.
fn is_container_id(cid: &str) -> bool {
    (1..=64).contains(&cid.len())
        && cid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b))
}

/// The values of a repeatable option, in command-line order.
fn values_of<'a>(cmdline: &'a [u8], key: &'a str) -> impl Iterator<Item = &'a str> {
    core::str::from_utf8(cmdline)
        .unwrap_or("")
        .split_ascii_whitespace()
        .filter_map(|word| word.split_once('='))
        .filter(move |(option, _)| *option == key)
        .map(|(_, value)| value)
}

/// The bytes of an `entropy=` value ([`Options::parse`] checked it is hex).
pub fn decode_hex(hex: &str) -> alloc::vec::Vec<u8> {
    hex.as_bytes()
        .chunks(2)
        .filter_map(|pair| {
            core::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

/// The `virtio_mmio.device=` values on the command line ([`Options::parse`] validated them).
pub fn virtio_mmio_devices(cmdline: &[u8]) -> impl Iterator<Item = &str> {
    values_of(cmdline, VIRTIO_MMIO_DEVICE)
}

/// The host's `bind_file=` notes, for `container::compile` (needs the heap: names are decoded).
pub fn file_binds(cmdline: &[u8]) -> impl Iterator<Item = FileBind> + '_ {
    values_of(cmdline, BIND_FILE).filter_map(FileBind::parse)
}

/// The host's `share_alias=` notes ([`Options::parse`] validated them).
pub fn share_aliases(cmdline: &[u8]) -> impl Iterator<Item = ShareAlias> + '_ {
    values_of(cmdline, SHARE_ALIAS).filter_map(ShareAlias::parse)
}

fn parse_level(value: &str) -> Option<LevelFilter> {
    Some(match value {
        "off" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "warn" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_command_line_gives_defaults() {
        let options = Options::parse(b"").unwrap();
        assert_eq!(options.log, LevelFilter::Warn);
        assert_eq!(options.test, None);
        assert_eq!(options.tsc_khz, None);
    }

    #[test]
    fn stdio_goes_to_the_console_unless_ports_are_named() {
        assert_eq!(Options::parse(b"").unwrap().stdio, Stdio::Console);
        assert_eq!(Options::parse(b"stdio=ports").unwrap().stdio, Stdio::Ports);
        assert_eq!(
            Options::parse(b"stdio=control").unwrap().stdio,
            Stdio::Control
        );
        assert!(Options::parse(b"stdio=com2").is_err());
    }

    #[test]
    fn known_options_are_read() {
        let options = Options::parse(b"log=debug  test=heap tsc_khz=2596142\n").unwrap();
        assert_eq!(options.log, LevelFilter::Debug);
        assert_eq!(options.test, Some(SelfTest::Heap));
        assert_eq!(options.tsc_khz, Some(2_596_142));
    }

    #[test]
    fn unknown_option_is_named() {
        let error = Options::parse(b"log=info bogus=1").unwrap_err();
        assert!(matches!(error, OptionError::Unknown("bogus")));
        assert!(error.to_string().contains("`bogus`"));
    }

    #[test]
    fn bad_values_name_option_value_and_expectation() {
        for (line, option, value) in [
            (&b"log=loud"[..], "log", "loud"),
            (b"test=reboot", "test", "reboot"),
            (b"tsc_khz=0", "tsc_khz", "0"),
            (b"tsc_khz=fast", "tsc_khz", "fast"),
            (b"virtio_mmio.device=512", "virtio_mmio.device", "512"),
        ] {
            match Options::parse(line).unwrap_err() {
                OptionError::BadValue {
                    option: o,
                    value: v,
                    ..
                } => assert_eq!((o, v), (option, value)),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn sandbox_options_default_to_gvisors() {
        let options = Options::parse(b"").unwrap();
        assert_eq!(options.sandbox.overlay, Overlay::Root);
        assert_eq!(options.sandbox.file_access, FileAccess::Exclusive);
        assert_eq!(options.sandbox.file_access_mounts, FileAccess::Shared);
        assert_eq!(options.cid, None);
    }

    #[test]
    fn sandbox_options_are_read() {
        let line = b"overlay=all file_access=shared file_access_mounts=exclusive cid=web-1.a_b+c";
        let options = Options::parse(line).unwrap();
        assert_eq!(
            options.sandbox,
            SandboxOptions {
                overlay: Overlay::All,
                file_access: FileAccess::Shared,
                file_access_mounts: FileAccess::Exclusive
            }
        );
        assert_eq!(options.cid, Some("web-1.a_b+c"));
        assert_eq!(
            Options::parse(b"overlay=none").unwrap().sandbox.overlay,
            Overlay::None
        );
    }

    #[test]
    fn bad_sandbox_values_are_named() {
        let long_cid = [b"cid=".as_slice(), &[b'a'; 65]].concat();
        for line in [
            &b"overlay=some"[..],
            b"file_access=cached",
            b"file_access_mounts=",
            b"cid=a/b",
            b"cid=",
            &long_cid,
            b"bind_file=m0",
            b"bind_file=rootfs:x",
        ] {
            let error = Options::parse(line).unwrap_err();
            assert!(
                matches!(error, OptionError::BadValue { .. }),
                "{line:?}: {error:?}"
            );
        }
        let error = Options::parse(b"overlay=some").unwrap_err().to_string();
        assert_eq!(
            error,
            "option `overlay` has bad value `some`; expected none|root|all"
        );
    }

    #[test]
    fn file_binds_are_listed_in_order() {
        let line = b"bind_file=m2:resolv.conf log=info bind_file=m0:a%20b";
        assert!(Options::parse(line).is_ok());
        let binds: Vec<FileBind> = file_binds(line).collect();
        assert_eq!(binds.len(), 2);
        assert_eq!(
            (binds[0].channel, binds[0].name.as_str()),
            (crate::container::Channel::Mount(2), "resolv.conf")
        );
        assert_eq!(binds[1].name, "a b");
    }

    #[test]
    fn share_aliases_are_checked_and_listed() {
        let line = b"share_alias=m2:m0 log=info share_alias=m3:m0";
        assert!(Options::parse(line).is_ok());
        let aliases: Vec<String> = share_aliases(line)
            .map(|alias| alias.to_option_value())
            .collect();
        assert_eq!(aliases, ["m2:m0", "m3:m0"]);
        for line in [
            &b"share_alias=m1:m1"[..],
            b"share_alias=rootfs:m0",
            b"share_alias=m1",
        ] {
            assert!(
                matches!(
                    Options::parse(line).unwrap_err(),
                    OptionError::BadValue {
                        option: "share_alias",
                        ..
                    }
                ),
                "{line:?}"
            );
        }
    }

    #[test]
    fn a_word_without_a_value_is_an_error() {
        assert!(matches!(
            Options::parse(b"quiet").unwrap_err(),
            OptionError::MissingValue("quiet")
        ));
    }

    #[test]
    fn non_utf8_is_rejected() {
        assert!(matches!(
            Options::parse(b"log=\xff").unwrap_err(),
            OptionError::NotUtf8
        ));
    }

    #[test]
    fn virtio_mmio_devices_are_listed_in_order() {
        let line =
            b"log=info virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.device=4K@0xd0000000:5";
        assert!(Options::parse(line).is_ok());
        let devices: Vec<&str> = virtio_mmio_devices(line).collect();
        assert_eq!(devices, ["512@0xfeb00e00:12", "4K@0xd0000000:5"]);
    }

    #[test]
    fn host_clock_and_entropy_are_read_and_checked() {
        let options = Options::parse(b"wallclock=1795990999123456789 entropy=00ff10").unwrap();
        assert_eq!(options.wallclock_ns, Some(1_795_990_999_123_456_789));
        assert_eq!(decode_hex(options.entropy.unwrap()), [0x00, 0xff, 0x10]);
        for bad in [
            &b"wallclock=-1"[..],
            b"wallclock=soon",
            b"entropy=abc",
            b"entropy=zz",
        ] {
            assert!(
                matches!(Options::parse(bad), Err(OptionError::BadValue { .. })),
                "{bad:?}"
            );
        }
    }
}
