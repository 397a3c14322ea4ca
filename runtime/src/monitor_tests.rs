//! The monitor's request handling against a fake sandbox: the lifecycle's rules (start
//! once, pause only when running, exec only when running), the record on disk following
//! along, descriptors reaching the sandbox, and the socket serving several callers.

use std::io::{Read, Write};
use std::sync::Mutex;

use oci_spec::runtime::Process;

use super::*;
use crate::state::Record;
use crate::vm::Exit;

#[derive(Default)]
struct FakeVm {
    calls: Mutex<Vec<String>>,
}

impl FakeVm {
    fn note(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

impl Vm for FakeVm {
    fn vmm_pid(&self) -> u32 {
        std::process::id()
    }
    fn start(&self) -> Result<(), VmError> {
        self.note("start".into());
        Ok(())
    }
    fn signal(&self, target: Target, signal: i32) -> Result<(), VmError> {
        self.note(format!("signal {target:?} {signal}"));
        Ok(())
    }
    fn exec(&self, process: &Process, stdio: Stdio) -> Result<u32, VmError> {
        let args = process.args().clone().unwrap_or_default();
        if args.first().map(String::as_str) == Some("nosuch") {
            return Err(VmError {
                message: "exec: \"nosuch\": executable file not found in $PATH".into(),
                status: Some(127),
            });
        }
        let Stdio::Streams { stdout, .. } = stdio else {
            panic!("streams expected");
        };
        File::from(stdout)
            .write_all(args.join(" ").as_bytes())
            .unwrap();
        self.note(format!("exec {}", args.join(" ")));
        Ok(7)
    }
    fn resize(&self, target: Target, rows: u16, cols: u16) -> Result<(), VmError> {
        self.note(format!("resize {target:?} {rows}x{cols}"));
        Ok(())
    }
    fn pause(&self) -> Result<(), VmError> {
        self.note("pause".into());
        Ok(())
    }
    fn resume(&self) -> Result<(), VmError> {
        self.note("resume".into());
        Ok(())
    }
    fn pids(&self) -> Result<Vec<u32>, VmError> {
        Ok(vec![1, 12])
    }
    fn wait_exec(&self, id: u32) -> Result<Exit, VmError> {
        assert_eq!(id, 7);
        Ok(Exit::Signal(15))
    }
    fn wait(&self) -> Result<Exit, VmError> {
        Ok(Exit::Code(7))
    }
}

fn state_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("monitor-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let record = Record {
        id: "c".into(),
        bundle: "/b".into(),
        rootfs: "/b/rootfs".into(),
        created: "2026-12-03T07:00:00Z".into(),
        owner: String::new(),
        status: Status::Created,
        monitor: HostProcess::of(std::process::id()).unwrap(),
        vmm: HostProcess::default(),
        exit_code: None,
        annotations: Default::default(),
    };
    state::write_record(&dir, &record).unwrap();
    dir
}

fn status_on_disk(dir: &Path) -> Status {
    state::read_record(dir).unwrap().status
}

fn is_error(reply: &Reply, text: &str) -> bool {
    matches!(reply, Reply::Error { message, .. } if message.contains(text))
}

#[test]
fn lifecycle_rules() {
    let dir = state_dir("lifecycle");
    let monitor = Monitor::for_test(Box::new(FakeVm::default()), &dir, Status::Created);
    assert!(is_error(
        &monitor.handle(Request::Pause, vec![]),
        "not running"
    ));
    assert_eq!(monitor.handle(Request::Start, vec![]), Reply::Ok);
    assert_eq!(status_on_disk(&dir), Status::Running);
    assert!(is_error(
        &monitor.handle(Request::Start, vec![]),
        "already running"
    ));
    assert!(is_error(
        &monitor.handle(Request::Resume, vec![]),
        "not paused"
    ));
    assert_eq!(monitor.handle(Request::Pause, vec![]), Reply::Ok);
    assert_eq!(status_on_disk(&dir), Status::Paused);
    let exec = Request::Exec {
        process: Box::new(
            serde_json::from_str(r#"{"args": ["ls"], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#)
                .unwrap(),
        ),
        terminal: false,
    };
    assert!(is_error(&monitor.handle(exec, vec![]), "paused"));
    assert_eq!(monitor.handle(Request::Resume, vec![]), Reply::Ok);
    assert_eq!(
        monitor.handle(
            Request::Signal {
                signal: 15,
                all: true,
                exec: None,
            },
            vec![]
        ),
        Reply::Ok
    );
    assert_eq!(
        monitor.handle(Request::Pids, vec![]),
        Reply::Pids { pids: vec![1, 12] }
    );
    assert_eq!(monitor.finish(), 7);
    let record = state::read_record(&dir).unwrap();
    assert_eq!(
        (record.status, record.exit_code),
        (Status::Stopped, Some(7))
    );
    assert!(is_error(
        &monitor.handle(
            Request::Signal {
                signal: 9,
                all: false,
                exec: None,
            },
            vec![]
        ),
        "not running"
    ));
    assert!(is_error(
        &monitor.handle(Request::Start, vec![]),
        "has stopped"
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Over the socket: an exec's streams travel as descriptors, its status comes back on the
/// same connection, and a refused exec carries the guest's status (127).
#[test]
fn exec_over_the_socket() {
    let dir = state_dir("exec");
    let monitor = Arc::new(Monitor::for_test(
        Box::new(FakeVm::default()),
        &dir,
        Status::Running,
    ));
    let listener = UnixListener::bind(dir.join(state::SOCKET)).unwrap();
    let server = Arc::clone(&monitor);
    std::thread::spawn(move || server.serve(listener));

    let (mut out_reader, out_writer) = std::io::pipe().unwrap();
    let null = File::open("/dev/null").unwrap();
    let stream = connect(&dir).unwrap();
    let process: Process = serde_json::from_str(
        r#"{"args": ["echo", "hi"], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#,
    )
    .unwrap();
    let reply = protocol::call(
        &stream,
        &Request::Exec {
            process: Box::new(process),
            terminal: false,
        },
        &[null.as_fd(), out_writer.as_fd(), out_writer.as_fd()],
    )
    .unwrap();
    assert_eq!(reply, Reply::ExecStarted { exec: 7 });
    drop(out_writer);
    let mut written = String::new();
    out_reader.read_to_string(&mut written).unwrap();
    assert_eq!(written, "echo hi");
    let reply = protocol::call(&stream, &Request::WaitExec { exec: 7 }, &[]).unwrap();
    assert_eq!(exited(reply).unwrap(), 143);

    let missing: Process =
        serde_json::from_str(r#"{"args": ["nosuch"], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#)
            .unwrap();
    let error = request(
        &dir,
        &Request::Exec {
            process: Box::new(missing),
            terminal: false,
        },
        &[null.as_fd(), null.as_fd(), null.as_fd()],
    )
    .unwrap_err();
    match error {
        RuntimeError::Guest { message, status } => {
            assert!(message.contains("not found"), "{message}");
            assert_eq!(status, Some(127));
        }
        other => panic!("{other:?}"),
    }
    let wrong = request(
        &dir,
        &Request::Exec {
            process: Box::new(
                serde_json::from_str(
                    r#"{"args": ["x"], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#,
                )
                .unwrap(),
            ),
            terminal: false,
        },
        &[null.as_fd()],
    )
    .unwrap_err();
    assert!(wrong.to_string().contains("needs 3 descriptors"), "{wrong}");
    std::fs::remove_dir_all(&dir).unwrap();
}
