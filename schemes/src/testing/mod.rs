//! Conformance suites every scheme of a family must pass, and the synchronous message router
//! they run on. Enabled by the `testing` feature (and in this crate's own tests).
//!
//! The suites panic with a message naming the failed property; they are meant for `#[test]`s.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod history;
mod sse;

pub use history::*;
pub use sse::*;

use std::collections::BTreeMap;

use crate::common::router::{route, Arrival};
use crate::kd::authority::TwoOrganisations;
use crate::kd::impersonate::impersonation;
use crate::kd::overhear::removed_member_overhears;
use crate::kd::{
    Change, Handled, KdAuthority, KdClient, KdServer, KeyDistribution, Origin, Period, Roster,
};
use crate::rekeying::{RekeyingServer, Work};
use crate::{CryptoRngCore, Epoch, EpochSecret, Outbox, RoomId, SchemeError, UserId, Wire};

/// An organisation running one key-distribution scheme, with messages delivered synchronously.
#[allow(missing_debug_implementations)]
pub struct KdHarness<K: KeyDistribution> {
    /// The key server.
    pub server: K::Server,
    /// The authorities of the two organisations ([`enroll_all`]).
    pub authorities: Vec<K::Authority>,
    /// Every user's client, by id.
    pub clients: Vec<K::Client>,
    /// Published credentials, by id.
    pub directory: Vec<K::Credential>,
    /// Rosters, as the directory knows them.
    pub rosters: BTreeMap<RoomId, Vec<UserId>>,
    /// Deliveries so far (a message to several users counts once per recipient).
    pub delivered: usize,
    /// A user that receives a copy of every message delivered to anyone (an insider watching
    /// all traffic); its errors are ignored.
    pub eavesdropper: Option<UserId>,
    /// Corrupts the next user-bound message it returns true for; that delivery's outcome is
    /// kept in [`tamper_outcome`](Self::tamper_outcome) and the message goes no further.
    #[allow(clippy::type_complexity)]
    pub tamper: Option<Box<dyn FnMut(&mut K::Message) -> bool>>,
    /// The outcome of handling the corrupted message.
    pub tamper_outcome: Option<Result<Handled, crate::SchemeError>>,
    /// Sees every call, for per-role costs.
    pub observer: Option<Box<dyn Observer>>,
    /// Messages to this user are not delivered but kept in [`held`](Self::held).
    pub hold_for: Option<UserId>,
    /// Messages kept for [`hold_for`](Self::hold_for), with their origin, in order.
    pub held: Vec<(Origin, K::Message)>,
    /// When set, the length of every message routed from then on is added to it.
    pub wire_log: Option<WireLog>,
    changer: Option<UserId>,
}

/// Lengths of the messages a [`KdHarness`] routes, per direction, in the order they were
/// sent: what a scheme's wire-size formulas are checked against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireLog {
    /// Each message a client sent, once, whether to the key server or for it to relay.
    pub up: Vec<usize>,
    /// Each message handed to a client (a message to several users once per recipient);
    /// those kept for [`KdHarness::hold_for`] are not handed over and not counted.
    pub down: Vec<usize>,
}

impl WireLog {
    /// Both directions' lengths, each sorted, (up, down), leaving the log empty.
    pub fn take_sorted(&mut self) -> (Vec<usize>, Vec<usize>) {
        let mut up = std::mem::take(&mut self.up);
        let mut down = std::mem::take(&mut self.down);
        up.sort_unstable();
        down.sort_unstable();
        (up, down)
    }
}

/// Who does a piece of work in the harness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The member making the change ([`KdClient::change`] and the messages it then handles).
    Changer(UserId),
    /// Another member, or a joiner, handling a message.
    Member(UserId),
    /// The key server handling a message.
    Server,
}

/// Watches every call the harness makes, so a caller can time or count work per role (the
/// harness itself has no clock, like everything in this crate).
pub trait Observer {
    /// A call by `role` starts.
    fn begin(&mut self, role: Role);
    /// The call ends, having received `bytes_in` and sent `bytes_out` (wire lengths).
    fn end(&mut self, role: Role, bytes_in: usize, bytes_out: usize);
}

/// Messages a conformance test can corrupt.
pub trait Tamper {
    /// Flips a bit of a field the recipient authenticates; returns false if the message has no
    /// such field (it is then delivered unchanged).
    fn tamper(&mut self) -> bool;
}

