//! The boot tests' hooks (`test=` on the command line): deliberate faults, a heap stress
//! run and a dump of what the boot layer handed over, each ending the run with a status
//! the test asserts on.

use alloc::vec::Vec;

use arch::BootInfo;

use crate::console::print_line;
use crate::devices::Devices;
use crate::exit::exit;
use crate::options::SelfTest;
use vfs_core::p9::Transport;

pub fn run(test: SelfTest, boot: BootInfo, devices: &Devices) -> ! {
    match test {
        SelfTest::PageFault => arch::selftest::trigger_page_fault(),
        SelfTest::DoubleFault => arch::selftest::trigger_double_fault(),
        SelfTest::Breakpoint => {
            arch::selftest::breakpoint();
            print_line(format_args!("test int3: FAILED, the breakpoint returned"));
            exit(1)
        }
        SelfTest::Panic => panic!("test=panic requested"),
        SelfTest::Heap => exit(heap_stress()),
        SelfTest::Virtio => exit(virtio_report(devices)),
        SelfTest::NineP => exit(crate::nine_p_check::check(devices)),
        SelfTest::NinePBench => exit(crate::nine_p_check::bench(devices)),
        SelfTest::Dma => match arch::dma::check_dma_failure_is_an_error() {
            Ok(()) => {
                print_line(format_args!("test dma: ok"));
                exit(0)
            }
            Err(why) => {
                print_line(format_args!("test dma: FAILED, {why}"));
                exit(1)
            }
        },
        SelfTest::BootInfo => {
            print_boot_info(&boot);
            exit(0)
        }
    }
}

fn print_boot_info(boot: &BootInfo) {
    let cmdline = boot.cmdline_bytes();
    print_line(format_args!(
        "bootinfo: cmdline-crc32={:08x} len={}",
        crc32fast::hash(cmdline),
        cmdline.len()
    ));
    for (index, module) in boot.modules().enumerate() {
        let bytes = module.bytes().unwrap_or_default();
        print_line(format_args!(
            "bootinfo: module {index} crc32={:08x} len={}",
            crc32fast::hash(bytes),
            bytes.len()
        ));
    }
    for region in boot.memory_map() {
        print_line(format_args!(
            "bootinfo: memory {:#012x}-{:#012x} {:?}",
            region.start,
            region.end(),
            region.kind
        ));
    }
    print_line(format_args!(
        "bootinfo: usable-memory-kib={}",
        arch::memory::usable_bytes(boot) / 1024
    ));
}

const HEAP_OPERATIONS: usize = 100_000;
const LIVE_SLOTS: usize = 256;

/// xorshift64: a fixed, repeatable sequence of sizes and slots.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Mostly small blocks, some pages, a few large ones: the shape of kernel allocations.
    fn size(&mut self) -> usize {
        let roll = self.next();
        let size = match roll % 16 {
            0 => 4096 + roll % (60 * 1024),
            1..=3 => 256 + roll % 3840,
            _ => 1 + roll % 255,
        };
        size as usize
    }
}

/// Holds a pattern so a corrupted or overlapping allocation is caught on free.
enum Block {
    Bytes(Vec<u8>),
    Words(Vec<u64>),
}

impl Block {
    fn new(size: usize, tag: u64) -> Block {
        if tag.is_multiple_of(2) {
            Block::Bytes(alloc::vec![tag as u8; size])
        } else {
            Block::Words(alloc::vec![tag; size.div_ceil(8)])
        }
    }

    fn intact(&self, tag: u64) -> bool {
        match self {
            Block::Bytes(bytes) => bytes.iter().all(|&b| b == tag as u8),
            Block::Words(words) => words.iter().all(|&w| w == tag),
        }
    }
}

/// 100k allocations and frees of mixed sizes; checks contents, that everything is returned,
/// and that a second identical round needs no more memory than the first (no leak, no
/// fragmentation growth). Returns the exit status.
fn heap_stress() -> u8 {
    let mut slots: Vec<Option<(Block, u64)>> = (0..LIVE_SLOTS).map(|_| None).collect();
    let before = arch::heap::stats();
    let mut claimed_after_round = [0; 2];
    for (round, claimed) in claimed_after_round.iter_mut().enumerate() {
        let mut sequence = Sequence(0x9e37_79b9_7f4a_7c15);
        for operation in 0..HEAP_OPERATIONS {
            let slot = (sequence.next() % LIVE_SLOTS as u64) as usize;
            if let Some((block, tag)) = slots[slot].take()
                && !block.intact(tag)
            {
                print_line(format_args!(
                    "test heap: FAILED block corrupted in round {round} at {operation}"
                ));
                return 1;
            }
            let size = sequence.size();
            slots[slot] = Some((Block::new(size, operation as u64), operation as u64));
        }
        slots.iter_mut().for_each(|slot| *slot = None);
        *claimed = arch::heap::stats().claimed_bytes;
    }
    let after = arch::heap::stats();
    let leaked =
        after.allocated_bytes != before.allocated_bytes || after.allocations != before.allocations;
    let grew = claimed_after_round[1] > claimed_after_round[0];
    print_line(format_args!(
        "test heap: allocated-bytes before={} after={}; claimed-bytes before={} round1={} round2={}",
        before.allocated_bytes,
        after.allocated_bytes,
        before.claimed_bytes,
        claimed_after_round[0],
        claimed_after_round[1]
    ));
    if leaked || grew {
        print_line(format_args!(
            "test heap: FAILED (leaked={leaked} grew={grew})"
        ));
        return 1;
    }
    print_line(format_args!(
        "test heap: ok allocations={}",
        HEAP_OPERATIONS * 2
    ));
    0
}

/// Lists the 9p shares and checks each answers a 9P `Tversion`. Returns the exit status.
fn virtio_report(devices: &Devices) -> u8 {
    const TVERSION: u8 = 100;
    const RVERSION: u8 = 101;
    const NO_TAG: u16 = 0xffff;
    let mut status = 0;
    for channel in &devices.nine_p {
        let version = b"9P2000.L";
        let mut request = Vec::new();
        let size = (4 + 1 + 2 + 4 + 2 + version.len()) as u32;
        request.extend_from_slice(&size.to_le_bytes());
        request.push(TVERSION);
        request.extend_from_slice(&NO_TAG.to_le_bytes());
        request.extend_from_slice(&channel.max_message_size().to_le_bytes());
        request.extend_from_slice(&(version.len() as u16).to_le_bytes());
        request.extend_from_slice(version);
        let mut reply = alloc::vec![0u8; 256];
        match channel.round_trip(&request, &mut reply) {
            Ok(length) if length >= 13 && reply[4] == RVERSION => {
                let msize = u32::from_le_bytes([reply[7], reply[8], reply[9], reply[10]]);
                let name_len = usize::from(u16::from_le_bytes([reply[11], reply[12]]));
                let name = reply
                    .get(13..13 + name_len)
                    .and_then(|n| core::str::from_utf8(n).ok())
                    .unwrap_or("?");
                print_line(format_args!(
                    "virtio: 9p tag={} msize={msize} version={name}",
                    channel.tag()
                ));
            }
            other => {
                print_line(format_args!(
                    "virtio: 9p tag={} bad Tversion reply: {other:?}",
                    channel.tag()
                ));
                status = 1;
            }
        }
    }
    print_line(format_args!(
        "virtio: {} 9p device(s)",
        devices.nine_p.len()
    ));
    status
}
