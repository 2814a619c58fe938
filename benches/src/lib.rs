//! Shared fixtures for Conclave's criterion benches.
//!
//! The benches are in `benches/`, one file per scheme family plus the engine:
//!
//! | bench | groups | what |
//! |---|---|---|
//! | `kd` | `kd/create`, `kd/join`, `kd/leave` | key distribution through the synchronous harness, rooms of [`GROUP_SIZES`] members |
//! | `pre` | `pre/seal`, `pre/open`, `pre/store`, `tls/seal`, `tls/open` | history protection on [`BODY_SIZES`] bodies; the TLS record layer on [`RECORD_SIZES`] payloads |
//! | `sse` | `sse/index`, `sse/apply`, `sse/search` | index updates of [`KEYWORDS_PER_UPDATE`] keywords; search against [`RESULT_COUNTS`] matches |
//! | `mls` | `mls/join`, `mls/leave`, `mls/update`, `mls/update-full`, `mls/library`, `mls/create` | the `mls` scheme per role (bare and fully updated tree, commit sizes) beside mls-rs called directly |
//! | `engine` | `engine` | events per second of the discrete-event engine; a whole `paper-table1` run |
//!
//! Each family bench is one generic function (`bench_kd::<K>`, `bench_pre::<H>`,
//! `bench_sse::<S>`) instantiated for every scheme of the registry's lists
//! ([`conclave_schemes::registry::each_kd`], `each_history`, `each_sse`) by a visitor, so a new
//! scheme is its module plus one line in `schemes/src/registry.rs`, and is benched at once (a
//! slow key-distribution scheme may also need a [`largest_group`]). Run them with
//!
//! ```sh
//! cargo bench -p conclave-benches                       # everything
//! cargo bench -p conclave-benches --bench kd -- 4096    # one file, filtered by benchmark id
//! cargo bench -p conclave-benches --bench pre -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! Everything here is bench set-up code, run outside the timed regions: a failure is a broken
//! bench, so these helpers panic with a message saying what failed.

pub mod gate;

use conclave_schemes::rekeying::{RekeyingClient, RekeyingServer};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use conclave_schemes::common::router::{route, Arrival};
use conclave_schemes::pre::{EpochChange, HistoryProtection, KeyView};
use conclave_schemes::sse::{
    Access, Resolution, SearchableEncryption, Searched, SseClient, SseServer,
};
use conclave_schemes::{MsgId, Origin, Outbox, SchemeError, UserId};
use conclave_sim::cost::CalibrationTable;
use conclave_sim::fuzz::Registered;
use conclave_sim::scenario::{self, Scenario};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Room sizes the key-distribution benches sweep (DESIGN.md §7: group sizes 2..4096).
pub const GROUP_SIZES: [u32; 7] = [2, 8, 32, 128, 512, 2048, 4096];

/// From this room size on, benches take the minimum number of samples (10): a single change
/// can take long and its set-up longer.
pub const LARGE_GROUP: u32 = 512;

/// Message body sizes of the history-protection benches: 64 B, 1 KiB and 64 KiB.
pub const BODY_SIZES: [usize; 3] = [64, 1 << 10, 64 << 10];

/// Payload sizes of the TLS record-layer benches: 64 B to 64 KiB (16 KiB is exactly one full
/// TLS 1.3 record, 64 KiB four).
pub const RECORD_SIZES: [usize; 4] = [64, 1 << 10, 16 << 10, 64 << 10];

/// Keywords per index update (the scenarios' default `workload.keywords.per_message`).
pub const KEYWORDS_PER_UPDATE: usize = 8;

/// Result counts the search bench sweeps (the 10^1 to 10^5 scale of OpenSSE and Findex).
pub const RESULT_COUNTS: [u64; 5] = [10, 100, 1_000, 10_000, 100_000];

/// From this result count on, the search bench takes the minimum number of samples (10).
pub const LARGE_RESULT: u64 = 10_000;

/// Size of the synthetic vocabulary index updates draw their keywords from.
pub const VOCABULARY: u64 = 10_000;

/// A deterministic random number generator for the bench (or scheme) named `label`, so that
/// every run of a bench does the same work.
#[must_use]
pub fn rng(label: &str) -> ChaCha20Rng {
    // FNV-1a: any fixed, label-dependent seed will do.
    let seed = label.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    ChaCha20Rng::seed_from_u64(seed)
}

