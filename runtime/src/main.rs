//! The `sandbox-runtime` command (runc's command line).

fn main() {
    println!("sandbox-runtime {}", env!("CARGO_PKG_VERSION"));
}
