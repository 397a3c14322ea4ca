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
