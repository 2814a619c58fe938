//! Scheme-specific searchable-encryption costs that the generic `sse` bench does not cover.
//!
//! * `sse/rekey`: `rekey-index`'s server-side re-keying of an index of [`REKEY_ENTRIES`]
//!   distinct tags (one message per keyword), on a rayon pool of 1 and 2 threads (the benchmark
//!   id is the thread count); throughput in entries (tags raised), so criterion prints entries
//!   per second. Each iteration is one epoch change: the factor is made untimed by the changer's
//!   client, the server's handling of it is timed.
//! * `sse/epochs`: a complete `per-epoch` search by a member who held every one of `E` epochs,
//!   `E` in [`EPOCH_COUNTS`]: the query carries `E` labels and the server makes `E` lookups. Each
//!   epoch indexes [`MESSAGES_PER_EPOCH`] messages of filler keywords; the searched keyword is on
//!   [`NEEDLES`] messages of the first epoch, so the result count stays fixed as `E` grows.
//!
//! Index update throughput and search time against the result count, per scheme, are in the
//! `sse` bench (`sse/index`, `sse/apply`, `sse/search`).

use conclave_schemes::rekeying::{RekeyingClient, RekeyingServer};
use std::hint::black_box;
use std::time::{Duration, Instant};

use conclave_benches::{rng, search, search_room, word, VOCABULARY};
use conclave_schemes::pre::{EpochChange, KeyView};
use conclave_schemes::sse::per_epoch::PerEpoch;
use conclave_schemes::sse::rekey_index::RekeyIndex;
use conclave_schemes::sse::{SearchableEncryption, SseClient, SseServer};
use conclave_schemes::{Dest, Epoch, EpochSecret, MsgId, Outbox, RoomId, UserId};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use rand_chacha::ChaCha20Rng;

/// Distinct tags in the re-keyed index.
const REKEY_ENTRIES: u64 = 10_000;

/// Rayon pool sizes the re-keying runs on.
const THREADS: [usize; 2] = [1, 2];

/// Numbers of epochs a `per-epoch` search spans.
const EPOCH_COUNTS: [u64; 3] = [1, 10, 100];

/// Messages indexed in every epoch of the `sse/epochs` room.
const MESSAGES_PER_EPOCH: u64 = 10;

/// Messages of the first epoch that carry the searched keyword.
const NEEDLES: u64 = 10;

/// The keyword `sse/epochs` looks for (not in the synthetic vocabulary).
const NEEDLE: &str = "needle";

/// Moves `client` (the changer, alone in the room) from epoch `prev` to `next`, routing its
/// control traffic (client to server only) through `server`. Returns the server's handling time.
fn change_epoch<S: SearchableEncryption>(
    client: &mut S::Client,
    server: &mut S::Server,
    prev: KeyView<'_>,
    next: KeyView<'_>,
    rng: &mut ChaCha20Rng,
) -> Duration {
    let mut out = Outbox::new();
    client
        .epoch_changed(
            EpochChange {
                prev: Some(prev),
                next,
                changer: true,
                shares_history: true,
            },
            rng,
            &mut out,
        )
        .unwrap_or_else(|e| panic!("{}: epoch_changed: {e}", S::NAME));
    server
        .name_changer(next.room, next.epoch, UserId(0))
        .unwrap_or_else(|e| panic!("{}: naming the changer: {e}", S::NAME));
    let mut spent = Duration::ZERO;
    for (dest, msg) in out.drain() {
        assert_eq!(
            dest,
            Dest::Server,
            "{}: a changer's message to a user",
            S::NAME
        );
        let start = Instant::now();
        let work = server
            .handle(next.room, UserId(0), msg, rng, &mut Outbox::new())
            .unwrap_or_else(|e| panic!("{}: server handle: {e}", S::NAME));
        spent += start.elapsed();
        black_box(work);
    }
    spent
}

