//! Conformance suites of the history-protection family, and the harness they run on.
//!
//! [`HistoryHarness`] is one room on one message server with a fixed set of users: it hands out
//! a fresh random [`EpochSecret`] per epoch (standing in for key distribution), tells every
//! current member about each change as the simulator does, and routes the control traffic this
//! causes synchronously until it settles. The suites drive it through the properties every scheme
//! must have (see DESIGN.md §2 and the history brief):
//!
//! * [`history_round_trip`]: every current member opens every stored message, across epochs;
//! * [`history_policy`]: joiners read history exactly when the policy shares it, and a removed
//!   member opens nothing sealed after its removal;
//! * [`history_late_store`]: a record stored after the room moved on still opens;
//! * [`history_rejects_tampering`]: a corrupted record is an error, never a wrong plaintext;
//! * [`history_storage_breach`]: reports (without judging) whether an old epoch key opens stored
//!   records of its epoch once the room has re-keyed; the caller asserts what the scheme claims.
//!
//! [`history_conformance`] runs them all, each as far as the scheme claims the property.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use crate::rekeying::{RekeyingClient, RekeyingServer};
use std::collections::BTreeSet;
use std::sync::Arc;

use super::Tamper;
use crate::common::router::{Arrival, Router};
use crate::pre::none::PlainRecord;
use crate::pre::{EpochChange, HistoryClient, HistoryProtection, HistoryServer, KeyView, Work};
use crate::{
    CryptoRngCore, Epoch, EpochSecret, MsgId, Opened, Origin, Outbox, RoomId, SchemeError, UserId,
    Wire,
};

/// What an access test asks of an open: the plaintext, or that the reader cannot read it. A key
/// the reader does not hold ([`Opened::Pending`]) counts as [`SchemeError::Crypto`] here: an
/// outsider's pending key never arrives.
///
/// # Errors
/// The open's error, or [`SchemeError::Crypto`] for a pending key.
pub fn readable(opened: Result<Opened, SchemeError>) -> Result<Vec<u8>, SchemeError> {
    match opened? {
        Opened::Plaintext(p) => Ok(p),
        Opened::Pending { .. } => Err(SchemeError::Crypto),
    }
}

/// A fresh server (of either data family) whose directory names `changer` the changer of every
/// epoch of `room` from 1 to 7: for unit tests that drive a server by hand.
#[must_use]
pub fn server_changed_by<S: RekeyingServer + Default>(room: RoomId, changer: UserId) -> S {
    let mut server = S::default();
    for e in 1..8 {
        server.name_changer(room, Epoch(e), changer).unwrap();
    }
    server
}

/// Control messages one routing may take before the harness calls it a livelock.
const ROUTE_LIMIT: usize = 100_000;

/// A message the harness sealed, with what it expects readers to get back.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The message.
    pub id: MsgId,
    /// The epoch it was sealed under.
    pub epoch: Epoch,
    /// Who sealed it.
    pub sender: UserId,
    /// Its plaintext.
    pub text: Vec<u8>,
    /// Whether the server holds it yet.
    pub stored: bool,
}

/// One control message delivered by a [`HistoryHarness`]: its direction, the user who sent it
/// to the server or received it from there, and its wire length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlSent {
    /// Whether it went to the server (else from the server, or relayed, to `user`).
    pub to_server: bool,
    /// The sender of a message to the server, or the recipient of one from it.
    pub user: UserId,
    /// [`Wire::wire_len`] of the message.
    pub len: usize,
}

