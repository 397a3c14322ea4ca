//! `tokio-check [DIR]`: a tokio multi-thread runtime (4 workers) as an async Rust server
//! uses one, every answer exact: 1000 spawned tasks and their results, 4 tasks running on 4
//! worker threads at once, timers (sleep, their order, interval, timeout), `tokio::sync`
//! (mpsc, Mutex across awaits, oneshot, Notify, a Semaphore's limit), `spawn_blocking`, a
//! `UnixListener` echo server in DIR (default `/tmp`) with 8 concurrent clients and a 1 MiB
//! transfer checked byte for byte, `UnixStream::pair`, `tokio::signal` and `tokio::fs`.
//!
//! Under the runtime sit the system calls issue 13 brings: `clone` threads, futexes,
//! `epoll`, `eventfd` (the runtime's waker), `socketpair`/`AF_UNIX`, `rt_sigaction`.
//! One line per check (`ok`/`FAIL`), then `tokio-check: N passed, M failed`; exit status 0
//! only if every check passed. Runs on the host too.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Mutex, Notify, Semaphore, mpsc, oneshot};
use tokio::time::Instant;

#[path = "../report.rs"]
mod report;
use report::Report;

const WORKERS: usize = 4;
/// Longest any one check may take before it fails (it would hang otherwise).
const DEADLINE: Duration = Duration::from_secs(60);

async fn spawned_tasks(report: &mut Report) {
    let handles: Vec<_> = (0..1000u64)
        .map(|index| tokio::spawn(async move { index * 2 }))
        .collect();
    let mut sum = 0;
    let mut joined = 0;
    for handle in handles {
        if let Ok(value) = handle.await {
            sum += value;
            joined += 1;
        }
    }
    report.check(
        "1000 spawned tasks joined, sum of their results 999000",
        joined == 1000 && sum == 999_000,
        format!("{joined} joined, sum {sum}"),
    );

    // Each of 4 tasks blocks its worker until all 4 have arrived: it completes only with
    // the 4 workers running at once, on 4 distinct threads.
    let arrived = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..WORKERS)
        .map(|_| {
            let arrived = Arc::clone(&arrived);
            tokio::spawn(async move {
                arrived.fetch_add(1, Ordering::SeqCst);
                let started = std::time::Instant::now();
                while arrived.load(Ordering::SeqCst) < WORKERS && started.elapsed() < DEADLINE {
                    std::thread::sleep(Duration::from_millis(1));
                }
                (
                    std::thread::current().id(),
                    arrived.load(Ordering::SeqCst) >= WORKERS,
                )
            })
        })
        .collect();
    let mut threads = HashSet::new();
    let mut all_met = true;
    for handle in handles {
        match handle.await {
            Ok((thread, met)) => {
                threads.insert(thread);
                all_met &= met;
            }
            Err(_) => all_met = false,
        }
    }
    report.check(
        "4 tasks hold the 4 worker threads at once",
        all_met && threads.len() == WORKERS,
        format!("met {all_met}, on {} threads", threads.len()),
    );
}

async fn timers(report: &mut Report) {
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let slept = started.elapsed();
    report.check(
        "sleep(50 ms) sleeps at least 50 ms",
        slept >= Duration::from_millis(50) && slept < DEADLINE,
        format!("{slept:?}"),
    );

    let (sender, mut receiver) = mpsc::unbounded_channel();
    for millis in [300u64, 100, 200] {
        let sender = sender.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            let _ = sender.send(millis);
        });
    }
    drop(sender);
    let mut order = Vec::new();
    while let Some(millis) = receiver.recv().await {
        order.push(millis);
    }
    report.check(
        "three sleeps (300, 100, 200 ms) end shortest first",
        order == [100, 200, 300],
        format!("{order:?}"),
    );

    let started = Instant::now();
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    for _ in 0..5 {
        interval.tick().await;
    }
    let spent = started.elapsed();
    report.check(
        "interval(10 ms): 5 ticks take at least 40 ms",
        spent >= Duration::from_millis(40) && spent < DEADLINE,
        format!("{spent:?}"),
    );

    let started = Instant::now();
    let result =
        tokio::time::timeout(Duration::from_millis(30), std::future::pending::<()>()).await;
    let spent = started.elapsed();
    report.check(
        "timeout(30 ms) of a future that never ends: Elapsed after at least 30 ms",
        result.is_err() && spent >= Duration::from_millis(30),
        format!("{result:?} after {spent:?}"),
    );
}

