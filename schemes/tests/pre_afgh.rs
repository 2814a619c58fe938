//! AFGH proxy re-encryption (`afgh`, `afgh-hybrid`): round trips across epochs with joins and
//! removals, history policies, removed members, old-key storage breaches, late stores,
//! tampering, the algebra, wire lengths and the work each change causes.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ark_bls12_381::{Bls12_381, Fr, G1Affine, G2Affine};
use ark_ec::pairing::PairingOutput;
use ark_ec::{AffineRepr, PrimeGroup};
use ark_ff::Zero;
use ark_serialize::CanonicalSerialize;
use conclave_schemes::common::router::{Arrival, Router};
use conclave_schemes::pre::afgh::core::{
    Bls12, Capsule, EpochKey, PairingGroups, Reencrypted, Rekey, G1_LEN, G2_LEN, GT_LEN,
};
use conclave_schemes::pre::afgh::groups::Exponents;
use conclave_schemes::pre::afgh::hybrid::{HybridRecord, KeyId};
use conclave_schemes::pre::afgh::per_message::AfghRecord;
use conclave_schemes::pre::afgh::rekeying::{Control, CurrentCapsule};
use conclave_schemes::pre::afgh::{Afgh, AfghHybrid, AfghHybridIn, AfghIn};
use conclave_schemes::pre::{
    EpochChange, HistoryClient, HistoryProtection, HistoryServer, KeyView, Work,
};
use conclave_schemes::rekeying::{RekeyingClient, RekeyingServer};
use conclave_schemes::testing::{readable, Tamper};
use conclave_schemes::{
    Dest, Epoch, EpochSecret, MsgId, Origin, Outbox, RoomId, SchemeError, UserId, Wire,
};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

const ROOM: RoomId = RoomId(4);

/// Field access the scheme-specific tests need.
trait Record: Clone {
    fn capsule_mut(&mut self) -> Option<&mut [u8; G1_LEN]>;
    fn current(&self) -> Option<&CurrentCapsule>;
    fn current_mut(&mut self) -> Option<&mut CurrentCapsule>;
    /// The epoch of the key the origin capsule is under.
    fn origin(&self) -> Epoch;
}

impl Record for AfghRecord {
    fn capsule_mut(&mut self) -> Option<&mut [u8; G1_LEN]> {
        Some(&mut self.capsule)
    }
    fn current(&self) -> Option<&CurrentCapsule> {
        self.current.as_ref()
    }
    fn current_mut(&mut self) -> Option<&mut CurrentCapsule> {
        self.current.as_mut()
    }
    fn origin(&self) -> Epoch {
        self.origin
    }
}

impl Record for HybridRecord {
    fn capsule_mut(&mut self) -> Option<&mut [u8; G1_LEN]> {
        self.wrap.as_mut()
    }
    fn current(&self) -> Option<&CurrentCapsule> {
        self.current.as_ref()
    }
    fn current_mut(&mut self) -> Option<&mut CurrentCapsule> {
        self.current.as_mut()
    }
    fn origin(&self) -> Epoch {
        self.key.epoch
    }
}

/// Both AFGH schemes, as these tests drive them: AFGH control traffic, records with the fields
/// above.
trait AfghScheme: HistoryProtection<Message = Control, Sealed: Record + Tamper> {
    /// The groups it computes in.
    type Groups: PairingGroups;
    /// Whether a `G_T` encoding outside the subgroup is told apart from a wrong element
    /// (BLS12-381's decoder checks the subgroup; in the exponents every encoding of a canonical
    /// scalar is an element, and a wrong one fails at the body's tag instead).
    const CHECKS_SUBGROUP: bool;
}

impl<P: PairingGroups> AfghScheme for AfghIn<P> {
    type Groups = P;
    const CHECKS_SUBGROUP: bool = !P::IN_THE_CLEAR;
}

impl<P: PairingGroups> AfghScheme for AfghHybridIn<P> {
    type Groups = P;
    const CHECKS_SUBGROUP: bool = !P::IN_THE_CLEAR;
}

fn view(secrets: &[EpochSecret], epoch: u64) -> KeyView<'_> {
    KeyView {
        room: ROOM,
        epoch: Epoch(epoch),
        secret: &secrets[epoch as usize],
    }
}

