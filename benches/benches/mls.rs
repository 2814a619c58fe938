//! The `mls` scheme (RFC 9420 through mls-rs) per role, against mls-rs called directly.
//!
//! Rooms of [`SIZES`] members (`MLS_BENCH_MAX_N` caps them, default [`DEFAULT_MAX_N`]) are
//! created through the synchronous harness by one commit adding `n − 1` members
//! (`Change::Create`): the "bare" tree, where only the creator's direct path is set and every
//! other parent is blank. An observer times every call by role and counts the bytes each role
//! sends and receives. For every size and change, criterion gets one role's time, and each role's
//! mean over all the iterations run is printed with its bytes (`role means`).
//!
//! * `mls/join/ROLE/n`: member 0 adds user `n` (then removes it, untimed); ROLE is `changer`,
//!   `joiner`, `server` (the delivery service) or `member` (mean over the other members);
//! * `mls/leave/ROLE/n`: member 0 removes member `n − 1` (then adds it back, untimed);
//! * `mls/update/ROLE/n`: member 0 commits an update (`Change::Remove(&[])`, an empty commit
//!   with a path) in the bare tree; repeated updates by member 0 keep the tree's shape;
//! * `mls/update-full/ROLE/n` (n ≤ `MLS_BENCH_FULL_MAX_N`, default [`DEFAULT_FULL_MAX_N`]): the
//!   same update after every member has committed one update in turn, which fills every parent
//!   node (the "fully updated" tree). Filling costs n commits each processed by n − 1 members,
//!   so it is capped lower. Its set-up prints the commit-size row of `n` (the changer's
//!   `Commit` message, envelope included, and the bare MLS commit inside it), and the table of
//!   all rows is printed at the end;
//! * `mls/library/process-all/n` (n ≤ `MLS_BENCH_MAX_N`): mls-rs alone in a room where all n
//!   members hold their groups and each processes every update commit in turn, mean per member:
//!   the like-for-like figure for `mls/update/member/n`;
//! * `mls/library/{commit,process}/n` and `mls/library-full/{commit,process}/n`: mls-rs alone on
//!   the same tree (same provider [`SeededCrypto`], identity provider, commit options and
//!   creation by one add-all commit): the committer builds, encodes and merges an empty commit;
//!   a member decodes and processes it. Conclave's overhead over the library is
//!   `mls/update/changer` over `mls/library/commit`, and `mls/update/member` over
//!   `mls/library/process-all`;
//! * `mls/create/changer/1000` and `mls/library/create/1000`: member 0 creates a room of 1,000
//!   (one commit adding 999, merged), the figure to set beside OpenMLS's ~734 ms for adding
//!   1,000 members in one commit (xmtp/libxmtp#701); the joiners' Welcomes are not processed.
//!   `mls/update/changer/2` is the figure to set beside OpenMLS's 0.23 ms create-commit at n = 2.
//!
//! Commit size (RFC 9420 §7.8, §12.4.2): an update's UpdatePath encrypts each path secret to
//! the resolution of the copath node. In the bare tree the resolutions are the leaves
//! themselves, so the commit carries n − 1 HPKE ciphertexts: O(n). In the fully updated tree
//! each resolution is one node: log₂ n ciphertexts. Measured (suite 1, bytes of the changer's
//! `Commit` message: the MLS `PublicMessage` in an envelope of 7 to 9 bytes):
//!
//! | n | bare-tree commit | updated-tree commit |
//! |---:|---:|---:|
//! | 2 | 486 | 486 |
//! | 8 | 1,048 | 720 |
//! | 32 | 3,086 | 954 |
//! | 128 | 11,028 | 1,188 |
//! | 512 | 42,591 | (not filled: 512 × 511 processings) |
//! | 1,024 | 84,603 + 9 (mls-rs bench) | |
//! | 2,048 | 168,608 + 9 (mls-rs bench) | |
//! | 4,096 | 336,581 + 9 (mls-rs bench) | |
//!
//! (The mls-rs bench's commits are the same `PublicMessage`s without the envelope: 478, 1,040,
//! 3,078, 11,020 bytes bare and 478, 712, 946, 1,180 updated at n = 2 … 128.)
//! The updated tree grows by 234 bytes per doubling (one more HPKE ciphertext and path node);
//! the bare tree by about 82 bytes per member (one HPKE ciphertext of a 32-byte path secret).
//!
//! Times (2-core machine shared with other builds, `--warm-up-time 1 --measurement-time 2`,
//! Conclave and mls-rs run back to back in one process; across runs the load moved them by up
//! to 30 %), bare tree, update:
//!
//! | n | committer: Conclave / mls-rs | each other member: Conclave / mls-rs |
//! |---:|---:|---:|
//! | 2 | 0.424 / 0.415 ms (+2 %) | 0.200 / 0.205 ms (0 %) |
//! | 128 | 12.5 / 12.2 ms (+2 %) | 0.82 / 0.64 ms (+27 %) |
//! | 512 | 49.2 / 47.3 ms (+4 %) | 2.08 / 1.49 ms (+39 %) |
//!
//! That was with every member writing its whole group state (tree included, O(n)) to storage
//! after each epoch. A member now writes it when its terminal stores it (at logout) and every
//! eighth epoch (mls-rs keeps the past epochs it has not written in memory: never writing, a
//! member processing thousands of commits slowed down by about 100 µs each). Against
//! `mls/library/process-all` (the library in the same room: all n groups, each processing every
//! commit), one run (`--warm-up-time 2 --measurement-time 6`), each other member:
//!
//! | n | Conclave | mls-rs, all groups | mls-rs, two groups (`process`) |
//! |---:|---:|---:|---:|
//! | 2 | 224 µs | 241 µs (Conclave −7 %) | |
//! | 128 | 619 µs | 711 µs (−13 %) | 1.05 ms |
//! | 512 | 1.31 ms | 1.42 ms (−8 %) | 1.47 ms |
//!
//! Conclave comes out below the library because the library's groups never write, so they keep
//! every past epoch in memory as the bench goes on: the comparison bounds Conclave's overhead,
//! it does not measure it to the percent. The two-group figures are from the run before.
//! Creating a room of 1,000 (one commit adding 999, merged) cost the creator
//! 491 ms (mls-rs alone 473 ms, same run).
//!
//! Run one group at a time with short settings (a set-up at 2,048 or more takes minutes):
//!
//! ```sh
//! cargo bench -p conclave-benches --bench mls -- 'mls/update/' --warm-up-time 1 --measurement-time 2
//! cargo bench -p conclave-benches --bench mls -- 'mls/update-full/changer' --warm-up-time 1 --measurement-time 2
//! cargo bench -p conclave-benches --bench mls -- 'mls/library/' --warm-up-time 1 --measurement-time 2
//! MLS_BENCH_MAX_N=1024 cargo bench -p conclave-benches --bench mls -- 'mls/update/changer/1024$' --profile-time 1
//! ```
//!
//! Memory: every member holds the whole tree and its stored state, so the harness's room grows as
//! n²: 0.5 GB of peak RSS at n = 512 (`/usr/bin/time -v`), so about 2 GB at 1,024, 8 GB at 2,048
//! and over 24 GB at 4,096, which does not fit; hence [`DEFAULT_MAX_N`]. The mls-rs benches keep
//! two members' groups and run to 4,096.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use conclave_benches::{members, rng, LARGE_GROUP};
use conclave_schemes::kd::mls::client::{group_id, member_client, Config};
use conclave_schemes::kd::mls::identity::DirectoryIdentity;
use conclave_schemes::kd::mls::member::now;
use conclave_schemes::kd::mls::provider::{Entropy, SeededCrypto};
use conclave_schemes::kd::mls::{Message, Mls};
use conclave_schemes::kd::{Change, KdServer, Roster};
use conclave_schemes::testing::{KdHarness, Observer, Role};
use conclave_schemes::{Origin, Outbox, RoomId, UserId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mls_rs::storage_provider::in_memory::InMemoryGroupStateStorage;
use mls_rs::{CipherSuite, ExtensionList, Group, MlsMessage};
use rand_chacha::ChaCha20Rng;

/// Room sizes swept.
const SIZES: [u32; 8] = [2, 8, 32, 128, 512, 1024, 2048, 4096];
/// Largest room created through the harness unless `MLS_BENCH_MAX_N` says otherwise.
const DEFAULT_MAX_N: u32 = 512;
/// Largest room whose tree is filled (every member updates once) unless
/// `MLS_BENCH_FULL_MAX_N` says otherwise.
const DEFAULT_FULL_MAX_N: u32 = 128;
/// The room of the OpenMLS comparison: one commit adding 999 members.
const CREATE_N: u32 = 1000;

const ROOM: RoomId = RoomId(1);
const ADMIN: UserId = UserId(0);
const ROLES: [&str; 4] = ["changer", "joiner", "server", "member"];

fn env_cap(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// Conclave through the harness

/// What the changes measured so far cost each role, summed.
#[derive(Debug, Default, Clone)]
struct Tally {
    /// Changes summed.
    changes: u32,
    /// Time per slot: changer, joiner, server, other members (summed over members).
    time: [Duration; 4],
    /// Bytes (in, out) per slot.
    bytes: [(usize, usize); 4],
    /// Other-member calls (one per member per change).
    member_calls: u32,
    /// The last change's changer bytes out (its `Commit` message, for updates).
    last_changer_out: usize,
}

impl Tally {
    fn mean(&self, slot: usize) -> Duration {
        let d = if slot == 3 {
            self.member_calls.max(1)
        } else {
            self.changes.max(1)
        };
        self.time[slot] / d
    }
}

/// Times calls by role for the change in progress.
struct Meter {
    joiner: Option<UserId>,
    started: Option<Instant>,
    /// This change only.
    now: Tally,
    total: Rc<RefCell<Tally>>,
}

fn slot(role: Role, joiner: Option<UserId>) -> usize {
    match role {
        Role::Changer(_) => 0,
        Role::Member(u) if Some(u) == joiner => 1,
        Role::Server => 2,
        Role::Member(_) => 3,
    }
}

impl Observer for Meter {
    fn begin(&mut self, _role: Role) {
        self.started = Some(Instant::now());
    }

    fn end(&mut self, role: Role, bytes_in: usize, bytes_out: usize) {
        let spent = self.started.take().map_or(Duration::ZERO, |s| s.elapsed());
        let s = slot(role, self.joiner);
        let mut t = self.total.borrow_mut();
        t.time[s] += spent;
        t.bytes[s].0 += bytes_in;
        t.bytes[s].1 += bytes_out;
        self.now.time[s] += spent;
        if s == 0 {
            self.now.bytes[0].1 += bytes_out;
        }
        // MLS members handle exactly one message per change (the Handshake).
        if s == 3 {
            t.member_calls += 1;
            self.now.member_calls += 1;
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        let mut t = self.total.borrow_mut();
        t.changes += 1;
        t.last_changer_out = self.now.bytes[0].1;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Join,
    Leave,
    Update,
}

/// Runs one `step` on `h`'s room of `n` by [`ADMIN`] under a meter adding to `total`, then
/// undoes it unmetered; returns the time of `role` in this change (for `member`, the mean).
fn metered(
    h: &mut KdHarness<Mls>,
    n: u32,
    step: Step,
    role: &str,
    total: &Rc<RefCell<Tally>>,
    rng: &mut ChaCha20Rng,
) -> Duration {
    let subject = [match step {
        Step::Join => UserId(n),
        _ => UserId(n - 1),
    }];
    let (change, undo) = match step {
        Step::Join => (Change::Add(&subject), Some(Change::Remove(&subject))),
        Step::Leave => (Change::Remove(&subject), Some(Change::Add(&subject))),
        Step::Update => (Change::Remove(&[]), None),
    };
    let (before, calls_before) = {
        let t = total.borrow();
        (t.time, t.member_calls)
    };
    h.observer = Some(Box::new(Meter {
        joiner: (step == Step::Join).then_some(subject[0]),
        started: None,
        now: Tally::default(),
        total: Rc::clone(total),
    }));
    h.change(ROOM, ADMIN, change, rng);
    h.observer = None;
    if let Some(undo) = undo {
        h.change(ROOM, ADMIN, undo, rng);
    }
    let t = total.borrow();
    let i = ROLES.iter().position(|r| *r == role).unwrap_or(0);
    let spent = t.time[i] - before[i];
    if i == 3 {
        spent / (t.member_calls - calls_before).max(1)
    } else {
        spent
    }
}

fn print_means(label: &str, n: u32, t: &Tally) {
    if t.changes == 0 {
        return;
    }
    let c = t.changes as usize;
    let m = t.member_calls.max(1) as usize;
    eprintln!(
        "role means {label} n = {n} over {} changes: changer {:?} (in/out {} / {} B), joiner {:?} ({} / {} B), server {:?} ({} / {} B), each other member {:?} ({} / {} B)",
        t.changes,
        t.mean(0),
        t.bytes[0].0 / c,
        t.bytes[0].1 / c,
        t.mean(1),
        t.bytes[1].0 / c,
        t.bytes[1].1 / c,
        t.mean(2),
        t.bytes[2].0 / c,
        t.bytes[2].1 / c,
        t.mean(3),
        t.bytes[3].0 / m,
        t.bytes[3].1 / m,
    );
}

/// A harness with `users` users enrolled and the room of members `0..n` created by [`ADMIN`].
fn room(n: u32, users: u32, rng: &mut ChaCha20Rng) -> KdHarness<Mls> {
    let start = Instant::now();
    let mut h = KdHarness::<Mls>::new(users, rng);
    h.create(ROOM, &members(n), ADMIN, rng);
    eprintln!(
        "set-up: room of {n} created through the harness in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    h
}

/// The changer's `Commit` bytes of one update by [`ADMIN`].
fn update_bytes(h: &mut KdHarness<Mls>, rng: &mut ChaCha20Rng) -> usize {
    let total = Rc::new(RefCell::new(Tally::default()));
    metered(h, 2, Step::Update, "changer", &total, rng);
    let out = total.borrow().last_changer_out;
    out
}

/// Every member of the room of `n` commits one update, in turn: every parent is then set.
fn fill(h: &mut KdHarness<Mls>, n: u32, rng: &mut ChaCha20Rng) {
    let start = Instant::now();
    for u in 0..n {
        h.change(ROOM, UserId(u), Change::Remove(&[]), rng);
    }
    eprintln!(
        "set-up: {n} updates filled the tree of {n} in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// One row of the commit-size table: n, bare-tree bytes, updated-tree bytes (`Commit`
/// messages), and the same as bare MLS commits from the library bench when measured.
type SizeRow = (u32, usize, usize);

fn bench_roles(c: &mut Criterion, rows: &mut Vec<SizeRow>) {
    let max_n = env_cap("MLS_BENCH_MAX_N", DEFAULT_MAX_N);
    let full_max_n = env_cap("MLS_BENCH_FULL_MAX_N", DEFAULT_FULL_MAX_N);
    for n in SIZES.into_iter().filter(|&n| n <= max_n) {
        let mut rng = rng("mls");
        let mut harness: Option<KdHarness<Mls>> = None;
        for (name, step) in [
            ("join", Step::Join),
            ("leave", Step::Leave),
            ("update", Step::Update),
        ] {
            let mut group = c.benchmark_group(format!("mls/{name}"));
            if n >= LARGE_GROUP {
                group.sample_size(10);
            }
            let total = Rc::new(RefCell::new(Tally::default()));
            for role in ROLES {
                // No joiner but in a join; no other member in a leave of a room of 2.
                if (role == "joiner" && step != Step::Join)
                    || (role == "member" && step == Step::Leave && n <= 2)
                {
                    continue;
                }
                group.bench_function(BenchmarkId::new(role, n), |b| {
                    let h = harness.get_or_insert_with(|| room(n, n + 1, &mut rng));
                    b.iter_custom(|iters| {
                        (0..iters)
                            .map(|_| metered(h, n, step, role, &total, &mut rng))
                            .sum()
                    });
                });
            }
            group.finish();
            print_means(name, n, &total.borrow());
        }
        if n > full_max_n {
            continue;
        }
        // The fully updated tree: fill the same room (its shape is still the bare one: only
        // member 0's path is set), measuring an update's commit before and after.
        let mut group = c.benchmark_group("mls/update-full");
        if n >= LARGE_GROUP {
            group.sample_size(10);
        }
        let total = Rc::new(RefCell::new(Tally::default()));
        let mut filled = false;
        for role in ["changer", "server", "member"] {
            group.bench_function(BenchmarkId::new(role, n), |b| {
                let h = harness.get_or_insert_with(|| room(n, n + 1, &mut rng));
                if !filled {
                    let bare = update_bytes(h, &mut rng);
                    fill(h, n, &mut rng);
                    let full = update_bytes(h, &mut rng);
                    eprintln!("commit bytes at n = {n}: bare tree {bare}, updated tree {full}");
                    rows.push((n, bare, full));
                    filled = true;
                }
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| metered(h, n, Step::Update, role, &total, &mut rng))
                        .sum()
                });
            });
        }
        group.finish();
        print_means("update-full", n, &total.borrow());
    }
}

/// Conclave's creation of a room of [`CREATE_N`]: the creator's calls only (its `Create`, the
/// key packages' commit, the acceptance), each on a fresh room.
fn bench_create(c: &mut Criterion) {
    let mut group = c.benchmark_group("mls/create");
    group.sample_size(10);
    let mut rng = rng("mls create");
    let mut harness: Option<KdHarness<Mls>> = None;
    let mut next_room = 1000;
    let roster_members = members(CREATE_N);
    group.bench_function(BenchmarkId::new("changer", CREATE_N), |b| {
        let h = harness.get_or_insert_with(|| KdHarness::<Mls>::new(CREATE_N, &mut rng));
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                next_room += 1;
                let roster = Roster {
                    room: RoomId(next_room),
                    members: &roster_members,
                };
                let start = Instant::now();
                let mut fetch = h
                    .change_by(ADMIN, &roster, &Change::Create, &mut rng)
                    .expect("create");
                spent += start.elapsed();
                let (_, fetch) = fetch.drain().next().expect("a key-package fetch");
                let mut out = Outbox::new();
                h.server
                    .handle(&roster, ADMIN, fetch, &mut rng, &mut out)
                    .expect("key packages");
                let (_, packages) = out.drain().next().expect("key packages");
                let start = Instant::now();
                h.handle_by(ADMIN, &roster, Origin::Server, &packages, &mut rng)
                    .expect("commit");
                h.handle_by(
                    ADMIN,
                    &roster,
                    Origin::Server,
                    &Message::Accepted {
                        room: roster.room,
                        epoch: 0,
                    },
                    &mut rng,
                )
                .expect("accepted");
                spent += start.elapsed();
            }
            spent
        });
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// mls-rs alone

/// The configuration of a Conclave member (as `conclave_schemes::kd::mls::client`).
type LibConfig = Config;

const SUITE: CipherSuite = CipherSuite::CURVE25519_AES128;

/// `n` mls-rs clients configured as Conclave's (seeded provider, directory identities that
/// know everyone, path required, ratchet tree in the Welcome).
fn lib_clients(n: u32, rng: &mut ChaCha20Rng) -> Vec<mls_rs::Client<LibConfig>> {
    let identity = DirectoryIdentity::default();
    let mut out = Vec::with_capacity(n as usize);
    for u in 0..n {
        let (client, _) = member_client(
            UserId(u),
            SUITE,
            SeededCrypto::new(Entropy::new(rng)),
            &identity,
            InMemoryGroupStateStorage::new(),
        )
        .expect("an mls-rs client");
        out.push(client);
    }
    out
}

fn key_package(client: &mls_rs::Client<LibConfig>) -> MlsMessage {
    client
        .generate_key_package_message(ExtensionList::new(), ExtensionList::new(), Some(now()))
        .expect("key package")
}

/// Client 0 creates a group adding clients `1..`, by one commit (as `Change::Create`).
fn lib_create(
    clients: &[mls_rs::Client<LibConfig>],
    packages: &[MlsMessage],
) -> (Group<LibConfig>, Option<MlsMessage>) {
    let mut group = clients[0]
        .create_group_with_id(
            group_id(ROOM),
            ExtensionList::new(),
            ExtensionList::new(),
            Some(now()),
        )
        .expect("create");
    let mut builder = group.commit_builder();
    for p in packages {
        builder = builder.add_member(p.clone()).expect("add");
    }
    let output = builder.commit_time(now()).build().expect("commit");
    let welcome = output.welcome_messages().first().cloned();
    group.apply_pending_commit().expect("merge");
    (group, welcome)
}

/// The room of `n` in mls-rs: every member's group when `all`, else members 0 and 1 only.
fn lib_room(n: u32, all: bool, rng: &mut ChaCha20Rng) -> Vec<Group<LibConfig>> {
    let start = Instant::now();
    let clients = lib_clients(n, rng);
    let packages: Vec<MlsMessage> = clients[1..].iter().map(key_package).collect();
    let (first, welcome) = lib_create(&clients, &packages);
    let welcome = welcome.expect("a Welcome");
    let joiners = if all { n as usize } else { 2 };
    let mut groups = vec![first];
    for client in &clients[1..joiners] {
        let (g, _) = client
            .join_group(None, &welcome, Some(now()))
            .expect("join");
        groups.push(g);
    }
    eprintln!(
        "set-up: mls-rs room of {n} ({} groups) in {:.1} s",
        groups.len(),
        start.elapsed().as_secs_f64()
    );
    groups
}

/// An empty commit by `groups[by]`, merged; returns its encoding.
fn lib_update(group: &mut Group<LibConfig>) -> Vec<u8> {
    let output = group
        .commit_builder()
        .commit_time(now())
        .build()
        .expect("commit");
    let bytes = output.commit_message().to_bytes().expect("encode");
    group.apply_pending_commit().expect("merge");
    bytes
}

fn lib_process(group: &mut Group<LibConfig>, bytes: &[u8]) {
    let message = MlsMessage::from_bytes(bytes).expect("decode");
    group
        .process_incoming_message_with_time(message, now())
        .expect("process");
}

/// Every member commits one update in turn, every other member processing it.
fn lib_fill(groups: &mut [Group<LibConfig>]) {
    let start = Instant::now();
    for i in 0..groups.len() {
        let bytes = lib_update(&mut groups[i]);
        for (j, g) in groups.iter_mut().enumerate() {
            if j != i {
                lib_process(g, &bytes);
            }
        }
    }
    eprintln!(
        "set-up: {} mls-rs updates filled the tree in {:.1} s",
        groups.len(),
        start.elapsed().as_secs_f64()
    );
}

/// `mls/library{suffix}/{commit,process}/n` on the pair `pair` (member 0 commits, member 1
/// processes); returns the bytes of the last commit.
fn lib_pair_benches(
    c: &mut Criterion,
    suffix: &str,
    n: u32,
    pair: &mut dyn FnMut() -> (Group<LibConfig>, Group<LibConfig>),
) -> Option<usize> {
    let mut group = c.benchmark_group(format!("mls/library{suffix}"));
    if n >= LARGE_GROUP {
        group.sample_size(10);
    }
    let mut commit_len = None;
    group.bench_function(BenchmarkId::new("commit", n), |b| {
        let (mut g0, _) = pair();
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let bytes = lib_update(&mut g0);
                spent += start.elapsed();
                commit_len = Some(bytes.len());
            }
            spent
        });
    });
    group.bench_function(BenchmarkId::new("process", n), |b| {
        let (mut g0, mut g1) = pair();
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let bytes = lib_update(&mut g0);
                let start = Instant::now();
                lib_process(&mut g1, &bytes);
                spent += start.elapsed();
                commit_len = Some(bytes.len());
            }
            spent
        });
    });
    group.finish();
    commit_len
}

