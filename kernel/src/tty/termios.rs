//! Terminal settings: Linux's `struct ktermios`, its flag and control-character names, the
//! three layouts programs read and write it in (`struct termios` for `TCGETS`, `struct
//! termios2` for `TCGETS2`, the old `struct termio` for `TCGETA`), the baud-rate rules that
//! keep `c_ispeed`/`c_ospeed` in step with `c_cflag`, and the settings a new terminal
//! starts with. Portable and host-tested; the line discipline ([`super::ldisc`]) reads it.

/// `c_iflag` bits.
pub mod iflag {
    pub const IGNBRK: u32 = 0o1;
    pub const BRKINT: u32 = 0o2;
    pub const IGNPAR: u32 = 0o4;
    pub const PARMRK: u32 = 0o10;
    pub const INPCK: u32 = 0o20;
    pub const ISTRIP: u32 = 0o40;
    pub const INLCR: u32 = 0o100;
    pub const IGNCR: u32 = 0o200;
    pub const ICRNL: u32 = 0o400;
    pub const IUCLC: u32 = 0o1000;
    pub const IXON: u32 = 0o2000;
    pub const IXANY: u32 = 0o4000;
    pub const IXOFF: u32 = 0o10000;
    pub const IMAXBEL: u32 = 0o20000;
    pub const IUTF8: u32 = 0o40000;
}

/// `c_oflag` bits.
pub mod oflag {
    pub const OPOST: u32 = 0o1;
    pub const OLCUC: u32 = 0o2;
    pub const ONLCR: u32 = 0o4;
    pub const OCRNL: u32 = 0o10;
    pub const ONOCR: u32 = 0o20;
    pub const ONLRET: u32 = 0o40;
    pub const TABDLY: u32 = 0o14000;
    /// `TAB3`: tabs expanded to spaces on output.
    pub const XTABS: u32 = 0o14000;
}

/// `c_cflag` bits.
pub mod cflag {
    pub const CBAUD: u32 = 0o10017;
    pub const B0: u32 = 0;
    pub const B38400: u32 = 0o17;
    pub const CSIZE: u32 = 0o60;
    pub const CS8: u32 = 0o60;
    pub const CREAD: u32 = 0o200;
    pub const PARENB: u32 = 0o400;
    pub const HUPCL: u32 = 0o2000;
    pub const CLOCAL: u32 = 0o4000;
    pub const CBAUDEX: u32 = 0o10000;
    /// `CBAUD` value meaning "the speed is in `c_ospeed`" (and, shifted, `c_ispeed`).
    pub const BOTHER: u32 = 0o10000;
    /// The input speed's field: `CBAUD` shifted left by [`IBSHIFT`].
    pub const CIBAUD: u32 = 0o2003600000;
    pub const IBSHIFT: u32 = 16;
}

/// `c_lflag` bits.
pub mod lflag {
    pub const ISIG: u32 = 0o1;
    pub const ICANON: u32 = 0o2;
    pub const ECHO: u32 = 0o10;
    pub const ECHOE: u32 = 0o20;
    pub const ECHOK: u32 = 0o40;
    pub const ECHONL: u32 = 0o100;
    pub const NOFLSH: u32 = 0o200;
    pub const TOSTOP: u32 = 0o400;
    pub const ECHOCTL: u32 = 0o1000;
    pub const ECHOPRT: u32 = 0o2000;
    pub const ECHOKE: u32 = 0o4000;
    pub const FLUSHO: u32 = 0o10000;
    pub const PENDIN: u32 = 0o40000;
    pub const IEXTEN: u32 = 0o100000;
    pub const EXTPROC: u32 = 0o200000;
}

/// Indices into `c_cc`.
pub mod cc {
    pub const VINTR: usize = 0;
    pub const VQUIT: usize = 1;
    pub const VERASE: usize = 2;
    pub const VKILL: usize = 3;
    pub const VEOF: usize = 4;
    pub const VTIME: usize = 5;
    pub const VMIN: usize = 6;
    pub const VSTART: usize = 8;
    pub const VSTOP: usize = 9;
    pub const VSUSP: usize = 10;
    pub const VEOL: usize = 11;
    pub const VREPRINT: usize = 12;
    pub const VWERASE: usize = 14;
    pub const VLNEXT: usize = 15;
    pub const VEOL2: usize = 16;
}