/// One room, its members' clients and the message server, with control traffic routed
/// synchronously.
struct Org<H: HistoryProtection> {
    server: H::Server,
    clients: Vec<H::Client>,
    secrets: Vec<EpochSecret>,
    members: BTreeSet<u32>,
    /// Each member's or former member's last epoch.
    last_epoch: BTreeMap<u32, u64>,
    /// Stored messages: id, epoch sealed in, plaintext.
    messages: Vec<(MsgId, u64, Vec<u8>)>,
    /// Work reported by the server since the last [`Org::take_work`].
    work: Vec<Work>,
    /// Wire length of every control message routed, by kind.
    control_lengths: Vec<(&'static str, usize, usize)>,
    rng: ChaCha20Rng,
    next_msg: u64,
}

fn kind(msg: &Control) -> (&'static str, usize) {
    match msg {
        Control::RekeyRequest { .. } => ("request", 1),
        Control::HeldRekeys { held, .. } => ("held", held.len()),
        Control::Rekeys { rekeys, .. } => ("rekeys", rekeys.len()),
    }
}

impl<H: AfghScheme> Org<H> {
    fn new(users: u32, initial: &[u32], seed: u64) -> Self {
        let mut org = Self {
            server: H::Server::default(),
            clients: (0..users).map(|u| H::new_client(UserId(u))).collect(),
            secrets: Vec::new(),
            members: BTreeSet::new(),
            last_epoch: BTreeMap::new(),
            messages: Vec::new(),
            work: Vec::new(),
            control_lengths: Vec::new(),
            rng: ChaCha20Rng::seed_from_u64(seed),
            next_msg: 0,
        };
        org.change(initial[0], initial, &[], true);
        org
    }

    fn epoch(&self) -> u64 {
        self.secrets.len() as u64 - 1
    }

    fn key(&self, epoch: u64) -> KeyView<'_> {
        view(&self.secrets, epoch)
    }

    /// Starts a new epoch: `add` join, `remove` leave, `changer` commits.
    fn change(&mut self, changer: u32, add: &[u32], remove: &[u32], shares_history: bool) {
        let held = self.change_holding(changer, add, remove, shares_history, |_| false);
        assert!(held.is_empty());
    }

    /// As [`Org::change`], but control messages for which `hold` is true are not delivered;
    /// they are returned, to be delivered later with [`Org::deliver`].
    fn change_holding(
        &mut self,
        changer: u32,
        add: &[u32],
        remove: &[u32],
        shares_history: bool,
        hold: impl Fn(&Control) -> bool,
    ) -> Vec<(Origin, Dest, Control)> {
        let mut held = Vec::new();
        let old = self.secrets.len().checked_sub(1).map(|e| e as u64);
        self.secrets.push(EpochSecret::random(&mut self.rng));
        let next = self.epoch();
        let before = self.members.clone();
        self.members.extend(add);
        for r in remove {
            self.members.remove(r);
        }
        assert!(self.members.contains(&changer));
        self.server
            .name_changer(ROOM, Epoch(next), UserId(changer))
            .unwrap();
        // The changer first, as the simulator delivers the commit.
        let mut order: Vec<u32> = vec![changer];
        order.extend(self.members.iter().filter(|m| **m != changer));
        for user in order {
            let secrets = &self.secrets;
            let prev = old
                .filter(|_| before.contains(&user))
                .map(|e| view(secrets, e));
            let change = EpochChange {
                prev,
                next: view(secrets, next),
                changer: user == changer,
                shares_history,
            };
            let mut out = Outbox::new();
            self.clients[user as usize]
                .epoch_changed(change, &mut self.rng, &mut out)
                .unwrap();
            let mut router = Router::new();
            router.send(Origin::User(UserId(user)), out);
            held.extend(self.route_holding(router, &hold));
        }
        for m in &self.members {
            self.last_epoch.insert(*m, next);
        }
        held
    }

    /// Delivers messages held back by [`Org::change_holding`], and all they cause.
    fn deliver(&mut self, held: Vec<(Origin, Dest, Control)>) {
        let mut router = Router::new();
        for (from, to, msg) in held {
            router.push(from, to, msg);
        }
        let still = self.route_holding(router, &|_| false);
        assert!(still.is_empty());
    }