/// One room of a history-protection scheme, with its message server and `users` clients, and
/// control traffic delivered synchronously.
#[allow(missing_debug_implementations)]
pub struct HistoryHarness<H: HistoryProtection> {
    /// The room.
    pub room: RoomId,
    /// Whether changes share history with joiners (policy `shared`) or not (`from_join`).
    pub shares_history: bool,
    /// The message server.
    pub server: H::Server,
    /// Every user's client, by id.
    pub clients: Vec<H::Client>,
    /// Each user's latest epoch key for the room. A removed member keeps its last one: it is
    /// what that member still holds.
    pub keys: Vec<Option<(Epoch, EpochSecret)>>,
    /// The current members.
    pub members: BTreeSet<UserId>,
    /// Every epoch's secret, indexed by epoch number (for adversary experiments).
    pub secrets: Vec<EpochSecret>,
    /// Every message sealed so far, in order.
    pub sent: Vec<Sent>,
    /// Server work reported by every control message handled.
    pub work: Vec<Work>,
    /// Control messages delivered (one per recipient).
    pub control_messages: usize,
    /// Wire bytes of the control messages delivered.
    pub control_bytes: usize,
    /// Every control message delivered since [`record_control`](Self::record_control), in
    /// order (one entry per recipient).
    pub control_log: Vec<ControlSent>,
    /// Whether deliveries are recorded in `control_log` (off by default: the instruction-count
    /// gate drives this harness, and a log growing on its heap would move its counts).
    recording: bool,
    next_msg: u64,
    /// The changer of the latest epoch: every message it sends the server is first delivered
    /// as if from another member, which the server must refuse.
    changer: Option<UserId>,
}

impl<H: HistoryProtection> HistoryHarness<H> {
    /// Users `0..users` with fresh clients, an empty server, and a room not yet created.
    #[must_use]
    pub fn new(users: u32, room: RoomId, shares_history: bool) -> Self {
        Self {
            room,
            shares_history,
            server: H::Server::default(),
            clients: (0..users).map(|u| H::new_client(UserId(u))).collect(),
            keys: (0..users).map(|_| None).collect(),
            members: BTreeSet::new(),
            secrets: Vec::new(),
            sent: Vec::new(),
            work: Vec::new(),
            control_messages: 0,
            control_bytes: 0,
            control_log: Vec::new(),
            recording: false,
            changer: None,
            next_msg: 0,
        }
    }

    /// As [`HistoryHarness::new`], with the room created by user 0 for users 0 and 1.
    #[must_use]
    pub fn with_pair(
        users: u32,
        room: RoomId,
        shares_history: bool,
        rng: &mut dyn CryptoRngCore,
    ) -> Self {
        let mut h = Self::new(users, room, shares_history);
        h.create(&[UserId(0), UserId(1)], UserId(0), rng);
        h
    }

    /// Records every control message delivered from now on in
    /// [`control_log`](Self::control_log).
    pub fn record_control(&mut self) {
        self.recording = true;
    }

    fn log_control(&mut self, to_server: bool, user: UserId, len: usize) {
        if self.recording {
            self.control_log.push(ControlSent {
                to_server,
                user,
                len,
            });
        }
    }

    /// The room's current epoch.
    #[must_use]
    pub fn epoch(&self) -> Epoch {
        assert!(!self.secrets.is_empty(), "the room has not been created");
        Epoch(self.secrets.len() as u64 - 1)
    }

