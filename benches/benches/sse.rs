//! Searchable encryption: index updates and keyword search, per scheme.
//!
//! * `sse/index`: a member computes the index update of a message carrying
//!   [`KEYWORDS_PER_UPDATE`] keywords (throughput in keyword-message pairs);
//! * `sse/apply`: the search server applies such updates to a growing index (server and client
//!   replaced, untimed, every [`APPLY_RESET`] updates; updates are computed untimed in chunks of
//!   [`APPLY_CHUNK`]);
//! * `sse/search`: a complete search (query, every round, resolution of the replies) for a
//!   keyword that matches exactly `N` messages, `N` in [`RESULT_COUNTS`]; reported per result,
//!   as OpenSSE does. The index holds `N` messages, each with the searched keyword and
//!   [`FILLERS`] other keywords.
//!
//! The room is at its first epoch, entered as in the simulator (the creator as the changer, its
//! control traffic routed through the server). Every scheme of the registry's list
//! ([`conclave_schemes::registry::each_sse`]) is benched: a new scheme is its module plus one
//! line in that list.

use std::hint::black_box;
use std::time::{Duration, Instant};

use conclave_benches::{
    message_keywords, rng, search, search_room, word, KEYWORDS_PER_UPDATE, LARGE_RESULT,
    RESULT_COUNTS, VOCABULARY,
};
use conclave_schemes::pre::KeyView;
use conclave_schemes::registry::{self, SseVisitor};
use conclave_schemes::sse::{SearchableEncryption, SseClient, SseServer};
use conclave_schemes::{Epoch, EpochSecret, MsgId, RoomId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand_chacha::ChaCha20Rng;

/// Distinct keyword sets `sse/index` cycles through (made before timing).
const KEYWORD_SETS: u64 = 4096;

/// Updates computed (untimed) and then applied (timed) at a time by `sse/apply`.
const APPLY_CHUNK: u64 = 4096;

/// Updates one `sse/apply` server takes before it is replaced.
const APPLY_RESET: u64 = 200_000;

/// Keywords besides the searched one on each message of the `sse/search` index.
const FILLERS: u64 = 3;

/// The keyword `sse/search` looks for (not in the synthetic vocabulary).
const NEEDLE: &str = "needle";

/// Every searchable-encryption bench of scheme `S`.
fn bench_sse<S: SearchableEncryption>(c: &mut Criterion) {
    let room = RoomId(1);
    let mut rng = rng(S::NAME);
    let secret = EpochSecret::random(&mut rng);
    let key = KeyView {
        room,
        epoch: Epoch(0),
        secret: &secret,
    };
    // One member (user 0, who created the room) indexes and searches.
    let fresh = |rng: &mut ChaCha20Rng| {
        let (mut clients, server) = search_room::<S>(1, key, rng);
        let client = clients
            .pop()
            .unwrap_or_else(|| unreachable!("one client was made"));
        (client, server)
    };
    let (mut client, mut server) = fresh(&mut rng);

    let keyword_sets: Vec<Vec<String>> = (0..KEYWORD_SETS).map(message_keywords).collect();
    let keyword_refs: Vec<Vec<&str>> = keyword_sets
        .iter()
        .map(|set| set.iter().map(String::as_str).collect())
        .collect();
    let keywords = |i: u64| &keyword_refs[(i % KEYWORD_SETS) as usize];

    let mut group = c.benchmark_group("sse/index");
    group.throughput(Throughput::Elements(KEYWORDS_PER_UPDATE as u64));
    let mut next = 0u64;
    group.bench_function(BenchmarkId::new(S::NAME, KEYWORDS_PER_UPDATE), |b| {
        b.iter(|| {
            next += 1;
            client.index(key, MsgId(next), black_box(keywords(next)), &mut rng)
        });
    });
    group.finish();

    let mut group = c.benchmark_group("sse/apply");
    group.throughput(Throughput::Elements(KEYWORDS_PER_UPDATE as u64));
    let mut applied = 0u64;
    group.bench_function(BenchmarkId::new(S::NAME, KEYWORDS_PER_UPDATE), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                if applied >= APPLY_RESET {
                    (client, server) = fresh(&mut rng);
                    applied = 0;
                }
                let n = (iters - done).min(APPLY_CHUNK);
                let updates: Vec<_> = (applied..applied + n)
                    .map(|i| {
                        client
                            .index(key, MsgId(i), keywords(i), &mut rng)
                            .unwrap_or_else(|e| panic!("{}: index: {e}", S::NAME))
                    })
                    .collect();
                let start = Instant::now();
                for update in updates {
                    if let Err(e) = server.apply(room, update) {
                        panic!("{}: apply: {e}", S::NAME);
                    }
                }
                total += start.elapsed();
                applied += n;
                done += n;
            }
            total
        });
    });
    group.finish();

    // One index, grown to each result count in turn (on first use, so filtered-out counts cost
    // nothing): message i carries the needle and FILLERS words of the vocabulary.
    let mut group = c.benchmark_group("sse/search");
    let (mut client, mut server) = fresh(&mut rng);
    let mut indexed = 0u64;
    for count in RESULT_COUNTS {
        if count >= LARGE_RESULT {
            group.sample_size(10);
        }
        group.throughput(Throughput::Elements(count));
        group.bench_function(BenchmarkId::new(S::NAME, count), |b| {
            if indexed < count {
                while indexed < count {
                    let mut kws = vec![NEEDLE.to_owned()];
                    kws.extend((0..FILLERS).map(|k| word((indexed * FILLERS + k) % VOCABULARY)));
                    let refs: Vec<&str> = kws.iter().map(String::as_str).collect();
                    let update = client
                        .index(key, MsgId(indexed), &refs, &mut rng)
                        .unwrap_or_else(|e| panic!("{}: index: {e}", S::NAME));
                    server
                        .apply(room, update)
                        .unwrap_or_else(|e| panic!("{}: apply: {e}", S::NAME));
                    indexed += 1;
                }
                let found = search::<S>(&mut client, &server, key, NEEDLE, &mut rng);
                assert_eq!(found.len() as u64, count, "{}: result count", S::NAME);
            }
            b.iter(|| search::<S>(&mut client, &server, key, black_box(NEEDLE), &mut rng));
        });
    }
    group.finish();
}

/// [`bench_sse`] for one registered scheme.
struct EveryScheme<'c>(&'c mut Criterion);

impl SseVisitor for EveryScheme<'_> {
    fn visit<S: SearchableEncryption>(&mut self) {
        bench_sse::<S>(self.0);
    }
}

/// Every scheme of the registry's list.
fn all_schemes(c: &mut Criterion) {
    registry::each_sse(&mut EveryScheme(c));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = all_schemes
}
criterion_main!(benches);