    /// Routes what `router` holds and what it causes, returning the messages `hold` keeps back.
    fn route_holding(
        &mut self,
        mut router: Router<Control>,
        hold: &dyn Fn(&Control) -> bool,
    ) -> Vec<(Origin, Dest, Control)> {
        let mut held = Vec::new();
        router
            .run(|arrival| {
                let mut out = Outbox::new();
                match arrival {
                    Arrival::AtServer { from, msg } if hold(&msg) => {
                        held.push((Origin::User(from), Dest::Server, msg));
                    }
                    Arrival::AtUser { from, to, msg } if hold(msg) => {
                        held.push((from, Dest::User(to), msg.clone()));
                    }
                    Arrival::AtServer { from, msg } => {
                        let (name, n) = kind(&msg);
                        self.control_lengths.push((name, n, msg.wire_len()));
                        let work = self
                            .server
                            .handle(ROOM, from, msg, &mut self.rng, &mut out)?;
                        self.work.push(work);
                    }
                    Arrival::AtUser { to, msg, .. } => {
                        let (name, n) = kind(msg);
                        self.control_lengths.push((name, n, msg.wire_len()));
                        let epoch = self.last_epoch.get(&to.0).copied().unwrap_or(self.epoch());
                        let key = KeyView {
                            room: ROOM,
                            epoch: Epoch(epoch),
                            secret: &self.secrets[epoch as usize],
                        };
                        self.clients[to.0 as usize].handle(key, msg, &mut self.rng, &mut out)?;
                    }
                }
                Ok::<_, SchemeError>(out)
            })
            .unwrap();
        held
    }

    /// `from` seals a message under its current epoch; it is not stored yet.
    fn seal(&mut self, from: u32) -> (MsgId, u64, Vec<u8>, H::Sealed) {
        let id = MsgId(self.next_msg);
        self.next_msg += 1;
        let epoch = self.epoch();
        let text = format!("message {} from user {from} in epoch {epoch}", id.0).into_bytes();
        let key = KeyView {
            room: ROOM,
            epoch: Epoch(epoch),
            secret: &self.secrets[epoch as usize],
        };
        let sealed = self.clients[from as usize]
            .seal(key, id, &text, &mut self.rng)
            .unwrap();
        (id, epoch, text, sealed)
    }

    fn store(&mut self, id: MsgId, epoch: u64, text: Vec<u8>, sealed: H::Sealed) {
        self.server.store(ROOM, id, sealed).unwrap();
        self.messages.push((id, epoch, text));
    }

    fn send(&mut self, from: u32) -> MsgId {
        let (id, epoch, text, sealed) = self.seal(from);
        self.store(id, epoch, text, sealed);
        id
    }

    /// `user` opens `msg` with its last key.
    fn open(&mut self, user: u32, msg: MsgId) -> Result<Vec<u8>, SchemeError> {
        let record = self.server.get(ROOM, msg).unwrap();
        let epoch = self.last_epoch[&user];
        let key = KeyView {
            room: ROOM,
            epoch: Epoch(epoch),
            secret: &self.secrets[epoch as usize],
        };
        readable(self.clients[user as usize].open(key, msg, &record))
    }

    /// A fresh client given only epoch `epoch`'s key opens `record`.
    fn fresh_open(
        &self,
        epoch: u64,
        msg: MsgId,
        record: &H::Sealed,
    ) -> Result<Vec<u8>, SchemeError> {
        readable(H::new_client(UserId(999)).open(self.key(epoch), msg, record))
    }

    /// `user` opens none of `msgs` (`what` names them in the failure message).
    fn opens_none(&mut self, user: u32, msgs: &[MsgId], what: &str) {
        for id in msgs {
            assert_eq!(
                self.open(user, *id),
                Err(SchemeError::Crypto),
                "{}: {what} {id:?}",
                H::NAME
            );
        }
    }

    /// The server holds `msg` re-encrypted to `epoch` (`what` is the failure message).
    fn assert_reencrypted_to(&self, msg: MsgId, epoch: u64, what: &str) {
        let record = self.server.get(ROOM, msg).unwrap();
        assert_eq!(
            record.current().map(|c| c.target),
            Some(Epoch(epoch)),
            "{}: {what}",
            H::NAME
        );
    }

    fn text(&self, msg: MsgId) -> &[u8] {
        &self
            .messages
            .iter()
            .find(|(id, _, _)| *id == msg)
            .unwrap()
            .2
    }

