//! The console: COM1, the `log` backend on it, and unconditional lines for the few things
//! that must always be said (exit status, faults, test results).
//!
//! Log lines read `[   s.micros] LEVEL target: message`, stamped by [`crate::timeline`].

use core::fmt::{self, Write};

use arch::serial::SerialPort;
use log::{LevelFilter, Log, Metadata, Record};
use spin::Mutex;

use crate::timeline;

static CONSOLE: Mutex<Option<SerialPort>> = Mutex::new(None);
static LOGGER: ConsoleLogger = ConsoleLogger;

/// Opens COM1 and installs the logger (level `warn` until the command line says otherwise).
pub fn init() {
    *CONSOLE.lock() = Some(arch::serial::open_com1());
    // Fails only if a logger is already set, which would be a second init: keep the first.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(LevelFilter::Warn);
}

pub fn set_max_level(level: LevelFilter) {
    log::set_max_level(level);
}

/// Writes one line whatever the log level. Never blocks: if the console is held (the
/// failure being reported may have struck while it was), a second handle on the port is
/// used, at worst interleaving with the interrupted line.
pub fn print_line(args: fmt::Arguments<'_>) {
    match CONSOLE.try_lock() {
        Some(mut console) => match console.as_mut() {
            Some(port) => write_line(port, args),
            None => write_line(&mut arch::serial::emergency_com1(), args),
        },
        None => write_line(&mut arch::serial::emergency_com1(), args),
    }
}

/// Writes raw bytes (a user program's output) to the console.
pub fn write_bytes(bytes: &[u8]) {
    let mut console = CONSOLE.lock();
    if let Some(port) = console.as_mut() {
        for &byte in bytes {
            port.send_raw(byte);
        }
    }
}

fn write_line(port: &mut SerialPort, args: fmt::Arguments<'_>) {
    // The serial port never reports a write error.
    let _ = port.write_fmt(args);
    let _ = port.write_str("\n");
}

struct ConsoleLogger;

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let stamp = timeline::now();
        let target = record
            .target()
            .strip_prefix("kernel::")
            .unwrap_or(record.target());
        print_line(format_args!(
            "{stamp} {:<5} {target}: {}",
            record.level(),
            record.args()
        ));
    }

    fn flush(&self) {}
}
