//! Argument values for one call, from its [`Arg`] kinds: mostly plausible (a descriptor the
//! worker holds, a pointer to a buffer of random bytes, a path that exists, flags from the
//! call's own set), often boundary values (0, -1, huge lengths, NULL, kernel and
//! non-canonical addresses, the last user page, an unmapped page), sometimes random.
//!
//! Structures a pointer argument points at (`iovec`, `timespec`, `sigaction`, …) are
//! written into the argument's own slot at the start of the scratch area just before the
//! call, so the kernel reads what the generator chose.

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};

use crate::layout::*;
use crate::raw;
use crate::table::Arg;

pub struct Rng(Xoshiro256PlusPlus);

impl Rng {
    /// The generator for call `index` of the run seeded `seed`: a call's values depend on
    /// the seed, its index and the worker's state, never on how many calls came before in
    /// the same worker.
    pub fn for_call(seed: u64, index: u64) -> Rng {
        Rng(Xoshiro256PlusPlus::seed_from_u64(
            seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        ))
    }

    pub fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// True `percent` times in a hundred.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        self.0.fill_bytes(bytes);
    }
}

/// What the generator needs to know of the worker.
pub struct Context<'a> {
    pub fds: &'a [i32],
    pub pid: i32,
    pub child: i32,
}

/// Addresses that are never the worker's own memory: NULL and low pages, the last page of
/// the user half (never mapped; the page below it is the worker's stack), the first
/// non-canonical addresses, the kernel's half, the page after the scratch area.
pub const BAD_ADDRESSES: &[u64] = &[
    0,
    1,
    0x1000,
    0xfff,
    0x10000,
    0x7fff_ffff_f000,
    0x7fff_ffff_fff8,
    0x7fff_ffff_ffff,
    0x0000_8000_0000_0000,
    0x0000_8000_0000_1000,
    0x8000_0000_0000_0000,
    0xffff_8000_0000_0000,
    0xffff_8880_0000_0000,
    0xffff_ffff_8000_0000,
    0xffff_ffff_ff60_0000,
    0xffff_ffff_ffff_f000,
    u64::MAX,
    SCRATCH_END,
    SCRATCH_END + 0x1000,
];

const BOUNDARY_INTS: &[u64] = &[
    0,
    1,
    2,
    u64::MAX,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    (-2i64) as u64,
    (-4095i64) as u64,
    (-4096i64) as u64,
    4096,
    65536,
];

const HUGE_LENGTHS: &[u64] = &[
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_f000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_f000,
    u64::MAX,
    (-4095i64) as u64,
];

const OFFSETS: &[u64] = &[
    0,
    1,
    4095,
    4096,
    0x7fff_ffff,
    0x8000_0000,
    0x1_0000_0000,
    1 << 40,
    1 << 62,
    0x7fff_ffff_ffff_ffff,
    0x7fff_ffff_ffff_f000,
    u64::MAX,
    (-4096i64) as u64,
];

/// Paths any call may name: the playground's and the system's (never the console, the
/// fuzzer's own executable, or another process's descriptors).
const SYSTEM_PATHS: &[&str] = &[
    "/",
    "/tmp",
    "/proc",
    "/proc/self",
    "/proc/self/status",
    "/proc/self/stat",
    "/proc/self/maps",
    "/proc/self/mounts",
    "/proc/self/fd",
    "/proc/self/cwd",
    "/proc/self/root",
    "/proc/self/cmdline",
    "/proc/self/environ",
    "/proc/1/status",
    "/proc/1/cmdline",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/uptime",
    "/proc/sys/kernel/hostname",
    "/proc/sys",
    "/sys",
    "/sys/kernel",
    "/dev",
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/ptmx",
    "/dev/pts",
    "/dev/shm",
    "/etc/passwd",
    "/etc",
    "/nonexistent",
    "/nonexistent/deeper",
    "/etc/passwd/x",
    ".",
    "..",
    "../..",
];

