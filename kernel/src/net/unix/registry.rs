//! The names bound sockets are found by: abstract names (per socket type, as Linux's hash
//! of an abstract name includes the type, so a stream and a datagram socket may share
//! one), and the filesystem nodes path names made, by (`st_dev`, `st_ino`), as the pipe
//! registry finds FIFOs. A node is reachable only through the filesystem: unlinking it
//! leaves the socket bound but unreachable by that path, as on Linux.
//!
//! Holds `Weak` references: a socket's own release takes its names out; a dead entry met
//! on the way is dropped. Generic over the socket type so it is host-tested.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use vfs_core::Errno;

use super::address::UnixAddress;

/// Linux's autobind names: five hex digits.
const AUTOBIND_NAMES: u32 = 1 << 20;

pub struct Names<S> {
    abstract_names: BTreeMap<(u32, Vec<u8>), Weak<S>>,
    nodes: BTreeMap<(u64, u64), Weak<S>>,
    /// Where the next autobind name search starts (`None` before the first).
    next_autobind: Option<u32>,
}

impl<S> Names<S> {
    pub const fn new() -> Names<S> {
        Names {
            abstract_names: BTreeMap::new(),
            nodes: BTreeMap::new(),
            next_autobind: None,
        }
    }

    /// Binds the abstract `name` for sockets of type `kind`; `EADDRINUSE` if a live
    /// socket of that type holds it.
    pub fn bind_abstract(&mut self, kind: u32, name: &[u8], socket: &Arc<S>) -> Result<(), Errno> {
        let key = (kind, name.to_vec());
        if self
            .abstract_names
            .get(&key)
            .is_some_and(|holder| holder.strong_count() > 0)
        {
            return Err(Errno::EADDRINUSE);
        }
        self.abstract_names.insert(key, Arc::downgrade(socket));
        Ok(())
    }

    /// Autobind: the first free name from where the last search ended (`start` seeds the
    /// first search, as Linux starts from a random number); `ENOSPC` when all are taken.
    pub fn autobind(
        &mut self,
        kind: u32,
        socket: &Arc<S>,
        start: u32,
    ) -> Result<UnixAddress, Errno> {
        let mut number = self.next_autobind.unwrap_or(start % AUTOBIND_NAMES);
        for _ in 0..AUTOBIND_NAMES {
            let this = number;
            number = (number + 1) % AUTOBIND_NAMES;
            self.next_autobind = Some(number);
            let address = UnixAddress::autobind(this);
            let UnixAddress::Abstract(name) = &address else {
                unreachable!("autobind names are abstract")
            };
            if self.bind_abstract(kind, name, socket).is_ok() {
                return Ok(address);
            }
        }
        Err(Errno::ENOSPC)
    }

    /// Records the node a path bind made (the node was just created: nothing else can
    /// hold it).
    pub fn bind_node(&mut self, node: (u64, u64), socket: &Arc<S>) {
        self.nodes.retain(|_, holder| holder.strong_count() > 0);
        self.nodes.insert(node, Arc::downgrade(socket));
    }

    pub fn find_abstract(&self, kind: u32, name: &[u8]) -> Option<Arc<S>> {
        self.abstract_names.get(&(kind, name.to_vec()))?.upgrade()
    }

    pub fn find_node(&self, node: (u64, u64)) -> Option<Arc<S>> {
        self.nodes.get(&node)?.upgrade()
    }

    /// Takes out the names `socket` holds (it is closing).
    pub fn release(&mut self, socket: &Arc<S>) {
        let theirs = |holder: &Weak<S>| {
            holder.strong_count() > 0 && !core::ptr::eq(holder.as_ptr(), Arc::as_ptr(socket))
        };
        self.abstract_names.retain(|_, holder| theirs(holder));
        self.nodes.retain(|_, holder| theirs(holder));
    }

    /// Names held, for tests and reports.
    pub fn len(&self) -> usize {
        self.abstract_names.len() + self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<S> Default for Names<S> {
    fn default() -> Self {
        Names::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_names_are_per_type_and_taken_once() {
        let mut names = Names::new();
        let (a, b) = (Arc::new(1), Arc::new(2));
        names.bind_abstract(1, b"x", &a).unwrap();
        assert_eq!(names.bind_abstract(1, b"x", &b), Err(Errno::EADDRINUSE));
        names.bind_abstract(2, b"x", &b).unwrap();
        assert_eq!(*names.find_abstract(1, b"x").unwrap(), 1);
        assert_eq!(*names.find_abstract(2, b"x").unwrap(), 2);
        assert!(names.find_abstract(5, b"x").is_none());
        names.release(&a);
        assert!(names.find_abstract(1, b"x").is_none());
        names.bind_abstract(1, b"x", &b).unwrap();
    }

    #[test]
    fn a_dropped_socket_frees_its_names() {
        let mut names = Names::new();
        let a = Arc::new(1);
        names.bind_abstract(1, b"gone", &a).unwrap();
        names.bind_node((3, 4), &a);
        drop(a);
        assert!(names.find_abstract(1, b"gone").is_none());
        assert!(names.find_node((3, 4)).is_none());
        let b = Arc::new(2);
        names.bind_abstract(1, b"gone", &b).unwrap();
    }

    #[test]
    fn nodes_are_found_by_device_and_inode() {
        let mut names = Names::new();
        let (a, b) = (Arc::new(1), Arc::new(2));
        names.bind_node((3, 4), &a);
        names.bind_node((3, 5), &b);
        assert_eq!(*names.find_node((3, 4)).unwrap(), 1);
        assert_eq!(*names.find_node((3, 5)).unwrap(), 2);
        assert!(names.find_node((4, 4)).is_none());
        names.release(&b);
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn autobind_names_are_distinct() {
        let mut names = Names::new();
        let a = Arc::new(1);
        let first = names.autobind(1, &a, 0xffffe).unwrap();
        let second = names.autobind(1, &a, 0).unwrap();
        assert_eq!(first, UnixAddress::Abstract(b"ffffe".to_vec()));
        assert_eq!(second, UnixAddress::Abstract(b"fffff".to_vec()));
        // A name taken by hand is skipped.
        names.bind_abstract(1, b"00000", &a).unwrap();
        assert_eq!(
            names.autobind(1, &a, 0).unwrap(),
            UnixAddress::Abstract(b"00001".to_vec())
        );
    }
}
