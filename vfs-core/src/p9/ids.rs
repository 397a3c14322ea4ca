//! Small-integer allocation for tags and fids: the lowest never-used number, or one given
//! back earlier, so numbers stay small and are reused instead of growing without bound.

use alloc::vec::Vec;

pub struct IdPool {
    next_unused: u32,
    /// One past the largest id handed out: the protocol's "none" value (`NOTAG`, `NOFID`).
    limit: u32,
    released: Vec<u32>,
}

impl IdPool {
    pub const fn new(limit: u32) -> Self {
        IdPool {
            next_unused: 0,
            limit,
            released: Vec::new(),
        }
    }

    /// `None` only when every id below the limit is in use at once.
    pub fn allocate(&mut self) -> Option<u32> {
        if let Some(id) = self.released.pop() {
            return Some(id);
        }
        if self.next_unused >= self.limit {
            return None;
        }
        self.next_unused += 1;
        Some(self.next_unused - 1)
    }

    /// Ids handed out and not given back.
    pub fn in_use(&self) -> u32 {
        self.next_unused - self.released.len() as u32
    }

    pub fn release(&mut self, id: u32) {
        self.released.push(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_released_ids_and_stops_at_the_limit() {
        let mut pool = IdPool::new(2);
        assert_eq!(pool.allocate(), Some(0));
        assert_eq!(pool.allocate(), Some(1));
        assert_eq!(pool.allocate(), None);
        pool.release(0);
        assert_eq!(pool.allocate(), Some(0));
        assert_eq!(pool.allocate(), None);
    }
}
