//! AFGH proxy re-encryption on BLS12-381 (arkworks): the operations of `afgh` and
//! `afgh-hybrid`, and the message server's bulk re-encryption.
//!
//! * `afgh/encapsulate`: a capsule `pk_1^r` and its secret `Z^r`;
//! * `afgh/rekey`: `between` (the changer's `rk_{K-1→K}` from both keys) and `compose` (moving a
//!   server-held `rk_{j→K-1}` to `K`); one `G_2` exponentiation each;
//! * `afgh/reencrypt`: one capsule with a prepared re-key (`prepared`), next to one plain
//!   `Bls12_381::pairing` of the same points (`pairing`) in the same run, for the ratio;
//! * `afgh/decrypt`: `first-level` opens a re-encrypted capsule from its 576 bytes (subgroup
//!   check, one `G_T` exponentiation, HKDF) as a reader does; `second-level` opens an origin
//!   capsule (one pairing with the cached `g_2^{1/a}`);
//! * `afgh/bulk-reencrypt/threads-T`: the `afgh` server handling the re-keys of a change, which
//!   re-encrypts all N stored capsules on a rayon pool of T threads (T = 1, 2), for N in
//!   [`BULK_SIZES`]. N above 10,000 is opt-in: `CONCLAVE_AFGH_BULK_MAX=100000`.
//!
//! ```sh
//! cargo bench -p conclave-benches --bench afgh -- 'afgh/(reencrypt|rekey|encapsulate|decrypt)'
//! CONCLAVE_AFGH_BULK_MAX=1000 cargo bench -p conclave-benches --bench afgh -- bulk-reencrypt
//! ```
//!
//! The 2-thread speed-up only means something on an otherwise idle machine with two free cores.

use conclave_schemes::rekeying::RekeyingServer;
use std::hint::black_box;
use std::time::{Duration, Instant};

