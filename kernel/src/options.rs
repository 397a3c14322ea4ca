//! The kernel command line: the sandbox's options, `key=value` separated by spaces.
//!
//! Every option is known by name; anything else stops the boot with a message naming it,
//! because a misspelt sandbox option silently ignored is a sandbox configured wrongly.

use core::fmt;

use log::LevelFilter;

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
    ];
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub log: LevelFilter,
    pub test: Option<SelfTest>,
    /// TSC frequency, when the host knows it better than CPUID does (TCG).
    pub tsc_khz: Option<u64>,
}

#[derive(Debug)]
pub enum OptionError<'a> {
    NotUtf8,
    Unknown(&'a str),
    MissingValue(&'a str),
    BadValue { option: &'a str, value: &'a str, expected: &'static str },
}

impl fmt::Display for OptionError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => write!(f, "not valid UTF-8"),
            Self::Unknown(option) => write!(f, "unknown option `{option}` (known: log, test, tsc_khz, virtio_mmio.device)"),
            Self::MissingValue(option) => write!(f, "option `{option}` needs a value (`{option}=...`)"),
            Self::BadValue { option, value, expected } => {
                write!(f, "option `{option}` has bad value `{value}`; expected {expected}")
            }
        }
    }
}

impl Options {
    pub fn parse(cmdline: &[u8]) -> Result<Options, OptionError<'_>> {
        let text = core::str::from_utf8(cmdline).map_err(|_| OptionError::NotUtf8)?;
        let mut options = Options { log: LevelFilter::Warn, test: None, tsc_khz: None };
        for word in text.split_ascii_whitespace() {
            let (option, value) = word.split_once('=').ok_or(OptionError::MissingValue(word))?;
            let bad = |expected| OptionError::BadValue { option, value, expected };
            match option {
                "log" => options.log = parse_level(value).ok_or_else(|| bad("error|warn|info|debug|trace|off"))?,
                "test" => {
                    let found = SelfTest::NAMES.iter().find(|(name, _)| *name == value);
                    let expected = "pagefault|int3|panic|doublefault|heap|bootinfo|virtio";
                    options.test = Some(found.ok_or_else(|| bad(expected))?.1);
                }
                "tsc_khz" => {
                    let khz = value.parse::<u64>().ok().filter(|&khz| khz > 0);
                    options.tsc_khz = Some(khz.ok_or_else(|| bad("a positive number of kHz"))?);
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

/// The `virtio_mmio.device=` values on the command line ([`Options::parse`] validated them).
pub fn virtio_mmio_devices(cmdline: &[u8]) -> impl Iterator<Item = &str> {
    core::str::from_utf8(cmdline)
        .unwrap_or("")
        .split_ascii_whitespace()
        .filter_map(|word| word.split_once('='))
        .filter(|(option, _)| *option == VIRTIO_MMIO_DEVICE)
        .map(|(_, value)| value)
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
