//! What re-protecting stored history costs each history-protection scheme, by amount of history.
//!
//! For every scheme and every N given (default 100, 10,000 and 100,000), a room of 8 members
//! stores N messages sealed by its members, then one member leaves and rejoins. The leave is
//! timed with the server's data-parallel jobs on one thread, the rejoin (the same re-keying work)
//! on two, each end to end through the synchronous harness: the changer's re-keying, the message
//! server's re-encryption and any client round trips (`client-rewrap` re-wraps every header on
//! the client). Sealing the N messages is not timed.
//!
//! ```sh
//! cargo run --release -p conclave-benches --example reencrypt_table              # N = 100, 10000, 100000
//! cargo run --release -p conclave-benches --example reencrypt_table -- 100 1000  # chosen N
//! ```
//!
//! One measurement per cell (a change over 100,000 AFGH capsules takes minutes); run it on an
//! idle machine and repeat it to judge the noise. Criterion benches cover the per-capsule costs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use conclave_schemes::pre::afgh::{Afgh, AfghHybrid};
use conclave_schemes::pre::bbs98::Bbs98;
use conclave_schemes::pre::client_rewrap::ClientRewrap;
use conclave_schemes::pre::epoch_keys::EpochKeys;
use conclave_schemes::pre::keyhom::KeyHom;
use conclave_schemes::pre::HistoryProtection;
use conclave_schemes::testing::HistoryHarness;
use conclave_schemes::{RoomId, UserId};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const MEMBERS: u32 = 8;

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

fn row<H: HistoryProtection>(n: usize) {
    let mut rng = ChaCha20Rng::seed_from_u64(n as u64);
    let mut h = HistoryHarness::<H>::new(MEMBERS, RoomId(1), true);
    let members: Vec<UserId> = (0..MEMBERS).map(UserId).collect();
    h.create(&members, UserId(0), &mut rng);
    let text = [b'x'; 160];
    for i in 0..n {
        h.send(UserId(i as u32 % MEMBERS), &text, &mut rng);
    }
    let leaver = [UserId(MEMBERS - 1)];
    let time = |h: &mut HistoryHarness<H>, threads: usize, rng: &mut ChaCha20Rng, join: bool| {
        let before = (h.work.len(), h.control_bytes);
        let start = Instant::now();
        pool(threads).install(|| {
            if join {
                h.join(&leaver, UserId(0), rng);
            } else {
                h.remove(&leaver, UserId(0), rng);
            }
        });
        let spent = start.elapsed();
        let units: u64 = h.work[before.0..]
            .iter()
            .filter(|w| w.parallel)
            .map(|w| w.units)
            .sum();
        (spent, units, h.control_bytes - before.1)
    };
    let (one, units, bytes) = time(&mut h, 1, &mut rng, false);
    let (two, _, _) = time(&mut h, 2, &mut rng, true);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| {} | {n} | {:.2} | {:.2} | {:.2}× | {units} | {bytes} |",
        H::NAME,
        ms(one),
        ms(two),
        ms(one) / ms(two).max(1e-9)
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("history sizes are integers"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100, 10_000, 100_000]
    } else {
        sizes
    };
    println!("| scheme | stored messages | re-key, 1 thread (ms) | 2 threads (ms) | speed-up | records re-encrypted | control bytes |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for &n in &sizes {
        row::<EpochKeys>(n);
        row::<ClientRewrap>(n);
        row::<Bbs98>(n);
        row::<KeyHom>(n);
        row::<AfghHybrid>(n);
        row::<Afgh>(n);
    }
}