/// Paths a call may create, remove, rename, change or mount on: inside the playgrounds
/// (tmpfs, the overlay root, a 9p bind mount), absolute or relative to the worker's
/// directory (the tmpfs playground unless a call moved it).
const PLAYGROUND_PATHS: &[&str] = &[
    "/tmp/fuzz/file",
    "/tmp/fuzz/dir",
    "/tmp/fuzz/dir/x",
    "/tmp/fuzz/link",
    "/tmp/fuzz/dangling",
    "/tmp/fuzz/loop",
    "/tmp/fuzz/fifo",
    "/tmp/fuzz/new",
    "/tmp/fuzz/new2",
    "/tmp/fuzz/dir/new",
    "/tmp/fuzz/dir/../new3",
    "/tmp/fuzz/file/",
    "/tmp/fuzz/dir/",
    "/tmp/fuzz//dir///x",
    "/tmp/fuzz/link/x",
    "/rw/fuzz/file",
    "/rw/fuzz/dir",
    "/rw/fuzz/dir/x",
    "/rw/fuzz/new",
    "/rw/fuzz/link",
    "/root/fuzz/file",
    "/root/fuzz/dir",
    "/root/fuzz/dir/x",
    "/root/fuzz/new",
    "file",
    "dir",
    "dir/x",
    "new",
    "x",
    "link",
    "fifo",
    "",
];

/// A few long paths, made once: a component past `NAME_MAX`, a path past `PATH_MAX`, a
/// path of 40+ symlink hops' worth of components.
pub fn long_paths() -> Vec<Vec<u8>> {
    let mut long_name = b"/tmp/fuzz/".to_vec();
    long_name.extend(std::iter::repeat_n(b'n', 300));
    let mut too_long = b"/tmp/fuzz/".to_vec();
    too_long.extend(b"d/".repeat(2100));
    let mut deep = b"/tmp/fuzz".to_vec();
    deep.extend(b"/dir/..".repeat(500));
    vec![long_name, too_long, deep]
}

pub struct Generator<'a> {
    pub rng: &'a mut Rng,
    pub cx: &'a Context<'a>,
    pub scratch: &'a mut [u8],
    pub long_paths: &'a [Vec<u8>],
}

