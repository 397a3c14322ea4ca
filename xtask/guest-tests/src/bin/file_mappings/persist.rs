//! The files `file-mappings` leaves in each directory it tests, for the host to check
//! after the boot (the boot test includes this file too, so both sides agree): each is
//! made as `size` bytes of `.` written through a descriptor, then changed only through a
//! `MAP_SHARED` mapping, then written back one way (`how`). A store past `size` lands in
//! the mapping's last page and must never reach the file.

pub struct Persisted {
    pub name: &'static str,
    pub size: usize,
    pub stores: &'static [(usize, &'static [u8])],
    pub how: How,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// `msync(MS_SYNC)`, then `munmap`.
    MsyncSync,
    /// `msync(MS_ASYNC)`, then `munmap`.
    MsyncAsync,
    /// `munmap` alone.
    Munmap,
    /// `fsync` on the descriptor, the mapping left in place until the program ends.
    Fsync,
    /// Stored by a child that exits without `msync` or `munmap`.
    Exit,
    /// The first store, `msync(MS_SYNC)`, the other stores (to pages the write-back made
    /// clean again: each must be caught anew), then `munmap`.
    StoreAfterMsync,
}

pub const PERSISTED: &[Persisted] = &[
    Persisted {
        name: "persist-msync-sync",
        size: 6000,
        stores: &[(4100, b"MS_SYNC"), (7, b"first page")],
        how: How::MsyncSync,
    },
    Persisted {
        name: "persist-msync-async",
        size: 300,
        stores: &[(10, b"MS_ASYNC")],
        how: How::MsyncAsync,
    },
    Persisted {
        name: "persist-munmap",
        size: 9000,
        stores: &[(4500, b"MUNMAP"), (8999, b"!")],
        how: How::Munmap,
    },
    Persisted {
        name: "persist-fsync",
        size: 100,
        stores: &[(20, b"FSYNC")],
        how: How::Fsync,
    },
    Persisted {
        name: "persist-exit",
        size: 5000,
        stores: &[(30, b"EXIT"), (4096, b"second page")],
        how: How::Exit,
    },
    Persisted {
        name: "persist-store-after-msync",
        size: 8192,
        stores: &[(10, b"one"), (10, b"TWO"), (5000, b"three")],
        how: How::StoreAfterMsync,
    },
    Persisted {
        name: "persist-past-eof",
        size: 100,
        stores: &[(98, b"AB"), (200, b"PAST THE END")],
        how: How::MsyncSync,
    },
];

/// What the file must hold in the end: the dots with the stores inside `size` applied.
pub fn expected(file: &Persisted) -> Vec<u8> {
    let mut contents = vec![b'.'; file.size];
    for &(offset, bytes) in file.stores {
        for (at, &byte) in bytes.iter().enumerate() {
            if let Some(slot) = contents.get_mut(offset + at) {
                *slot = byte;
            }
        }
    }
    contents
}
