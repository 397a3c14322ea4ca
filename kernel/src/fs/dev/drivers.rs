//! `/dev`, bottom: the drivers behind the device numbers of [`super`] (built for the
//! bare-metal target only: the random generator is hardware-backed, and the terminals
//! are the terminal layer's, `crate::tty`).
//!
//! Opening a device node asks the namespace's [`DeviceRegistry`], which is [`Devices`] here.

use alloc::sync::Arc;

use vfs_core::file::{DeviceFile, DeviceRegistry};
use vfs_core::{Errno, FileType, OpenFlags, Result, Stat};

use super::{FULL, NULL, RANDOM, URANDOM, ZERO};

struct Null;
impl DeviceFile for Null {
    fn read(&self, _offset: u64, _buf: &mut [u8], _flags: OpenFlags) -> Result<usize> {
        Ok(0)
    }
    fn write(&self, _offset: u64, buf: &[u8], _flags: OpenFlags) -> Result<usize> {
        Ok(buf.len())
    }
}

struct Zero;
impl DeviceFile for Zero {
    fn read(&self, _offset: u64, buf: &mut [u8], _flags: OpenFlags) -> Result<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, _offset: u64, buf: &[u8], _flags: OpenFlags) -> Result<usize> {
        Ok(buf.len())
    }
}

/// `/dev/full`: reads zeros, every write fails with `ENOSPC`.
struct Full;
impl DeviceFile for Full {
    fn read(&self, _offset: u64, buf: &mut [u8], _flags: OpenFlags) -> Result<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, _offset: u64, _buf: &[u8], _flags: OpenFlags) -> Result<usize> {
        Err(Errno::ENOSPC)
    }
}

struct Random;
impl DeviceFile for Random {
    fn read(&self, _offset: u64, buf: &mut [u8], _flags: OpenFlags) -> Result<usize> {
        crate::random::fill(buf);
        Ok(buf.len())
    }
    fn write(&self, _offset: u64, buf: &[u8], _flags: OpenFlags) -> Result<usize> {
        Ok(buf.len())
    }
}

/// The kernel's device drivers, by number.
pub struct Devices;

impl DeviceRegistry for Devices {
    fn open(
        &self,
        file_type: FileType,
        stat: &Stat,
        flags: OpenFlags,
    ) -> Result<Arc<dyn DeviceFile>> {
        if file_type == FileType::Fifo {
            return crate::fs::pipe::open_fifo(stat, flags);
        }
        if file_type != FileType::CharDevice {
            return Err(Errno::ENXIO);
        }
        // The terminals: `/dev/tty`, `/dev/console`, `ptmx` and `/dev/pts/N`.
        if let Some(opened) = crate::tty::open(stat, flags) {
            return opened;
        }
        Ok(match stat.rdev {
            NULL => Arc::new(Null),
            ZERO => Arc::new(Zero),
            FULL => Arc::new(Full),
            RANDOM | URANDOM => Arc::new(Random),
            _ => return Err(Errno::ENXIO),
        })
    }
}