    /// The key of epoch `epoch`, as anyone holding that epoch's secret sees it.
    #[must_use]
    pub fn key_of(&self, epoch: Epoch) -> KeyView<'_> {
        KeyView {
            room: self.room,
            epoch,
            secret: &self.secrets[usize::try_from(epoch.0).unwrap()],
        }
    }

    /// `user`'s latest key (its current one while it is a member).
    #[must_use]
    pub fn key(&self, user: UserId) -> KeyView<'_> {
        let (epoch, secret) = self.keys[user.0 as usize]
            .as_ref()
            .unwrap_or_else(|| panic!("{user} never held a key"));
        KeyView {
            room: self.room,
            epoch: *epoch,
            secret,
        }
    }

    /// Creates the room at epoch 0 with `members`, `by` being the creator.
    pub fn create(&mut self, members: &[UserId], by: UserId, rng: &mut dyn CryptoRngCore) {
        assert!(self.secrets.is_empty(), "the room exists already");
        assert!(members.contains(&by), "the creator must be a member");
        self.start_epoch(members, &[], by, rng);
    }

    /// A membership change by `by` (a continuing member): `add` join, `remove` leave, and
    /// every member after the change moves to a fresh epoch. Both lists may be empty (a re-key).
    pub fn change(
        &mut self,
        add: &[UserId],
        remove: &[UserId],
        by: UserId,
        rng: &mut dyn CryptoRngCore,
    ) {
        assert!(!self.secrets.is_empty(), "the room has not been created");
        assert!(
            self.members.contains(&by) && !remove.contains(&by),
            "the changer must be a continuing member"
        );
        self.start_epoch(add, remove, by, rng);
    }

    /// `users` join, added by `by`.
    pub fn join(&mut self, users: &[UserId], by: UserId, rng: &mut dyn CryptoRngCore) {
        self.change(users, &[], by, rng);
    }

    /// `users` are removed by `by`.
    pub fn remove(&mut self, users: &[UserId], by: UserId, rng: &mut dyn CryptoRngCore) {
        self.change(&[], users, by, rng);
    }

    /// `by` re-keys the room without changing its membership.
    pub fn rekey(&mut self, by: UserId, rng: &mut dyn CryptoRngCore) {
        self.change(&[], &[], by, rng);
    }

    fn start_epoch(
        &mut self,
        add: &[UserId],
        remove: &[UserId],
        by: UserId,
        rng: &mut dyn CryptoRngCore,
    ) {
        let before = self.members.clone();
        self.members.extend(add.iter().copied());
        for u in remove {
            self.members.remove(u);
        }
        let epoch = Epoch(self.secrets.len() as u64);
        let secret = EpochSecret::random(rng);
        self.secrets.push(secret.clone());
        self.server
            .name_changer(self.room, epoch, by)
            .unwrap_or_else(|e| panic!("{}: naming the changer of {epoch}: {e}", H::NAME));
        self.changer = Some(by);
        // The changer first, as it is the first to hold the new epoch.
        let order = std::iter::once(by).chain(self.members.iter().copied().filter(|u| *u != by));
        for user in order.collect::<Vec<_>>() {
            let prev = before
                .contains(&user)
                .then(|| self.keys[user.0 as usize].clone())
                .flatten();
            let mut out = Outbox::new();
            let change = EpochChange {
                prev: prev.as_ref().map(|(e, s)| KeyView {
                    room: self.room,
                    epoch: *e,
                    secret: s,
                }),
                next: KeyView {
                    room: self.room,
                    epoch,
                    secret: &secret,
                },
                changer: user == by,
                shares_history: self.shares_history,
            };
            self.clients[user.0 as usize]
                .epoch_changed(change, rng, &mut out)
                .unwrap_or_else(|e| panic!("{}: epoch_changed of {user} to {epoch}: {e}", H::NAME));
            self.keys[user.0 as usize] = Some((epoch, secret.clone()));
            self.route(user, out, rng);
        }
    }

    /// Delivers `out`, sent by `from`, and everything it causes, until the traffic settles.
    pub fn route(&mut self, from: UserId, out: Outbox<H::Message>, rng: &mut dyn CryptoRngCore) {
        Router::with_limit(ROUTE_LIMIT)
            .route(Origin::User(from), out, |arrival| {
                Ok::<_, SchemeError>(match arrival {
                    Arrival::AtServer { from: user, msg } => {
                        self.control_messages += 1;
                        self.control_bytes += msg.wire_len();
                        self.log_control(true, user, msg.wire_len());
                        let changer = self.changer == Some(user);
                        super::server_handles(
                            H::NAME,
                            &mut self.server,
                            (self.room, user),
                            changer,
                            msg,
                            rng,
                            &mut self.work,
                        )
                    }
                    Arrival::AtUser { to, msg, .. } => self.deliver(to, msg, rng),
                })
            })
            .unwrap_or_else(|e| panic!("{}: control traffic: {e}", H::NAME));
    }

    fn deliver(
        &mut self,
        to: UserId,
        msg: &H::Message,
        rng: &mut dyn CryptoRngCore,
    ) -> Outbox<H::Message> {
        self.control_messages += 1;
        self.control_bytes += msg.wire_len();
        self.log_control(false, to, msg.wire_len());
        let (epoch, secret) = self.keys[to.0 as usize]
            .clone()
            .unwrap_or_else(|| panic!("{}: a control message for {to}, who holds no key", H::NAME));
        let key = KeyView {
            room: self.room,
            epoch,
            secret: &secret,
        };
        let mut o = Outbox::new();
        self.clients[to.0 as usize]
            .handle(key, msg, rng, &mut o)
            .unwrap_or_else(|e| panic!("{}: client handle of {to}: {e}", H::NAME));
        o
    }

    /// `by` seals `text` as a new message under its current key; the record is not stored yet.
    pub fn seal(
        &mut self,
        by: UserId,
        text: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> (MsgId, H::Sealed) {
        assert!(self.members.contains(&by), "{by} is not a member");
        let id = MsgId(self.next_msg);
        self.next_msg += 1;
        let (epoch, secret) = self.keys[by.0 as usize].clone().unwrap();
        let key = KeyView {
            room: self.room,
            epoch,
            secret: &secret,
        };
        let sealed = self.clients[by.0 as usize]
            .seal(key, id, text, rng)
            .unwrap_or_else(|e| panic!("{}: seal by {by}: {e}", H::NAME));
        self.sent.push(Sent {
            id,
            epoch,
            sender: by,
            text: text.to_vec(),
            stored: false,
        });
        (id, sealed)
    }

    /// Stores a record sealed earlier.
    pub fn store(&mut self, id: MsgId, sealed: H::Sealed) {
        self.server
            .store(self.room, id, sealed)
            .unwrap_or_else(|e| panic!("{}: store of {id}: {e}", H::NAME));
        self.sent_mut(id).stored = true;
    }

    /// `by` sends `text`: sealed and stored at once.
    pub fn send(&mut self, by: UserId, text: &[u8], rng: &mut dyn CryptoRngCore) -> MsgId {
        let (id, sealed) = self.seal(by, text, rng);
        self.store(id, sealed);
        id
    }

    /// The record of `id` as the server sends it to a reader.
    #[must_use]
    pub fn get(&self, id: MsgId) -> H::Sealed {
        self.server
            .get(self.room, id)
            .unwrap_or_else(|| panic!("{}: {id} is not stored", H::NAME))
    }

    /// `user` fetches and opens `id` with its latest key.
    ///
    /// # Errors
    /// Whatever the scheme's `open` returns.
    pub fn read(&mut self, user: UserId, id: MsgId) -> Result<Opened, SchemeError> {
        let record = self.get(id);
        let (epoch, secret) = self.keys[user.0 as usize].clone().unwrap();
        let key = KeyView {
            room: self.room,
            epoch,
            secret: &secret,
        };
        self.clients[user.0 as usize].open(key, id, &record)
    }

    /// A fresh client given only epoch `epoch`'s key opens `record` (an adversary who holds an
    /// old key and the stored record).
    ///
    /// # Errors
    /// Whatever the scheme's `open` returns.
    pub fn open_fresh(
        &self,
        epoch: Epoch,
        id: MsgId,
        record: &H::Sealed,
    ) -> Result<Opened, SchemeError> {
        let outsider = UserId(u32::try_from(self.clients.len()).unwrap());
        H::new_client(outsider).open(self.key_of(epoch), id, record)
    }

    /// What was sealed as `id`.
    #[must_use]
    pub fn sent(&self, id: MsgId) -> &Sent {
        self.sent.iter().find(|s| s.id == id).unwrap()
    }

    fn sent_mut(&mut self, id: MsgId) -> &mut Sent {
        self.sent.iter_mut().find(|s| s.id == id).unwrap()
    }

    /// Panics (naming `property`) unless `user` opens `id` to its plaintext.
    pub fn assert_reads(&mut self, user: UserId, id: MsgId, property: &str) {
        let expected = self.sent(id).clone();
        match self.read(user, id) {
            Ok(Opened::Plaintext(text)) if text == expected.text => {}
            Ok(Opened::Pending { waiting_for }) => panic!(
                "{}: {property}: {user} in {} cannot open {id} (sealed by {} in {}) yet: it waits for {waiting_for}",
                H::NAME,
                self.key(user).epoch,
                expected.sender,
                expected.epoch
            ),
            Ok(Opened::Plaintext(_)) => panic!(
                "{}: {property}: {user} opened {id} (sealed by {} in {}) to a wrong plaintext",
                H::NAME,
                expected.sender,
                expected.epoch
            ),
            Err(e) => panic!(
                "{}: {property}: {user} in {} cannot open {id} (sealed by {} in {}): {e}",
                H::NAME,
                self.key(user).epoch,
                expected.sender,
                expected.epoch
            ),
        }
    }

    /// Panics (naming `property` and `what`) unless `user` fails to open `id` (an error, or a
    /// key it does not hold).
    pub fn assert_cannot_read(&mut self, user: UserId, id: MsgId, property: &str, what: &str) {
        let expected = self.sent(id).clone();
        match self.read(user, id) {
            Err(_) | Ok(Opened::Pending { .. }) => {}
            Ok(Opened::Plaintext(text)) if text == expected.text => panic!(
                "{}: {property}: {user} {what} ({id}, sealed in {})",
                H::NAME,
                expected.epoch
            ),
            Ok(_) => panic!(
                "{}: {property}: {user} opened {id} to a wrong plaintext instead of an error",
                H::NAME
            ),
        }
    }

    /// Every current member opens every stored message.
    pub fn assert_members_read_all(&mut self, property: &str) {
        let stored: Vec<MsgId> = self
            .sent
            .iter()
            .filter(|s| s.stored)
            .map(|s| s.id)
            .collect();
        for user in self.members.clone() {
            for &id in &stored {
                self.assert_reads(user, id, property);
            }
        }
    }
}

