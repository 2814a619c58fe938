//! `mls`: the key-distribution conformance suite, determinism of the seeded provider, and the
//! delivery service's ordering.
#![allow(clippy::unwrap_used)]

use conclave_schemes::kd::mls::Mls;
use conclave_schemes::testing;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

#[test]
fn mls_conformance() {
    testing::kd_conformance::<Mls>(&mut rng(31));
}
