//! A cpio "newc" archive writer: what the Linux kernel unpacks as an initramfs.

/// One archive member. Paths are relative (`bin/busybox`), parents listed before children.
pub enum Entry {
    Dir {
        path: String,
        mode: u32,
    },
    File {
        path: String,
        mode: u32,
        data: Vec<u8>,
    },
    Symlink {
        path: String,
        target: String,
    },
    CharDevice {
        path: String,
        mode: u32,
        major: u32,
        minor: u32,
    },
}

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;

/// The archive, ending with the `TRAILER!!!` member.
pub fn archive(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let ino = index as u32 + 1;
        match entry {
            Entry::Dir { path, mode } => {
                member(&mut out, ino, path, S_IFDIR | mode, 2, (0, 0), &[])
            }
            Entry::File { path, mode, data } => {
                member(&mut out, ino, path, S_IFREG | mode, 1, (0, 0), data)
            }
            Entry::Symlink { path, target } => member(
                &mut out,
                ino,
                path,
                S_IFLNK | 0o777,
                1,
                (0, 0),
                target.as_bytes(),
            ),
            Entry::CharDevice {
                path,
                mode,
                major,
                minor,
            } => member(
                &mut out,
                ino,
                path,
                S_IFCHR | mode,
                1,
                (*major, *minor),
                &[],
            ),
        }
    }
    member(&mut out, 0, "TRAILER!!!", 0, 1, (0, 0), &[]);
    out
}

fn member(
    out: &mut Vec<u8>,
    ino: u32,
    path: &str,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    data: &[u8],
) {
    let name_size = path.len() + 1;
    // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
    // rdevminor, namesize, check: each 8 hex digits.
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        data.len() as u32,
        0,
        0,
        rdev.0,
        rdev.1,
        name_size as u32,
        0,
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    out.extend_from_slice(path.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_headers_names_and_padding() {
        let bytes = archive(&[
            Entry::Dir {
                path: "bin".into(),
                mode: 0o755,
            },
            Entry::File {
                path: "bin/x".into(),
                mode: 0o755,
                data: b"abc".to_vec(),
            },
        ]);
        assert!(bytes.starts_with(b"070701"));
        assert_eq!(bytes.len() % 4, 0);
        // Header 110 bytes + "bin\0" = 114, padded to 116.
        assert_eq!(&bytes[110..114], b"bin\0");
        assert_eq!(&bytes[116..122], b"070701");
        let file_mode = std::str::from_utf8(&bytes[116 + 14..116 + 22]).unwrap();
        assert_eq!(u32::from_str_radix(file_mode, 16).unwrap(), 0o100_755);
        let filesize = std::str::from_utf8(&bytes[116 + 54..116 + 62]).unwrap();
        assert_eq!(filesize, "00000003");
        let data_at = 116 + 110 + 6; // "bin/x\0" ends 4-aligned
        assert_eq!(&bytes[data_at..data_at + 3], b"abc");
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
    }
}
