//! task: more than one program at a time. The scheduler (which kernel thread runs), wait
//! queues (how a thread sleeps until something happens), the process table (who is whose
//! parent, group and session, who has ended and with what status, which signals other
//! processes sent, real-time alarms, each process's controlling terminal), the futex table
//! ([`futex`]), and the calls built on them: `fork`/`vfork`/`clone`, `exit`,
//! `wait4`/`waitid`, `kill`, stop and continue.
//!
//! Where it sits: above `arch::thread` (stacks and the switch itself) and `mm` (copy-on-write
//! address spaces), and above the system-call layer: each process's kernel thread runs
//! [`run::run`], which calls the system-call families. A process is two halves: what its
//! thread alone touches ([`crate::process::Process`]: registers, signal state) and the
//! shared [`shared::Task`] that others reach (`/proc`, `kill`), whose parts (address
//! space, files, fs context, signal handlers) `clone` shares or copies by its flags. What
//! others must see of a process's life (state, parent, exit status, a pending kill) lives
//! in [`table`].
//!
//! Threads: each thread is a kernel thread with its own `Process` (registers, blocked
//! mask, own pending signals) and its own table entry, keyed by its tid; `CLONE_THREAD`
//! makes it a member of the caller's process (thread group), whose leader's entry holds
//! what is the process's: its pid, parent, children, exit status, the signals sent to it.
//! `exit` ends one thread, `exit_group` and fatal signals all of them (each is asked to
//! end and does so at its next return towards user mode, or from any blocked call, which
//! sees that as a pending signal); the last one to end makes the process a zombie.
//!
//! Several CPUs, and interrupts stay off whenever the kernel runs, so a thread is never
//! preempted inside the kernel: it gives its CPU up when it blocks, ends, or returns to
//! user mode after its time slice (the APIC timer's tick brings it back to the kernel).
//! Threads of one process run on different CPUs at once; every shared part has its own
//! lock, taken for one operation and never across a block, and a wake-up that comes
//! between a thread making itself findable and its block is kept (see [`scheduler`]).
//!
//! Lock order (spin locks, never held across a switch): `futex::FUTEXES` → an address
//! space, `futex::FUTEXES` → `table::TABLE` (see [`futex`]); `table::TABLE` → a
//! terminal's locks (see `crate::tty`); `table::TABLE` → a task's identity; `table::TABLE` → a
//! `WaitQueue`'s list → a CPU's run queue (`scheduler`) → `scheduler::SLEEPERS`. A task's parts
//! (`mm`, `files`, `fs`) and its `parts`/`image` locks are leaves: never held while taking
//! another lock of this list, nor one another. The thread slots inside `arch::thread` are
//! below all of them. The scheduler takes `TABLE` only with none of its own locks held (to
//! fire alarms, and [`timers`]' list, a leaf, likewise).

pub mod futex;
pub mod lifecycle;
pub mod oom;
pub mod run;
pub mod scheduler;
pub mod shared;
pub mod table;
pub mod timers;
pub mod wait_queue;

pub use wait_queue::WaitQueue;