/// History protection: across five successive epochs (joins, removals, messages from different
/// members in each), every current member opens every stored message of every epoch after each
/// change (policy `shared`).
pub fn history_round_trip<H: HistoryProtection>(rng: &mut dyn CryptoRngCore) {
    const PROPERTY: &str = "round trip";
    let u = UserId;
    let mut h = HistoryHarness::<H>::new(6, RoomId(1), true);
    h.create(&[u(0), u(1), u(2)], u(0), rng);
    // (joining, leaving, changer) for epochs 1..=4.
    let changes: [(&[UserId], &[UserId], UserId); 4] = [
        (&[u(3)], &[], u(0)),
        (&[], &[u(1)], u(2)),
        (&[u(4), u(5)], &[], u(3)),
        (&[], &[u(0)], u(4)),
    ];
    for epoch in 0..=changes.len() {
        if epoch > 0 {
            let (add, remove, by) = changes[epoch - 1];
            h.change(add, remove, by, rng);
            h.assert_members_read_all(PROPERTY);
        }
        // Two messages per epoch, from two different members.
        let members: Vec<UserId> = h.members.iter().copied().collect();
        for i in 0..2 {
            let sender = members[(epoch + i) % members.len()];
            let text = format!("epoch {epoch}, message {i}, from {sender}");
            h.send(sender, text.as_bytes(), rng);
        }
        h.assert_members_read_all(PROPERTY);
    }
}

