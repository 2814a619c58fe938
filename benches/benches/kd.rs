//! Key distribution: creating a room of `n` members, adding one member to it and removing one,
//! for every `n` of [`GROUP_SIZES`], per scheme.
//!
//! Each operation runs to completion through the synchronous harness
//! ([`conclave_schemes::testing::KdHarness`]): every message of the protocol is delivered and
//! processed, at the server and at every member, on one core. So the time is the total CPU work of
//! a change, all parties together, not its latency (which the simulator measures). Criterion
//! reports it per operation and, as throughput, per member of the room.
//!
//! * `kd/create`: a room of `n` members is created (rooms pile up in one harness, which is
//!   replaced, untimed, when it holds [`MEMBER_BUDGET`] memberships);
//! * `kd/join`: one user joins a room of `n` members (then leaves again, untimed);
//! * `kd/leave`: one member leaves a room of `n` members (then rejoins, untimed).
//!
//! The room's admin, user 0, makes every change. Every scheme of the registry's list
//! ([`conclave_schemes::registry::each_kd`]) is benched, up to its
//! [`largest_group`](conclave_benches::largest_group): a new scheme is its module plus one line
//! in that list.

use std::hint::black_box;
use std::time::{Duration, Instant};

use conclave_benches::{largest_group, members, rng, GROUP_SIZES, LARGE_GROUP};
use conclave_schemes::kd::{Change, KeyDistribution};
use conclave_schemes::registry::{self, KdScheme, KdVisitor};
use conclave_schemes::testing::KdHarness;
use conclave_schemes::{RoomId, UserId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Memberships one `kd/create` harness accumulates before it is replaced.
const MEMBER_BUDGET: u64 = 1 << 16;

/// The room the join and leave benches change.
const ROOM: RoomId = RoomId(1);

/// The user who makes every change (the room's admin; never removed).
const ADMIN: UserId = UserId(0);

/// Every key-distribution bench of scheme `K`.
fn bench_kd<K: KeyDistribution>(c: &mut Criterion) {
    bench_create::<K>(c);
    bench_change::<K>(c, Step::Join);
    bench_change::<K>(c, Step::Leave);
}

fn bench_create<K: KeyDistribution>(c: &mut Criterion) {
    let mut group = c.benchmark_group("kd/create");
    for n in GROUP_SIZES
        .into_iter()
        .filter(|&n| n <= largest_group(K::NAME))
    {
        if n >= LARGE_GROUP {
            group.sample_size(10);
        }
        group.throughput(Throughput::Elements(u64::from(n)));
        let mut rng = rng(K::NAME);
        let roster = members(n);
        // Made on first use, so a filtered-out size costs nothing.
        let mut harness: Option<KdHarness<K>> = None;
        let mut rooms: u32 = 0;
        let per_harness = (MEMBER_BUDGET / u64::from(n)).max(1);
        group.bench_function(BenchmarkId::new(K::NAME, n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    if harness.is_none() || u64::from(rooms) >= per_harness {
                        harness = None;
                        rooms = 0;
                    }
                    let h = harness.get_or_insert_with(|| KdHarness::<K>::new(n, &mut rng));
                    let room = RoomId(rooms);
                    rooms += 1;
                    let start = Instant::now();
                    h.create(room, &roster, ADMIN, &mut rng);
                    total += start.elapsed();
                    black_box(&*h);
                }
                total
            });
        });
    }
    group.finish();
}

/// Which change `bench_change` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// User `n` joins a room of members `0..n`.
    Join,
    /// Member `n - 1` leaves a room of members `0..n`.
    Leave,
}

fn bench_change<K: KeyDistribution>(c: &mut Criterion, step: Step) {
    let name = match step {
        Step::Join => "kd/join",
        Step::Leave => "kd/leave",
    };
    let mut group = c.benchmark_group(name);
    for n in GROUP_SIZES
        .into_iter()
        .filter(|&n| n <= largest_group(K::NAME))
    {
        if n >= LARGE_GROUP {
            group.sample_size(10);
        }
        group.throughput(Throughput::Elements(u64::from(n)));
        let mut rng = rng(K::NAME);
        let who = [match step {
            Step::Join => UserId(n),
            Step::Leave => UserId(n - 1),
        }];
        // Made on first use, so a filtered-out size costs nothing: users 0..n are the room,
        // user n is the one who joins (and leaves again).
        let mut harness: Option<KdHarness<K>> = None;
        group.bench_function(BenchmarkId::new(K::NAME, n), |b| {
            let h = harness.get_or_insert_with(|| {
                let mut h = KdHarness::<K>::new(n + 1, &mut rng);
                h.create(ROOM, &members(n), ADMIN, &mut rng);
                h
            });
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (change, undo) = match step {
                        Step::Join => (Change::Add(&who), Change::Remove(&who)),
                        Step::Leave => (Change::Remove(&who), Change::Add(&who)),
                    };
                    let start = Instant::now();
                    h.change(ROOM, ADMIN, change, &mut rng);
                    total += start.elapsed();
                    black_box(&*h);
                    h.change(ROOM, ADMIN, undo, &mut rng);
                }
                total
            });
        });
    }
    group.finish();
}

/// [`bench_kd`] for one registered scheme.
struct EveryScheme<'c>(&'c mut Criterion);

impl KdVisitor for EveryScheme<'_> {
    fn visit<K: KdScheme>(&mut self) {
        bench_kd::<K>(self.0);
    }
}

/// Every scheme of the registry's list.
fn all_schemes(c: &mut Criterion) {
    registry::each_kd(&mut EveryScheme(c));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = all_schemes
}
criterion_main!(benches);
