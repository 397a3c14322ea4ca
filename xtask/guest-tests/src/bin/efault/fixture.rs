//! The valid arguments the calls need around the bad one: open files, paths, buffers.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// One bad pointer and its short name in the output.
pub struct BadPointer {
    pub name: &'static str,
    pub address: usize,
}

impl BadPointer {
    pub fn all() -> [BadPointer; 4] {
        [
            BadPointer { name: "null", address: 0 },
            BadPointer { name: "low", address: 1 },
            BadPointer { name: "kernel", address: 0xffff_8000_0000_0000 },
            BadPointer { name: "no-access", address: inaccessible_page() },
        ]
    }
}

/// A user page that is mapped but grants no access (`PROT_NONE`): the address is
/// canonical, in the user half and page-aligned, so only the page's rights make it bad.
///
/// Why not a page mapped and then unmapped: the next `mmap` of the program's own
/// allocator may land right there (Linux's top-down placement reuses the highest free
/// gap), and whether it does depends on the allocator's history, not on the kernel under
/// test. A `PROT_NONE` page stays bad for the whole run.
fn inaccessible_page() -> usize {
    // SAFETY: a fresh anonymous mapping that nothing else knows of; it is never unmapped.
    unsafe {
        let page = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
        assert_ne!(page, libc::MAP_FAILED, "mmap of one PROT_NONE page");
        page as usize
    }
}

pub struct Fixture {
    pub dir: PathBuf,
    /// A file holding `CONTENTS`, open read-only.
    pub data_fd: OwnedFd,
    /// A scratch file open for writing.
    pub write_fd: OwnedFd,
    /// The scratch directory, open for getdents64.
    pub dir_fd: OwnedFd,
    pub data_path: CString,
    /// A symlink to the data file.
    pub link_path: CString,
    /// A name that does not exist yet (targets of rename, link, symlink).
    pub new_path: CString,
    pub root_path: CString,
    /// Buffers for the valid output arguments.
    pub buffer: Box<[u8; 4096]>,
    /// An iovec whose base is set to the bad pointer per call.
    pub iovec: libc::iovec,
    pub pollfd: libc::pollfd,
    pub zero_timespec: libc::timespec,
}

const CONTENTS: &[u8] = b"data for the read calls\n";

fn c_path(path: &std::path::Path) -> CString {
    CString::new(path.as_os_str().as_encoded_bytes()).expect("scratch paths have no NUL")
}

impl Fixture {
    pub fn new(base: &str) -> std::io::Result<Fixture> {
        let dir = PathBuf::from(base).join(format!("efault-{}", std::process::id()));
        std::fs::create_dir(&dir)?;
        let data = dir.join("data");
        std::fs::write(&data, CONTENTS)?;
        std::os::unix::fs::symlink("data", dir.join("link"))?;
        let data_fd = std::fs::File::open(&data)?.into();
        let write_fd = std::fs::File::create(dir.join("written"))?.into();
        let dir_fd = std::fs::File::open(&dir)?.into();
        Ok(Fixture {
            data_path: c_path(&data),
            link_path: c_path(&dir.join("link")),
            new_path: c_path(&dir.join("new")),
            root_path: CString::new("/").expect("no NUL"),
            dir,
            data_fd,
            write_fd,
            dir_fd,
            buffer: Box::new([0; 4096]),
            iovec: libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 16 },
            pollfd: libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 },
            zero_timespec: libc::timespec { tv_sec: 0, tv_nsec: 0 },
        })
    }

    pub fn data(&self) -> usize {
        self.data_fd.as_raw_fd() as usize
    }

    pub fn write(&self) -> usize {
        self.write_fd.as_raw_fd() as usize
    }

    pub fn directory(&self) -> usize {
        self.dir_fd.as_raw_fd() as usize
    }

    pub fn out(&mut self) -> usize {
        self.buffer.as_mut_ptr() as usize
    }

    /// An iovec array of one entry whose base is `bad`.
    pub fn iovec_with_base(&mut self, bad: usize) -> usize {
        self.iovec = libc::iovec { iov_base: bad as *mut libc::c_void, iov_len: 16 };
        &raw mut self.iovec as usize
    }

    pub fn pollfd(&mut self) -> usize {
        self.pollfd.fd = self.data_fd.as_raw_fd();
        &raw mut self.pollfd as usize
    }

    pub fn zero_timespec(&self) -> usize {
        &raw const self.zero_timespec as usize
    }

    pub fn rewind(&self) {
        for fd in [&self.data_fd, &self.dir_fd] {
            // SAFETY: lseek on a descriptor this fixture owns.
            unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_SET) };
        }
    }

    /// The data file's offset now.
    pub fn data_offset(&self) -> i64 {
        // SAFETY: lseek on a descriptor this fixture owns.
        unsafe { libc::lseek(self.data_fd.as_raw_fd(), 0, libc::SEEK_CUR) }
    }

    /// The system still works: a file written through std reads back.
    pub fn round_trip(&self) -> Result<(), String> {
        let path = self.dir.join("round-trip");
        std::fs::write(&path, CONTENTS).map_err(|error| format!("write {}: {error}", path.display()))?;
        match std::fs::read(&path) {
            Ok(bytes) if bytes == CONTENTS => Ok(()),
            Ok(bytes) => Err(format!("read back {} bytes that differ", bytes.len())),
            Err(error) => Err(format!("read {}: {error}", path.display())),
        }
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
