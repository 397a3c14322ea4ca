//! Terminals on the host side. With `process.terminal` the runtime makes a host pty,
//! hands its master to the caller over `--console-socket` (`SCM_RIGHTS`, as runc: conmon
//! and containerd's shim read it from there), and gives the slave, in raw mode, to the
//! sandbox, which pumps its bytes to and from the guest's own terminal (the guest has the
//! line discipline; the host pty must pass bytes through unchanged). The process holding
//! the slave makes it its controlling terminal, so a size the caller sets on the master
//! reaches it as `SIGWINCH`, and it passes the new size on.

use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::pty::openpty;
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

use crate::error::{Context, Result};

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// `/dev/pts/N`: another process (the `exec` waiter) opens the slave by it.
    pub slave_path: PathBuf,
}

/// A new pty pair with the slave in raw mode.
pub fn open_raw_pty() -> Result<Pty> {
    let pair = openpty(None, None).context(|| "openpty".to_owned())?;
    make_raw(&pair.slave)?;
    let slave_path = fd_path(&pair.slave)?;
    Ok(Pty {
        master: pair.master,
        slave: pair.slave,
        slave_path,
    })
}

/// Puts a terminal in raw mode (no echo, no line editing, no output processing).
pub fn make_raw(fd: impl AsFd) -> Result<()> {
    let mut termios = tcgetattr(fd.as_fd()).context(|| "tcgetattr".to_owned())?;
    cfmakeraw(&mut termios);
    tcsetattr(fd.as_fd(), SetArg::TCSANOW, &termios).context(|| "tcsetattr".to_owned())
}

fn fd_path(fd: &impl AsFd) -> Result<PathBuf> {
    use std::os::fd::AsRawFd;
    let link = format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd());
    std::fs::read_link(&link).context(|| format!("readlink {link}"))
}

/// Sends `master` to the listener at `socket` (the `--console-socket` contract: one
/// message whose data is the terminal's name and whose `SCM_RIGHTS` carries it).
pub fn send_master(socket: &Path, master: &OwnedFd) -> Result<()> {
    let stream = UnixStream::connect(socket)
        .context(|| format!("connecting to the console socket {}", socket.display()))?;
    let name = fd_path(master)
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "/dev/ptmx".to_owned());
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [master.as_fd()];
    control.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        &stream,
        &[IoSlice::new(name.as_bytes())],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map_err(std::io::Error::from)
    .context(|| format!("sending the pty to {}", socket.display()))?;
    Ok(())
}

/// Makes `tty` the calling process's controlling terminal; the caller must have made
/// itself a session leader (`setsid`) first.
pub fn take_as_controlling(tty: impl AsFd) -> Result<()> {
    rustix::process::ioctl_tiocsctty(tty)
        .map_err(std::io::Error::from)
        .context(|| "TIOCSCTTY".to_owned())
}

/// The terminal's size as (rows, columns), None when it has none (0×0) or is no terminal.
pub fn window_size(tty: impl AsFd) -> Option<(u16, u16)> {
    let size = rustix::termios::tcgetwinsize(tty).ok()?;
    (size.ws_row != 0 || size.ws_col != 0).then_some((size.ws_row, size.ws_col))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;

    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

    use super::*;

    /// The master arrives over the console socket and talks to our slave, byte for byte
    /// (raw: no echo, no CR/LF translation), and a size set on it is seen on the slave.
    #[test]
    fn master_over_the_socket() {
        let dir = std::env::temp_dir().join(format!("console-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("console.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let pty = open_raw_pty().unwrap();
        assert!(
            pty.slave_path.starts_with("/dev/pts"),
            "{:?}",
            pty.slave_path
        );
        send_master(&path, &pty.master).unwrap();
        drop(pty.master);
        let (stream, _) = listener.accept().unwrap();
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut name = [0u8; 64];
        let got = rustix::net::recvmsg(
            &stream,
            &mut [std::io::IoSliceMut::new(&mut name)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )
        .unwrap();
        assert_eq!(&name[..got.bytes], b"/dev/ptmx");
        let master = control
            .drain()
            .find_map(|part| match part {
                RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
                _ => None,
            })
            .expect("a descriptor");
        let mut master = std::fs::File::from(master);
        master.write_all(b"a\rb\n").unwrap();
        let mut slave = std::fs::File::from(pty.slave.try_clone().unwrap());
        let mut read = [0u8; 4];
        slave.read_exact(&mut read).unwrap();
        assert_eq!(&read, b"a\rb\n");
        slave.write_all(b"x\n").unwrap();
        let mut back = [0u8; 2];
        master.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"x\n");
        let size = rustix::termios::Winsize {
            ws_row: 24,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, size).unwrap();
        assert_eq!(window_size(&pty.slave), Some((24, 100)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
