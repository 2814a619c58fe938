//! Key-distribution cases: a whole change through the synchronous harness, every party's work
//! (changer, key server, members), with the bytes each role sent.

use std::cell::RefCell;
use std::rc::Rc;

use conclave_schemes::kd::{Change, KeyDistribution};
use conclave_schemes::registry::{self, KdScheme, KdVisitor};
use conclave_schemes::testing::{KdHarness, Observer, Role};
use conclave_schemes::{RoomId, UserId};

use super::{Bytes, Case, Prepared, Ran};
use crate::{members, rng};

/// Room sizes: large enough that per-member work shows, small enough for Callgrind.
pub const SIZES: [u32; 2] = [4, 16];

/// Room sizes of `scheme`: [`SIZES`], but smaller for `sakke` (at least 3, so that a leave
/// leaves someone to tell), whose changer SAKKE-encapsulates
/// and ECCSI-signs for every member (pairing-heavy work, about 140 million instructions per
/// member: a 16-member change alone takes half a minute under Callgrind).
#[must_use]
pub fn sizes(scheme: &str) -> [u32; 2] {
    match scheme {
        "sakke" => [3, 6],
        _ => SIZES,
    }
}

const ROOM: RoomId = RoomId(1);
const ADMIN: UserId = UserId(0);

/// The operations benched.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// User 0 creates a room of `n` members.
    Create,
    /// User `n` joins a room of `n` members.
    Join,
    /// Member `n - 1` leaves a room of `n` members.
    Leave,
    /// Member `n - 1` of a room of `n` members is brought back in by user 0.
    Rejoin,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Join => "join",
            Op::Leave => "leave",
            Op::Rejoin => "rejoin",
        }
    }
}

/// Adds up the bytes each role sends.
struct Tally(Rc<RefCell<Bytes>>);

impl Observer for Tally {
    fn begin(&mut self, _role: Role) {}

    fn end(&mut self, role: Role, _bytes_in: usize, bytes_out: usize) {
        let slot = match role {
            Role::Changer(_) => "changer",
            Role::Server => "server",
            Role::Member(_) => "members",
        };
        *self.0.borrow_mut().entry(slot).or_default() += bytes_out as u64;
    }
}

fn prepare<K: KeyDistribution>(op: Op, n: u32) -> Prepared {
    let mut rng = rng(&format!("gate/kd/{}/{}/{n}", K::NAME, op.name()));
    let mut h = match op {
        Op::Create => KdHarness::<K>::new(n, &mut rng),
        Op::Join => KdHarness::<K>::with_room(n + 1, ROOM, n, &mut rng),
        Op::Leave | Op::Rejoin => KdHarness::<K>::with_room(n, ROOM, n, &mut rng),
    };
    let tally = Rc::new(RefCell::new(Bytes::new()));
    h.observer = Some(Box::new(Tally(Rc::clone(&tally))));
    Prepared::new(move || {
        match op {
            Op::Create => h.create(ROOM, &members(n), ADMIN, &mut rng),
            Op::Join => h.change(ROOM, ADMIN, Change::Add(&[UserId(n)]), &mut rng),
            Op::Leave => h.change(ROOM, ADMIN, Change::Remove(&[UserId(n - 1)]), &mut rng),
            Op::Rejoin => h.rejoin(ROOM, ADMIN, UserId(n - 1), &mut rng),
        }
        let bytes = tally.borrow().clone();
        Ran {
            bytes,
            state: Box::new((h, rng)),
        }
    })
}

struct Collect<'a>(&'a mut Vec<Case>);

impl KdVisitor for Collect<'_> {
    fn visit<K: KdScheme>(&mut self) {
        let mut ops = vec![Op::Create, Op::Join, Op::Leave];
        if K::PROPERTIES.rejoins {
            ops.push(Op::Rejoin);
        }
        for op in ops {
            for n in sizes(K::NAME) {
                let name = format!("kd/{}/{}/{n}", K::NAME, op.name());
                self.0.push(Case::new(name, move || prepare::<K>(op, n)));
            }
        }
    }
}

/// Adds the key-distribution cases of every registered scheme.
pub fn cases(all: &mut Vec<Case>) {
    registry::each_kd(&mut Collect(all));
}