/// Control characters in the kernel's `struct ktermios` (and `struct termios`).
pub const NCCS: usize = 19;
/// Control characters in the old `struct termio`.
const NCC: usize = 8;
/// `_POSIX_VDISABLE`: a control character set to this is off.
pub const DISABLED: u8 = 0;

/// `sizeof(struct termios)`, `sizeof(struct termios2)`, `sizeof(struct termio)`.
pub const TERMIOS_SIZE: usize = 36;
pub const TERMIOS2_SIZE: usize = 44;
pub const TERMIO_SIZE: usize = 18;

/// Linux's `INIT_C_CC`: ^C ^\ DEL ^U ^D, TIME 0, MIN 1, ^Q ^S ^Z, ^R ^O ^W ^V.
const INIT_C_CC: [u8; NCCS] = [
    3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0,
];

/// Linux's `baud_table`: `CBAUD` values 0..=15, then `CBAUDEX | 1..=15`.
const BAUD_TABLE: [u32; 31] = [
    0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600,
    115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000,
    3000000, 3500000, 4000000,
];

/// `struct ktermios`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; NCCS],
    pub ispeed: u32,
    pub ospeed: u32,
}

impl Termios {
    /// A pseudo-terminal slave's settings when it is made (Linux's `pts_driver`'s
    /// `init_termios`: `tty_std_termios` with `B38400 | CS8 | CREAD`): cooked, echoing,
    /// signals on, `^S`/`^Q` flow control, `\n` written as `\r\n`. The console starts the
    /// same, as the pseudo-terminal a container runtime hands a container.
    pub fn slave_default() -> Termios {
        Termios {
            iflag: iflag::ICRNL | iflag::IXON,
            oflag: oflag::OPOST | oflag::ONLCR,
            cflag: cflag::B38400 | cflag::CS8 | cflag::CREAD,
            lflag: lflag::ISIG
                | lflag::ICANON
                | lflag::ECHO
                | lflag::ECHOE
                | lflag::ECHOK
                | lflag::ECHOCTL
                | lflag::ECHOKE
                | lflag::IEXTEN,
            line: 0,
            cc: INIT_C_CC,
            ispeed: 38400,
            ospeed: 38400,
        }
    }

    /// A pseudo-terminal master's (`ptm_driver`'s `init_termios`): everything off.
    pub fn master_default() -> Termios {
        Termios {
            iflag: 0,
            oflag: 0,
            lflag: 0,
            ..Termios::slave_default()
        }
    }

    pub fn has_l(&self, bits: u32) -> bool {
        self.lflag & bits != 0
    }

    pub fn has_i(&self, bits: u32) -> bool {
        self.iflag & bits != 0
    }

    pub fn has_o(&self, bits: u32) -> bool {
        self.oflag & bits != 0
    }

    /// `struct termios` (`TCGETS`): the flags, the line and 19 control characters.
    pub fn encode(&self) -> [u8; TERMIOS_SIZE] {
        let mut out = [0u8; TERMIOS_SIZE];
        for (index, value) in [self.iflag, self.oflag, self.cflag, self.lflag]
            .into_iter()
            .enumerate()
        {
            out[index * 4..index * 4 + 4].copy_from_slice(&value.to_le_bytes());
        }
        out[16] = self.line;
        out[17..17 + NCCS].copy_from_slice(&self.cc);
        out
    }

    /// `struct termios2` (`TCGETS2`): `struct termios` and the two speeds.
    pub fn encode2(&self) -> [u8; TERMIOS2_SIZE] {
        let mut out = [0u8; TERMIOS2_SIZE];
        out[..TERMIOS_SIZE].copy_from_slice(&self.encode());
        out[36..40].copy_from_slice(&self.ispeed.to_le_bytes());
        out[40..44].copy_from_slice(&self.ospeed.to_le_bytes());
        out
    }

