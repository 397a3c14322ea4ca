//! The 16550 UART on COM1: the console every VMM we target provides.

pub use uart_16550::SerialPort;

const COM1: u16 = 0x3f8;

/// The console's serial port, programmed (baud, FIFO) once at boot.
pub fn open_com1() -> SerialPort {
    // SAFETY: 0x3f8..0x400 is COM1's I/O range on every PC-compatible machine and nothing else in the kernel uses those ports.
    let mut port = unsafe { SerialPort::new(COM1) };
    port.init();
    port
}

/// A second handle on COM1 for the last words of a panic or fault, used when the console's
/// lock may be held by the code that failed. It does not re-program the port.
pub fn emergency_com1() -> SerialPort {
    // SAFETY: as above; the console is being abandoned, so interleaving with it is harmless.
    unsafe { SerialPort::new(COM1) }
}

/// The other standard serial ports, which the host adds for the container's standard
/// streams (`stdio=ports`): COM2 at 0x2f8, COM3 at 0x3e8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Com {
    Com2,
    Com3,
}

/// `com` programmed as COM1 is, if the machine has it: a missing port keeps nothing in its
/// scratch register (and reads all ones, which would look like endless input).
pub fn open(com: Com) -> Option<SerialPort> {
    use x86_64::instructions::port::Port;
    let base = match com {
        Com::Com2 => 0x2f8,
        Com::Com3 => 0x3e8,
    };
    let mut scratch = Port::<u8>::new(base + 7);
    // SAFETY: base..base + 8 is this standard port's I/O range on every PC-compatible machine, and only this module touches it; the scratch register has no effect on the device.
    let present = unsafe {
        scratch.write(0x5a);
        scratch.read() == 0x5a
    };
    if !present {
        return None;
    }
    // SAFETY: as above: the port is there and nothing else in the kernel uses its range.
    let mut port = unsafe { SerialPort::new(base) };
    port.init();
    Some(port)
}
