//! 9p channels: which virtio-9p device (by mount tag) each mount of the plan reads from.
//!
//! The rule (DESIGN "9p channel assignment", gVisor's gofer-FD dispenser by tag): the root
//! takes `rootfs`; the i-th bind mount of the spec, counted in spec order before any
//! sorting, takes `m<i>`. The host (xtask) attaches devices by the same rule;
//! [`check_channels`] holds the two together at boot.
//!
//! Also here: `bind_file=m<i>:NAME`, the host's note that channel `m<i>` shares the
//! *directory* of a bind-mounted file (QEMU can only share directories) and the file is
//! `NAME` in it; and `share_alias=m<i>:m<j>`, the host's note that channel `m<i>` reads
//! the device of `m<j>` because both share one host directory (podman binds
//! `/etc/hosts`, `/etc/hostname` and `/run/.containerenv` from one): a device fewer for
//! QEMU to make and the kernel to probe and attach on every start.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use vfs_core::attr::NAME_MAX;

use super::error::PlanError;
use super::plan::MountPlan;

/// One 9p device's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    /// `rootfs`: the container's root.
    Root,
    /// `m<i>`: the i-th bind mount in spec order.
    Mount(usize),
}

impl Channel {
    pub const ROOT_TAG: &'static str = "rootfs";

    /// The device's mount tag.
    pub fn tag(self) -> String {
        format!("{self}")
    }

    /// The channel a tag names, if it follows the rule (`rootfs`, `m0`, `m12`, not `m01`).
    pub fn from_tag(tag: &str) -> Option<Channel> {
        if tag == Self::ROOT_TAG {
            return Some(Channel::Root);
        }
        let digits = tag.strip_prefix('m')?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !canonical {
            return None;
        }
        digits.parse().ok().map(Channel::Mount)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Root => f.write_str(Self::ROOT_TAG),
            Channel::Mount(index) => write!(f, "m{index}"),
        }
    }
}

/// Checks the devices found at boot against the channels the plan takes: every channel
/// needs exactly one device, and every device must be taken. The first disagreement, in
/// channel order and then in the order found, is the error.
pub fn check_channels(plan: &MountPlan, found_tags: &[&str]) -> Result<(), PlanError> {
    let needed: Vec<String> = plan.channels().into_iter().map(Channel::tag).collect();
    for (index, tag) in found_tags.iter().enumerate() {
        if found_tags[..index].contains(tag) {
            return Err(PlanError::ChannelTwice {
                tag: String::from(*tag),
            });
        }
    }
    if let Some(tag) = needed
        .iter()
        .find(|tag| !found_tags.contains(&tag.as_str()))
    {
        return Err(PlanError::ChannelMissing { tag: tag.clone() });
    }
    if let Some(tag) = found_tags
        .iter()
        .find(|tag| !needed.iter().any(|needed| needed == *tag))
    {
        return Err(PlanError::ChannelLeftOver {
            tag: String::from(*tag),
        });
    }
    Ok(())
}

/// `share_alias=m<i>:m<j>`: channel `m<i>` has no device of its own; it reads the one of
/// `m<j>` (the root's device is never shared: its cache policy is its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShareAlias {
    pub channel: Channel,
    pub served_by: Channel,
}

impl ShareAlias {
    pub const EXPECTED: &'static str = "m<i>:m<j> with i != j";

    /// Reads one `share_alias=` value; `None` if it does not have the expected form.
    pub fn parse(value: &str) -> Option<ShareAlias> {
        let (channel, served_by) = value.split_once(':')?;
        let mount = |tag| Channel::from_tag(tag).filter(|channel| *channel != Channel::Root);
        let (channel, served_by) = (mount(channel)?, mount(served_by)?);
        (channel != served_by).then_some(ShareAlias { channel, served_by })
    }

    /// The value's form on the command line (the host writes it, [`ShareAlias::parse`]
    /// reads it).
    pub fn to_option_value(&self) -> String {
        format!("{}:{}", self.channel, self.served_by)
    }
}

/// The mount tag of the device that serves `channel`: its own, unless an alias names another.
pub fn device_tag(channel: Channel, aliases: &[ShareAlias]) -> String {
    aliases
        .iter()
        .find(|alias| alias.channel == channel)
        .map_or(channel, |alias| alias.served_by)
        .tag()
}

/// The tags [`check_channels`] should see: the devices found, plus each aliased channel
/// whose serving device was found (so an alias never hides a missing device).
pub fn tags_with_aliases(found_tags: &[&str], aliases: &[ShareAlias]) -> Vec<String> {
    let mut tags: Vec<String> = found_tags.iter().map(|tag| String::from(*tag)).collect();
    for alias in aliases {
        if found_tags.contains(&alias.served_by.tag().as_str()) {
            tags.push(alias.channel.tag());
        }
    }
    tags
}

/// `bind_file=m<i>:NAME`: channel `m<i>` shares the directory that holds the bind-mounted
/// file `NAME` (percent-encoded on the command line, which is split at spaces).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileBind {
    pub channel: Channel,
    /// One path component: not empty, not `.` or `..`, no `/` or NUL.
    pub name: String,
}

impl FileBind {
    pub const EXPECTED: &'static str = "m<i>:NAME (NAME percent-encoded, one path component)";