/// History protection, the membership policy:
/// (a) `shared`: a joiner opens history from before its join;
/// (b) `from_join`: a joiner opens none of the messages from before its join (each is an error),
///     while continuing members still open them;
/// (c) under both policies, a removed member, with its client state and its last key, opens
///     none of the messages sealed after its removal while the room goes on for two more epochs.
pub fn history_policy<H: HistoryProtection>(rng: &mut dyn CryptoRngCore) {
    history_shared_join::<H>(rng);
    history_from_join::<H>(rng);
    history_removal::<H>(true, rng);
    history_removal::<H>(false, rng);
}

/// Room `room` of five users under the policy `shares_history`: created by user 0 with users 1
/// and 2, a message in each of its first two epochs, then user 3 joins (added by user 2). The
/// harness, and the two messages from before the join.
fn joined_after_two_epochs<H: HistoryProtection>(
    room: RoomId,
    shares_history: bool,
    rng: &mut dyn CryptoRngCore,
) -> (HistoryHarness<H>, Vec<MsgId>) {
    let u = UserId;
    let mut h = HistoryHarness::<H>::new(5, room, shares_history);
    h.create(&[u(0), u(1), u(2)], u(0), rng);
    let mut before = vec![h.send(u(0), b"before the join, epoch 0", rng)];
    h.rekey(u(1), rng);
    before.push(h.send(u(1), b"before the join, epoch 1", rng));
    h.join(&[u(3)], u(2), rng);
    (h, before)
}