async fn sync_primitives(report: &mut Report) {
    let (sender, mut receiver) = mpsc::channel::<u64>(16);
    let producer = tokio::spawn(async move {
        for value in 0..10_000u64 {
            if sender.send(value).await.is_err() {
                return false;
            }
        }
        true
    });
    let (mut sum, mut count, mut ordered, mut next) = (0u64, 0u64, true, 0u64);
    while let Some(value) = receiver.recv().await {
        ordered &= value == next;
        next += 1;
        sum += value;
        count += 1;
    }
    let sent = producer.await.unwrap_or(false);
    report.check(
        "mpsc(16): 10000 values in order between tasks, sum 49995000",
        sent && ordered && count == 10_000 && sum == 49_995_000,
        format!("sent {sent}, {count} received, ordered {ordered}, sum {sum}"),
    );

    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                for _ in 0..1000 {
                    let mut value = counter.lock().await;
                    let before = *value;
                    tokio::task::yield_now().await;
                    *value = before + 1;
                }
            })
        })
        .collect();
    let mut joined = 0;
    for handle in handles {
        joined += usize::from(handle.await.is_ok());
    }
    let total = *counter.lock().await;
    report.check(
        "Mutex held across an await: 8 tasks x 1000 increments give 8000",
        joined == 8 && total == 8000,
        format!("{joined} joined, total {total}"),
    );

    let (sender, receiver) = oneshot::channel();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let _ = sender.send("answer");
    });
    let answer = receiver.await;
    report.check(
        "oneshot: the answer arrives",
        answer == Ok("answer"),
        format!("{answer:?}"),
    );

    let notify = Arc::new(Notify::new());
    let waiter = {
        let notify = Arc::clone(&notify);
        tokio::spawn(async move {
            tokio::time::timeout(DEADLINE, notify.notified())
                .await
                .is_ok()
        })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    notify.notify_one();
    let woken = waiter.await.unwrap_or(false);
    report.check(
        "Notify: notify_one wakes the waiting task",
        woken,
        "it was not woken",
    );

    let semaphore = Arc::new(Semaphore::new(2));
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (semaphore, inside, most) = (
                Arc::clone(&semaphore),
                Arc::clone(&inside),
                Arc::clone(&most),
            );
            tokio::spawn(async move {
                let _permit = semaphore.acquire().await;
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for handle in handles {
        let _ = handle.await;
    }
    let most = most.load(Ordering::SeqCst);
    report.check(
        "Semaphore(2): 8 tasks, at most 2 inside at once, and 2 reached",
        most == 2,
        format!("at most {most} inside"),
    );

    let caller = std::thread::current().id();
    let blocking = tokio::task::spawn_blocking(move || {
        (
            std::thread::current().id() != caller,
            (1..=1000u64).sum::<u64>(),
        )
    })
    .await;
    report.check(
        "spawn_blocking runs on another thread and gives its result",
        matches!(blocking, Ok((true, 500_500))),
        format!("{blocking:?}"),
    );
}

/// A frame of the echo protocol: 4-byte length, then that many bytes.
async fn echo_connection(mut stream: UnixStream) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let got = stream.read(&mut buffer).await?;
        if got == 0 {
            return Ok(());
        }
        stream.write_all(&buffer[..got]).await?;
    }
}

/// Client `index`: 100 messages of sizes 1..=100·(index+1) bytes, each echoed whole.
async fn echo_client(path: PathBuf, index: usize) -> Result<usize, String> {
    let mut stream = UnixStream::connect(&path)
        .await
        .map_err(|error| format!("connect: {error}"))?;
    let mut total = 0;
    for message in 0..100usize {
        let len = 1 + (message * (index + 1)) % 4000;
        let sent: Vec<u8> = (0..len)
            .map(|at| (at * 7 + index + message) as u8)
            .collect();
        stream
            .write_all(&sent)
            .await
            .map_err(|error| format!("write: {error}"))?;
        let mut back = vec![0u8; len];
        stream
            .read_exact(&mut back)
            .await
            .map_err(|error| format!("read: {error}"))?;
        if back != sent {
            return Err(format!(
                "message {message} of {len} bytes came back different"
            ));
        }
        total += len;
    }
    Ok(total)
}

