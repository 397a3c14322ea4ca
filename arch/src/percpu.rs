//! Per-CPU data: one [`CpuLocal`] block per processor, found through the `GS` base in kernel
//! mode, and the one accessor the rest of the crate reaches it by ([`this`]).
//!
//! Why `GS`: it is the only register each CPU keeps its own without the kernel passing it
//! around, and `SYSCALL`/trap entry need it before any Rust runs (`swapgs`, then `gs:[…]`
//! addresses the entry's scratch slots). The first part of the block ([`AsmBlock`]) is what
//! that assembly reads and writes; Rust touches it only through raw pointers. The rest is
//! atomics and locks, shared freely.
//!
//! The blocks are one static array, so the boot CPU has its block before the heap exists;
//! an application processor's block is set up by [`crate::smp`] before it runs anything.
//!
//! Lock order: a block's `current` → its `previous` is never taken (each is locked alone);
//! both are below everything in the kernel (see [`crate::thread`]).

use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::mem::offset_of;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use spin::{Mutex, Once};
use x86_64::VirtAddr;
use x86_64::registers::model_specific::GsBase;
use x86_64::structures::gdt::GlobalDescriptorTable;
use x86_64::structures::tss::TaskStateSegment;

use crate::thread::Thread;
use crate::user::UserContext;

/// Processors the kernel can run (affinity masks are one `u64`).
pub const MAX_CPUS: usize = 64;

/// What the entry assembly addresses through `gs:[offset]` (see `user.rs`).
#[repr(C)]
pub(crate) struct AsmBlock {
    /// Kernel stack pointer inside `execute`, to return to.
    pub(crate) kernel_rsp: u64,
    /// The context `execute` is running.
    pub(crate) context: *mut UserContext,
    /// The user's stack pointer between `SYSCALL` and saving it.
    pub(crate) scratch: u64,
    /// `&TSS.rsp0` of this CPU.
    pub(crate) tss_rsp0: *mut u64,
    /// This CPU's index in [`CPUS`], read by [`this`].
    pub(crate) index: u64,
}

pub(crate) struct CpuLocal {
    pub(crate) asm: UnsafeCell<AsmBlock>,
    /// This CPU's task-state segment: `rsp0` (written by `user` before every entry to user
    /// mode) and the interrupt stacks (set once when the CPU starts).
    pub(crate) tss: UnsafeCell<TaskStateSegment>,
    pub(crate) gdt: Once<GlobalDescriptorTable>,
    pub(crate) apic_id: AtomicU32,
    pub(crate) online: AtomicBool,
    /// The thread this CPU runs, and the one it just left (dropped once off its stack).
    pub(crate) current: Mutex<Option<Arc<Thread>>>,
    pub(crate) previous: Mutex<Option<Arc<Thread>>>,
    /// Physical address of the PML4 in this CPU's CR3 (what [`crate::paging`] may not
    /// free while it is there).
    pub(crate) loaded_cr3: AtomicU64,
    /// The user PML4 this CPU is about to enter or runs user code of (0: none): whom a
    /// TLB shoot-down must interrupt and wait for.
    pub(crate) user_pml4: AtomicU64,
    /// Exits from user mode, so a shoot-down sees this CPU left user mode since its IPI.
    pub(crate) user_exits: AtomicU64,
    /// The TLB generation of the loaded user table this CPU's TLB reflects.
    pub(crate) flushed_generation: AtomicU64,
    /// The [`crate::paging::UserPageTable`] activated last (its space id; 0: none yet).
    pub(crate) user_space: AtomicU64,
    /// The thread this CPU runs (what `current` holds), for [`crate::thread::with_current`].
    pub(crate) current_ptr: AtomicPtr<Thread>,
    /// Whose FPU registers this CPU holds ([`crate::fpu_switch`]).
    pub(crate) fpu: crate::fpu_switch::FpuRegisters,
    /// The user FS and GS bases this CPU's MSRs hold, and for which thread ([`crate::user`]).
    pub(crate) user_bases: crate::user::LoadedBases,
}

// SAFETY: the `UnsafeCell`s are per-CPU state: `asm` is written only by its own CPU (entry assembly and `init`), and `tss` by its own CPU or by the boot CPU before that CPU starts; everything else is atomics and locks.
unsafe impl Sync for CpuLocal {}