use ark_bls12_381::Bls12_381;
use ark_ec::pairing::Pairing;
use conclave_benches::rng;
use conclave_schemes::pre::afgh::core::{Bls12, Capsule, EpochKey, Reencrypted, Rekey};
use conclave_schemes::pre::afgh::rekeying::{Control, OriginRekey};
use conclave_schemes::pre::afgh::{self, Afgh};
use conclave_schemes::pre::{HistoryClient, HistoryProtection, HistoryServer, KeyView};
use conclave_schemes::{Epoch, EpochSecret, MsgId, Outbox, RoomId, UserId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Stored capsules the bulk bench sweeps.
const BULK_SIZES: [u64; 5] = [10, 100, 1_000, 10_000, 100_000];
/// Largest N run by default.
const DEFAULT_BULK_MAX: u64 = 10_000;
/// Thread counts of the bulk bench.
const THREADS: [usize; 2] = [1, 2];

fn bench_operations(c: &mut Criterion) {
    let mut rng = rng("afgh");
    let origin = EpochKey::<Bls12>::random(&mut rng);
    let previous = EpochKey::random(&mut rng);
    let next = EpochKey::random(&mut rng);
    let pk1 = origin.public_g1();
    let (capsule, secret) = Capsule::encapsulate(&pk1, &mut rng);
    let rekey = Rekey::between(&origin, &next);
    let prepared = rekey.prepare();
    let reencrypted = prepared
        .reencrypt(&capsule)
        .unwrap_or_else(|e| panic!("afgh: re-encrypt: {e}"));
    let encoded = reencrypted
        .to_bytes()
        .unwrap_or_else(|e| panic!("afgh: encode: {e}"));
    let info: [&[u8]; 1] = [b"bench"];
    let expected = secret.derive_key(&info).ok();
    let opened = Reencrypted::from_bytes(&encoded)
        .map(|r| next.decapsulate_first(&r).derive_key(&info).ok());
    assert_eq!(opened, Ok(expected), "afgh: first-level round trip");
    let held = Rekey::between(&origin, &previous);

    let mut group = c.benchmark_group("afgh/encapsulate");
    group.bench_function("capsule", |b| {
        b.iter(|| Capsule::<Bls12>::encapsulate(black_box(&pk1), &mut rng));
    });
    group.finish();

    let mut group = c.benchmark_group("afgh/rekey");
    group.bench_function("between", |b| {
        b.iter(|| Rekey::between(black_box(&origin), black_box(&next)));
    });
    group.bench_function("compose", |b| {
        b.iter(|| black_box(&held).compose(&previous, &next));
    });
    group.finish();

    let mut group = c.benchmark_group("afgh/reencrypt");
    group.bench_function("prepared", |b| {
        b.iter(|| prepared.reencrypt(black_box(&capsule)));
    });
    let (p, q) = (capsule.point(), rekey.point());
    group.bench_function("pairing", |b| {
        b.iter(|| Bls12_381::pairing(black_box(p), black_box(q)));
    });
    group.finish();

    let mut group = c.benchmark_group("afgh/decrypt");
    group.bench_function("first-level", |b| {
        b.iter(|| {
            Reencrypted::from_bytes(black_box(&encoded))
                .map(|r| next.decapsulate_first(&r).derive_key(&info))
        });
    });
    // Warm the cached g_2^{1/a}, as a reader's second open of its epoch.
    let _ = origin.decapsulate_second(&capsule);
    group.bench_function("second-level", |b| {
        b.iter(|| {
            origin
                .decapsulate_second(black_box(&capsule))
                .map(|s| s.derive_key(&info))
        });
    });
    group.finish();
}

/// An `afgh` server holding `n` capsules sealed in epoch 0 of one room (one record stored under
/// `n` message ids: the server re-encrypts each copy all the same).
fn loaded_server(n: u64) -> <Afgh as HistoryProtection>::Server {
    let mut rng = rng("afgh/bulk");
    let room = RoomId(1);
    let secret = EpochSecret::random(&mut rng);
    let key = KeyView {
        room,
        epoch: Epoch(0),
        secret: &secret,
    };
    let record = Afgh::new_client(UserId(0))
        .seal(key, MsgId(0), &[7; 160], &mut rng)
        .unwrap_or_else(|e| panic!("afgh: seal: {e}"));
    let mut server = afgh::per_message::Server::default();
    for i in 0..n {
        server
            .store(room, MsgId(i), record.clone())
            .unwrap_or_else(|e| panic!("afgh: store: {e}"));
    }
    server
}

fn bench_bulk(c: &mut Criterion) {
    let max = std::env::var("CONCLAVE_AFGH_BULK_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_BULK_MAX);
    let mut rng = rng("afgh/bulk-rekey");
    let rekey = Rekey::between(
        &EpochKey::<Bls12>::random(&mut rng),
        &EpochKey::random(&mut rng),
    )
    .to_bytes()
    .unwrap_or_else(|e| panic!("afgh: encode: {e}"));
    let pools: Vec<(usize, rayon::ThreadPool)> = THREADS
        .iter()
        .map(|&t| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap_or_else(|e| panic!("rayon pool of {t}: {e}"));
            (t, pool)
        })
        .collect();
    for n in BULK_SIZES.into_iter().filter(|n| *n <= max) {
        let mut server = loaded_server(n);
        // Each change moves the room one epoch further, so every call re-encrypts all n.
        let mut to = 0;
        for (threads, pool) in &pools {
            let mut group = c.benchmark_group(format!("afgh/bulk-reencrypt/threads-{threads}"));
            group.throughput(Throughput::Elements(n));
            if n >= 100 {
                group.sample_size(10);
            }
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        to += 1;
                        let msg = Control::Rekeys {
                            to: Epoch(to),
                            rekeys: vec![OriginRekey {
                                origin: Epoch(0),
                                rekey,
                            }],
                        };
                        server
                            .name_changer(RoomId(1), Epoch(to), UserId(0))
                            .unwrap_or_else(|e| panic!("afgh: naming the changer: {e}"));
                        let start = Instant::now();
                        let work = pool.install(|| {
                            server.handle(RoomId(1), UserId(0), msg, &mut rng, &mut Outbox::new())
                        });
                        total += start.elapsed();
                        match work {
                            Ok(w) if w.units == n => {}
                            other => panic!("afgh: bulk re-encryption: {other:?}"),
                        }
                    }
                    total
                });
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_operations, bench_bulk
}
criterion_main!(benches);