    /// Every current member, and a fresh client with the current key, opens every message.
    fn everyone_opens_everything(&mut self) {
        let messages = self.messages.clone();
        for member in self.members.clone() {
            for (id, _, text) in &messages {
                assert_eq!(
                    self.open(member, *id).as_deref(),
                    Ok(&text[..]),
                    "{}: member {member} opens {id:?} in epoch {}",
                    H::NAME,
                    self.epoch()
                );
            }
        }
        for (id, _, text) in &messages {
            let record = self.server.get(ROOM, *id).unwrap();
            assert_eq!(
                self.fresh_open(self.epoch(), *id, &record).as_deref(),
                Ok(&text[..]),
                "{}: a fresh client with the current key opens {id:?}",
                H::NAME
            );
        }
    }

    fn take_work(&mut self) -> u64 {
        let work = std::mem::take(&mut self.work);
        for w in &work {
            assert_eq!((w.op, w.parallel), ("reencrypt", true));
        }
        work.iter().map(|w| w.units).sum()
    }
}

/// Tests `$test::afgh` and `$test::afgh_hybrid`: `$check` on `afgh` with the seed given and on
/// `afgh-hybrid` with the next one; and the same on their models (the constructions in the
/// exponent groups), which must pass every check the schemes pass.
macro_rules! both_schemes {
    ($test:ident: $check:ident($seed:literal)) => {
        mod $test {
            use super::*;

            #[test]
            fn afgh() {
                $check::<Afgh>($seed);
            }

            #[test]
            fn afgh_hybrid() {
                $check::<AfghHybrid>($seed + 1);
            }

            #[test]
            fn afgh_model() {
                $check::<AfghIn<Exponents>>($seed);
            }

            #[test]
            fn afgh_hybrid_model() {
                $check::<AfghHybridIn<Exponents>>($seed + 1);
            }
        }
    };
}

/// Distinct capsules the server stores: one per message (`afgh`), one per message key
/// (`afgh-hybrid`).
fn distinct_capsules<H: AfghScheme>(org: &Org<H>) -> usize {
    let mut capsules = BTreeSet::new();
    for (id, _, _) in &org.messages {
        let mut record = org.server.get(ROOM, *id).unwrap();
        capsules.insert(*record.capsule_mut().unwrap());
    }
    capsules.len()
}

fn five_epochs<H: AfghScheme>(seed: u64) {
    let mut org = Org::<H>::new(8, &[0, 1, 2], seed);
    let changes: [(u32, &[u32], &[u32]); 4] = [
        (0, &[3], &[]),
        (2, &[], &[1]),
        (3, &[4, 5], &[]),
        (4, &[6], &[0, 2]),
    ];
    for m in org.members.clone() {
        org.send(m);
    }
    org.everyone_opens_everything();
    for (changer, add, remove) in changes {
        org.take_work();
        org.change(changer, add, remove, true);
        assert_eq!(
            org.take_work(),
            distinct_capsules(&org) as u64,
            "{}: each change re-encrypts every stored capsule once",
            H::NAME
        );
        for m in org.members.clone() {
            org.send(m);
        }
        org.everyone_opens_everything();
    }
    assert_eq!(org.epoch(), 4);
}

both_schemes!(round_trip_over_five_epochs: five_epochs(1));

fn joiner_from_join<H: AfghScheme>(seed: u64) {
    let mut org = Org::<H>::new(5, &[0, 1], seed);
    let before: Vec<MsgId> = vec![org.send(0), org.send(1)];
    let routed = org.control_lengths.len();
    org.change(0, &[2], &[], false);
    assert_eq!(
        org.control_lengths.len(),
        routed,
        "{}: re-keying under from_join",
        H::NAME
    );
    let after = org.send(2);
    org.send(0);
    org.opens_none(2, &before, "joiner opens pre-join");
    for id in &before {
        let record = org.server.get(ROOM, *id).unwrap();
        assert!(record.current().is_none(), "{}: re-encrypted", H::NAME);
        assert_eq!(org.fresh_open(1, *id, &record), Err(SchemeError::Crypto));
        assert!(org.fresh_open(0, *id, &record).is_ok());
    }
    assert_eq!(org.open(2, after).as_deref(), Ok(org.text(after)));
    // Old members keep opening everything with the keys they kept, across a further change.
    org.change(1, &[], &[0], false);
    for (id, _, text) in org.messages.clone() {
        assert_eq!(org.open(1, id).as_deref(), Ok(&text[..]), "{}", H::NAME);
    }
    assert_eq!(org.open(2, after).as_deref(), Ok(org.text(after)));
    assert_eq!(org.open(2, before[0]), Err(SchemeError::Crypto));
}

