//! task: more than one program at a time. The scheduler (which kernel thread runs), wait
//! queues (how a thread sleeps until something happens), the process table (who is whose
//! parent, group and session, who has ended and with what status, which signals other
//! processes sent, real-time alarms), the console's foreground group, and the calls built
//! on them: `fork`/`vfork`/`clone`, `exit`, `wait4`/`waitid`, `kill`, stop and continue.
//!
//! Where it sits: above `arch::thread` (stacks and the switch itself) and `mm` (copy-on-write
//! address spaces), below the system-call layer, which calls in here. Each process runs its
//! run loop ([`crate::process::run`]) on its own kernel thread and owns its [`Process`]
//! there; what other processes need to see of it (state, parent, exit status, a pending
//! kill) lives in the shared [`table`].
//!
//! One CPU, and interrupts stay off whenever the kernel runs, so a thread is never
//! preempted inside the kernel: it gives the CPU up when it blocks, ends, or returns to user
//! mode after its time slice (the APIC timer's tick brings it back to the kernel).
//!
//! Lock order (spin locks, never held across a switch): `table::TABLE` →
//! `terminal::CONSOLE`; `table::TABLE` → a `WaitQueue`'s list → `scheduler::RUN_QUEUE` →
//! `scheduler::SLEEPERS`. The thread slots inside `arch::thread` are below all of them.
//! The scheduler takes `TABLE` only with none of its own locks held (to fire alarms).
//!
//! Why a process is not (yet) an `Arc` with a lock per part: with one thread per process,
//! the `Process` is owned by its thread and needs no lock; what others must see of it is
//! in the table. Threads (`CLONE_VM`) make the address space, files and signal handlers
//! shared, and that is when those parts move behind `Arc`s.
//!
//! [`Process`]: crate::process::Process

pub mod lifecycle;
pub mod oom;
pub mod scheduler;
pub mod table;
pub mod terminal;
pub mod wait_queue;

pub use wait_queue::WaitQueue;
