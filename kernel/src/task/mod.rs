//! task: more than one program at a time. The scheduler (which kernel thread runs), wait
//! queues (how a thread sleeps until something happens), and the process table (who is
//! whose parent, who has ended and with what status), plus the calls built on them:
//! `fork`/`vfork`/`clone`, `exit`, `wait4`/`waitid`.
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
//! Lock order (spin locks, never held across a switch): `table::TABLE` → a `WaitQueue`'s
//! list → `scheduler::RUN_QUEUE` → `scheduler::SLEEPERS`. The thread slots inside
//! `arch::thread` are below all of them.
//!
//! [`Process`]: crate::process::Process

pub mod lifecycle;
pub mod scheduler;
pub mod table;
pub mod terminal;
pub mod wait_queue;

pub use wait_queue::WaitQueue;