both_schemes!(joiner_from_join_reads_no_history: joiner_from_join(3));

fn removed_member<H: AfghScheme>(seed: u64) {
    let mut org = Org::<H>::new(6, &[0, 1, 2], seed);
    let before = vec![org.send(0), org.send(2)];
    org.change(0, &[], &[2], true);
    let mut after = vec![org.send(0), org.send(1)];
    org.change(1, &[3], &[], true);
    after.push(org.send(3));
    org.change(3, &[4], &[0], true);
    after.push(org.send(4));
    // With its client state and its last key (epoch 0).
    org.opens_none(2, &after, "removed member opens post-removal");
    for id in &before {
        assert_eq!(org.open(2, *id).as_deref(), Ok(org.text(*id)));
    }
    // The second removed member (0, last epoch 2) likewise.
    assert_eq!(org.open(0, after[3]), Err(SchemeError::Crypto));
    org.everyone_opens_everything();
}

both_schemes!(removed_member_opens_nothing_new: removed_member(5));

/// A fresh client with an old epoch's key against everything `get` returns opens exactly the
/// records whose origin capsule is under that epoch (kept for single-hop re-encryption).
fn storage_breach_with_old_key<H: AfghScheme>(seed: u64) {
    let mut org = Org::<H>::new(5, &[0, 1], seed);
    for (changer, add) in [(0, 2), (1, 3), (2, 4)] {
        org.send(0);
        org.send(1);
        org.change(changer, &[add], &[], true);
    }
    org.send(4);
    for epoch in 0..=org.epoch() {
        for (id, _, text) in org.messages.clone() {
            let record = org.server.get(ROOM, id).unwrap();
            let opened = org.fresh_open(epoch, id, &record);
            if record.origin() == Epoch(epoch) || epoch == org.epoch() {
                assert_eq!(opened.as_deref(), Ok(&text[..]), "{}", H::NAME);
            } else {
                assert_eq!(
                    opened,
                    Err(SchemeError::Crypto),
                    "{}: epoch {epoch}",
                    H::NAME
                );
            }
        }
    }
}

both_schemes!(storage_breach_exposes_origin_capsules_only: storage_breach_with_old_key(7));

/// Records sealed under an old epoch and stored after the server re-keyed the room, including
/// one whose origin epoch had no stored capsule at the time of the changes.
fn late_store<H: AfghScheme>(seed: u64) {
    let mut org = Org::<H>::new(5, &[0, 1], seed);
    org.send(0);
    let late0 = org.seal(1);
    org.change(0, &[2], &[], true);
    let late1 = org.seal(2);
    org.change(1, &[3], &[], true);
    org.send(3);
    org.change(3, &[4], &[], true);
    for (id, epoch, text, sealed) in [late0, late1] {
        org.store(id, epoch, text, sealed);
        org.assert_reencrypted_to(
            id,
            org.epoch(),
            "a late record is brought up to date at store",
        );
    }
    org.everyone_opens_everything();
}

both_schemes!(late_store_is_reencrypted: late_store(9));

/// Overlapping changes: the changer of epoch 2 uploads its moved re-keys only after the changer
/// of epoch 3, who joined at 2 and never held epoch 1, has asked for the held re-keys. The
/// server forwards the late re-key to the changer of 3, so a joiner at 3 reads epoch 0's
/// history (it used to stay on a re-key to 2 that nobody moved on).
fn overlapping_changes<H: AfghScheme>(seed: u64) {
    let mut org = Org::<H>::new(6, &[0, 1], seed);
    org.send(0);
    org.change(0, &[2], &[], true);
    org.send(2);
    let late = org.change_holding(1, &[3], &[], true, |m| matches!(m, Control::Rekeys { .. }));
    assert_eq!(
        late.len(),
        1,
        "{}: the changer of 2 moves origin 0",
        H::NAME
    );
    org.change(3, &[4], &[], true);
    org.deliver(late);
    for (id, _, _) in &org.messages {
        org.assert_reencrypted_to(*id, 3, &format!("{id:?} reaches the newest epoch"));
    }
    org.everyone_opens_everything();
}

both_schemes!(overlapping_changes_reach_the_newest_epoch: overlapping_changes(11));

