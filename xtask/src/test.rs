//! `cargo xtask test`: host unit tests, a short run of every fuzz target, then boot tests.

use anyhow::Result;

use crate::boot_tests::{self, Host};
use crate::cargo::{self, Profile};
use crate::cli::TestArgs;
use crate::fuzz;
use crate::guest;
use crate::host;
use crate::qemu;
use crate::setup;

pub fn test(args: TestArgs) -> Result<u8> {
    setup::for_test()?;
    eprintln!("xtask: {}", qemu::version()?);
    let mut fuzz_failed = Vec::new();
    if !args.boot_only {
        cargo::host_tests()?;
        eprintln!("xtask: fuzz targets, {} s each…", fuzz::SMOKE_SECONDS);
        fuzz_failed = fuzz::smoke().failed;
    }
    let kernel = cargo::build_kernel(Profile::Release)?;
    let accel = qemu::choose_accel(args.accel.accel);
    let fixtures = cargo::target_dir()?.join("xtask").join("boot-tests");
    let module = boot_tests::write_test_module(&fixtures)?;
    let shares = boot_tests::write_test_shares(&fixtures)?;
    let mut all = boot_tests::cases(accel, &module, &shares);
    all.extend(boot_tests::nine_p_cases(accel, &fixtures)?);
    let target = cargo::target_dir()?;
    let init = guest::build_init(&target)?;
    let programs = guest::build_test_programs(&target)?;
    let native = guest::native::build_native_programs(&target)?;
    all.extend(boot_tests::userland_cases(
        accel, &fixtures, &programs, &native, &init,
    )?);
    all.extend(boot_tests::debian_cases(
        accel,
        &fixtures,
        &target,
        args.filter.as_deref(),
    )?);
    // A dev build: nothing here times the runtime, and it finds the release kernel (its rule
    // tries `TARGET/x86_64-unknown-none/release/kernel` first).
    let runtime = cargo::build_runtime(Profile::Debug)?;
    all.extend(boot_tests::runtime_cases(accel, &fixtures, &runtime)?);
    let cases = boot_tests::filtered(all, args.filter.as_deref());
    eprintln!("xtask: {} boot tests ({accel})…", cases.len());
    let host = Host {
        kernel: &kernel,
        tsc_khz: host::tsc_khz(&host::cpuinfo()),
        cpus: args.cpus,
    };
    let summary = boot_tests::run_cases(&cases, host);
    if !fuzz_failed.is_empty() {
        println!("xtask: failed fuzz targets: {}", fuzz_failed.join(", "));
    }
    Ok(if summary.failed.is_empty() && fuzz_failed.is_empty() {
        0
    } else {
        1
    })
}
