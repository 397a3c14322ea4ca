//! futex: the portable half of Linux's fast user-space mutexes, host-tested. What a
//! `futex`/`futex_waitv` operation word means ([`op`]: commands, flags, `FUTEX_WAKE_OP`'s
//! encoded operation, the `futex_waitv` entries), the table of sleeping waiters keyed by
//! futex ([`table`]: FIFO wake with bitsets, requeue, PI hand-off), and the robust-list
//! walk a dying thread makes ([`robust`]).
//!
//! Where it sits: plain logic below the task layer. The kernel side
//! (`task::futex`: the one global table, sleeping and waking threads, user memory) and the
//! system call (`syscall::futex`: argument decoding, timeouts) build on it; the address
//! space says which key an address has (`mm::address_space::AddressSpace::futex_page`).
//! Nothing here touches user memory or the scheduler: the table is generic over the
//! thread handle it hands back to be woken.

pub mod op;
pub mod robust;
pub mod table;
