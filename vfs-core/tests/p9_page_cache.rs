//! A 9p file's page cache (what `MAP_SHARED` maps) against Google's `p9` server serving a
//! temp directory, as the kernel drives it: pages read from the host on first touch and
//! none past the end, stores through a page seen by `read` before they are written back,
//! `write` and `truncate` reaching cached pages, write-back that reaches the host and
//! never extends the file, eviction, and both cache policies with the fid-leak check.

mod p9_harness;

use std::fs;
use std::sync::Arc;

use p9_harness::Fixture;
use vfs_core::attr::SetAttr;
use vfs_core::budget::FilePage;
use vfs_core::errno::Errno;
use vfs_core::inode::{CachePolicy, Inode, NewNode, NodeKind};

const PAGE: usize = vfs_core::PAGE_SIZE;

fn for_each_policy(body: impl Fn(&Fixture)) {
    for policy in [CachePolicy::Exclusive, CachePolicy::Revalidate] {
        let fixture = Fixture::new(policy);
        body(&fixture);
        fixture.finish();
    }
}

fn host_file(fixture: &Fixture, name: &str, contents: &[u8]) -> Arc<dyn Inode> {
    fs::write(fixture.host(name), contents).unwrap();
    fixture.root().lookup(name.as_bytes()).unwrap()
}

fn page_bytes(page: &Arc<dyn FilePage>, offset: usize, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    page.read(offset, &mut buf);
    buf
}

/// What a store through a shared mapping does: the bytes land in the page, and the
/// write fault marks it dirty.
fn store(file: &Arc<dyn Inode>, index: u64, offset: usize, data: &[u8]) {
    let page = file.mapped_page(index, true).unwrap().unwrap();
    page.write(offset, data);
    let cache = file.page_cache().unwrap();
    assert!(cache.mark_dirty(index, Arc::as_ptr(&page).cast()).is_some());
}

/// What the kernel's write-back does (with no mapping to write-protect here).
fn write_back(file: &Arc<dyn Inode>) -> Result<(), Errno> {
    let dirty = file.page_cache().unwrap().take_dirty(0, u64::MAX);
    file.write_back(&dirty)
}

fn read_all(file: &Arc<dyn Inode>) -> Vec<u8> {
    vfs_core::inode::read_to_end(&**file).unwrap()
}

#[test]
fn pages_come_from_the_host_and_none_past_the_end() {
    for_each_policy(|fixture| {
        let mut contents = vec![b'a'; PAGE];
        contents.extend_from_slice(b"tail");
        let file = host_file(fixture, "f", &contents);
        assert!(file.page_cache().is_some());
        assert!(!file.shares_pages(), "MAP_PRIVATE still copies");
        let first = file.mapped_page(0, true).unwrap().unwrap();
        assert_eq!(page_bytes(&first, 0, PAGE), vec![b'a'; PAGE]);
        let last = file.mapped_page(1, true).unwrap().unwrap();
        assert_eq!(page_bytes(&last, 0, 6), b"tail\0\0");
        assert_eq!(file.mapped_page(2, true).err(), Some(Errno::ENXIO));
        // The same page for every mapping.
        let again = file.mapped_page(0, true).unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert!(file.mapped_page(0, false).unwrap().is_some());
    });
}

#[test]
fn stores_are_read_back_at_once_and_reach_the_host_when_written_back() {
    for_each_policy(|fixture| {
        let file = host_file(fixture, "f", &vec![b'.'; 2 * PAGE]);
        store(&file, 1, 10, b"through the mapping");
        let mut buf = [0u8; 19];
        assert_eq!(file.read_at(PAGE as u64 + 10, &mut buf).unwrap(), 19);
        assert_eq!(&buf, b"through the mapping");
        let host = fs::read(fixture.host("f")).unwrap();
        assert_eq!(
            &host[PAGE + 10..PAGE + 12],
            b"..",
            "not on the host before write-back"
        );
        write_back(&file).unwrap();
        let host = fs::read(fixture.host("f")).unwrap();
        assert_eq!(&host[PAGE + 10..PAGE + 29], b"through the mapping");
        assert_eq!(host.len(), 2 * PAGE);
        assert!(!file.page_cache().unwrap().has_dirty());
    });
}

