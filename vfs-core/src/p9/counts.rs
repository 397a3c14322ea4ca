//! Requests every 9p client of this kernel sent, by message type, and the bytes their
//! reads brought back: what the kernel shows at `/sys/kernel/debug/9p/requests`, so the
//! cost of a program's start (how many walks, getattrs, reads…) can be read from inside
//! the guest before and after it. Plain atomics, no lock.

use core::sync::atomic::{AtomicU64, Ordering};

/// The request types counted, by name, in the order the debug file lists them.
const NAMED: &[(u8, &str)] = &[
    (110, "walk"),
    (24, "getattr"),
    (120, "clunk"),
    (12, "lopen"),
    (116, "read"),
    (40, "readdir"),
    (22, "readlink"),
    (118, "write"),
    (26, "setattr"),
    (14, "lcreate"),
    (30, "xattrwalk"),
];

/// Counts by T-message type code (all below 128).
static BY_TYPE: [AtomicU64; 128] = [const { AtomicU64::new(0) }; 128];
/// Bytes of data `Rread` replies carried.
static READ_BYTES: AtomicU64 = AtomicU64::new(0);

/// Counts `count` requests of type `type_code` sent.
pub(super) fn sent(type_code: u8, count: u64) {
    if let Some(counter) = BY_TYPE.get(usize::from(type_code)) {
        counter.fetch_add(count, Ordering::Relaxed);
    }
}

/// Counts `bytes` of file data read.
pub(super) fn read(bytes: usize) {
    READ_BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
}

/// One `NAME COUNT` line per counted type, `other` for the rest, then `total` and
/// `read_bytes`.
pub fn report() -> alloc::string::String {
    use core::fmt::Write;
    let mut text = alloc::string::String::new();
    let mut total = 0;
    let mut named = 0;
    for (code, counter) in BY_TYPE.iter().enumerate() {
        let count = counter.load(Ordering::Relaxed);
        total += count;
        if NAMED
            .iter()
            .any(|&(named_code, _)| usize::from(named_code) == code)
        {
            named += count;
        }
    }
    for &(code, name) in NAMED {
        let count = BY_TYPE[usize::from(code)].load(Ordering::Relaxed);
        let _ = writeln!(text, "{name} {count}");
    }
    let _ = writeln!(text, "other {}", total - named);
    let _ = writeln!(text, "total {total}");
    let _ = writeln!(text, "read_bytes {}", READ_BYTES.load(Ordering::Relaxed));
    text
}