    /// Reads one `bind_file=` value; `None` if it does not have the expected form.
    pub fn parse(value: &str) -> Option<FileBind> {
        let mut buffer = [0; NAME_MAX];
        let (channel, name) = split(value, &mut buffer)?;
        Some(FileBind {
            channel,
            name: String::from(name),
        })
    }

    /// Whether [`FileBind::parse`] would read `value`, without the heap: the command line
    /// is checked before there is one.
    pub fn is_valid(value: &str) -> bool {
        split(value, &mut [0; NAME_MAX]).is_some()
    }

    /// The value's form on the command line (the host writes it, [`FileBind::parse`] reads it).
    pub fn to_option_value(&self) -> String {
        let mut value = format!("{}:", self.channel);
        for &byte in self.name.as_bytes() {
            if byte.is_ascii_alphanumeric() || b"._-+~@,=".contains(&byte) {
                value.push(char::from(byte));
            } else {
                value.push_str(&format!("%{byte:02X}"));
            }
        }
        value
    }
}

/// `m<i>:NAME` → the channel and the decoded name, which is one path component.
fn split<'b>(value: &str, buffer: &'b mut [u8; NAME_MAX]) -> Option<(Channel, &'b str)> {
    let (tag, encoded) = value.split_once(':')?;
    let channel = Channel::from_tag(tag).filter(|channel| *channel != Channel::Root)?;
    let name = core::str::from_utf8(percent_decode(encoded, buffer)?).ok()?;
    let one_component = !matches!(name, "" | "." | "..") && !name.contains(['/', '\0']);
    one_component.then_some((channel, name))
}

/// `%XX` → the byte; everything else as is. `None` if malformed or too long for `buffer`.
fn percent_decode<'b>(text: &str, buffer: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut length = 0;
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        let (decoded, tail) = if byte == b'%' {
            let hex = core::str::from_utf8(tail.get(..2)?).ok()?;
            (u8::from_str_radix(hex, 16).ok()?, &tail[2..])
        } else {
            (byte, tail)
        };
        *buffer.get_mut(length)? = decoded;
        length += 1;
        rest = tail;
    }
    Some(&buffer[..length])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_rule() {
        assert_eq!(Channel::Root.tag(), "rootfs");
        assert_eq!(Channel::Mount(12).tag(), "m12");
        for (tag, channel) in [
            ("rootfs", Some(Channel::Root)),
            ("m0", Some(Channel::Mount(0))),
            ("m10", Some(Channel::Mount(10))),
        ] {
            assert_eq!(Channel::from_tag(tag), channel, "{tag}");
        }
        for tag in ["m", "m01", "m-1", "M1", "root", "m1x", ""] {
            assert_eq!(Channel::from_tag(tag), None, "{tag}");
        }
    }

    #[test]
    fn file_binds_round_trip_with_awkward_names() {
        for name in ["resolv.conf", "a b%c", "naïve", "x:y"] {
            let bind = FileBind {
                channel: Channel::Mount(3),
                name: name.into(),
            };
            let value = bind.to_option_value();
            assert!(!value.contains(' '), "{value}");
            assert_eq!(FileBind::parse(&value), Some(bind), "{value}");
        }
        assert_eq!(
            FileBind {
                channel: Channel::Mount(0),
                name: "a b".into()
            }
            .to_option_value(),
            "m0:a%20b"
        );
    }

    #[test]
    fn bad_file_binds_are_refused() {
        for value in [
            "m0", "rootfs:x", "q1:x", "m0:", "m0:.", "m0:..", "m0:a%2Fb", "m0:%", "m0:%4",
            "m0:%zz", "m0:%FF", "m0:a%00",
        ] {
            assert_eq!(FileBind::parse(value), None, "{value}");
        }
    }

    #[test]
    fn share_aliases_parse_and_round_trip() {
        let alias = ShareAlias::parse("m2:m0").unwrap();
        assert_eq!(
            alias,
            ShareAlias {
                channel: Channel::Mount(2),
                served_by: Channel::Mount(0)
            }
        );
        assert_eq!(ShareAlias::parse(&alias.to_option_value()), Some(alias));
        for bad in [
            "m1:m1",
            "rootfs:m0",
            "m0:rootfs",
            "m1",
            "m1:",
            ":m0",
            "m01:m0",
            "m1:m0:m2",
        ] {
            assert_eq!(ShareAlias::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn aliased_channels_read_their_servers_device() {
        let aliases = [ShareAlias::parse("m2:m0").unwrap()];
        assert_eq!(device_tag(Channel::Mount(2), &aliases), "m0");
        assert_eq!(device_tag(Channel::Mount(1), &aliases), "m1");
        assert_eq!(device_tag(Channel::Root, &aliases), "rootfs");
    }

    #[test]
    fn an_alias_counts_as_found_only_with_its_device() {
        let aliases = [
            ShareAlias::parse("m2:m0").unwrap(),
            ShareAlias::parse("m3:m9").unwrap(),
        ];
        assert_eq!(
            tags_with_aliases(&["rootfs", "m0", "m1"], &aliases),
            ["rootfs", "m0", "m1", "m2"]
        );
    }
}