/// `sse/rekey`: re-keying throughput of `rekey-index` on 1 and 2 threads.
fn bench_rekey(c: &mut Criterion) {
    let room = RoomId(1);
    let mut rng = rng("sse/rekey");
    let mut secret = EpochSecret::random(&mut rng);
    let mut epoch = Epoch(0);
    let first = KeyView {
        room,
        epoch,
        secret: &secret,
    };
    let (mut clients, mut server) = search_room::<RekeyIndex>(1, first, &mut rng);
    let mut client = clients
        .pop()
        .unwrap_or_else(|| unreachable!("one client was made"));
    for i in 0..REKEY_ENTRIES {
        let keyword = word(i);
        let update = client
            .index(first, MsgId(i), &[keyword.as_str()], &mut rng)
            .unwrap_or_else(|e| panic!("index: {e}"));
        server
            .apply(room, update)
            .unwrap_or_else(|e| panic!("apply: {e}"));
    }

    let mut group = c.benchmark_group("sse/rekey");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(REKEY_ENTRIES));
    for threads in THREADS {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap_or_else(|e| panic!("rayon pool of {threads}: {e}"));
        group.bench_function(BenchmarkId::new(RekeyIndex::NAME, threads), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let next_secret = EpochSecret::random(&mut rng);
                    let prev = KeyView {
                        room,
                        epoch,
                        secret: &secret,
                    };
                    let next_epoch = epoch.next().expect("a bench never exhausts its epochs");
                    let next = KeyView {
                        room,
                        epoch: next_epoch,
                        secret: &next_secret,
                    };
                    total += pool.install(|| {
                        change_epoch::<RekeyIndex>(&mut client, &mut server, prev, next, &mut rng)
                    });
                    secret = next_secret;
                    epoch = next_epoch;
                }
                total
            });
        });
    }
    group.finish();

    // The index still answers under the latest key.
    let key = KeyView {
        room,
        epoch,
        secret: &secret,
    };
    let found = search::<RekeyIndex>(&mut client, &server, key, &word(7), &mut rng);
    assert_eq!(found, vec![MsgId(7)], "rekey-index: search after re-keying");
}

/// `sse/epochs`: `per-epoch` search time against the number of epochs it spans.
fn bench_epochs(c: &mut Criterion) {
    let room = RoomId(1);
    let mut group = c.benchmark_group("sse/epochs");
    for epochs in EPOCH_COUNTS {
        let mut rng = rng(&format!("sse/epochs/{epochs}"));
        let mut secret = EpochSecret::random(&mut rng);
        let first = KeyView {
            room,
            epoch: Epoch(0),
            secret: &secret,
        };
        let (mut clients, mut server) = search_room::<PerEpoch>(1, first, &mut rng);
        let mut client = clients
            .pop()
            .unwrap_or_else(|| unreachable!("one client was made"));
        let mut msg = 0u64;
        for e in 0..epochs {
            if e > 0 {
                let next_secret = EpochSecret::random(&mut rng);
                let prev = KeyView {
                    room,
                    epoch: Epoch(e - 1),
                    secret: &secret,
                };
                let next = KeyView {
                    room,
                    epoch: Epoch(e),
                    secret: &next_secret,
                };
                change_epoch::<PerEpoch>(&mut client, &mut server, prev, next, &mut rng);
                secret = next_secret;
            }
            let key = KeyView {
                room,
                epoch: Epoch(e),
                secret: &secret,
            };
            for i in 0..MESSAGES_PER_EPOCH {
                let mut keywords: Vec<String> =
                    (0..3).map(|k| word((msg * 3 + k) % VOCABULARY)).collect();
                if e == 0 && i < NEEDLES {
                    keywords.push(NEEDLE.to_owned());
                }
                let refs: Vec<&str> = keywords.iter().map(String::as_str).collect();
                let update = client
                    .index(key, MsgId(msg), &refs, &mut rng)
                    .unwrap_or_else(|e| panic!("per-epoch: index: {e}"));
                server
                    .apply(room, update)
                    .unwrap_or_else(|e| panic!("per-epoch: apply: {e}"));
                msg += 1;
            }
        }
        let key = KeyView {
            room,
            epoch: Epoch(epochs - 1),
            secret: &secret,
        };
        let found = search::<PerEpoch>(&mut client, &server, key, NEEDLE, &mut rng);
        assert_eq!(found.len() as u64, NEEDLES, "per-epoch: result count");
        group.bench_function(BenchmarkId::new(PerEpoch::NAME, epochs), |b| {
            b.iter(|| search::<PerEpoch>(&mut client, &server, key, black_box(NEEDLE), &mut rng));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_rekey, bench_epochs
}
criterion_main!(benches);