/// Users `0..n`, ascending (a room roster).
#[must_use]
pub fn members(n: u32) -> Vec<UserId> {
    (0..n).map(UserId).collect()
}

/// The `i`-th word of the synthetic vocabulary.
#[must_use]
pub fn word(i: u64) -> String {
    format!("kw{i:06}")
}

/// The [`KEYWORDS_PER_UPDATE`] distinct keywords of synthetic message `i`: consecutive words of
/// the vocabulary from a pseudo-random start, so updates touch many different keywords.
#[must_use]
pub fn message_keywords(i: u64) -> Vec<String> {
    let start = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % VOCABULARY;
    (0..KEYWORDS_PER_UPDATE as u64)
        .map(|k| word((start + k) % VOCABULARY))
        .collect()
}

/// Parses a scenario embedded in a bench; `name` stands for its file name in error messages.
///
/// # Panics
/// If the text is not a valid scenario (the message names the line, column and key).
#[must_use]
pub fn parse_scenario(name: &str, yaml: &str) -> Scenario {
    let names = Registered::new();
    scenario::parse(yaml, Path::new(name), &names.known())
        .unwrap_or_else(|e| panic!("bench scenario is invalid: {e}"))
}

/// The repository's `scenarios/` directory.
#[must_use]
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Loads `scenarios/<file>`.
///
/// # Panics
/// If the file cannot be read or is not a valid scenario.
#[must_use]
pub fn load_scenario(file: &str) -> Scenario {
    let names = Registered::new();
    let path = scenarios_dir().join(file);
    scenario::load(&path, &names.known()).unwrap_or_else(|e| panic!("{e}"))
}

/// Measures a calibration table on this machine (a few seconds), for benches that run the
/// engine under the deterministic `calibrated` cost model. Call it once per bench process,
/// outside any timed region.
///
/// # Panics
/// If a scheme fails during the calibration run.
#[must_use]
pub fn calibration() -> CalibrationTable {
    let start = Instant::now();
    let table =
        conclave_sim::calibrate::calibrate().unwrap_or_else(|e| panic!("calibration failed: {e}"));
    eprintln!(
        "calibrated {} operations in {:.1} s",
        table.entries.len(),
        start.elapsed().as_secs_f64()
    );
    table
}

/// Times `iters` calls of `routine` for [`criterion::Bencher::iter_custom`]-style benches whose
/// calls consume or accumulate state: the calls run in chunks of at most `chunk`, each chunk on
/// a state made by `setup(calls_in_chunk)`. Making and dropping the states is not timed, so
/// state that grows with every call (a server's store, an index) stays bounded.
///
/// `routine(&mut state, i)` makes call `i` of its chunk, counting from 0.
///
/// [`criterion::Bencher::iter_custom`]: https://docs.rs/criterion/0.8/criterion/struct.Bencher.html#method.iter_custom
pub fn time_chunked<S>(
    iters: u64,
    chunk: u64,
    mut setup: impl FnMut(u64) -> S,
    mut routine: impl FnMut(&mut S, u64),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(chunk.max(1));
        let mut state = setup(n);
        let start = Instant::now();
        for i in 0..n {
            routine(&mut state, i);
        }
        total += start.elapsed();
        drop(state);
        done += n;
    }
    total
}

/// A fresh message server and fresh history-protection clients of users `0..users` who all
/// hold the room's first epoch `key`, as in the simulator: user 0 created the room (it is the
/// changer) and the control traffic this causes has been routed through the server.
///
/// # Panics
/// If the scheme fails.
#[must_use]
pub fn history_room<H: HistoryProtection>(
    users: u32,
    key: KeyView<'_>,
    rng: &mut ChaCha20Rng,
) -> (Vec<H::Client>, H::Server) {
    let mut clients: Vec<H::Client> = (0..users).map(|u| H::new_client(UserId(u))).collect();
    let mut server = H::Server::default();
    first_epoch(&mut clients, &mut server, key, rng, H::NAME);
    (clients, server)
}

