//! Requests outstanding together, against Google's `p9` server behind a queueing
//! transport: replies taken out of order reach their own requests, a reply naming a tag
//! no request has is `EIO` and leaks neither tag nor fid, and an interrupted request is
//! flushed with the outcome the server decided (answered: its result stands; dropped:
//! `EINTR`, nothing made). Every test ends with the server holding only the root fid.

mod p9_harness;

use std::os::unix::fs::MetadataExt;

use p9_harness::Fixture;
use p9_harness::queued::{QueuedChannel, UNKNOWN_TAG};
use vfs_core::errno::Errno;
use vfs_core::inode::CachePolicy;
use vfs_core::p9::message::getattr_mask;

const TWALK: u8 = 110;
const TGETATTR: u8 = 24;
const TFLUSH: u8 = 108;

fn names(count: usize) -> Vec<Vec<u8>> {
    (0..count).map(|i| format!("f{i}").into_bytes()).collect()
}

/// `count` files whose sizes are their index.
fn populate(fixture: &Fixture, count: usize) -> Vec<Vec<u8>> {
    let names = names(count);
    for (size, name) in names.iter().enumerate() {
        std::fs::write(
            fixture.host(std::str::from_utf8(name).unwrap()),
            vec![b'x'; size],
        )
        .unwrap();
    }
    names
}

fn setup() -> (Fixture, std::sync::Arc<QueuedChannel>) {
    Fixture::queued(CachePolicy::Exclusive)
}

#[test]
fn replies_taken_out_of_order_reach_their_own_requests() {
    let (fixture, queue) = setup();
    queue.set(|knobs| knobs.reverse = true);
    let names = populate(&fixture, 100);
    let client = fixture.fs.client().clone();
    let root = fixture.fs.root_inode().fid().unwrap();
    let refs: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
    let walked: Vec<_> = client
        .walk_each(root, &refs)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        queue.most_outstanding() > 1,
        "the walks were outstanding together"
    );
    for ((_, qid), name) in walked.iter().zip(&names) {
        let host = std::fs::metadata(fixture.host(std::str::from_utf8(name).unwrap())).unwrap();
        assert_eq!(qid.path, host.ino(), "{name:?}");
    }
    let fids: Vec<_> = walked.iter().map(|(fid, _)| fid).collect();
    let attrs = client.getattr_each(&fids, getattr_mask::BASIC);
    for (size, attr) in attrs.into_iter().enumerate() {
        assert_eq!(attr.unwrap().size, size as u64);
    }
    assert_eq!(fixture.channel.live_fids(), fixture.baseline() + 100);
    client.clunk_each(walked.into_iter().map(|(fid, _)| fid).collect());
    assert_eq!(fixture.channel.live_fids(), fixture.baseline());
    assert_eq!(client.stats().tags_in_use, 0);
    fixture.finish();
}

#[test]
fn a_missing_name_fails_only_its_own_slot_of_a_batch() {
    let (fixture, queue) = setup();
    queue.set(|knobs| knobs.reverse = true);
    populate(&fixture, 3);
    let client = fixture.fs.client().clone();
    let root = fixture.fs.root_inode().fid().unwrap();
    let results = client.walk_each(root, &[b"f0", b"missing", b"f2"]);
    assert!(results[0].is_ok() && results[2].is_ok());
    assert_eq!(results[1].as_ref().err(), Some(&Errno::ENOENT));
    drop(results);
    assert_eq!(fixture.channel.live_fids(), fixture.baseline());
    fixture.finish();
}