fn tampering<H: AfghScheme>(seed: u64) {
    let mut org = Org::<H>::new(3, &[0, 1], seed);
    let id = org.send(0);
    // Sent by a member that made its own key, so its capsule differs in both schemes.
    let other = org.send(1);
    org.change(0, &[2], &[], true);
    let record = org.server.get(ROOM, id).unwrap();

    let mut bad = record.clone();
    assert!(bad.tamper());
    assert_eq!(org.fresh_open(0, id, &bad), Err(SchemeError::Crypto));
    assert_eq!(org.fresh_open(1, id, &bad), Err(SchemeError::Crypto));
    for member in [0, 1, 2] {
        let key = KeyView {
            room: ROOM,
            epoch: Epoch(1),
            secret: &org.secrets[1],
        };
        assert_eq!(
            org.clients[member].open(key, id, &bad),
            Err(SchemeError::Crypto),
            "{}: member {member} accepted a tampered body",
            H::NAME
        );
    }
    // Moved to another message id.
    assert_eq!(
        org.fresh_open(0, MsgId(77), &record),
        Err(SchemeError::Crypto)
    );
    assert_eq!(
        org.fresh_open(1, MsgId(77), &record),
        Err(SchemeError::Crypto)
    );

    // Origin capsule: a flipped bit is either not a point or another capsule.
    for bit in [0u8, 3, 7] {
        let mut bad = record.clone();
        bad.capsule_mut().unwrap()[47] ^= 1 << bit;
        assert!(
            matches!(
                org.fresh_open(0, id, &bad),
                Err(SchemeError::Crypto | SchemeError::Malformed(_))
            ),
            "{}: tampered capsule accepted",
            H::NAME
        );
    }
    let mut bad = record.clone();
    *bad.capsule_mut().unwrap() = [0xff; G1_LEN];
    assert!(matches!(
        org.fresh_open(0, id, &bad),
        Err(SchemeError::Malformed(_))
    ));
    // The identity encodes validly but is refused.
    let mut bad = record.clone();
    let identity = H::Groups::g1_bytes(&H::Groups::g1_base(&Fr::zero())).unwrap();
    *bad.capsule_mut().unwrap() = identity;
    assert!(matches!(
        org.fresh_open(0, id, &bad),
        Err(SchemeError::Malformed(_))
    ));

    // Re-encrypted capsule: a flipped bit leaves the subgroup (all but a 2^-250 fraction of
    // F_{q^12}^* is outside it), which the decoder reports as such.
    let mut bad = record.clone();
    let current = bad.current_mut().unwrap();
    let mut bytes = *current.capsule;
    bytes[5] ^= 1;
    current.capsule = Arc::new(bytes);
    let refused = org.fresh_open(1, id, &bad);
    if H::CHECKS_SUBGROUP {
        assert_eq!(
            refused,
            Err(SchemeError::Malformed(
                "AFGH re-encrypted capsule: not in G_T"
            ))
        );
    } else {
        assert_eq!(refused, Err(SchemeError::Crypto));
    }
    // A valid re-encrypted capsule of another record.
    let mut bad = record.clone();
    *bad.current_mut().unwrap() = org
        .server
        .get(ROOM, other)
        .unwrap()
        .current()
        .cloned()
        .unwrap();
    assert_eq!(org.fresh_open(1, id, &bad), Err(SchemeError::Crypto));
    assert_eq!(org.fresh_open(1, id, &record).as_deref(), Ok(org.text(id)));
}

both_schemes!(rejects_tampering: tampering(11));

/// The algebra, over seeded random keys and capsules: second-level decapsulation, re-keys made
/// directly, to the public key and by composition agree, and re-encryption then first-level
/// decapsulation gives the encapsulated secret; wrong keys do not.
#[test]
fn afgh_algebra_properties() {
    algebra::<Bls12>();
}

/// The model's groups keep the same algebra.
#[test]
fn afgh_model_algebra_properties() {
    algebra::<Exponents>();
}

