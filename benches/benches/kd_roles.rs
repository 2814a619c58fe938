//! Key distribution per role: what one change costs the member making it, each other member, the
//! joiner and the key server, for every `n` of [`GROUP_SIZES`], per scheme.
//!
//! A change runs through the synchronous harness with an observer that times every call by role
//! (the schemes crate has no clock; the bench supplies it). For each change and role, criterion
//! gets the role's time for that change: `changer`, `joiner` (joins only), `server`, and
//! `member`, the mean over the other members (the figure whose growth with `n` tells O(1) from
//! O(n) per member). Bytes each role receives and sends per change are printed once per size.
//!
//! * `kd-roles/join/SCHEME-ROLE/n`: user `n` joins a room of members `0..n` (then leaves, untimed);
//! * `kd-roles/leave/SCHEME-ROLE/n`: member `n - 1` leaves (then rejoins, untimed).
//!
//! Every scheme of the registry's list ([`conclave_schemes::registry::each_kd`]) is benched, up
//! to its [`largest_group`](conclave_benches::largest_group).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use conclave_benches::{largest_group, members, rng, GROUP_SIZES, LARGE_GROUP};
use conclave_schemes::kd::{Change, KeyDistribution};
use conclave_schemes::registry::{self, KdScheme, KdVisitor};
use conclave_schemes::testing::{KdHarness, Observer, Role};
use conclave_schemes::{RoomId, UserId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const ROOM: RoomId = RoomId(1);
const ADMIN: UserId = UserId(0);

/// What one change cost each role.
#[derive(Debug, Default, Clone)]
struct Tally {
    changer: Duration,
    joiner: Duration,
    server: Duration,
    members: Duration,
    /// Distinct other members that did any work.
    member_count: u32,
    bytes: [(usize, usize); 4],
    seen: Vec<bool>,
}

/// Times calls by role for the change in progress.
struct Meter {
    joiner: Option<UserId>,
    started: Option<Instant>,
    tally: Rc<RefCell<Tally>>,
}

impl Meter {
    fn slot(&self, role: Role) -> usize {
        match role {
            Role::Changer(_) => 0,
            Role::Member(u) if Some(u) == self.joiner => 1,
            Role::Server => 2,
            Role::Member(_) => 3,
        }
    }
}

impl Observer for Meter {
    fn begin(&mut self, _role: Role) {
        self.started = Some(Instant::now());
    }

    fn end(&mut self, role: Role, bytes_in: usize, bytes_out: usize) {
        let spent = self.started.take().map_or(Duration::ZERO, |s| s.elapsed());
        let slot = self.slot(role);
        let mut t = self.tally.borrow_mut();
        match slot {
            0 => t.changer += spent,
            1 => t.joiner += spent,
            2 => t.server += spent,
            _ => t.members += spent,
        }
        if let Role::Member(u) = role {
            if slot == 3 {
                let i = u.0 as usize;
                if t.seen.len() <= i {
                    t.seen.resize(i + 1, false);
                }
                if !t.seen[i] {
                    t.seen[i] = true;
                    t.member_count += 1;
                }
            }
        }
        t.bytes[slot].0 += bytes_in;
        t.bytes[slot].1 += bytes_out;
    }
}

const ROLES: [&str; 4] = ["changer", "joiner", "server", "member"];

fn role_time(t: &Tally, role: &str) -> Duration {
    match role {
        "changer" => t.changer,
        "joiner" => t.joiner,
        "server" => t.server,
        _ => t.members / t.member_count.max(1),
    }
}

fn bench_roles<K: KeyDistribution>(c: &mut Criterion, join: bool) {
    let step = if join { "join" } else { "leave" };
    let mut group = c.benchmark_group(format!("kd-roles/{step}"));
    for n in GROUP_SIZES
        .into_iter()
        .filter(|&n| n <= largest_group(K::NAME))
    {
        if n >= LARGE_GROUP {
            group.sample_size(10);
        }
        let mut rng = rng(K::NAME);
        let subject = [if join { UserId(n) } else { UserId(n - 1) }];
        let tally = Rc::new(RefCell::new(Tally::default()));
        let mut harness: Option<KdHarness<K>> = None;
        let mut printed = false;
        for role in ROLES {
            if role == "joiner" && !join {
                continue;
            }
            group.bench_function(BenchmarkId::new(format!("{}-{role}", K::NAME), n), |b| {
                let h = harness.get_or_insert_with(|| {
                    let mut h = KdHarness::<K>::new(n + 1, &mut rng);
                    h.create(ROOM, &members(n), ADMIN, &mut rng);
                    h
                });
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (change, undo) = if join {
                            (Change::Add(&subject), Change::Remove(&subject))
                        } else {
                            (Change::Remove(&subject), Change::Add(&subject))
                        };
                        *tally.borrow_mut() = Tally::default();
                        h.observer = Some(Box::new(Meter {
                            joiner: join.then_some(subject[0]),
                            started: None,
                            tally: Rc::clone(&tally),
                        }));
                        h.change(ROOM, ADMIN, change, &mut rng);
                        h.observer = None;
                        total += role_time(&tally.borrow(), role);
                        h.change(ROOM, ADMIN, undo, &mut rng);
                    }
                    total
                });
            });
            let measured = tally.borrow().bytes.iter().any(|(i, o)| i + o > 0);
            if !printed && measured {
                let t = tally.borrow();
                let per_member = |(i, o): (usize, usize)| {
                    let m = t.member_count.max(1) as usize;
                    (i / m, o / m)
                };
                eprintln!(
                    "bytes per {step} at n = {n} ({}): changer in/out {:?}, joiner {:?}, server {:?}, each other member {:?} ({} members did work)",
                    K::NAME,
                    t.bytes[0],
                    t.bytes[1],
                    t.bytes[2],
                    per_member(t.bytes[3]),
                    t.member_count
                );
                // The last change's times for every role at once: with `--profile-time`, one
                // change is enough to read off a size where criterion's samples take too long.
                eprintln!(
                    "time of the last {step} at n = {n} ({}): changer {:?}, joiner {:?}, server {:?}, each other member {:?}",
                    K::NAME,
                    t.changer,
                    t.joiner,
                    t.server,
                    t.members / t.member_count.max(1)
                );
                printed = true;
            }
        }
    }
    group.finish();
}

fn bench_kd_roles<K: KeyDistribution>(c: &mut Criterion) {
    bench_roles::<K>(c, true);
    bench_roles::<K>(c, false);
}

/// [`bench_kd_roles`] for one registered scheme.
struct EveryScheme<'c>(&'c mut Criterion);

impl KdVisitor for EveryScheme<'_> {
    fn visit<K: KdScheme>(&mut self) {
        bench_kd_roles::<K>(self.0);
    }
}

/// Every scheme of the registry's list.
fn all_schemes(c: &mut Criterion) {
    registry::each_kd(&mut EveryScheme(c));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = all_schemes
}
criterion_main!(benches);