/// Gives every client (client `i` is user `i`) of a data family the epoch `key`, client 0 as
/// the changer, and routes the control traffic this causes through `server`. `scheme` names the
/// family's scheme in panics.
fn first_epoch<C, S>(
    clients: &mut [C],
    server: &mut S,
    key: KeyView<'_>,
    rng: &mut ChaCha20Rng,
    scheme: &str,
) where
    C: RekeyingClient,
    S: RekeyingServer<Message = C::Message>,
{
    server
        .name_changer(key.room, key.epoch, UserId(0))
        .unwrap_or_else(|e| panic!("{scheme}: naming the changer: {e}"));
    for i in 0..clients.len() {
        let mut out = Outbox::new();
        clients[i]
            .epoch_changed(
                EpochChange {
                    prev: None,
                    next: key,
                    changer: i == 0,
                    shares_history: true,
                },
                rng,
                &mut out,
            )
            .unwrap_or_else(|e| panic!("{scheme}: epoch_changed: {e}"));
        let from = UserId(u32::try_from(i).unwrap_or(u32::MAX));
        route(Origin::User(from), out, |arrival| {
            let mut out = Outbox::new();
            match arrival {
                Arrival::AtServer { from, msg } => {
                    server.handle(key.room, from, msg, rng, &mut out)?;
                }
                Arrival::AtUser { to, msg, .. } => {
                    clients[to.0 as usize].handle(key, msg, rng, &mut out)?;
                }
            }
            Ok::<_, SchemeError>(out)
        })
        .unwrap_or_else(|e| panic!("{scheme}: control traffic: {e}"));
    }
}

/// As [`history_room`], for searchable encryption: a fresh search server and clients of users
/// `0..users` holding the room's first epoch `key`.
///
/// # Panics
/// If the scheme fails.
#[must_use]
pub fn search_room<S: SearchableEncryption>(
    users: u32,
    key: KeyView<'_>,
    rng: &mut ChaCha20Rng,
) -> (Vec<S::Client>, S::Server) {
    let mut clients: Vec<S::Client> = (0..users).map(|u| S::new_client(UserId(u))).collect();
    let mut server = S::Server::default();
    first_epoch(&mut clients, &mut server, key, rng, S::NAME);
    (clients, server)
}

/// A complete keyword search by `client` against `server`: the query, every round the scheme
/// needs, and the client's resolution of the replies. Returns the matching ids. The searcher may
/// read the room's whole history.
///
/// # Panics
/// If the scheme fails.
pub fn search<S: SearchableEncryption>(
    client: &mut S::Client,
    server: &S::Server,
    key: KeyView<'_>,
    keyword: &str,
    rng: &mut ChaCha20Rng,
) -> Vec<MsgId> {
    let access = Access::WHOLE_ROOM;
    let mut query = client
        .query(key, keyword, rng)
        .unwrap_or_else(|e| panic!("{}: query: {e}", S::NAME));
    loop {
        let reply = match server
            .search(key.room, access, &query)
            .unwrap_or_else(|e| panic!("{}: search: {e}", S::NAME))
        {
            Searched::Reply(reply) => reply,
            Searched::NotYet { waiting_for } => {
                panic!("{}: the server waits for {waiting_for}", S::NAME)
            }
        };
        match client
            .resolve(key, keyword, &reply, rng)
            .unwrap_or_else(|e| panic!("{}: resolve: {e}", S::NAME))
        {
            Resolution::Done(ids) => return ids,
            Resolution::Next(next) => query = next,
            Resolution::Requery { epoch } => {
                panic!(
                    "{}: a query under the current key called stale ({epoch})",
                    S::NAME
                )
            }
        }
    }
}

/// Largest group a key-distribution scheme is benched at (`kd` and `kd_roles`). Sender Keys'
/// create and leave seal n(n−1) pairwise boxes: at 4,096 members that is about 16.7 million
/// boxes, over an hour of CPU per change on a laptop-class core, so its benches stop at 512 and
/// the quadratic growth is read off the smaller sizes. `sakke`'s changer SAKKE-encapsulates and
/// ECCSI-signs one I_MESSAGE for every other member, about 6 ms per member per change: a
/// 4,096-member change takes about 25 s, so it stops at 512 too and its linear growth is read
/// off the smaller sizes.
#[must_use]
pub fn largest_group(scheme: &str) -> u32 {
    match scheme {
        "sender-keys" | "sakke" => 512,
        _ => u32::MAX,
    }
}