fn algebra<P: PairingGroups>() {
    let info: [&[u8]; 1] = [b"test"];
    for seed in 0..36 {
        let mut rng = ChaCha20Rng::seed_from_u64(1000 + seed);
        let origin = EpochKey::<P>::random(&mut rng);
        let previous = EpochKey::random(&mut rng);
        let next = EpochKey::random(&mut rng);
        let (capsule, secret) = Capsule::encapsulate(&origin.public_g1(), &mut rng);
        let expected = secret.derive_key(&info).unwrap();

        let second = origin.decapsulate_second(&capsule).unwrap();
        assert_eq!(second.derive_key(&info).unwrap(), expected, "case {seed}");
        let wrong = next.decapsulate_second(&capsule).unwrap();
        assert_ne!(wrong.derive_key(&info).unwrap(), expected, "case {seed}");

        let direct = Rekey::between(&origin, &next);
        assert_eq!(
            Rekey::to_public(&origin, &next.public_g2()),
            direct,
            "case {seed}"
        );
        let composed = Rekey::between(&origin, &previous).compose(&previous, &next);
        assert_eq!(composed, direct, "composed re-key, case {seed}");

        let reencrypted = composed.prepare().reencrypt(&capsule).unwrap();
        let first = next.decapsulate_first(&reencrypted);
        assert_eq!(first.derive_key(&info).unwrap(), expected, "case {seed}");
        let wrong = previous.decapsulate_first(&reencrypted);
        assert_ne!(wrong.derive_key(&info).unwrap(), expected, "case {seed}");

        // Encodings round trip through validation.
        let rekey = Rekey::from_bytes(&direct.to_bytes().unwrap()).unwrap();
        assert_eq!(rekey, direct);
        let back = Capsule::from_bytes(&capsule.to_bytes().unwrap()).unwrap();
        assert_eq!(back, capsule);
        let back = Reencrypted::from_bytes(&reencrypted.to_bytes().unwrap()).unwrap();
        assert_eq!(back, reencrypted);
    }
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let mut junk = [0u8; GT_LEN];
    rng.fill_bytes(&mut junk);
    assert!(matches!(
        Reencrypted::<P>::from_bytes(&junk),
        Err(SchemeError::Malformed(_))
    ));
    assert!(matches!(
        Rekey::<P>::from_bytes(&[0xff; G2_LEN]),
        Err(SchemeError::Malformed(_))
    ));
    assert!(matches!(
        Rekey::<P>::from_bytes(&[0; 5]),
        Err(SchemeError::Malformed(_))
    ));
}

#[test]
fn afgh_wire_lengths() {
    // The constants are arkworks' compressed sizes.
    assert_eq!(G1Affine::generator().compressed_size(), G1_LEN);
    assert_eq!(G2Affine::generator().compressed_size(), G2_LEN);
    assert_eq!(
        PairingOutput::<Bls12_381>::generator().compressed_size(),
        GT_LEN
    );

    // afgh: epoch 8, capsule 48, flag 1, [target 8 + G_T 576], body + tag 16.
    let mut org = Org::<Afgh>::new(3, &[0, 1], 14);
    let (id, epoch, text, sealed) = org.seal(0);
    let body = text.len() + 16;
    assert_eq!(sealed.wire_len(), 8 + 48 + 1 + body);
    assert_eq!(visited(&sealed), 48 + body);
    org.store(id, epoch, text, sealed);
    org.change(0, &[2], &[], true);
    let record = org.server.get(ROOM, id).unwrap();
    assert_eq!(record.wire_len(), 8 + 48 + 1 + 8 + 576 + body);
    assert_eq!(visited(&record), 48 + 576 + body);
    org.send(1);
    org.change(2, &[], &[1], true);
    for (kind, n, len) in &org.control_lengths {
        let expected = match *kind {
            "request" => 1 + 8 + 8 + 96,
            "held" => 1 + 8 + 4 + n * (8 + 8 + 96),
            _ => 1 + 8 + 4 + n * (8 + 96),
        };
        assert_eq!(*len, expected, "{kind} of {n}");
    }
    let kinds: BTreeSet<_> = org.control_lengths.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(kinds.len(), 3, "every control message kind was routed");

    // afgh-hybrid: key id 16, flag 1, [wrap 48], [584], nonce 24, body + tag 16.
    let mut org = Org::<AfghHybrid>::new(3, &[0, 1], 15);
    let (id, epoch, text, first) = org.seal(0);
    let body = text.len() + 16;
    assert_eq!(first.wire_len(), 16 + 1 + 48 + 24 + body);
    org.store(id, epoch, text, first);
    let (id2, epoch, text, second) = org.seal(0);
    assert_eq!(second.wire_len(), 16 + 1 + 24 + second.body.len());
    assert_eq!(
        second.key,
        org.server.get(ROOM, id).unwrap().key,
        "the key is reused"
    );
    org.store(id2, epoch, text, second);
    org.change(0, &[2], &[], true);
    let record = org.server.get(ROOM, id2).unwrap();
    assert_eq!(
        record.wire_len(),
        16 + 1 + 48 + 584 + 24 + record.body.len()
    );
    assert_eq!(visited(&record), 48 + 576 + 24 + record.body.len());
}

