//! Key-distribution cases: a whole change through the synchronous harness, every party's work
//! (changer, key server, members), with the bytes each role sent.

use std::cell::RefCell;
use std::rc::Rc;

use conclave_schemes::kd::{Change, KdAuthority, KdClient, KeyDistribution, Period};
use conclave_schemes::registry::{self, KdScheme, KdVisitor};
use conclave_schemes::testing::{org_of, KdHarness, Observer, Role};
use conclave_schemes::{Opened, RoomId, UserId, Wire};
use rand_chacha::ChaCha20Rng;

use super::history::BODIES;
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
    /// User 0 protects a message of `n` bytes with the scheme's message layer.
    Protect,
    /// User 1 reverses [`Op::Protect`].
    Unprotect,
    /// The authority issues user 0's credentials for the next key period.
    Issue,
    /// User 0's client validates and installs them.
    Renew,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Join => "join",
            Op::Leave => "leave",
            Op::Rejoin => "rejoin",
            Op::Protect => "protect",
            Op::Unprotect => "unprotect",
            Op::Issue => "issue",
            Op::Renew => "renew",
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
    match op {
        Op::Create => {
            let h = KdHarness::<K>::new(n, &mut rng);
            change(h, rng, move |h, rng| {
                h.create(ROOM, &members(n), ADMIN, rng)
            })
        }
        Op::Join => {
            let h = KdHarness::<K>::with_room(n + 1, ROOM, n, &mut rng);
            change(h, rng, move |h, rng| {
                h.change(ROOM, ADMIN, Change::Add(&[UserId(n)]), rng);
            })
        }
        Op::Leave => {
            let h = KdHarness::<K>::with_room(n, ROOM, n, &mut rng);
            change(h, rng, move |h, rng| {
                h.change(ROOM, ADMIN, Change::Remove(&[UserId(n - 1)]), rng);
            })
        }
        Op::Rejoin => {
            let h = KdHarness::<K>::with_room(n, ROOM, n, &mut rng);
            change(h, rng, move |h, rng| {
                h.rejoin(ROOM, ADMIN, UserId(n - 1), rng)
            })
        }
        Op::Protect | Op::Unprotect => {
            let h = KdHarness::<K>::with_room(2, ROOM, 2, &mut rng);
            message_layer(op, h, n as usize, rng)
        }
        Op::Issue | Op::Renew => {
            let h = KdHarness::<K>::new(2, &mut rng);
            credentials(op, h, rng)
        }
    }
}

/// A change (`make` on the harness: a create, join, leave or rejoin), counting the bytes each
/// role sends.
fn change<K: KeyDistribution>(
    mut h: KdHarness<K>,
    mut rng: ChaCha20Rng,
    make: impl FnOnce(&mut KdHarness<K>, &mut ChaCha20Rng) + 'static,
) -> Prepared {
    let tally = Rc::new(RefCell::new(Bytes::new()));
    h.observer = Some(Box::new(Tally(Rc::clone(&tally))));
    Prepared::new(move || {
        make(&mut h, &mut rng);
        let bytes = tally.borrow().clone();
        Ran {
            bytes,
            state: Box::new((h, rng)),
        }
    })
}

/// User 0 protects a message of `len` bytes; with [`Op::Unprotect`], in the set-up, and user 1
/// reverses it.
fn message_layer<K: KeyDistribution>(
    op: Op,
    mut h: KdHarness<K>,
    len: usize,
    mut rng: ChaCha20Rng,
) -> Prepared {
    let body = vec![0x5a; len];
    let protect = |h: &mut KdHarness<K>, body: &[u8], rng: &mut ChaCha20Rng| {
        h.clients[0]
            .message_layer()
            .expect("the scheme declares a message layer")
            .protect(ROOM, body, rng)
            .unwrap_or_else(|e| panic!("{}: protect: {e}", K::NAME))
    };
    if let Op::Protect = op {
        return Prepared::new(move || {
            let protected = protect(&mut h, &body, &mut rng);
            Ran {
                bytes: Bytes::from([("message", protected.len() as u64)]),
                state: Box::new((h, protected, rng)),
            }
        });
    }
    let protected = protect(&mut h, &body, &mut rng);
    Prepared::new(move || {
        let opened = h.clients[1]
            .message_layer()
            .expect("the scheme declares a message layer")
            .unprotect(ROOM, ADMIN, &protected);
        assert!(
            matches!(opened, Ok(Opened::Plaintext(_))),
            "{}: unprotect: {opened:?}",
            K::NAME
        );
        Ran {
            bytes: Bytes::from([("message", protected.len() as u64)]),
            state: Box::new((h, opened)),
        }
    })
}

/// User 0's authority issues its credentials for the next key period; with [`Op::Renew`], in
/// the set-up, and user 0's client installs them.
fn credentials<K: KeyDistribution>(op: Op, mut h: KdHarness<K>, mut rng: ChaCha20Rng) -> Prepared {
    let issue = |h: &mut KdHarness<K>, rng: &mut ChaCha20Rng| {
        h.authorities[usize::from(org_of(ADMIN).0)]
            .issue(ADMIN, Period(1), rng)
            .unwrap_or_else(|e| panic!("{}: issue: {e}", K::NAME))
    };
    if let Op::Issue = op {
        return Prepared::new(move || {
            let issued = issue(&mut h, &mut rng);
            Ran {
                bytes: Bytes::from([("issued", issued.wire_len() as u64)]),
                state: Box::new((h, issued, rng)),
            }
        });
    }
    let issued = issue(&mut h, &mut rng);
    Prepared::new(move || {
        h.clients[0]
            .renew(&issued, &mut rng)
            .unwrap_or_else(|e| panic!("{}: renew: {e}", K::NAME));
        Ran {
            bytes: Bytes::from([("issued", issued.wire_len() as u64)]),
            state: Box::new((h, issued, rng)),
        }
    })
}

struct Collect<'a>(&'a mut Vec<Case>);

impl KdVisitor for Collect<'_> {
    fn visit<K: KdScheme>(&mut self) {
        let sizes = sizes(K::NAME).to_vec();
        let mut ops = vec![
            (Op::Create, sizes.clone()),
            (Op::Join, sizes.clone()),
            (Op::Leave, sizes.clone()),
        ];
        if K::PROPERTIES.rejoins {
            ops.push((Op::Rejoin, sizes));
        }
        if K::MESSAGE_LAYER {
            let bodies: Vec<u32> = BODIES.iter().map(|&b| b as u32).collect();
            ops.extend([(Op::Protect, bodies.clone()), (Op::Unprotect, bodies)]);
        }
        if <K::Authority as KdAuthority>::ISSUES_PER_PERIOD {
            // One user's credentials for one period: no size to vary.
            ops.extend([(Op::Issue, vec![1]), (Op::Renew, vec![1])]);
        }
        for (op, sizes) in ops {
            for n in sizes {
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
