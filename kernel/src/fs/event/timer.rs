//! A timerfd's timer and Linux's arithmetic for it (`fs/timerfd.c` over an hrtimer): when
//! it expires, how many expirations a read reports, and what `timerfd_gettime` says.
//!
//! Times are nanoseconds on the monotonic clock; the caller converts a `CLOCK_REALTIME`
//! absolute time first. As in Linux, an expiry counts one tick and stops the timer; a
//! periodic timer is moved on only when it is read (or its time asked), by as many whole
//! intervals as have passed — each one more expiration — so a very short interval cannot
//! keep the kernel busy. Pure bookkeeping, host-tested; sleeping and waking are one
//! layer up ([`super::timerfd`]).

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timer {
    /// When it expires (or last expired): the hrtimer's expiry, kept after it fired so a
    /// periodic timer can be moved on from it. 0 when disarmed.
    expires: i64,
    /// The period; 0 for a one-shot timer.
    interval: i64,
    /// Waiting to expire at `expires`.
    active: bool,
    /// It expired and has not been moved on since (Linux's `ctx->expired`).
    expired: bool,
    /// Expirations not yet read.
    ticks: u64,
}

impl Timer {
    pub const fn new() -> Timer {
        Timer {
            expires: 0,
            interval: 0,
            active: false,
            expired: false,
            ticks: 0,
        }
    }

    /// `timerfd_settime`: arms it to expire at `value` (absolute) or `value` from `now`, then
    /// every `interval`; a `value` of 0 disarms it. Unread expirations are dropped. Returns
    /// the previous setting as `timerfd_gettime` would have reported it.
    pub fn set(&mut self, now: i64, value: i64, interval: i64, absolute: bool) -> (i64, i64) {
        self.fire_if_due(now);
        if self.expired && self.interval > 0 {
            self.forward(now);
        }
        let old = (self.remaining(now), self.interval);
        self.expired = false;
        self.ticks = 0;
        self.interval = interval;
        if value == 0 {
            self.expires = 0;
            self.active = false;
        } else {
            self.expires = if absolute {
                value
            } else {
                now.saturating_add(value)
            };
            self.active = true;
            // A time already past expires at once (Linux's hrtimer fires at its start).
            self.fire_if_due(now);
        }
        old
    }

    /// When the timer must next expire, if it is waiting to.
    pub fn deadline(&self) -> Option<i64> {
        self.active.then_some(self.expires)
    }

    /// The expiry itself (the hrtimer callback): one more tick, and the timer stops until
    /// it is read. Whether it expired now.
    pub fn fire_if_due(&mut self, now: i64) -> bool {
        if !self.active || self.expires > now {
            return false;
        }
        self.active = false;
        self.expired = true;
        self.ticks += 1;
        true
    }

    /// Whether a read would find expirations (`POLLIN`), without changing anything.
    pub fn readable(&self, now: i64) -> bool {
        self.ticks > 0 || (self.active && self.expires <= now)
    }

    /// (remaining, interval) as they stand, moving nothing on (`/proc/<pid>/fdinfo`).
    pub fn setting(&self, now: i64) -> (i64, i64) {
        (self.remaining(now), self.interval)
    }

    /// Expirations not yet read (as `/proc/<pid>/fdinfo` shows them).
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// A read: the expirations since the last read (a periodic timer's missed periods
    /// included), and the timer goes on; `None` when there are none yet.
    pub fn take(&mut self, now: i64) -> Option<u64> {
        self.fire_if_due(now);
        if self.ticks == 0 {
            return None;
        }
        let mut ticks = self.ticks;
        if self.expired && self.interval > 0 {
            ticks += self.forward(now) - 1;
            self.active = true;
        }
        self.expired = false;
        self.ticks = 0;
        Some(ticks)
    }

    /// `timerfd_gettime`: the time until the next expiry (0 when disarmed or expired) and
    /// the interval. A periodic timer that expired is moved on first, its missed periods
    /// counted for the next read.
    pub fn get(&mut self, now: i64) -> (i64, i64) {
        self.fire_if_due(now);
        if self.expired && self.interval > 0 {
            self.expired = false;
            self.ticks += self.forward(now) - 1;
            self.active = true;
        }
        (self.remaining(now), self.interval)
    }

    /// Linux's `timerfd_get_remaining`: from the expiry whether or not it is still
    /// waiting (a disarmed timer's expiry is 0, an expired one's is past: both give 0).
    fn remaining(&self, now: i64) -> i64 {
        self.expires.saturating_sub(now).max(0)
    }