/// `mls/library/process-all/n`: mls-rs alone run as the harness runs a room: all n members hold
/// their groups and each processes every commit in turn; the time is the mean per member, the
/// figure to set beside `mls/update/member/n` (the two-group `process` bench keeps one tree in
/// cache, which a room of n members does not).
fn lib_all_members_bench(c: &mut Criterion, n: u32, rng: &mut ChaCha20Rng) {
    let mut group = c.benchmark_group("mls/library");
    if n >= LARGE_GROUP {
        group.sample_size(10);
    }
    let mut room: Option<Vec<Group<LibConfig>>> = None;
    group.bench_function(BenchmarkId::new("process-all", n), |b| {
        let groups = room.get_or_insert_with(|| lib_room(n, true, rng));
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let bytes = lib_update(&mut groups[0]);
                let start = Instant::now();
                for g in &mut groups[1..] {
                    lib_process(g, &bytes);
                }
                spent += start.elapsed() / (n - 1);
            }
            spent
        });
    });
    group.finish();
}

fn bench_library(c: &mut Criterion, rows: &mut Vec<(u32, usize, usize)>) {
    let max_n = SIZES[SIZES.len() - 1];
    let full_max_n = env_cap("MLS_BENCH_FULL_MAX_N", DEFAULT_FULL_MAX_N);
    let all_max_n = env_cap("MLS_BENCH_MAX_N", DEFAULT_MAX_N);
    for n in SIZES.into_iter().filter(|&n| n <= max_n) {
        let mut rng = rng("mls library");
        if n <= all_max_n {
            lib_all_members_bench(c, n, &mut rng);
        }
        let mut bare: Option<Vec<Group<LibConfig>>> = None;
        let bare_len = lib_pair_benches(c, "", n, &mut || {
            let g = bare.get_or_insert_with(|| lib_room(n, false, &mut rng));
            (g[0].clone(), g[1].clone())
        });
        drop(bare);
        if let Some(b) = bare_len {
            eprintln!("mls-rs commit bytes at n = {n}: bare tree {b}");
        }
        if n > full_max_n {
            continue;
        }
        let mut full: Option<Vec<Group<LibConfig>>> = None;
        let full_len = lib_pair_benches(c, "-full", n, &mut || {
            let g = full.get_or_insert_with(|| {
                let mut g = lib_room(n, true, &mut rng);
                lib_fill(&mut g);
                g
            });
            (g[0].clone(), g[1].clone())
        });
        if let (Some(b), Some(f)) = (bare_len, full_len) {
            eprintln!("mls-rs commit bytes at n = {n}: bare tree {b}, updated tree {f}");
            rows.push((n, b, f));
        }
    }
    // Creating a room of CREATE_N: one commit adding CREATE_N − 1, merged.
    let mut group = c.benchmark_group("mls/library/create");
    group.sample_size(10);
    let mut set: Option<(Vec<mls_rs::Client<LibConfig>>, Vec<MlsMessage>)> = None;
    let mut rng = rng("mls library create");
    group.bench_function(BenchmarkId::from_parameter(CREATE_N), |b| {
        let (clients, packages) = set.get_or_insert_with(|| {
            let clients = lib_clients(CREATE_N, &mut rng);
            let packages = clients[1..].iter().map(key_package).collect();
            (clients, packages)
        });
        b.iter(|| lib_create(clients, packages));
    });
    group.finish();
}

fn print_table(title: &str, rows: &[SizeRow]) {
    if rows.is_empty() {
        return;
    }
    eprintln!(
        "\n{title}\n| n | bare-tree commit (B) | updated-tree commit (B) |\n|---:|---:|---:|"
    );
    for (n, bare, full) in rows {
        eprintln!("| {n} | {bare} | {full} |");
    }
}

fn all(c: &mut Criterion) {
    let mut rows = Vec::new();
    let mut lib_rows = Vec::new();
    bench_roles(c, &mut rows);
    bench_create(c);
    bench_library(c, &mut lib_rows);
    print_table("Conclave update commit (Commit message)", &rows);
    print_table("mls-rs update commit (MlsMessage)", &lib_rows);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = all
}
criterion_main!(benches);