impl Generator<'_> {
    /// The value for argument `index` of kind `kind`.
    pub fn value(&mut self, index: usize, kind: Arg) -> u64 {
        match kind {
            Arg::Fd => self.fd(),
            Arg::DirFd => match self.rng.below(10) {
                0..=3 => (-100i64) as u64,
                4 => 0xffff_ff9c, // AT_FDCWD without the sign extension
                _ => self.fd(),
            },
            Arg::Path => self.path(index, false),
            Arg::PathW => self.path(index, true),
            Arg::Buf => self.pointer(),
            Arg::Len => self.length(),
            Arg::Count => match self.rng.below(10) {
                0..=6 => self.rng.below(9),
                7 => self.rng.below(1100),
                _ => self
                    .rng
                    .pick(&[1024, 1025, 0x8000_0000, 0xffff_ffff, u64::MAX, 65536]),
            },
            Arg::Flags(flags) => self.flags(flags),
            Arg::Choice(values) => {
                if self.rng.percent(85) {
                    self.rng.pick(values)
                } else {
                    self.int()
                }
            }
            Arg::Int => self.int(),
            Arg::Mode => self.mode(),
            Arg::Pid => self.pid(),
            Arg::Signal => self.signal(),
            Arg::Id => {
                let random = self.rng_value() & 0xffff_ffff;
                self.rng.pick(&[
                    0,
                    1,
                    1000,
                    65534,
                    0xffff_ffff,
                    0xffff_fffe,
                    0x1_0000_0000,
                    u64::MAX,
                    random,
                ])
            }
            Arg::Offset => {
                if self.rng.percent(60) {
                    self.rng.below(20000)
                } else {
                    self.rng.pick(OFFSETS)
                }
            }
            Arg::Addr => self.address(),
            Arg::MemLen => self.memory_length(),
            Arg::Iovec => self.iovec(index),
            Arg::Timespec => self.time_pair(index, 1_000_000_000),
            Arg::Timeval => self.time_pair(index, 1_000_000),
            Arg::Itimerval => self.itimerval(index),
            Arg::SigSet => self.sigset(index),
            Arg::SigSetSize => {
                if self.rng.percent(85) {
                    8
                } else {
                    self.rng.pick(&[0, 4, 16, 128, u64::MAX])
                }
            }
            Arg::SigAction => self.sigaction(index),
            Arg::Rlimit => self.rlimit(index),
            Arg::PollFds => self.pollfds(index),
            Arg::FdSet => self.fd_set(index),
            Arg::CloneArgs => self.clone_args(index),
            Arg::CapHeader => self.cap_header(index),
            Arg::StackT => self.stack_t(index),
            Arg::OpenHow => self.open_how(index),
            Arg::FsType => self.fs_type(index),
        }
    }

    fn rng_value(&mut self) -> u64 {
        self.rng.next()
    }

    fn int(&mut self) -> u64 {
        match self.rng.below(10) {
            0..=4 => self.rng.pick(BOUNDARY_INTS),
            5..=7 => self.rng.below(1000),
            _ => self.rng.next(),
        }
    }

    fn fd(&mut self) -> u64 {
        if !self.cx.fds.is_empty() && self.rng.percent(75) {
            return self.rng.pick(self.cx.fds) as u64;
        }
        match self.rng.below(10) {
            0..=3 => self.rng.below(64),
            4 => (-1i64) as u64,
            5 => self
                .rng
                .pick(&[i32::MAX as u64, i32::MIN as i64 as u64, 0x8000_0000]),
            6 => self.rng.pick(&[1023, 1024, 4096, 1 << 20, 65535]),
            7 => (1u64 << 32) | self.rng.below(8), // high bits set over a small fd
            8 => u64::MAX,
            _ => (-100i64) as u64,
        }
    }

    fn pid(&mut self) -> u64 {
        let pid = match self.rng.below(13) {
            0 => self.cx.pid,
            1 => 0,
            2 => -1,
            3 => 1,
            4 => self.cx.child,
            5 => -self.cx.pid,
            6 => 2,
            7 => 99_999,
            8 => i32::MAX,
            9 => i32::MIN,
            10 => 4_194_304,
            11 => -2,
            _ => return self.rng.next(),
        };
        pid as i64 as u64
    }

    fn signal(&mut self) -> u64 {
        if self.rng.percent(85) {
            self.rng.below(65)
        } else {
            self.rng
                .pick(&[65, 128, u64::MAX, (1 << 32) | 9, 0x8000_0000])
        }
    }

    fn mode(&mut self) -> u64 {
        match self.rng.below(10) {
            0..=5 => self.rng.below(0o10000),
            6..=8 => {
                self.rng.pick(&[
                    0o100000, 0o020000, 0o060000, 0o010000, 0o140000, 0o040000, 0o120000,
                ]) | self.rng.below(0o10000)
            }
            _ => self.rng.next(),
        }
    }

    fn flags(&mut self, flags: &[u64]) -> u64 {
        match self.rng.below(20) {
            0..=2 => 0,
            3 => self.rng.next(),
            4 => self.rng.next() & 0xffff_ffff,
            _ => {
                let mut value = 0;
                for _ in 0..self.rng.below(4) + 1 {
                    value |= self.rng.pick(flags);
                }
                value
            }
        }
    }

    fn bad_address(&mut self) -> u64 {
        if self.rng.percent(20) {
            // An arena address: mapped, unmapped or protected, as the calls left it.
            ARENA_BASE + self.rng.below(ARENA_SIZE)
        } else {
            self.rng.pick(BAD_ADDRESSES)
        }
    }

    /// A pointer for the kernel to read or write: into the scratch area's data (random
    /// bytes) mostly, near its end (the next page is unmapped), or a bad one.
    fn pointer(&mut self) -> u64 {
        match self.rng.below(20) {
            0..=13 => DATA_BASE + self.rng.below(DATA_SIZE),
            14 => SCRATCH_END - self.rng.below(64),
            15 | 16 => 0,
            _ => self.bad_address(),
        }
    }

    fn length(&mut self) -> u64 {
        match self.rng.below(20) {
            0..=5 => self.rng.below(256),
            6..=9 => self.rng.below(8192),
            10 | 11 => self.rng.below(DATA_SIZE),
            12..=14 => self.rng.pick(&[0, 1, 8, 4096, 65536]),
            _ => self.rng.pick(HUGE_LENGTHS),
        }
    }

    fn address(&mut self) -> u64 {
        match self.rng.below(10) {
            0..=5 => {
                let page = ARENA_BASE + self.rng.below(ARENA_PAGES) * PAGE;
                if self.rng.percent(10) {
                    page + self.rng.below(PAGE)
                } else {
                    page
                }
            }
            6 => 0,
            _ => self.rng.pick(BAD_ADDRESSES),
        }
    }

    fn memory_length(&mut self) -> u64 {
        match self.rng.below(10) {
            0..=4 => (self.rng.below(32) + 1) * PAGE,
            5 => self.rng.pick(&[0, 1, PAGE - 1, PAGE + 1]),
            6 => ARENA_SIZE,
            _ => self.rng.pick(HUGE_LENGTHS),
        }
    }

    /// The scratch bytes of argument `index`'s slot.
    fn slot(&mut self, index: usize) -> (&mut [u8], u64) {
        let start = index * SLOT_SIZE as usize;
        (
            &mut self.scratch[start..start + SLOT_SIZE as usize],
            SCRATCH_BASE + start as u64,
        )
    }

    /// NULL or a bad pointer instead of a structure, `percent` of the time.
    fn maybe_bad(&mut self, percent: u64) -> Option<u64> {
        if self.rng.percent(percent) {
            Some(if self.rng.percent(50) {
                0
            } else {
                self.bad_address()
            })
        } else {
            None
        }
    }

    fn write_words(&mut self, index: usize, words: &[u64]) -> u64 {
        let (slot, address) = self.slot(index);
        for (chunk, word) in slot.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        address
    }

    fn path(&mut self, index: usize, writable: bool) -> u64 {
        let choice = self.rng.below(100);
        let bytes: Vec<u8> = match choice {
            0..=79 => {
                let pool_is_system = !writable && self.rng.percent(40);
                let text = if pool_is_system {
                    self.rng.pick(SYSTEM_PATHS)
                } else {
                    self.rng.pick(PLAYGROUND_PATHS)
                };
                text.as_bytes().to_vec()
            }
            80..=83 => {
                self.long_paths[self.rng.below(self.long_paths.len() as u64) as usize].clone()
            }
            84..=87 => {
                let mut random = vec![0u8; self.rng.below(48) as usize + 1];
                self.rng.fill(&mut random);
                // No NUL inside, and no path the fuzzer could not clean up: random names
                // stay relative to the worker's directory (no '/').
                random.iter_mut().for_each(|byte| {
                    if *byte == 0 || *byte == b'/' {
                        *byte = b'r';
                    }
                });
                random
            }
            88..=90 => {
                // Not NUL-terminated: it runs into the unmapped page after the scratch.
                let tail = &mut self.scratch[SCRATCH_SIZE as usize - 32..];
                tail.fill(b'a');
                return SCRATCH_END - 32;
            }
            _ => return self.bad_address(),
        };
        let (slot, address) = self.slot(index);
        slot[..bytes.len()].copy_from_slice(&bytes);
        slot[bytes.len()] = 0;
        address
    }

    fn iovec(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(15) {
            return bad;
        }
        let count = self.rng.below(9) as usize;
        let mut words = Vec::with_capacity(count * 2);
        for _ in 0..count {
            words.push(self.pointer());
            words.push(if self.rng.percent(80) {
                self.rng.below(4096)
            } else {
                self.length()
            });
        }
        self.write_words(index, &words)
    }

    fn time_pair(&mut self, index: usize, sub_second: u64) -> u64 {
        if let Some(bad) = self.maybe_bad(25) {
            return bad;
        }
        let (seconds, fraction) = match self.rng.below(10) {
            0 | 1 => (0, 0),
            2 | 3 => (0, self.rng.below(sub_second / 100)),
            4 => (0, sub_second - 1),
            5 => (0, sub_second),
            6 => (self.rng.pick(&[u64::MAX, i64::MIN as u64]), 0),
            7 => (0, u64::MAX),
            8 => (i64::MAX as u64, sub_second - 1),
            _ => (self.rng.below(3), self.rng.next()),
        };
        self.write_words(index, &[seconds, fraction])
    }

    fn itimerval(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(20) {
            return bad;
        }
        let mut words = [0u64; 4];
        for word in words.iter_mut() {
            *word = match self.rng.below(6) {
                0..=2 => 0,
                3 => self.rng.below(20_000),
                4 => self
                    .rng
                    .pick(&[999_999, 1_000_000, u64::MAX, i64::MAX as u64]),
                _ => self.rng.below(3),
            };
        }
        self.write_words(index, &words)
    }

    fn sigset(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(15) {
            return bad;
        }
        let mut set = self.rng.next();
        if self.rng.percent(90) {
            set &= !(1 << (libc::SIGALRM - 1));
        }
        self.write_words(index, &[set])
    }

    fn sigaction(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(20) {
            return bad;
        }
        let handler = match self.rng.below(6) {
            0 => libc::SIG_DFL as u64,
            1 => libc::SIG_IGN as u64,
            2 | 3 => raw::ignore_signal_address(),
            4 => self.bad_address(),
            _ => self.rng.next(),
        };
        const SA_FLAGS: &[u64] = &[
            libc::SA_NOCLDSTOP as u64,
            libc::SA_NOCLDWAIT as u64,
            libc::SA_SIGINFO as u64,
            libc::SA_ONSTACK as u64,
            libc::SA_RESTART as u64,
            libc::SA_NODEFER as u64,
            libc::SA_RESETHAND as u64,
        ];
        let mut flags = self.flags(SA_FLAGS);
        if self.rng.percent(90) {
            flags |= 0x0400_0000; // SA_RESTORER
        }
        let restorer = if self.rng.percent(90) {
            raw::restorer()
        } else {
            self.bad_address()
        };
        let mask = self.rng.next();
        self.write_words(index, &[handler, flags, restorer, mask])
    }

    fn rlimit(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(15) {
            return bad;
        }
        let values = [
            0,
            1,
            64,
            1024,
            4096,
            1 << 20,
            1 << 30,
            u64::MAX,
            u64::MAX - 1,
        ];
        let current = self.rng.pick(&values);
        let max = if self.rng.percent(50) {
            u64::MAX
        } else {
            self.rng.pick(&values)
        };
        self.write_words(index, &[current, max])
    }

    fn pollfds(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(15) {
            return bad;
        }
        let mut words = Vec::new();
        for _ in 0..8 {
            let fd = self.fd() & 0xffff_ffff;
            let events = self.rng.next() & 0xffff_ffff;
            words.push(fd | (events << 32));
        }
        self.write_words(index, &words)
    }

    fn fd_set(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(40) {
            return bad;
        }
        let mut words = [0u64; 16];
        if self.rng.percent(50) {
            for _ in 0..self.rng.below(4) + 1 {
                let fd = self.fd() as usize;
                if fd < 1024 {
                    words[fd / 64] |= 1 << (fd % 64);
                }
            }
        } else {
            words.iter_mut().for_each(|word| *word = self.rng.next());
        }
        self.write_words(index, &words)
    }

    fn clone_args(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(15) {
            return bad;
        }
        let words = [
            self.value(index, Arg::Flags(crate::table::CLONE_FLAGS)),
            self.pointer(), // pidfd
            self.pointer(), // child_tid
            self.pointer(), // parent_tid
            if self.rng.percent(70) {
                17
            } else {
                self.signal()
            },
            if self.rng.percent(50) {
                0
            } else {
                self.pointer()
            }, // stack
            self.length(),  // stack_size
            self.pointer(), // tls
            if self.rng.percent(80) {
                0
            } else {
                self.pointer()
            }, // set_tid
            if self.rng.percent(80) {
                0
            } else {
                self.rng.below(40)
            }, // set_tid_size
            if self.rng.percent(80) { 0 } else { self.fd() }, // cgroup
        ];
        self.write_words(index, &words)
    }

    fn cap_header(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(15) {
            return bad;
        }
        let version = self
            .rng
            .pick(&[0x1998_0330, 0x2007_1026, 0x2008_0522, 0, 0xffff_ffff]);
        let pid = self.pid() & 0xffff_ffff;
        self.write_words(index, &[version | (pid << 32)])
    }

    fn stack_t(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(20) {
            return bad;
        }
        let base = self.pointer();
        let flags = self.rng.pick(&[0, 1, 2, 0x8000_0000, 0xffff_ffff]);
        let size = if self.rng.percent(50) {
            self.rng.below(65536)
        } else {
            self.length()
        };
        self.write_words(index, &[base, flags, size])
    }

    fn open_how(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(15) {
            return bad;
        }
        let flags = self.value(index, Arg::Flags(crate::table::OPEN_FLAGS));
        let mode = self.mode();
        let resolve = if self.rng.percent(50) {
            0
        } else {
            self.rng.next() & 0x3f
        };
        self.write_words(index, &[flags, mode, resolve])
    }

    fn fs_type(&mut self, index: usize) -> u64 {
        if let Some(bad) = self.maybe_bad(15) {
            return bad;
        }
        let name = self.rng.pick(&[
            "tmpfs", "proc", "sysfs", "devpts", "9p", "overlay", "ramfs", "bind", "", "ext4",
            "devtmpfs", "none",
        ]);
        let (slot, address) = self.slot(index);
        slot[..name.len()].copy_from_slice(name.as_bytes());
        slot[name.len()] = 0;
        address
    }
}