    /// `struct termio` (`TCGETA`): the low 16 bits of each flag word, the line and the
    /// first 8 control characters (`kernel_termios_to_user_termio`).
    pub fn encode_termio(&self) -> [u8; TERMIO_SIZE] {
        let mut out = [0u8; TERMIO_SIZE];
        for (index, value) in [self.iflag, self.oflag, self.cflag, self.lflag]
            .into_iter()
            .enumerate()
        {
            out[index * 2..index * 2 + 2].copy_from_slice(&(value as u16).to_le_bytes());
        }
        out[8] = self.line;
        out[9..9 + NCC].copy_from_slice(&self.cc[..NCC]);
        out
    }

    /// These settings with a `struct termios` (`TCSETS*`) laid over them: the speeds are
    /// not in it and keep their values until [`Termios::with_speeds_from_cflag`].
    pub fn with_termios(&self, bytes: &[u8; TERMIOS_SIZE]) -> Termios {
        let word = |index: usize| {
            u32::from_le_bytes([
                bytes[index * 4],
                bytes[index * 4 + 1],
                bytes[index * 4 + 2],
                bytes[index * 4 + 3],
            ])
        };
        let mut cc = [0u8; NCCS];
        cc.copy_from_slice(&bytes[17..17 + NCCS]);
        Termios {
            iflag: word(0),
            oflag: word(1),
            cflag: word(2),
            lflag: word(3),
            line: bytes[16],
            cc,
            ..*self
        }
    }

    /// These settings with a `struct termios2` (`TCSETS2*`) laid over them.
    pub fn with_termios2(&self, bytes: &[u8; TERMIOS2_SIZE]) -> Termios {
        let mut first = [0u8; TERMIOS_SIZE];
        first.copy_from_slice(&bytes[..TERMIOS_SIZE]);
        let speed = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        Termios {
            ispeed: speed(36),
            ospeed: speed(40),
            ..self.with_termios(&first)
        }
    }

    /// These settings with a `struct termio` (`TCSETA*`) laid over them: it replaces the
    /// low 16 bits of each flag word and the first 8 control characters
    /// (`user_termio_to_kernel_termios`).
    pub fn with_termio(&self, bytes: &[u8; TERMIO_SIZE]) -> Termios {
        let low = |old: u32, index: usize| {
            (old & 0xffff_0000)
                | u32::from(u16::from_le_bytes([bytes[index * 2], bytes[index * 2 + 1]]))
        };
        let mut cc = self.cc;
        cc[..NCC].copy_from_slice(&bytes[9..9 + NCC]);
        Termios {
            iflag: low(self.iflag, 0),
            oflag: low(self.oflag, 1),
            cflag: low(self.cflag, 2),
            lflag: low(self.lflag, 3),
            line: bytes[8],
            cc,
            ..*self
        }
    }

    /// `c_ispeed` and `c_ospeed` loaded from `c_cflag`'s baud fields, as `set_termios`
    /// does before applying new settings (`BOTHER` keeps the speed given).
    pub fn with_speeds_from_cflag(mut self) -> Termios {
        self.ispeed = self.input_baud_rate();
        self.ospeed = self.output_baud_rate();
        self
    }

    /// `tty_termios_baud_rate`.
    pub fn output_baud_rate(&self) -> u32 {
        let baud = self.cflag & cflag::CBAUD;
        if baud == cflag::BOTHER {
            return self.ospeed;
        }
        table_rate(baud)
    }

    /// `tty_termios_input_baud_rate`: `B0` in the input field means "as the output".
    pub fn input_baud_rate(&self) -> u32 {
        let baud = (self.cflag >> cflag::IBSHIFT) & cflag::CBAUD;
        if baud == cflag::B0 {
            return self.output_baud_rate();
        }
        if baud == cflag::BOTHER {
            return self.ispeed;
        }
        table_rate(baud)
    }

    /// The control character at `index`, `None` when disabled.
    pub fn control(&self, index: usize) -> Option<u8> {
        Some(self.cc[index]).filter(|&c| c != DISABLED)
    }
}

fn table_rate(mut baud: u32) -> u32 {
    if baud & cflag::CBAUDEX != 0 {
        baud = (baud & !cflag::CBAUDEX) + 15;
    }
    BAUD_TABLE.get(baud as usize).copied().unwrap_or(0)
}

/// `struct winsize`: rows, columns and two pixel sizes nobody uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Winsize {
    pub rows: u16,
    pub cols: u16,
    pub xpixel: u16,
    pub ypixel: u16,
}

