//! The kernel's random numbers (`getrandom`, `/dev/urandom`, `AT_RANDOM`): ChaCha20 seeded
//! once at boot from every source there is: RDRAND when the CPU has it, the TSC, and bytes
//! the host passes on the command line. No single weak source can make it predictable.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use spin::Mutex;

static GENERATOR: Mutex<Option<ChaCha20Rng>> = Mutex::new(None);

/// Seeds the generator; `host_entropy` comes from the command line (may be empty).
pub fn init(host_entropy: &[u8]) {
    let mut seed = [0u8; 32];
    for (index, byte) in host_entropy.iter().enumerate() {
        seed[index % 32] ^= byte;
    }
    for chunk in seed.chunks_mut(8) {
        let mixed =
            arch::cpu::hardware_random().unwrap_or(0) ^ arch::cpu::read_tsc().rotate_left(17);
        for (byte, source) in chunk.iter_mut().zip(mixed.to_le_bytes()) {
            *byte ^= source;
        }
    }
    *GENERATOR.lock() = Some(ChaCha20Rng::from_seed(seed));
}

pub fn fill(buf: &mut [u8]) {
    let mut generator = GENERATOR.lock();
    let generator =
        generator.get_or_insert_with(|| ChaCha20Rng::seed_from_u64(arch::cpu::read_tsc()));
    generator.fill_bytes(buf);
}
