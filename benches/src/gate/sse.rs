//! Searchable-encryption cases: one index update, one complete search, and a change that
//! re-keys the index, in a room of two members that shares its history.

use conclave_schemes::registry::{self, SseVisitor};
use conclave_schemes::sse::{
    Access, Resolution, SearchableEncryption, Searched, SseClient, SseServer,
};
use conclave_schemes::testing::SseHarness;
use conclave_schemes::{RoomId, UserId, Wire};

use super::{Bytes, Case, Prepared, Ran};
use crate::{message_keywords, rng, word, VOCABULARY};

/// Messages already indexed when `index` and `rekey` run.
pub const INDEXED: [u64; 2] = [16, 256];

/// Results a `search` returns.
pub const RESULTS: [u64; 2] = [10, 100];

/// Messages without the searched keyword beside those with it in a `search` case.
const OTHERS: u64 = 64;

/// The searched keyword: outside the synthetic vocabulary, so only the messages given it match.
const TARGET: &str = "gate-target-keyword";

const ROOM: RoomId = RoomId(1);
const WRITER: UserId = UserId(0);
const SEARCHER: UserId = UserId(1);

#[derive(Debug, Clone, Copy)]
enum Op {
    Index,
    Search,
    Rekey,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Index => "index",
            Op::Search => "search",
            Op::Rekey => "rekey",
        }
    }
}

/// A room of users 0 and 1 in which user 0 indexed `count` messages; message `i` carries
/// [`TARGET`] too when `target(i)`.
fn room<S: SearchableEncryption>(
    label: &str,
    count: u64,
    target: impl Fn(u64) -> bool,
) -> (SseHarness<S>, rand_chacha::ChaCha20Rng) {
    let mut rng = rng(label);
    let mut h = SseHarness::<S>::new(2);
    h.create(ROOM, &[WRITER, SEARCHER], WRITER, true, &mut rng);
    for i in 0..count {
        let mut words = message_keywords(i);
        if target(i) {
            words[0] = TARGET.to_owned();
        }
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        h.index(ROOM, WRITER, &refs, &mut rng);
    }
    (h, rng)
}

/// A complete search by [`SEARCHER`] for [`TARGET`]: the number of results and the bytes of
/// the queries and replies.
fn search<S: SearchableEncryption>(
    h: &mut SseHarness<S>,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> (usize, Bytes) {
    let held = h
        .held_key(SEARCHER, ROOM)
        .cloned()
        .expect("the searcher holds a key");
    let key = held.view(ROOM);
    let client = &mut h.clients[SEARCHER.0 as usize];
    let (mut query_bytes, mut reply_bytes) = (0, 0);
    let mut query = client
        .query(key, TARGET, rng)
        .unwrap_or_else(|e| panic!("{}: query: {e}", S::NAME));
    loop {
        query_bytes += query.wire_len() as u64;
        let reply = match h.server.search(ROOM, Access::WHOLE_ROOM, &query) {
            Ok(Searched::Reply(reply)) => reply,
            other => panic!("{}: search: {:?}", S::NAME, other.err()),
        };
        reply_bytes += reply.wire_len() as u64;
        match client
            .resolve(key, TARGET, &reply, rng)
            .unwrap_or_else(|e| panic!("{}: resolve: {e}", S::NAME))
        {
            Resolution::Done(ids) => {
                let bytes = Bytes::from([("query", query_bytes), ("reply", reply_bytes)]);
                return (ids.len(), bytes);
            }
            Resolution::Next(next) => query = next,
            Resolution::Requery { epoch } => panic!("{}: asked to query again ({epoch})", S::NAME),
        }
    }
}

fn prepare<S: SearchableEncryption>(op: Op, size: u64) -> Prepared {
    let label = format!("gate/sse/{}/{}/{size}", S::NAME, op.name());
    match op {
        Op::Index => {
            let (mut h, mut rng) = room::<S>(&label, size, |_| false);
            let words: Vec<String> = (0..8).map(|k| word(VOCABULARY - 1 - k)).collect();
            Prepared::new(move || {
                let refs: Vec<&str> = words.iter().map(String::as_str).collect();
                let pending = h.prepare_index(ROOM, WRITER, &refs, &mut rng);
                let update = pending.wire_len() as u64;
                h.apply(pending);
                Ran {
                    bytes: Bytes::from([("update", update)]),
                    state: Box::new((h, rng)),
                }
            })
        }
        Op::Search => {
            // Every (OTHERS / size + 1)-th message carries the keyword, `size` of them in all.
            let stride = OTHERS / size + 1;
            let (mut h, mut rng) = room::<S>(&label, size * stride, |i| i % stride == 0);
            Prepared::new(move || {
                let (found, bytes) = search(&mut h, &mut rng);
                assert_eq!(found as u64, size, "{}: search results", S::NAME);
                Ran {
                    bytes,
                    state: Box::new((h, rng)),
                }
            })
        }
        Op::Rekey => {
            let (mut h, mut rng) = room::<S>(&label, size, |_| false);
            let before = h.control_bytes;
            Prepared::new(move || {
                h.change(ROOM, WRITER, &[], &[], &mut rng);
                let control = (h.control_bytes - before) as u64;
                Ran {
                    bytes: Bytes::from([("control", control)]),
                    state: Box::new((h, rng)),
                }
            })
        }
    }
}

struct Collect<'a>(&'a mut Vec<Case>);

impl SseVisitor for Collect<'_> {
    fn visit<S: SearchableEncryption>(&mut self) {
        for (op, sizes) in [
            (Op::Index, INDEXED),
            (Op::Search, RESULTS),
            (Op::Rekey, INDEXED),
        ] {
            for size in sizes {
                let name = format!("sse/{}/{}/{size}", S::NAME, op.name());
                self.0.push(Case::new(name, move || prepare::<S>(op, size)));
            }
        }
    }
}

/// Adds the searchable-encryption cases of every registered scheme.
pub fn cases(all: &mut Vec<Case>) {
    registry::each_sse(&mut Collect(all));
}