async fn unix_sockets(report: &mut Report, dir: &Path) {
    let path = dir.join("tokio-check.sock");
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(listener) => listener,
        Err(error) => {
            report.check(
                "UnixListener::bind",
                false,
                format!("{}: {error}", path.display()),
            );
            return;
        }
    };
    let server = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(echo_connection(stream));
                }
                Err(error) => return error.to_string(),
            }
        }
    });
    let clients: Vec<_> = (0..8)
        .map(|index| tokio::spawn(echo_client(path.clone(), index)))
        .collect();
    let mut results = Vec::new();
    for client in clients {
        results.push(
            tokio::time::timeout(DEADLINE, client)
                .await
                .map_err(|_| "timed out".to_owned())
                .and_then(|joined| joined.map_err(|error| error.to_string()))
                .and_then(|result| result),
        );
    }
    let expected: Vec<Result<usize, String>> = (0..8usize)
        .map(|index| {
            Ok((0..100usize)
                .map(|message| 1 + (message * (index + 1)) % 4000)
                .sum())
        })
        .collect();
    report.check(
        "UnixListener echo server: 8 concurrent clients x 100 messages, each echoed whole",
        results == expected,
        format!("{results:?}"),
    );

    // 1 MiB one way, its checksum back: the server side counts and sums what it reads.
    let big: Vec<u8> = (0..1usize << 20)
        .map(|at| (at.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let expected_sum = big.iter().fold(0u64, |sum, &byte| {
        sum.wrapping_mul(31).wrapping_add(u64::from(byte))
    });
    let outcome = tokio::time::timeout(DEADLINE, async {
        let (mut ours, mut theirs) = UnixStream::pair()?;
        let reader = tokio::spawn(async move {
            let mut buffer = vec![0u8; 1 << 16];
            let (mut count, mut sum) = (0usize, 0u64);
            loop {
                let got = theirs.read(&mut buffer).await?;
                if got == 0 {
                    return Ok::<_, std::io::Error>((count, sum));
                }
                count += got;
                sum = buffer[..got].iter().fold(sum, |sum, &byte| {
                    sum.wrapping_mul(31).wrapping_add(u64::from(byte))
                });
            }
        });
        ours.write_all(&big).await?;
        ours.shutdown().await?;
        reader.await.map_err(std::io::Error::other)?
    })
    .await;
    let ok =
        matches!(&outcome, Ok(Ok((count, sum))) if *count == big.len() && *sum == expected_sum);
    report.check(
        "UnixStream::pair: 1 MiB written, the same 1 MiB read to end of file",
        ok,
        format!("{outcome:?}, expected ({}, {expected_sum})", big.len()),
    );
    server.abort();
    let _ = std::fs::remove_file(&path);
}

async fn signals_and_files(report: &mut Report, dir: &Path) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::user_defined1()) {
        Ok(mut stream) => {
            // SAFETY: plain system call.
            unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
            let got = tokio::time::timeout(DEADLINE, stream.recv()).await;
            report.check(
                "tokio::signal: a SIGUSR1 sent to ourselves arrives",
                matches!(got, Ok(Some(()))),
                format!("{got:?}"),
            );
        }
        Err(error) => report.check(
            "tokio::signal: a SIGUSR1 sent to ourselves arrives",
            false,
            error,
        ),
    }

    let path = dir.join("tokio-check.txt");
    let contents: Vec<u8> = (0..100_000u32).map(|at| (at % 251) as u8).collect();
    let result = async {
        tokio::fs::write(&path, &contents).await?;
        let back = tokio::fs::read(&path).await?;
        tokio::fs::remove_file(&path).await?;
        Ok::<_, std::io::Error>(back)
    }
    .await;
    report.check(
        "tokio::fs: 100000 bytes written, read back equal, removed",
        matches!(&result, Ok(back) if *back == contents) && std::fs::metadata(&path).is_err(),
        match &result {
            Ok(back) => format!("{} bytes back", back.len()),
            Err(error) => error.to_string(),
        },
    );
}

fn main() -> ExitCode {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp".to_owned()));
    let mut report = Report::default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            report.check("a multi-thread runtime with 4 workers starts", false, error);
            return report.finish("tokio-check");
        }
    };
    runtime.block_on(async {
        spawned_tasks(&mut report).await;
        timers(&mut report).await;
        sync_primitives(&mut report).await;
        unix_sockets(&mut report, &dir).await;
        signals_and_files(&mut report, &dir).await;
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    report.finish("tokio-check")
}