/// [`history_policy`] (a): under `shared`, joiners open history from before their join.
pub fn history_shared_join<H: HistoryProtection>(rng: &mut dyn CryptoRngCore) {
    const PROPERTY: &str = "shared history";
    let u = UserId;
    let (mut h, mut before) = joined_after_two_epochs::<H>(RoomId(2), true, rng);
    for &id in &before {
        h.assert_reads(u(3), id, PROPERTY);
    }
    before.push(h.send(u(3), b"after the first join", rng));
    h.join(&[u(4)], u(0), rng);
    for &id in &before {
        h.assert_reads(u(4), id, PROPERTY);
    }
    h.assert_members_read_all(PROPERTY);
}

/// [`history_policy`] (b): under `from_join`, joiners open nothing from before their join.
pub fn history_from_join<H: HistoryProtection>(rng: &mut dyn CryptoRngCore) {
    const PROPERTY: &str = "from_join";
    const WHAT: &str = "opened a message from before its join";
    let u = UserId;
    let (mut h, before) = joined_after_two_epochs::<H>(RoomId(3), false, rng);
    for &id in &before {
        h.assert_cannot_read(u(3), id, PROPERTY, WHAT);
    }
    for user in [u(0), u(1), u(2)] {
        for &id in &before {
            h.assert_reads(user, id, "from_join: continuing members keep their history");
        }
    }
    let after = h.send(u(3), b"after the join", rng);
    h.assert_reads(u(0), after, "from_join: members read the joiner");
    // Two more changes: the joiner still opens nothing older, and what it saw stays readable.
    h.remove(&[u(1)], u(0), rng);
    h.join(&[u(4)], u(3), rng);
    for &id in &before {
        h.assert_cannot_read(u(3), id, PROPERTY, WHAT);
        h.assert_cannot_read(u(4), id, PROPERTY, WHAT);
        h.assert_reads(u(0), id, "from_join: continuing members keep their history");
        h.assert_reads(u(2), id, "from_join: continuing members keep their history");
    }
    h.assert_cannot_read(u(4), after, PROPERTY, WHAT);
    h.assert_reads(u(3), after, "from_join: members keep what they joined for");
    let last = h.send(u(2), b"after both joins", rng);
    for user in h.members.clone() {
        h.assert_reads(user, last, "from_join: members read the current epoch");
    }
}

