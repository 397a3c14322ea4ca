//! Event files: the descriptors event loops are made of — `epoll` instances, `eventfd`
//! counters, `timerfd` timers and `signalfd` signal readers — each a `DeviceFile` on the
//! one anonymous inode (`/proc/self/fd/N` reads `anon_inode:[eventpoll]` and so on, as on
//! Linux), each `Pollable` so `poll`, `select` and `epoll`
//! see it.
//!
//! Linux's rules for each are pure bookkeeping, host-tested: [`counter`] (eventfd),
//! [`timer`] (timerfd's expiry arithmetic), [`interest`] (an epoll's interest and ready
//! lists). On the target, the files themselves: who sleeps and who is woken.
//!
//! Where it sits: beside `pipe`, above the task layer's wait queues and timers, below the
//! system calls (`syscall::events`) that make and use these files.

pub mod counter;
pub mod interest;
pub mod timer;
