//! History-protection cases: sealing and opening one message, and a change that re-keys the
//! room's stored history, in a room of two members that shares its history.

use conclave_schemes::pre::HistoryProtection;
use conclave_schemes::registry::{self, HistoryScheme, HistoryVisitor};
use conclave_schemes::testing::HistoryHarness;
use conclave_schemes::{RoomId, UserId, Wire};

use super::{Bytes, Case, Prepared, Ran};
use crate::rng;

/// Message bodies of `seal` and `open`: a chat line and a long paste.
pub const BODIES: [usize; 2] = [64, 4 << 10];

/// Records stored when `rekey` runs.
pub const STORED: [u64; 2] = [4, 32];

/// Body of each stored record of `rekey`.
const STORED_BODY: usize = 256;

const ROOM: RoomId = RoomId(1);
const WRITER: UserId = UserId(0);
const READER: UserId = UserId(1);

#[derive(Debug, Clone, Copy)]
enum Op {
    Seal,
    Store,
    Open,
    Rekey,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Seal => "seal",
            Op::Store => "store",
            Op::Open => "open",
            Op::Rekey => "rekey",
        }
    }
}

fn prepare<H: HistoryProtection>(op: Op, size: u64) -> Prepared {
    let mut rng = rng(&format!("gate/pre/{}/{}/{size}", H::NAME, op.name()));
    let mut h = HistoryHarness::<H>::with_pair(2, ROOM, true, &mut rng);
    let body = |len: u64| vec![0x5a; usize::try_from(len).unwrap_or(usize::MAX)];
    match op {
        Op::Seal => {
            let text = body(size);
            Prepared::new(move || {
                let (_, sealed) = h.seal(WRITER, &text, &mut rng);
                let bytes = Bytes::from([("record", sealed.wire_len() as u64)]);
                Ran {
                    bytes,
                    state: Box::new((h, sealed, rng)),
                }
            })
        }
        Op::Store => {
            let (id, sealed) = h.seal(WRITER, &body(size), &mut rng);
            let record = sealed.wire_len() as u64;
            Prepared::new(move || {
                h.store(id, sealed);
                Ran {
                    bytes: Bytes::from([("record", record)]),
                    state: Box::new(h),
                }
            })
        }
        Op::Open => {
            let id = h.send(WRITER, &body(size), &mut rng);
            let record = h.get(id).wire_len() as u64;
            Prepared::new(move || {
                let opened = h.read(READER, id);
                assert!(opened.is_ok(), "{}: open: {opened:?}", H::NAME);
                Ran {
                    bytes: Bytes::from([("record", record)]),
                    state: Box::new((h, opened)),
                }
            })
        }
        Op::Rekey => {
            for _ in 0..size {
                h.send(WRITER, &body(STORED_BODY as u64), &mut rng);
            }
            let before = h.control_bytes;
            Prepared::new(move || {
                h.rekey(WRITER, &mut rng);
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

impl HistoryVisitor for Collect<'_> {
    fn visit<H: HistoryScheme>(&mut self) {
        let sizes = BODIES.map(|b| b as u64);
        for (op, sizes) in [
            (Op::Seal, sizes),
            (Op::Store, sizes),
            (Op::Open, sizes),
            (Op::Rekey, STORED),
        ] {
            for size in sizes {
                let name = format!("pre/{}/{}/{size}", H::NAME, op.name());
                self.0.push(Case::new(name, move || prepare::<H>(op, size)));
            }
        }
    }
}

/// Adds the history-protection cases of every registered scheme.
pub fn cases(all: &mut Vec<Case>) {
    registry::each_history(&mut Collect(all));
}