pub use crate::kd::authority::two_orgs_org_of as org_of;

/// A fresh server of scheme `K` with `users` users enrolled in id order, in two organisations
/// that trust each other ([`org_of`]), so that every suite also runs across organisations:
/// the server, the two authorities, the clients and the directory of their credentials.
#[allow(clippy::type_complexity)]
pub fn enroll_all<K: KeyDistribution>(
    users: u32,
    rng: &mut dyn CryptoRngCore,
) -> (
    K::Server,
    Vec<K::Authority>,
    Vec<K::Client>,
    Vec<K::Credential>,
) {
    let t = TwoOrganisations::<K>::new(users, rng).unwrap();
    (t.server, t.authorities, t.clients, t.directory)
}

/// Applies `change` to `roster` as the directory does: sorted, each member once.
pub fn apply_change(roster: &mut Vec<UserId>, change: &Change<'_>) {
    match change {
        Change::Create => {}
        Change::Add(us) => roster.extend_from_slice(us),
        Change::Remove(us) => roster.retain(|u| !us.contains(u)),
    }
    roster.sort_unstable();
    roster.dedup();
}

impl<K: KeyDistribution> KdHarness<K> {
    /// Enrols `users` users.
    pub fn new(users: u32, rng: &mut dyn CryptoRngCore) -> Self {
        let (server, authorities, clients, directory) = enroll_all::<K>(users, rng);
        Self {
            server,
            authorities,
            clients,
            directory,
            rosters: BTreeMap::new(),
            delivered: 0,
            eavesdropper: None,
            tamper: None,
            tamper_outcome: None,
            observer: None,
            hold_for: None,
            held: Vec::new(),
            wire_log: None,
            changer: None,
        }
    }

    /// Enrols `users` users, then user 0 creates `room` with users `0..founders`.
    pub fn with_room(users: u32, room: RoomId, founders: u32, rng: &mut dyn CryptoRngCore) -> Self {
        let mut h = Self::new(users, rng);
        let initial: Vec<UserId> = (0..founders).map(UserId).collect();
        h.create(room, &initial, UserId(0), rng);
        h
    }

    /// `by`'s client starts `change` under `roster`, outside the harness's routing: what it
    /// sends is returned, not delivered.
    ///
    /// # Errors
    /// As [`KdClient::change`].
    pub fn change_by(
        &mut self,
        by: UserId,
        roster: &Roster<'_>,
        change: &Change<'_>,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Outbox<K::Message>, SchemeError> {
        let mut out = Outbox::new();
        self.clients[by.0 as usize].change(roster, change, &self.directory, rng, &mut out)?;
        Ok(out)
    }