impl CpuLocal {
    const fn new() -> Self {
        CpuLocal {
            asm: UnsafeCell::new(AsmBlock {
                kernel_rsp: 0,
                context: core::ptr::null_mut(),
                scratch: 0,
                tss_rsp0: core::ptr::null_mut(),
                index: 0,
            }),
            tss: UnsafeCell::new(TaskStateSegment::new()),
            gdt: Once::new(),
            apic_id: AtomicU32::new(0),
            online: AtomicBool::new(false),
            current: Mutex::new(None),
            previous: Mutex::new(None),
            loaded_cr3: AtomicU64::new(0),
            user_pml4: AtomicU64::new(0),
            user_exits: AtomicU64::new(0),
            flushed_generation: AtomicU64::new(0),
            user_space: AtomicU64::new(0),
            current_ptr: AtomicPtr::new(core::ptr::null_mut()),
            fpu: crate::fpu_switch::FpuRegisters::new(),
            user_bases: crate::user::LoadedBases::new(),
        }
    }

    /// This block's place in [`CPUS`].
    pub(crate) fn index(&self) -> usize {
        (self as *const CpuLocal as usize - CPUS.as_ptr() as usize)
            / core::mem::size_of::<CpuLocal>()
    }
}

pub(crate) static CPUS: [CpuLocal; MAX_CPUS] = [const { CpuLocal::new() }; MAX_CPUS];

/// Offset of [`AsmBlock::index`] in the block, for [`this`].
const INDEX_OFFSET: usize = offset_of!(CpuLocal, asm) + offset_of!(AsmBlock, index);

/// Points this CPU's `GS` base at block `index` (the CPU's first step after its tables).
pub(crate) fn install(index: usize) -> &'static CpuLocal {
    let cpu = &CPUS[index];
    let asm = cpu.asm.get();
    // SAFETY: the block is this CPU's and nothing reads `index` through GS before the write below makes GS point here.
    unsafe { (*asm).index = index as u64 };
    GsBase::write(VirtAddr::from_ptr(cpu));
    cpu
}

/// The running CPU's block. Valid once [`install`] ran on this CPU (the first thing
/// `init_cpu` and an application processor's entry do), in kernel mode (where `GS` is the
/// kernel's).
pub(crate) fn this() -> &'static CpuLocal {
    let index: u64;
    // SAFETY: in kernel mode GS points at this CPU's block (`install`); the load reads its `index` field, which never changes.
    unsafe {
        core::arch::asm!("mov {}, gs:[{off}]", out(reg) index, off = const INDEX_OFFSET, options(nostack, readonly, preserves_flags));
    }
    &CPUS[index as usize % MAX_CPUS]
}

/// The running CPU's index (0 is the boot CPU). Stable while the caller runs without
/// giving up the CPU (the kernel is never preempted; a thread moves only when it blocks or
/// yields).
pub fn cpu_index() -> usize {
    this().index()
}

/// Marks the running CPU online: the scheduler may place threads on it.
pub(crate) fn set_online(cpu: &CpuLocal, apic_id: u32) {
    cpu.apic_id.store(apic_id, Ordering::Relaxed);
    cpu.online.store(true, Ordering::Release);
    ONLINE.fetch_or(1 << cpu.index(), Ordering::Release);
}

/// The online CPUs' bits, kept beside each block's flag: the scheduler asks on every
/// wake-up, and one load is cheaper than a walk over every block.
static ONLINE: AtomicU64 = AtomicU64::new(0);

/// Whether CPU `index` runs.
pub fn is_online(index: usize) -> bool {
    CPUS.get(index)
        .is_some_and(|cpu| cpu.online.load(Ordering::Acquire))
}

/// The local APIC id of CPU `index` (for an IPI to it).
pub fn apic_id(index: usize) -> u32 {
    CPUS.get(index)
        .map_or(0, |cpu| cpu.apic_id.load(Ordering::Relaxed))
}

/// How many CPUs run.
pub fn online_count() -> usize {
    online_mask().count_ones() as usize
}

/// The online CPUs as a mask (bit `i`: CPU `i`).
pub fn online_mask() -> u64 {
    ONLINE.load(Ordering::Acquire)
}
