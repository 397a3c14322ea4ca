//! Guest memory sizes in QEMU's `-m` syntax.

use std::fmt;
use std::str::FromStr;

/// A guest memory size, held in MiB (QEMU's unit for a bare `-m` number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySize {
    mib: u64,
}

impl MemorySize {
    pub const fn from_mib(mib: u64) -> Self {
        Self { mib }
    }

    pub fn kib(self) -> u64 {
        self.mib * 1024
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("memory size {0:?}: expected a whole number of MiB or GiB such as 128M or 4G")]
pub struct BadMemorySize(String);

impl FromStr for MemorySize {
    type Err = BadMemorySize;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadMemorySize(text.to_owned());
        let trimmed = text.trim();
        let (digits, mib_per_unit) = match trimmed.char_indices().last() {
            Some((at, 'M' | 'm')) => (&trimmed[..at], 1),
            Some((at, 'G' | 'g')) => (&trimmed[..at], 1024),
            Some(_) => (trimmed, 1),
            None => return Err(bad()),
        };
        let count: u64 = digits.parse().map_err(|_| bad())?;
        match count.checked_mul(mib_per_unit) {
            Some(mib) if mib > 0 => Ok(Self { mib }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for MemorySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mib.is_multiple_of(1024) {
            write!(f, "{}G", self.mib / 1024)
        } else {
            write!(f, "{}M", self.mib)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qemu_spellings() {
        assert_eq!("128M".parse::<MemorySize>().unwrap().kib(), 128 * 1024);
        assert_eq!("4G".parse::<MemorySize>().unwrap().kib(), 4096 * 1024);
        assert_eq!("256".parse::<MemorySize>().unwrap().kib(), 256 * 1024);
        assert_eq!("64m".parse::<MemorySize>().unwrap().kib(), 65536);
    }

    #[test]
    fn rejects_nonsense() {
        for text in ["", "M", "0M", "12K", "1.5G", "-1G"] {
            assert!(text.parse::<MemorySize>().is_err(), "{text:?} accepted");
        }
    }

    #[test]
    fn displays_in_largest_whole_unit() {
        assert_eq!(MemorySize::from_mib(4096).to_string(), "4G");
        assert_eq!(MemorySize::from_mib(128).to_string(), "128M");
    }
}