/// [`history_policy`] (c): a removed member opens nothing sealed after its removal.
pub fn history_removal<H: HistoryProtection>(shares_history: bool, rng: &mut dyn CryptoRngCore) {
    const PROPERTY: &str = "removal";
    let u = UserId;
    let mut h = HistoryHarness::<H>::new(5, RoomId(4), shares_history);
    h.create(&[u(0), u(1), u(2), u(3)], u(0), rng);
    let before = h.send(u(2), b"before the removal", rng);
    h.assert_reads(u(2), before, "removal: the member reads while it is one");
    h.remove(&[u(2)], u(0), rng);
    let mut after = vec![h.send(u(1), b"just after the removal", rng)];
    h.rekey(u(1), rng);
    after.push(h.send(u(3), b"one epoch later", rng));
    h.join(&[u(4)], u(3), rng);
    after.push(h.send(u(0), b"two epochs later", rng));
    for &id in &after {
        h.assert_cannot_read(
            u(2),
            id,
            PROPERTY,
            "opened a message sealed after its removal",
        );
    }
    for user in [u(0), u(1), u(3)] {
        for &id in after.iter().chain([&before]) {
            h.assert_reads(user, id, "removal: the remaining members read on");
        }
    }
}

/// History protection: a record sealed under epoch e but stored only after the room moved to
/// e + 2 (nothing orders a sender's store against a changer's re-keying) still opens for every
/// current member, including one that joined after e, and again after a further change. Under
/// `from_join` the members that held e still open it.
pub fn history_late_store<H: HistoryProtection>(rng: &mut dyn CryptoRngCore) {
    for shares_history in [true, false] {
        let property = if shares_history {
            "late store"
        } else {
            "late store (from_join)"
        };
        let u = UserId;
        let mut h = HistoryHarness::<H>::new(6, RoomId(5), shares_history);
        h.create(&[u(0), u(1), u(2), u(3)], u(0), rng);
        h.send(u(0), b"epoch 0", rng);
        h.rekey(u(0), rng);
        let (late, record) = h.seal(u(1), b"sealed in epoch 1, stored in epoch 3", rng);
        h.send(u(2), b"epoch 1, on time", rng);
        h.join(&[u(4)], u(0), rng);
        h.remove(&[u(2)], u(3), rng);
        h.store(late, record);
        if shares_history {
            h.assert_members_read_all(property);
            h.join(&[u(5)], u(1), rng);
            h.assert_members_read_all(property);
        } else {
            for user in [u(0), u(1), u(3)] {
                h.assert_reads(user, late, property);
            }
            h.join(&[u(5)], u(1), rng);
            for user in [u(0), u(1), u(3)] {
                h.assert_reads(user, late, property);
            }
        }
    }
}

/// History protection: a stored record with one bit flipped in an authenticated field does not
/// open: the reader gets an error, never a plaintext. Checked on records of the current epoch
/// and of earlier ones, after the room re-keyed.
pub fn history_rejects_tampering<H: HistoryProtection>(rng: &mut dyn CryptoRngCore)
where
    H::Sealed: Tamper,
{
    let u = UserId;
    let mut h = HistoryHarness::<H>::new(4, RoomId(6), true);
    h.create(&[u(0), u(1), u(2)], u(0), rng);
    let mut ids = vec![h.send(u(0), b"an old message", rng)];
    h.join(&[u(3)], u(1), rng);
    ids.push(h.send(u(2), b"a message of the current epoch", rng));
    for id in ids {
        for reader in [u(1), u(3)] {
            h.assert_reads(reader, id, "tampering: the untouched record opens");
            let mut bad = h.get(id);
            assert!(
                bad.tamper(),
                "{}: tampering: the record has no authenticated field",
                H::NAME
            );
            let key = h.key(reader);
            let (epoch, secret) = (key.epoch, key.secret.clone());
            let key = KeyView {
                room: h.room,
                epoch,
                secret: &secret,
            };
            if h.clients[reader.0 as usize].open(key, id, &bad).is_ok() {
                panic!(
                    "{}: tampering: a tampered record opened for {reader} ({id})",
                    H::NAME
                );
            }
        }
    }
}