#[test]
fn a_write_reaches_mapped_pages() {
    for_each_policy(|fixture| {
        let file = host_file(fixture, "f", b"0123456789");
        let page = file.mapped_page(0, true).unwrap().unwrap();
        assert_eq!(file.write_at(2, b"ab").unwrap(), 2);
        assert_eq!(page_bytes(&page, 0, 10), b"01ab456789");
        // Growing the file by a write: what the page held past the old end reads zeros.
        page.write(10, b"junk");
        assert_eq!(file.write_at(20, b"end").unwrap(), 3);
        assert_eq!(
            page_bytes(&page, 0, 23),
            b"01ab456789\0\0\0\0\0\0\0\0\0\0end"
        );
        assert_eq!(read_all(&file), b"01ab456789\0\0\0\0\0\0\0\0\0\0end");
    });
}

#[test]
fn write_back_never_extends_the_file() {
    for_each_policy(|fixture| {
        let file = host_file(fixture, "f", b"short file");
        store(&file, 0, 5, b"0123456789");
        write_back(&file).unwrap();
        assert_eq!(fs::read(fixture.host("f")).unwrap(), b"short01234");
        assert_eq!(file.getattr().unwrap().size, 10);
    });
}

#[test]
fn truncation_drops_pages_past_the_end_and_zeroes_the_last_one() {
    for_each_policy(|fixture| {
        let file = host_file(fixture, "f", &vec![b'x'; 3 * PAGE]);
        store(&file, 2, 0, b"lost");
        let first = file.mapped_page(0, true).unwrap().unwrap();
        file.setattr(&SetAttr {
            size: Some(100),
            ..SetAttr::default()
        })
        .unwrap();
        assert!(file.mapped_page(2, false).unwrap().is_none());
        assert_eq!(file.mapped_page(1, true).err(), Some(Errno::ENXIO));
        assert!(page_bytes(&first, 100, PAGE - 100).iter().all(|&b| b == 0));
        // What was stored past the new end is gone, not written back.
        write_back(&file).unwrap();
        assert_eq!(fs::read(fixture.host("f")).unwrap(), vec![b'x'; 100]);
        // Grown again: zeros.
        file.setattr(&SetAttr {
            size: Some(200),
            ..SetAttr::default()
        })
        .unwrap();
        let mut expected = vec![b'x'; 100];
        expected.resize(200, 0);
        assert_eq!(read_all(&file), expected);
    });
}

#[test]
fn clean_pages_can_be_evicted_and_are_read_again() {
    for_each_policy(|fixture| {
        let file = host_file(fixture, "f", &vec![b'e'; 2 * PAGE]);
        store(&file, 0, 0, b"dirty");
        file.mapped_page(1, true).unwrap();
        let cache = file.page_cache().unwrap();
        assert_eq!(cache.evict_clean(false), 1, "only the clean page");
        write_back(&file).unwrap();
        assert_eq!(cache.evict_clean(false), 1);
        assert!(cache.is_empty());
        let page = file.mapped_page(0, true).unwrap().unwrap();
        assert_eq!(page_bytes(&page, 0, 6), b"dirtye");
    });
}

#[test]
fn a_new_file_maps_and_writes_back() {
    for_each_policy(|fixture| {
        let file = fixture
            .root()
            .create(
                b"new",
                &NewNode {
                    kind: NodeKind::Regular,
                    perm: 0o644,
                    uid: 0,
                    gid: 0,
                },
            )
            .unwrap();
        assert_eq!(file.mapped_page(0, true).err(), Some(Errno::ENXIO));
        file.setattr(&SetAttr {
            size: Some(PAGE as u64),
            ..SetAttr::default()
        })
        .unwrap();
        store(&file, 0, PAGE - 3, b"end");
        let writer = file.writable_mapping().unwrap();
        assert_eq!(file.page_cache().unwrap().writers(), 1);
        drop(writer);
        write_back(&file).unwrap();
        let host = fs::read(fixture.host("new")).unwrap();
        assert_eq!(host.len(), PAGE);
        assert_eq!(&host[PAGE - 3..], b"end");
    });
}