fn visited(w: &impl Wire) -> usize {
    let mut n = 0;
    w.visit_bytes(&mut |b| n += b.len());
    n
}

/// Runs three epochs in which every member sends `per_member` messages (members other than the
/// first open one of its records first when `adopt`), and returns the units of the last change
/// and the number of message keys stored.
fn hybrid_units(per_member: usize, adopt: bool, seed: u64) -> (u64, usize) {
    let mut org = Org::<AfghHybrid>::new(5, &[0, 1, 2], seed);
    for (changer, add) in [(0, 3), (1, 4)] {
        let first = org.send(0);
        for member in org.members.clone() {
            if adopt && member != 0 {
                org.open(member, first).unwrap();
            }
            for _ in 0..per_member {
                org.send(member);
            }
        }
        org.take_work();
        org.change(changer, &[add], &[], true);
    }
    let keys: BTreeSet<KeyId> = org
        .messages
        .iter()
        .map(|(id, _, _)| org.server.get(ROOM, *id).unwrap().key)
        .collect();
    (org.take_work(), keys.len())
}

#[test]
fn afgh_hybrid_units_follow_message_keys_not_messages() {
    let (few, keys_few) = hybrid_units(1, true, 16);
    let (many, keys_many) = hybrid_units(12, true, 17);
    // One key per epoch once senders adopt it: epochs 0 and 1 (the room was created at 0).
    assert_eq!((few, keys_few), (2, 2));
    assert_eq!((many, keys_many), (2, 2));
    // Without adoption each sender makes its own key, and units follow.
    let (units, keys) = hybrid_units(6, false, 18);
    assert_eq!(units, keys as u64);
    assert!(keys > 2);

    // afgh, for contrast: one unit per message.
    let mut org = Org::<Afgh>::new(3, &[0, 1], 19);
    for _ in 0..7 {
        org.send(0);
    }
    org.take_work();
    org.change(1, &[2], &[], true);
    assert_eq!(org.take_work(), 7);
}

/// What an active server could send instead of a genuine element: each is refused with the
/// decoder's own error, not merely "some error".
#[test]
fn hostile_group_elements_are_refused_specifically() {
    use ark_bls12_381::Fq12;
    use ark_ff::One;

    let not_in_gt = SchemeError::Malformed("AFGH re-encrypted capsule: not in G_T");
    // An element of F_{q^12}^* outside the order-r subgroup: 2 (its order divides q^12 - 1
    // but not r).
    let outside = PairingOutput::<Bls12_381>(Fq12::from(2u8));
    let mut bytes = Vec::new();
    outside.serialize_compressed(&mut bytes).unwrap();
    assert_eq!(
        Reencrypted::<Bls12>::from_bytes(&bytes),
        Err(not_in_gt.clone())
    );
    // The identity of G_T: `α' = 1` would open under every key.
    let one = PairingOutput::<Bls12_381>(Fq12::one());
    let mut bytes = Vec::new();
    one.serialize_compressed(&mut bytes).unwrap();
    assert_eq!(Reencrypted::<Bls12>::from_bytes(&bytes), Err(not_in_gt));
    // An identity G_2 re-key would turn every capsule into the identity of G_T.
    let mut bytes = Vec::new();
    G2Affine::zero().serialize_compressed(&mut bytes).unwrap();
    assert_eq!(
        Rekey::<Bls12>::from_bytes(&bytes),
        Err(SchemeError::Malformed("AFGH re-key: not a G_2 point"))
    );
    // The identity of G_1 as a capsule.
    let mut bytes = Vec::new();
    G1Affine::zero().serialize_compressed(&mut bytes).unwrap();
    assert_eq!(
        Capsule::<Bls12>::from_bytes(&bytes),
        Err(SchemeError::Malformed("AFGH capsule: not a G_1 point"))
    );
    // A genuine element still decodes.
    let genuine = PairingOutput::<Bls12_381>::generator();
    let mut bytes = Vec::new();
    genuine.serialize_compressed(&mut bytes).unwrap();
    assert!(Reencrypted::<Bls12>::from_bytes(&bytes).is_ok());
}