/// History protection, storage breach with an old key: the room's members seal records in epoch
/// 1; the room then re-keys twice (a removal and a join, history shared). Returns whether a fresh
/// client given only epoch 1's key opens those records as the server now stores them. Whether
/// that is expected is the scheme's claim (its module doc); the caller asserts it.
///
/// Panics if the records open only in part or to a wrong plaintext, or if the members cannot
/// read them.
pub fn history_storage_breach<H: HistoryProtection>(rng: &mut dyn CryptoRngCore) -> bool {
    let u = UserId;
    let mut h = HistoryHarness::<H>::new(5, RoomId(7), true);
    h.create(&[u(0), u(1), u(2), u(3)], u(0), rng);
    h.rekey(u(0), rng);
    let old = h.epoch();
    let ids: Vec<MsgId> = (0..3)
        .map(|i| h.send(u(i), format!("epoch 1, from {i}").as_bytes(), rng))
        .collect();
    h.remove(&[u(3)], u(1), rng);
    h.join(&[u(4)], u(2), rng);
    h.assert_members_read_all("storage breach: members read the history");
    let mut opened = 0;
    for &id in &ids {
        let record = h.get(id);
        match h.open_fresh(old, id, &record) {
            Ok(Opened::Plaintext(text)) if text == h.sent(id).text => opened += 1,
            Ok(Opened::Plaintext(_)) => panic!(
                "{}: storage breach: {id} opened to a wrong plaintext",
                H::NAME
            ),
            Err(_) | Ok(Opened::Pending { .. }) => {}
        }
    }
    assert!(
        opened == 0 || opened == ids.len(),
        "{}: storage breach: the old key opens only {opened} of {} records of its epoch",
        H::NAME,
        ids.len()
    );
    opened > 0
}

/// History protection: the family's suite, for what scheme `H` claims
/// ([`HistoryProtection::PROPERTIES`]), in turn:
///
/// * [`history_round_trip`], [`history_shared_join`] and [`history_late_store`], always;
/// * [`history_from_join`] and [`history_rejects_tampering`], unless the server reads stored
///   bodies (without end-to-end encryption only the server's access control keeps a joiner
///   out, and nothing is authenticated);
/// * [`history_removal`] under both policies, if it claims `removal_excludes`;
/// * [`history_storage_breach`], which must open the old epoch's records exactly when the
///   scheme does not re-protect stored history in a room that shares it
///   ([`Rotation::under`](crate::pre::Rotation::under)).
///
/// The registry's conformance test runs it for every scheme of
/// [`each_history`](crate::registry::each_history).
pub fn history_conformance<H: HistoryProtection>(rng: &mut dyn CryptoRngCore)
where
    H::Sealed: Tamper,
{
    let claims = H::PROPERTIES;
    history_round_trip::<H>(rng);
    history_shared_join::<H>(rng);
    if !claims.server_reads_bodies {
        history_from_join::<H>(rng);
    }
    if claims.removal_excludes {
        history_removal::<H>(true, rng);
        history_removal::<H>(false, rng);
    }
    history_late_store::<H>(rng);
    if !claims.server_reads_bodies {
        history_rejects_tampering::<H>(rng);
    }
    let exposed = !claims.rotates_stored_history.under(true);
    assert_eq!(
        history_storage_breach::<H>(rng),
        exposed,
        "{}: storage breach: an old epoch's key {} its records after the room re-keyed, \
         against the scheme's claim (rotates_stored_history: {:?})",
        H::NAME,
        if exposed {
            "no longer opens"
        } else {
            "still opens"
        },
        claims.rotates_stored_history
    );
}

/// A stored body (ciphertext and tag, shared between copies of a record): flips a bit of its first
/// byte in a copy of its own.
impl Tamper for Arc<[u8]> {
    fn tamper(&mut self) -> bool {
        let mut body = self.to_vec();
        match body.first_mut() {
            Some(b) => {
                *b ^= 1;
                *self = body.into();
                true
            }
            None => false,
        }
    }
}

/// The plaintext baseline has nothing authenticated; its "tampering" flips a body bit, so that
/// the tampering suite can show that the baseline fails it.
impl Tamper for PlainRecord {
    fn tamper(&mut self) -> bool {
        self.0.tamper()
    }
}
