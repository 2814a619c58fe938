//! History protection: sealing, opening and storing message bodies of [`BODY_SIZES`], per
//! scheme; and the TLS record layer every client-server hop of every stack pays.
//!
//! * `pre/seal`: a member seals a body as a new message (key header and body);
//! * `pre/open`: another member opens the stored record;
//! * `pre/store`: the message server stores a sealed record (records are stored in chunks of
//!   [`STORE_CHUNK`] into a fresh server that holds only the room's epoch, made and dropped
//!   untimed);
//! * `tls/seal`, `tls/open`: [`RecordChannel`] on payloads of [`RECORD_SIZES`], a fresh channel
//!   direction per call, as the `measured` cost model charges it.
//!
//! Throughput is in body (payload) bytes. The room is at its first epoch, which both members
//! entered as they would in the simulator (the creator as the changer, its control traffic
//! routed through the server). Every scheme of the registry's list
//! ([`conclave_schemes::registry::each_history`]) is benched: a new scheme is its module plus
//! one line in that list.

use std::hint::black_box;
use std::time::Duration;

use conclave_benches::{history_room, rng, time_chunked, BODY_SIZES, RECORD_SIZES};
use conclave_schemes::channel::{self, RecordChannel};
use conclave_schemes::pre::{HistoryClient, HistoryProtection, HistoryServer, KeyView};
use conclave_schemes::registry::{self, HistoryScheme, HistoryVisitor};
use conclave_schemes::{Epoch, EpochSecret, MsgId, RoomId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Records stored into one server before it is replaced (untimed), bounding memory at 64 MiB
/// for 64 KiB bodies.
const STORE_CHUNK: u64 = 1024;

/// Every history-protection bench of scheme `H`.
fn bench_pre<H: HistoryProtection>(c: &mut Criterion) {
    let room = RoomId(1);
    let mut rng = rng(H::NAME);
    let secret = EpochSecret::random(&mut rng);
    let key = KeyView {
        room,
        epoch: Epoch(0),
        secret: &secret,
    };
    // Alice (user 0) created the room and sends; Bob (user 1) reads.
    let (clients, mut server) = history_room::<H>(2, key, &mut rng);
    let [mut alice, mut bob] = <[H::Client; 2]>::try_from(clients)
        .unwrap_or_else(|_| unreachable!("two clients were made"));

    let bodies: Vec<Vec<u8>> = BODY_SIZES
        .iter()
        .map(|&len| (0..len).map(|i| (i % 251) as u8).collect())
        .collect();
    // One stored record per size, ids 0, 1, 2.
    let mut stored = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let id = MsgId(i as u64);
        let sealed = alice
            .seal(key, id, body, &mut rng)
            .unwrap_or_else(|e| panic!("{}: seal: {e}", H::NAME));
        server
            .store(room, id, sealed)
            .unwrap_or_else(|e| panic!("{}: store: {e}", H::NAME));
        let record = server
            .get(room, id)
            .unwrap_or_else(|| panic!("{}: stored record missing", H::NAME));
        let opened = bob
            .open(key, id, &record)
            .unwrap_or_else(|e| panic!("{}: open: {e}", H::NAME));
        assert_eq!(
            opened.plaintext().as_deref(),
            Some(&body[..]),
            "{}: round trip",
            H::NAME
        );
        stored.push((id, record));
    }

    let mut group = c.benchmark_group("pre/seal");
    let mut next = BODY_SIZES.len() as u64;
    for body in &bodies {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new(H::NAME, body.len()), body, |b, body| {
            b.iter(|| {
                next += 1;
                alice.seal(key, MsgId(next), black_box(body), &mut rng)
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("pre/open");
    for (id, record) in &stored {
        let len = bodies[id.0 as usize].len();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new(H::NAME, len), record, |b, record| {
            b.iter(|| bob.open(key, *id, black_box(record)));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("pre/store");
    for (id, record) in &stored {
        let len = bodies[id.0 as usize].len();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new(H::NAME, len), record, |b, record| {
            b.iter_custom(|iters| {
                time_chunked(
                    iters,
                    STORE_CHUNK,
                    |n| {
                        let records: Vec<_> = (0..n).map(|_| record.clone()).collect();
                        // Each chunk's server has the room's epoch, without records.
                        let (_, server) = history_room::<H>(1, key, &mut rng);
                        (server, records)
                    },
                    |(server, records), i| {
                        if let Some(record) = records.pop() {
                            if let Err(e) = server.store(room, MsgId(i), record) {
                                panic!("{}: store: {e}", H::NAME);
                            }
                        }
                        black_box(&*server);
                    },
                )
            });
        });
    }
    group.finish();
}

/// The TLS record layer: sealing and opening payloads of [`RECORD_SIZES`].
fn bench_tls(c: &mut Criterion) {
    const KEY: [u8; 32] = [7; 32];
    const IV: [u8; 12] = [1; 12];
    let payloads: Vec<Vec<u8>> = RECORD_SIZES
        .iter()
        .map(|&len| (0..len).map(|i| (i % 251) as u8).collect())
        .collect();

    let mut group = c.benchmark_group("tls/seal");
    for payload in &payloads {
        let mut wire = Vec::with_capacity(channel::wire_len(payload.len()));
        group.throughput(Throughput::Bytes(payload.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("record", payload.len()),
            payload,
            |b, payload| {
                b.iter(|| {
                    wire.clear();
                    RecordChannel::new(&KEY, IV).seal(black_box(payload), &mut wire)
                });
            },
        );
    }
    group.finish();

    let mut group = c.benchmark_group("tls/open");
    for payload in &payloads {
        let mut wire = Vec::new();
        RecordChannel::new(&KEY, IV)
            .seal(payload, &mut wire)
            .unwrap_or_else(|e| panic!("tls: seal: {e}"));
        let opened = RecordChannel::new(&KEY, IV)
            .open(&wire)
            .unwrap_or_else(|e| panic!("tls: open: {e}"));
        assert_eq!(&opened, payload, "tls: round trip");
        group.throughput(Throughput::Bytes(payload.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("record", payload.len()),
            &wire,
            |b, wire| {
                b.iter(|| RecordChannel::new(&KEY, IV).open(black_box(wire)));
            },
        );
    }
    group.finish();
}

/// [`bench_pre`] for one registered scheme.
struct EveryScheme<'c>(&'c mut Criterion);

impl HistoryVisitor for EveryScheme<'_> {
    fn visit<H: HistoryScheme>(&mut self) {
        bench_pre::<H>(self.0);
    }
}

/// Every scheme of the registry's list.
fn all_schemes(c: &mut Criterion) {
    registry::each_history(&mut EveryScheme(c));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = all_schemes, bench_tls
}
criterion_main!(benches);