    /// `to`'s client handles `msg` from `from` under `roster`, outside the harness's routing:
    /// what it sends in reply is dropped.
    ///
    /// # Errors
    /// As [`KdClient::handle`].
    pub fn handle_by(
        &mut self,
        to: UserId,
        roster: &Roster<'_>,
        from: Origin,
        msg: &K::Message,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Handled, SchemeError> {
        self.clients[to.0 as usize].handle(
            roster,
            from,
            msg,
            &self.directory,
            rng,
            &mut Outbox::new(),
        )
    }

    /// Runs a change by `by` to completion: the roster is updated first, as the directory does.
    pub fn change(
        &mut self,
        room: RoomId,
        by: UserId,
        change: Change<'_>,
        rng: &mut dyn CryptoRngCore,
    ) {
        let roster = self.rosters.entry(room).or_default();
        apply_change(roster, &change);
        self.run_as_changer(room, by, rng, |client, view, directory, rng, out| {
            client.change(view, &change, directory, rng, out)
        });
    }

    /// Runs the rejoin of `who` to `room` by `by` ([`KdClient::rejoin`]) to completion; the
    /// roster is unchanged.
    ///
    /// # Panics
    /// If the client refuses.
    pub fn rejoin(&mut self, room: RoomId, by: UserId, who: UserId, rng: &mut dyn CryptoRngCore) {
        self.run_as_changer(room, by, rng, |client, view, directory, rng, out| {
            client.rejoin(view, who, directory, rng, out)
        });
    }

    /// `by`'s side of a change of `room` (`call` on its client, under the room's roster), then
    /// every message it leads to, routed to completion.
    fn run_as_changer(
        &mut self,
        room: RoomId,
        by: UserId,
        rng: &mut dyn CryptoRngCore,
        call: impl FnOnce(
            &mut K::Client,
            &Roster<'_>,
            crate::kd::Directory<'_, K>,
            &mut dyn CryptoRngCore,
            &mut Outbox<K::Message>,
        ) -> Result<Handled, SchemeError>,
    ) {
        let members = self.rosters.get(&room).cloned().unwrap_or_default();
        let view = Roster {
            room,
            members: &members,
        };
        let mut out = Outbox::new();
        self.changer = Some(by);
        self.begin(Role::Changer(by));
        call(
            &mut self.clients[by.0 as usize],
            &view,
            &self.directory,
            rng,
            &mut out,
        )
        .unwrap();
        self.end(Role::Changer(by), 0, &out);
        self.log_sent(&out);
        self.route(view, by, out, rng);
        self.changer = None;
    }

    fn role_of(&self, user: UserId) -> Role {
        if self.changer == Some(user) {
            Role::Changer(user)
        } else {
            Role::Member(user)
        }
    }

    fn begin(&mut self, role: Role) {
        if let Some(o) = &mut self.observer {
            o.begin(role);
        }
    }

    /// Logs the messages a client sent, if a [`WireLog`] is set.
    fn log_sent(&mut self, out: &Outbox<K::Message>) {
        if let Some(log) = &mut self.wire_log {
            log.up.extend(out.iter().map(|(_, m)| m.wire_len()));
        }
    }

    fn end(&mut self, role: Role, bytes_in: usize, out: &Outbox<K::Message>) {
        if let Some(o) = &mut self.observer {
            let bytes_out = out.iter().map(|(_, m)| m.wire_len()).sum();
            o.end(role, bytes_in, bytes_out);
        }
    }

    /// Sets the roster of a new room and creates it as `by`.
    pub fn create(
        &mut self,
        room: RoomId,
        members: &[UserId],
        by: UserId,
        rng: &mut dyn CryptoRngCore,
    ) {
        self.rosters.insert(room, members.to_vec());
        self.change(room, by, Change::Create, rng);
    }

    fn route(
        &mut self,
        roster: Roster<'_>,
        from: UserId,
        out: Outbox<K::Message>,
        rng: &mut dyn CryptoRngCore,
    ) {
        let deliveries = route(Origin::User(from), out, |arrival| {
            Ok::<_, SchemeError>(match arrival {
                Arrival::AtServer { from, msg } => {
                    let mut o = Outbox::new();
                    let len = msg.wire_len();
                    self.begin(Role::Server);
                    self.server.handle(&roster, from, msg, rng, &mut o).unwrap();
                    self.end(Role::Server, len, &o);
                    o
                }
                Arrival::AtUser { from, to, msg } => self.deliver(&roster, from, to, msg, rng),
            })
        })
        .unwrap();
        self.delivered += deliveries;
    }

    /// Hands `msg` to `to` (corrupted, if the tamperer picks it; copied to the eavesdropper) and
    /// returns what `to` sends in answer.
    fn deliver(
        &mut self,
        roster: &Roster<'_>,
        origin: Origin,
        to: UserId,
        msg: &K::Message,
        rng: &mut dyn CryptoRngCore,
    ) -> Outbox<K::Message> {
        if self.hold_for == Some(to) {
            self.held.push((origin, msg.clone()));
            return Outbox::new();
        }
        if let Some(log) = &mut self.wire_log {
            log.down.push(msg.wire_len());
        }
        if let Some(t) = &mut self.tamper {
            let mut bad = msg.clone();
            if t(&mut bad) {
                self.tamper = None;
                let outcome = self.clients[to.0 as usize].handle(
                    roster,
                    origin,
                    &bad,
                    &self.directory,
                    rng,
                    &mut Outbox::new(),
                );
                self.tamper_outcome = Some(outcome);
                return Outbox::new();
            }
        }
        if let Some(e) = self.eavesdropper.filter(|e| *e != to) {
            let _ = self.clients[e.0 as usize].handle(
                roster,
                origin,
                msg,
                &self.directory,
                rng,
                &mut Outbox::new(),
            );
        }
        let mut o = Outbox::new();
        let role = self.role_of(to);
        self.begin(role);
        let _: Handled = self.clients[to.0 as usize]
            .handle(roster, origin, msg, &self.directory, rng, &mut o)
            .unwrap();
        self.end(role, msg.wire_len(), &o);
        self.log_sent(&o);
        o
    }

    /// Asserts that every member of `room` holds the same epoch and secret, and returns them.
    pub fn agreed(&self, room: RoomId) -> (Epoch, EpochSecret) {
        let members = &self.rosters[&room];
        let (epoch, secret) = self.clients[members[0].0 as usize]
            .current(room)
            .map(|(e, s)| (e, s.clone()))
            .expect("member holds no key");
        for m in members {
            let (e, s) = self.clients[m.0 as usize]
                .current(room)
                .expect("member holds no key");
            assert_eq!(e, epoch, "members disagree on the epoch");
            assert!(*s == secret, "members disagree on the epoch secret");
        }
        (epoch, secret)
    }
}

/// Key distribution: creation, joins and removals keep all members in agreement, each change
/// moves to a fresh epoch and secret, and a removed member's client does not hold the new secret.
pub fn kd_membership<K: KeyDistribution>(rng: &mut dyn CryptoRngCore) {
    let room = RoomId(7);
    let mut h = KdHarness::<K>::with_room(10, room, 5, rng);
    let (e0, s0) = h.agreed(room);

    h.change(room, UserId(0), Change::Add(&[UserId(5), UserId(6)]), rng);
    let (e1, s1) = h.agreed(room);
    assert!(e1 > e0, "a join must start a new epoch");
    assert!(s1 != s0, "a join must change the epoch secret");

    h.change(room, UserId(0), Change::Remove(&[UserId(3)]), rng);
    let (e2, s2) = h.agreed(room);
    assert!(e2 > e1, "a removal must start a new epoch");
    assert!(s2 != s1, "a removal must change the epoch secret");
    let removed = h.clients[3].current(room).map(|(e, s)| (e, s.clone()));
    assert!(
        removed.as_ref().is_none_or(|(_, s)| *s != s2),
        "the removed member holds the new epoch secret"
    );
    assert!(
        h.clients[9].current(room).is_none(),
        "a non-member holds a key"
    );
}

/// Key distribution: a removed member that keeps its state and sees a copy of every message of
/// the changes after its removal still cannot derive the new epoch secrets; a joiner cannot derive
/// the secrets of epochs before its join.
pub fn kd_exclusion<K: KeyDistribution>(rng: &mut dyn CryptoRngCore) {
    let room = RoomId(3);
    let mut h = KdHarness::<K>::with_room(9, room, 6, rng);
    let (_, before_join) = h.agreed(room);

    h.change(room, UserId(0), Change::Add(&[UserId(7)]), rng);
    let joiner_holds_old = h.clients[7]
        .current(room)
        .is_some_and(|(_, s)| *s == before_join);
    assert!(
        !joiner_holds_old,
        "the joiner holds an epoch secret from before its join"
    );

    h.change(room, UserId(0), Change::Remove(&[UserId(4)]), rng);
    h.eavesdropper = Some(UserId(4));
    let (_, after_leave) = h.agreed(room);
    h.change(room, UserId(1), Change::Add(&[UserId(8)]), rng);
    h.change(room, UserId(0), Change::Remove(&[UserId(2)]), rng);
    let (_, latest) = h.agreed(room);
    let kept = h.clients[4].current(room).map(|(_, s)| s.clone());
    assert!(
        kept.as_ref()
            .is_none_or(|s| *s != after_leave && *s != latest),
        "the removed member derived a later epoch secret from the traffic it saw"
    );
}

/// Key distribution: a corrupted message is rejected with an error, not accepted.
pub fn kd_rejects_tampering<K: KeyDistribution>(rng: &mut dyn CryptoRngCore)
where
    K::Message: Tamper,
{
    let room = RoomId(5);
    let mut h = KdHarness::<K>::with_room(6, room, 4, rng);
    h.tamper = Some(Box::new(|m: &mut K::Message| m.tamper()));
    h.change(room, UserId(0), Change::Add(&[UserId(4)]), rng);
    match h.tamper_outcome.take() {
        Some(Err(_)) => {}
        Some(Ok(_)) => panic!("a tampered message was accepted"),
        None => panic!("no message of the change could be tampered with"),
    }
}

/// Key distribution: an authority that issues per key period renews every member's keys, and
/// rooms keep working across the roll-over: a change made in the earlier period that reaches a
/// member late still opens, changes after it agree, a removed member with its new period's keys
/// and a copy of the traffic does not get the next secret, and a client refuses keys issued to
/// another user, by another organisation's authority, or for a period it holds. An authority
/// that issues nothing refuses to issue.
pub fn kd_key_periods<K: KeyDistribution>(rng: &mut dyn CryptoRngCore) {
    let room = RoomId(11);
    let mut h = KdHarness::<K>::with_room(6, room, 5, rng);
    if !<K::Authority as KdAuthority>::ISSUES_PER_PERIOD {
        assert!(
            h.authorities[0].issue(UserId(0), Period(1), rng).is_err(),
            "an authority that issues nothing per period issued credentials"
        );
        return;
    }
    // A change of period 0 whose messages to member 3 wait until after the roll-over.
    h.hold_for = Some(UserId(3));
    h.change(room, UserId(0), Change::Remove(&[]), rng);
    h.hold_for = None;
    let held_back = std::mem::take(&mut h.held);
    assert!(!held_back.is_empty(), "the change sent member 3 nothing");
    for u in 0..h.clients.len() {
        let user = UserId(u as u32);
        let issued = h.authorities[usize::from(org_of(user).0)]
            .issue(user, Period(1), rng)
            .unwrap();
        h.clients[u].renew(&issued, rng).unwrap();
        assert!(
            h.clients[u].renew(&issued, rng).is_err(),
            "a client took keys of a period it holds"
        );
    }
    let roster = h.rosters[&room].clone();
    let view = Roster {
        room,
        members: &roster,
    };
    for (from, msg) in &held_back {
        let got = h.handle_by(UserId(3), &view, *from, msg, rng);
        assert!(
            matches!(got, Ok(Handled::NewEpoch(_))),
            "a change of the earlier period did not open after the roll-over: {got:?}"
        );
    }
    h.agreed(room);
    h.change(room, UserId(1), Change::Add(&[UserId(5)]), rng);
    h.change(room, UserId(0), Change::Remove(&[UserId(2)]), rng);
    h.eavesdropper = Some(UserId(2));
    h.change(room, UserId(3), Change::Remove(&[]), rng);
    let (_, latest) = h.agreed(room);
    assert!(
        h.clients[2].current(room).is_none_or(|(_, s)| *s != latest),
        "a removed member with its new period's keys derived a later epoch secret"
    );
    // Refusals: another user's keys, and keys from the other organisation's authority.
    let others = h.authorities[0].issue(UserId(2), Period(2), rng).unwrap();
    assert!(
        h.clients[0].renew(&others, rng).is_err(),
        "a client took keys issued to another user"
    );
    let foreign = h.authorities[1].issue(UserId(0), Period(2), rng).unwrap();
    assert!(
        h.clients[0].renew(&foreign, rng).is_err(),
        "a client took keys issued by another organisation's authority"
    );
}

/// Key distribution: an authority nobody trusts issues credentials for a user of another
/// organisation, and no member accepts the room its holder creates in that user's name
/// ([`impersonation`]; nothing to check for a scheme whose authority issues nothing).
pub fn kd_impersonation_refused<K: KeyDistribution>(rng: &mut dyn CryptoRngCore) {
    if let Some(outcome) = impersonation::<K>(rng).unwrap() {
        assert!(
            !outcome.accepted(),
            "a member accepted a key from an impostor holding an untrusted authority's credentials: {outcome:?}"
        );
        assert!(
            !outcome.refusals.is_empty(),
            "the impostor's messages reached no member"
        );
    }
}

/// Key distribution: a removed member that holds its credentials of the current period,
/// ignores its removal and handles a copy of every message of the change that removed it does
/// not get the new secret ([`removed_member_overhears`]), for a scheme that claims
/// [`KdProperties::removal_excludes`](crate::kd::KdProperties::removal_excludes).
pub fn kd_removed_member_overhears<K: KeyDistribution>(rng: &mut dyn CryptoRngCore) {
    let outcome = removed_member_overhears::<K>(rng).unwrap();
    if K::PROPERTIES.removal_excludes {
        assert!(
            !outcome.exposed(),
            "a removed member got the new epoch secret from the change that removed it: {outcome:?}"
        );
    }
}

/// Key distribution: a member whose whole state leaked and who then updates the room is healed
/// ([`leaked_member_updates`](crate::kd::compromise::leaked_member_updates)), for a scheme that
/// claims [`KdProperties::heals_after_update`](crate::kd::KdProperties::heals_after_update);
/// for every scheme, the experiment runs to completion.
pub fn kd_heals_after_update<K: KeyDistribution>(rng: &mut dyn CryptoRngCore) {
    let outcome = crate::kd::compromise::leaked_member_updates::<K>(rng).unwrap();
    if K::PROPERTIES.heals_after_update {
        assert!(
            !outcome.exposed(),
            "a copy of a member's leaked state derived the secret after the member's update: {outcome:?}"
        );
    }
}

/// Key distribution: the family's suite, for what scheme `K` claims
/// ([`KeyDistribution::PROPERTIES`]), in turn:
///
/// * [`kd_message_layer_declared`], [`kd_membership`], [`kd_key_periods`] and
///   [`kd_impersonation_refused`], always;
/// * [`kd_exclusion`], if it claims both `removal_excludes` and `join_excludes_past`;
/// * [`kd_rejects_tampering`], unless its server knows the epoch secret (the key then travels
///   under TLS alone, with nothing a member authenticates);
/// * [`kd_removed_member_overhears`] (which checks a claimed `removal_excludes`);
/// * [`kd_heals_after_update`] (which checks a claimed `heals_after_update`).
///
/// The registry's conformance test runs it for every scheme of
/// [`each_kd`](crate::registry::each_kd).
pub fn kd_conformance<K: KeyDistribution>(rng: &mut dyn CryptoRngCore)
where
    K::Message: Tamper,
{
    let claims = K::PROPERTIES;
    kd_message_layer_declared::<K>(rng);
    kd_membership::<K>(rng);
    if claims.removal_excludes && claims.join_excludes_past {
        kd_exclusion::<K>(rng);
    }
    if !claims.server_knows_epoch_secret {
        kd_rejects_tampering::<K>(rng);
    }
    kd_key_periods::<K>(rng);
    kd_impersonation_refused::<K>(rng);
    kd_removed_member_overhears::<K>(rng);
    kd_heals_after_update::<K>(rng);
}

/// A client has a message layer exactly when its scheme declares one
/// ([`KeyDistribution::MESSAGE_LAYER`]).
///
/// # Panics
/// If they disagree.
pub fn kd_message_layer_declared<K: KeyDistribution>(rng: &mut dyn CryptoRngCore) {
    let mut h = KdHarness::<K>::new(1, rng);
    assert_eq!(
        h.clients[0].message_layer().is_some(),
        K::MESSAGE_LAYER,
        "{}: KeyDistribution::MESSAGE_LAYER says {}",
        K::NAME,
        K::MESSAGE_LAYER
    );
}

/// A data family's server handles re-keying traffic `msg` from `from` in `room`, and the work it
/// reports is recorded in `work`. When `from` is the epoch's named changer (`changer`), the same
/// message is first delivered as if another member (`from + 1`) had sent it: the server must
/// refuse it as not from the epoch's changer, and nothing it sends in reply may go out.
///
/// # Panics
/// If the server refuses the message from `from`, or takes it from the impostor.
fn server_handles<S: RekeyingServer>(
    scheme: &str,
    server: &mut S,
    (room, from): (RoomId, UserId),
    changer: bool,
    msg: S::Message,
    rng: &mut dyn CryptoRngCore,
    work: &mut Vec<Work>,
) -> Outbox<S::Message> {
    if changer {
        let impostor = UserId(from.0.wrapping_add(1));
        let mut ignored = Outbox::new();
        match server.handle(room, impostor, msg.clone(), rng, &mut ignored) {
            Err(crate::SchemeError::Misuse(crate::Misuse::NotTheChanger { .. })) => {}
            Err(e) => panic!("{scheme}: the server refused the changer's message from {impostor} for another reason: {e}"),
            Ok(_) => panic!("{scheme}: the server took the changer's re-keying traffic from {impostor}"),
        }
    }
    let mut out = Outbox::new();
    let done = server
        .handle(room, from, msg, rng, &mut out)
        .unwrap_or_else(|e| panic!("{scheme}: server handle from {from}: {e}"));
    work.push(done);
    out
}