impl Winsize {
    pub const SIZE: usize = 8;

    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        for (index, value) in [self.rows, self.cols, self.xpixel, self.ypixel]
            .into_iter()
            .enumerate()
        {
            out[index * 2..index * 2 + 2].copy_from_slice(&value.to_le_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8; Self::SIZE]) -> Winsize {
        let half = |index: usize| u16::from_le_bytes([bytes[index * 2], bytes[index * 2 + 1]]);
        Winsize {
            rows: half(0),
            cols: half(1),
            xpixel: half(2),
            ypixel: half(3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slave_defaults_are_linuxs_pts_settings() {
        let termios = Termios::slave_default();
        // The numbers `stty -g` prints on a fresh Linux pseudo-terminal.
        assert_eq!(
            (termios.iflag, termios.oflag, termios.cflag, termios.lflag),
            (0o2400, 0o5, 0o277, 0o105073)
        );
        assert_eq!(termios.cc[cc::VINTR], 3);
        assert_eq!(termios.cc[cc::VERASE], 127);
        assert_eq!((termios.cc[cc::VMIN], termios.cc[cc::VTIME]), (1, 0));
        assert_eq!(termios.output_baud_rate(), 38400);
        let master = Termios::master_default();
        assert_eq!((master.iflag, master.oflag, master.lflag), (0, 0, 0));
        assert_eq!(master.cflag, 0o277);
    }

    #[test]
    fn termios_round_trips_through_each_layout() {
        let mut termios = Termios::slave_default();
        termios.lflag &= !lflag::ECHO;
        termios.cc[cc::VMIN] = 5;
        let bytes = termios.encode();
        assert_eq!(bytes.len(), 36);
        assert_eq!(&bytes[..4], &0o2400u32.to_le_bytes());
        assert_eq!(
            Termios::master_default().with_termios(&bytes).lflag,
            termios.lflag
        );
        let two = termios.encode2();
        assert_eq!(&two[36..], &[0x00, 0x96, 0, 0, 0x00, 0x96, 0, 0]);
        assert_eq!(Termios::master_default().with_termios2(&two), termios);
        let old = termios.encode_termio();
        assert_eq!(old[8], 0);
        assert_eq!(&old[9..17], &termios.cc[..8]);
        assert_eq!(Termios::slave_default().with_termio(&old).cc[cc::VMIN], 5);
    }

    #[test]
    fn termio_keeps_the_high_flag_bits() {
        let mut termios = Termios::slave_default();
        termios.lflag |= lflag::EXTPROC; // above bit 15
        let mut old = termios.encode_termio();
        old[6..8].copy_from_slice(&(lflag::ICANON as u16).to_le_bytes());
        let changed = termios.with_termio(&old);
        assert_eq!(changed.lflag, lflag::EXTPROC | lflag::ICANON);
    }

    #[test]
    fn speeds_follow_cflag_unless_bother() {
        let mut termios = Termios::slave_default();
        termios.cflag = (termios.cflag & !cflag::CBAUD) | 0o15; // B9600
        assert_eq!(termios.with_speeds_from_cflag().ospeed, 9600);
        assert_eq!(termios.with_speeds_from_cflag().ispeed, 9600);
        termios.cflag = (termios.cflag & !cflag::CBAUD) | 0o10002; // B115200
        assert_eq!(termios.output_baud_rate(), 115200);
        termios.cflag = (termios.cflag & !cflag::CBAUD) | cflag::BOTHER;
        termios.ospeed = 12345;
        assert_eq!(termios.with_speeds_from_cflag().ospeed, 12345);
        // An input field of B0 follows the output speed; BOTHER there takes c_ispeed.
        termios.cflag |= cflag::BOTHER << cflag::IBSHIFT;
        termios.ispeed = 777;
        assert_eq!(termios.input_baud_rate(), 777);
    }

    #[test]
    fn winsize_layout() {
        let size = Winsize {
            rows: 24,
            cols: 80,
            xpixel: 0,
            ypixel: 0,
        };
        assert_eq!(size.encode(), [24, 0, 80, 0, 0, 0, 0, 0]);
        assert_eq!(Winsize::decode(&size.encode()), size);
    }
}