    /// Linux's `hrtimer_forward_now`: moves the expiry on by whole intervals until it is
    /// after `now`; how many intervals that took (0 if it already was).
    fn forward(&mut self, now: i64) -> u64 {
        let delta = now - self.expires;
        if delta < 0 || self.interval <= 0 {
            return 0;
        }
        let periods = delta / self.interval + 1;
        self.expires = self
            .expires
            .saturating_add(periods.saturating_mul(self.interval));
        periods as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn a_one_shot_timer_expires_once() {
        let mut timer = Timer::new();
        assert_eq!(timer.set(1000, 50 * MS, 0, false), (0, 0));
        assert_eq!(timer.deadline(), Some(1000 + 50 * MS));
        assert!(!timer.readable(1000 + 49 * MS));
        assert_eq!(timer.take(1000 + 49 * MS), None);
        assert_eq!(timer.get(1000 + 20 * MS), (30 * MS, 0));
        assert!(timer.fire_if_due(1000 + 50 * MS));
        assert_eq!(timer.deadline(), None);
        assert!(timer.readable(0));
        assert_eq!(timer.get(1000 + 60 * MS), (0, 0));
        assert_eq!(timer.take(1000 + 60 * MS), Some(1));
        assert_eq!(timer.take(1000 + 500 * MS), None);
    }

    #[test]
    fn a_periodic_timer_counts_the_periods_missed_before_a_read() {
        let mut timer = Timer::new();
        timer.set(0, 10 * MS, 10 * MS, false);
        assert!(timer.fire_if_due(10 * MS));
        // Read at 45 ms: expirations at 10, 20, 30 and 40 ms.
        assert_eq!(timer.take(45 * MS), Some(4));
        assert_eq!(timer.deadline(), Some(50 * MS));
        assert_eq!(timer.get(45 * MS), (5 * MS, 10 * MS));
        // Read exactly on an expiry: it counts.
        assert_eq!(timer.take(70 * MS), Some(3));
        assert_eq!(timer.deadline(), Some(80 * MS));
    }

    #[test]
    fn gettime_moves_a_periodic_timer_on_and_keeps_the_count_for_the_read() {
        let mut timer = Timer::new();
        timer.set(0, 10 * MS, 10 * MS, false);
        assert_eq!(timer.get(35 * MS), (5 * MS, 10 * MS));
        assert_eq!(timer.ticks(), 3);
        assert_eq!(timer.take(36 * MS), Some(3));
    }

    #[test]
    fn an_absolute_time_in_the_past_expires_at_once() {
        let mut timer = Timer::new();
        timer.set(100 * MS, 5 * MS, 0, true);
        assert_eq!(timer.ticks(), 1);
        assert_eq!(timer.deadline(), None);
        assert_eq!(timer.take(100 * MS), Some(1));
    }

    #[test]
    fn an_absolute_periodic_timer_in_the_past_counts_every_period() {
        let mut timer = Timer::new();
        timer.set(100 * MS, 1, 30 * MS, true);
        // Expirations at 1 ns, 30 ms + 1 ns, 60 ms + 1 ns, 90 ms + 1 ns.
        assert_eq!(timer.take(100 * MS), Some(4));
        assert_eq!(timer.deadline(), Some(120 * MS + 1));
    }

    #[test]
    fn settime_reports_the_old_setting_and_drops_unread_expirations() {
        let mut timer = Timer::new();
        timer.set(0, 10 * MS, 20 * MS, false);
        assert!(timer.fire_if_due(10 * MS));
        // The old value is the time to the next period, as gettime would say.
        assert_eq!(timer.set(15 * MS, 0, 0, false), (15 * MS, 20 * MS));
        assert_eq!(timer.ticks(), 0);
        assert_eq!(timer.deadline(), None);
        assert_eq!(timer.take(100 * MS), None);
        assert_eq!(timer.get(100 * MS), (0, 0));
    }

    #[test]
    fn disarming_an_armed_timer_reports_its_remaining_time() {
        let mut timer = Timer::new();
        timer.set(0, 100 * MS, 0, false);
        assert_eq!(timer.set(40 * MS, 0, 0, false), (60 * MS, 0));
        assert!(!timer.readable(1000 * MS));
    }

    #[test]
    fn an_interval_without_a_value_stays_disarmed() {
        let mut timer = Timer::new();
        timer.set(0, 0, 10 * MS, false);
        assert_eq!(timer.deadline(), None);
        assert_eq!(timer.get(50 * MS), (0, 10 * MS));
        assert_eq!(timer.take(50 * MS), None);
    }

    #[test]
    fn huge_values_saturate() {
        let mut timer = Timer::new();
        timer.set(10, i64::MAX, i64::MAX, false);
        assert_eq!(timer.deadline(), Some(i64::MAX));
        assert_eq!(timer.take(i64::MAX - 1), None);
    }
}