#[test]
fn a_reply_with_an_unknown_tag_is_eio_and_leaks_nothing() {
    let (fixture, queue) = setup();
    populate(&fixture, 4);
    let client = fixture.fs.client().clone();
    let root = fixture.fs.root_inode().fid().unwrap();

    queue.set(|knobs| knobs.wrong_tag_for = Some(TWALK));
    assert_eq!(root.walk(&[b"f1"]).err(), Some(Errno::EIO));
    let batch = client.walk_each(root, &[b"f1", b"f2"]);
    assert!(
        batch
            .iter()
            .all(|result| result.as_ref().err() == Some(&Errno::EIO))
    );
    drop(batch);
    // The server made those fids; the client clunked them, not knowing.
    assert_eq!(fixture.channel.live_fids(), fixture.baseline());
    assert_eq!(client.stats().bad_replies, 3);
    assert_eq!(client.stats().tags_in_use, 0);
    assert_eq!(client.stats().quarantined_fids, 0);

    queue.set(|knobs| knobs.wrong_tag_for = Some(TGETATTR));
    assert_eq!(root.getattr(getattr_mask::BASIC).err(), Some(Errno::EIO));
    queue.set(|knobs| knobs.wrong_tag_for = None);
    assert!(root.getattr(getattr_mask::BASIC).is_ok());
    let (fid, _) = root.walk(&[b"f3"]).unwrap();
    drop(fid);
    assert_eq!(client.stats().tags_in_use, 0);
    assert_ne!(UNKNOWN_TAG, 0xffff);
    fixture.finish();
}

#[test]
fn an_interrupted_request_the_server_dropped_is_eintr_and_made_nothing() {
    let (fixture, queue) = setup();
    populate(&fixture, 2);
    let client = fixture.fs.client().clone();
    let root = fixture.fs.root_inode().fid().unwrap();

    queue.set(|knobs| knobs.interrupt = Some(TGETATTR));
    assert_eq!(root.getattr(getattr_mask::BASIC).err(), Some(Errno::EINTR));
    assert_eq!(fixture.channel.requests_of(TFLUSH), 1);
    assert_eq!(client.stats().flushes, 1);

    queue.set(|knobs| knobs.interrupt = Some(TWALK));
    assert_eq!(root.walk(&[b"f0"]).err(), Some(Errno::EINTR));
    assert_eq!(fixture.channel.live_fids(), fixture.baseline());
    assert_eq!(client.stats().tags_in_use, 0);
    // The connection carries on.
    assert_eq!(root.walk(&[b"f1"]).unwrap().1.len(), 1);
    fixture.finish();
}

#[test]
fn an_interrupted_request_answered_before_its_flush_keeps_its_result() {
    let (fixture, queue) = setup();
    populate(&fixture, 2);
    let client = fixture.fs.client().clone();
    let root = fixture.fs.root_inode().fid().unwrap();
    queue.set(|knobs| {
        knobs.interrupt = Some(TWALK);
        knobs.answer_flushed = true;
    });
    let (fid, qids) = root.walk(&[b"f1"]).unwrap();
    assert_eq!(qids.len(), 1);
    assert_eq!(fixture.channel.requests_of(TFLUSH), 1);
    assert_eq!(
        fixture.channel.live_fids(),
        fixture.baseline() + 1,
        "the walk's fid is ours"
    );
    assert_eq!(fid.getattr(getattr_mask::BASIC).unwrap().size, 1);
    drop(fid);
    assert_eq!(client.stats().tags_in_use, 0);
    fixture.finish();
}

#[test]
fn the_attribute_pipeline_answers_every_name_and_clunks_every_fid() {
    let (fixture, queue) = setup();
    queue.set(|knobs| knobs.reverse = true);
    let mut names = populate(&fixture, 250);
    names.insert(70, b"missing".to_vec());
    let client = fixture.fs.client().clone();
    let root = fixture.fs.root_inode().fid().unwrap();
    let refs: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
    let attrs = client.getattr_names(root, &refs, getattr_mask::BASIC);
    assert!(
        queue.most_outstanding() > 32,
        "walks, getattrs and clunks went together"
    );
    for (name, attr) in names.iter().zip(attrs) {
        if name == b"missing" {
            assert_eq!(attr.err(), Some(Errno::ENOENT));
            continue;
        }
        let host = std::fs::metadata(fixture.host(std::str::from_utf8(name).unwrap())).unwrap();
        let attr = attr.unwrap();
        assert_eq!((attr.qid.path, attr.size), (host.ino(), host.size()));
    }
    assert_eq!(fixture.channel.live_fids(), fixture.baseline());
    assert_eq!(client.stats().live_fids, fixture.baseline() as u64);
    fixture.finish();
}
