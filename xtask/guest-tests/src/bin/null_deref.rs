//! Reads address 0. Linux kills the process with SIGSEGV, so the sandbox must exit with
//! 128 + 11 = 139; a line after the read means the fault was swallowed.

fn main() {
    println!("null-deref: reading address 0");
    let value: u8;
    // Inline assembly, not a Rust null dereference: that is undefined behaviour the
    // compiler may delete, and the point is the exact load.
    // SAFETY: deliberately faults; the process never continues past it.
    unsafe { core::arch::asm!("mov {value}, byte ptr [{address}]", value = out(reg_byte) value, address = in(reg) 0usize) };
    println!("null-deref: survived, read {value}");
    std::process::exit(1);
}
