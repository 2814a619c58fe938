//! The key server's role: rings, sessions, the checks on round 2, `k'`, the prefix XORs and
//! `K_1` under IBE; and the per-frame credentials and Updates.

use std::collections::{BTreeMap, BTreeSet};

use zeroize::Zeroize;

use super::client::random32;
use super::interposer::Interposer;
use super::message::{
    ctx, identity, opt_bytes, session_ctx, update_mac_parts, ChangeKind, Message, Seat,
};
use super::prf::{self, Tag, V, V_LEN};
use super::{group, MkdWith, Share, P};
use crate::kd::provider::{MkdCrypto, Real};
use crate::kd::{KdServer, Roster, ServerHandled};
use crate::{CryptoRngCore, Dest, Epoch, EpochSecret, Misuse, Outbox, RoomId, SchemeError, UserId};

/// Operation counts of the server (O(n) per change).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerOps {
    /// Pedersen openings verified.
    pub openings_checked: u64,
    /// IBE encryptions of `K_1` (one pairing and one hash to `G_2` each).
    pub ibe_encryptions: u64,
    /// IBE key extractions (time-frame credentials).
    pub ibe_extractions: u64,
    /// MAC tags computed or verified.
    pub macs: u64,
}

struct UserEntry<C: MkdCrypto> {
    public: C::PublicKey,
    mk: [u8; 32],
}

impl<C: MkdCrypto> Drop for UserEntry<C> {
    fn drop(&mut self) {
        self.mk.zeroize();
    }
}

enum Round2Values {
    Member { k: [u8; 32], t: V },
    Rep { t: V, t_prime: V },
}

/// A round message's sender as the server checks it: its MAC key, the session and its
/// position in the session's ring.
struct RoundMessage<'a> {
    mk: [u8; 32],
    sess: &'a mut ServerSession,
    q: usize,
}

struct ServerSession {
    epoch: Epoch,
    /// The session's number among those started for `epoch`.
    attempt: u32,
    frame: u64,
    ring: Vec<UserId>,
    pos: BTreeMap<UserId, usize>,
    rep: usize,
    /// `fresh_right[q]`: the link from `ring[q]` to `ring[q+1]` is new.
    fresh_right: Vec<bool>,
    /// Round-1 values `(R_q, c_q)`.
    round1: Vec<Option<(Share, [u8; P])>>,
    received1: usize,
    sid: Option<[u8; 32]>,
    round2: Vec<Option<Round2Values>>,
    received2: usize,
    /// An interposing server's share, relayed in place of every neighbour's in this session.
    substitute: Option<[u8; P]>,
}

impl ServerSession {
    fn n(&self) -> usize {
        self.ring.len()
    }
    fn left_of(&self, q: usize) -> usize {
        (q + self.n() - 1) % self.n()
    }
    fn right_of(&self, q: usize) -> usize {
        (q + 1) % self.n()
    }
    fn fresh_left(&self, q: usize) -> bool {
        self.fresh_right[self.left_of(q)]
    }
    fn share(&self, q: usize) -> Option<[u8; P]> {
        self.round1[q].and_then(|(r, _)| r)
    }
    /// The shares the server relays to `q` in its round-1 reply.
    fn relayed(&self, q: usize) -> (Option<[u8; P]>, Option<[u8; P]>) {
        let relay = |fresh: bool, neighbour: usize| match (fresh, self.substitute) {
            (false, _) => None,
            (true, Some(substitute)) => Some(substitute),
            (true, None) => self.share(neighbour),
        };
        (
            relay(self.fresh_left(q), self.left_of(q)),
            relay(self.fresh_right[q], self.right_of(q)),
        )
    }
}

#[derive(Default)]
struct ServerRoom {
    current: Option<(Epoch, Vec<UserId>)>,
    /// The ring links every one of whose two ends is known to hold it, as `member → right
    /// neighbour`: those of the last completed session, less those of any member a later
    /// roster dropped. A session reuses only these.
    links: BTreeMap<UserId, UserId>,
    session: Option<ServerSession>,
}

/// The DMKD key server. It holds only its own secrets (IBE master key, `st_S`, `st'_S`, its
/// X25519 key, the users' MAC keys) and public values; never a member's `r_i`, `k_1`, a
/// pairwise DH value or an epoch secret. Generic over the provider of its cryptography.
pub struct Server<C: MkdCrypto = Real> {
    keypair: C::KeyPair,
    msk: C::MasterKey,
    st: [u8; 32],
    st1: [u8; 32],
    frame: u64,
    users: BTreeMap<UserId, UserEntry<C>>,
    rooms: BTreeMap<RoomId, ServerRoom>,
    ops: ServerOps,
    /// Set only on a server built to attack ([`Server::new_interposing`]).
    interposer: Option<Interposer<C::Group>>,
}

crate::secret::debug_without_secrets!("Server", Server<C: MkdCrypto> {
    frame,
    users.len(),
    rooms.len()
});

impl<C: MkdCrypto> Drop for Server<C> {
    fn drop(&mut self) {
        self.st.zeroize();
        self.st1.zeroize();
    }
}

impl<C: MkdCrypto> Server<C> {
    /// Sets up a server: IBE master key, static strings `st_S`, `st'_S`, X25519 key.
    pub(super) fn new(rng: &mut dyn CryptoRngCore) -> Self {
        let mut st = [0u8; 32];
        let mut st1 = [0u8; 32];
        rng.fill_bytes(&mut st);
        rng.fill_bytes(&mut st1);
        Self {
            keypair: C::generate(rng),
            msk: C::setup(rng),
            st,
            st1,
            frame: 0,
            users: BTreeMap::new(),
            rooms: BTreeMap::new(),
            ops: ServerOps::default(),
            interposer: None,
        }
    }

    /// A server that runs the share-substitution attack of an active key server
    /// ([`super::interposer`]) on every session in which all ring links are new, and reports
    /// the epoch secret it derived through [`KdServer::known_epoch_secret`].
    pub(super) fn new_interposing(rng: &mut dyn CryptoRngCore) -> Self {
        let mut server = Self::new(rng);
        server.interposer = Some(Interposer::new(rng));
        server
    }

    /// Registers `user`'s X25519 key and issues its credentials for the current frame.
    pub(super) fn register(
        &mut self,
        user: UserId,
        public: C::PublicKey,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<C::Sealed, SchemeError> {
        if self.users.contains_key(&user) {
            return Err(Misuse::UnexpectedMessage("user already enrolled").into());
        }
        self.users.insert(
            user,
            UserEntry {
                public,
                mk: [0; 32],
            },
        );
        self.issue(user, rng)
    }

    /// The server's X25519 key, which authenticates sealed credentials.
    #[must_use]
    pub fn x25519_public(&self) -> C::PublicKey {
        C::public(&self.keypair)
    }

    /// Test access: a user's current MAC key and the IBE parameters.
    #[cfg(test)]
    pub(super) fn test_keys(&self, user: UserId) -> Option<([u8; 32], C::Params)> {
        self.users.get(&user).map(|e| (e.mk, C::params(&self.msk)))
    }

    /// The server's operation counts so far.
    #[must_use]
    pub fn ops(&self) -> ServerOps {
        self.ops
    }

    /// The current time frame.
    #[must_use]
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// Starts a new time frame: issues every enrolled user a fresh IBE key for `user ‖ frame`
    /// and a fresh MAC key, each sealed to the user ([`Message::Credentials`]), then runs the
    /// Update of every room this server knows (research/mkd.md §1.8): a fresh `K_1^(t)` per room
    /// (tPRF with `st_S`, `st'_S`), encrypted to each member of the room's ring under
    /// `member ‖ frame` and MAC'd under the member's new key ([`Message::Update`]); the room
    /// moves to the next epoch. All credentials come first in `out`, then the updates, so a
    /// router that delivers in order gives every member its new keys before its updates.
    /// Returns the new frame.
    ///
    /// The ring is the one of the room's last completed change: a removal the directory has
    /// made but whose Leave has not run yet is not known here, so the Leave must run first.
    ///
    /// # Errors
    /// [`SchemeError::Misuse`] while a change is in progress in some room (its MACs would
    /// stop verifying); nothing is issued then.
    pub fn new_time_frame(
        &mut self,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<C>>,
    ) -> Result<u64, SchemeError> {
        if self.rooms.values().any(|r| r.session.is_some()) {
            return Err(Misuse::UnexpectedMessage("a change is in progress").into());
        }
        self.frame += 1;
        let users: Vec<UserId> = self.users.keys().copied().collect();
        for user in users {
            let sealed = self.issue(user, rng)?;
            out.send(
                Dest::User(user),
                Message::Credentials {
                    frame: self.frame,
                    sealed,
                },
            );
        }
        let rooms: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.current.is_some())
            .map(|(id, _)| *id)
            .collect();
        for room in rooms {
            self.update(room, rng, out)?;
        }
        Ok(self.frame)
    }

    /// The Update of one room at the current frame: `K_1^(t)` to every member, epoch + 1.
    fn update(
        &mut self,
        room: RoomId,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<C>>,
    ) -> Result<(), SchemeError> {
        let Some((epoch, ring)) = self.rooms.get(&room).and_then(|r| r.current.clone()) else {
            return Err(SchemeError::Internal("updating an unknown room"));
        };
        let epoch = epoch.advance()?;
        let frame = self.frame;
        let mut kv = self.draw(b"K1", rng);
        let mut big_k1 = [0u8; 32];
        big_k1.copy_from_slice(&kv[..32]);
        kv.zeroize();
        let pp = C::params(&self.msk);
        let frame_b = frame.to_be_bytes();
        for &user in &ring {
            let ct = match C::ibe_encrypt(&pp, &identity(user, frame), &big_k1, rng) {
                Ok(ct) => ct,
                Err(e) => {
                    big_k1.zeroize();
                    return Err(e);
                }
            };
            self.ops.ibe_encryptions += 1;
            self.ops.macs += 1;
            let cx = ctx(room, epoch, user);
            let tag = prf::tag(self.mk(user, room)?, &update_mac_parts(&cx, &frame_b, &ct));
            out.send(
                Dest::User(user),
                Message::Update {
                    room,
                    epoch,
                    frame,
                    ct,
                    tag,
                },
            );
        }
        big_k1.zeroize();
        if let Some(interposer) = &mut self.interposer {
            interposer.forget(room);
        }
        if let Some(r) = self.rooms.get_mut(&room) {
            r.current = Some((epoch, ring));
        }
        Ok(())
    }

    /// `tPRF(purpose)` with fresh ephemerals and the server's static strings `st_S`, `st'_S`.
    fn draw(&self, purpose: &[u8], rng: &mut dyn CryptoRngCore) -> V {
        let (mut a, mut a1) = (random32(rng), random32(rng));
        let v = prf::tprf(purpose, &a, &a1, &self.st, &self.st1);
        a.zeroize();
        a1.zeroize();
        v
    }

    /// Derives `user`'s credentials for the current frame and seals them.
    fn issue(
        &mut self,
        user: UserId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<C::Sealed, SchemeError> {
        let frame = self.frame;
        let usk = C::extract(&self.msk, &identity(user, frame))?;
        self.ops.ibe_extractions += 1;
        let mut mk = [0u8; 32];
        rng.fill_bytes(&mut mk);
        let mut pt = C::user_key_to_bytes(&usk)?.to_vec();
        pt.extend_from_slice(&mk);
        let entry = self
            .users
            .get_mut(&user)
            .ok_or(SchemeError::Internal("issuing to an unknown user"))?;
        entry.mk = mk;
        let sealed = C::seal(
            &self.keypair,
            &entry.public,
            &super::message::credentials_context(user, frame),
            &pt,
            rng,
        );
        pt.zeroize();
        mk.zeroize();
        sealed
    }

    fn mk(&self, user: UserId, room: RoomId) -> Result<&[u8; 32], SchemeError> {
        self.users
            .get(&user)
            .map(|e| &e.mk)
            .ok_or_else(|| Misuse::NotAMember { user, room }.into())
    }

    fn on_request(
        &mut self,
        roster: &Roster<'_>,
        from: UserId,
        kind: ChangeKind,
        tag: &Tag,
        out: &mut Outbox<Message<C>>,
    ) -> Result<ServerHandled, SchemeError> {
        let room = roster.room;
        self.ops.macs += 1;
        prf::verify(
            self.mk(from, room)?,
            &[b"request", &ctx(room, Epoch(0), from), &[kind.byte()]],
            tag,
        )?;
        if !roster.contains(from) {
            return Err(Misuse::NotAMember { user: from, room }.into());
        }
        if roster.members.is_empty() {
            return Err(SchemeError::Malformed("empty roster"));
        }
        for &m in roster.members {
            if !self.users.contains_key(&m) {
                return Err(Misuse::NotAMember { user: m, room }.into());
            }
        }
        // A member the roster drops may never see the final of the last session (key traffic
        // that reaches a terminal after its removal is dropped), so it may not hold that
        // session's links: should it come back, its links are made afresh.
        if let Some(r) = self.rooms.get_mut(&room) {
            r.links
                .retain(|u, right| roster.contains(*u) && roster.contains(*right));
        }
        let (current, links) = match self.rooms.get(&room) {
            Some(r) => (r.current.as_ref(), Some(&r.links)),
            None => (None, None),
        };
        let (epoch, ring, rep, fresh_right) = match (kind, current) {
            (ChangeKind::Create, Some(_)) => return Err(Misuse::RoomExists(room).into()),
            (ChangeKind::Create, None) => {
                let n = roster.members.len();
                (Epoch(0), roster.members.to_vec(), 0, vec![true; n])
            }
            (_, None) => return Err(Misuse::UnknownRoom(room).into()),
            (_, Some((epoch, old))) => {
                // Stable ring order: survivors keep their order, joiners are appended.
                let mut ring: Vec<UserId> = old
                    .iter()
                    .copied()
                    .filter(|u| roster.contains(*u))
                    .collect();
                let kept: BTreeSet<UserId> = ring.iter().copied().collect();
                ring.extend(roster.members.iter().copied().filter(|u| !kept.contains(u)));
                let m = old.len();
                let n = ring.len();
                let fresh_right: Vec<bool> = (0..n)
                    .map(|q| links.and_then(|l| l.get(&ring[q])) != Some(&ring[(q + 1) % n]))
                    .collect();
                // Representative: U_1 on Join; the surviving left neighbour of the first
                // leaver on Leave.
                let mut rep_user = ring[0];
                if let Some(i) = (0..m).find(|&i| !roster.contains(old[i])) {
                    if let Some(j) = (1..m)
                        .map(|d| old[(i + m - d) % m])
                        .find(|u| roster.contains(*u))
                    {
                        rep_user = j;
                    }
                }
                let rep = ring.iter().position(|u| *u == rep_user).unwrap_or(0);
                (epoch.advance()?, ring, rep, fresh_right)
            }
        };
        let n = ring.len();
        // A session still running for this epoch never completed (a member never answered):
        // this one supersedes it, and its late messages are told apart by the attempt.
        let attempt = self
            .rooms
            .get(&room)
            .and_then(|r| r.session.as_ref())
            .filter(|s| s.epoch == epoch)
            .map_or(0, |s| s.attempt.wrapping_add(1));
        let substitute = self
            .interposer
            .as_ref()
            .filter(|_| n >= 2 && fresh_right.iter().all(|fresh| *fresh))
            .map(Interposer::share);
        let session = ServerSession {
            epoch,
            attempt,
            frame: self.frame,
            pos: ring.iter().enumerate().map(|(q, u)| (*u, q)).collect(),
            ring,
            rep,
            fresh_right,
            round1: vec![None; n],
            received1: 0,
            sid: None,
            round2: (0..n).map(|_| None).collect(),
            received2: 0,
            substitute,
        };
        for q in 0..n {
            let user = session.ring[q];
            let (left, right) = (
                session.ring[session.left_of(q)],
                session.ring[session.right_of(q)],
            );
            let seat = Seat {
                frame: session.frame,
                left,
                right,
                fresh_left: session.fresh_left(q),
                fresh_right: session.fresh_right[q],
                representative: q == rep,
            };
            self.ops.macs += 1;
            let mk = self.mk(user, room)?;
            let ctx = session_ctx(room, epoch, attempt, user);
            let tag = seat.authenticate(&ctx, |parts| prf::tag(mk, parts));
            out.send(
                Dest::User(user),
                Message::Begin {
                    epoch,
                    attempt,
                    seat,
                    tag,
                },
            );
        }
        self.rooms.entry(room).or_default().session = Some(session);
        Ok(ServerHandled::Processed)
    }

    /// The session a round message of `(epoch, attempt)` belongs to, or `None` for a message
    /// a later change superseded (its session was restarted or has finished).
    fn session(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        attempt: u32,
    ) -> Result<Option<&mut ServerSession>, SchemeError> {
        let r = self.rooms.get_mut(&room).ok_or(Misuse::UnknownRoom(room))?;
        let done = r.current.as_ref().map(|(e, _)| *e);
        match r.session.as_mut() {
            Some(s) if s.epoch == epoch && s.attempt > attempt => Ok(None),
            Some(s) if s.epoch == epoch && s.attempt == attempt => Ok(Some(s)),
            Some(s) if s.epoch > epoch => Ok(None),
            _ if done.is_some_and(|d| d >= epoch) => Ok(None),
            _ => Err(Misuse::UnexpectedMessage("a round message of no session").into()),
        }
    }

    /// What a round message of `from` about `(epoch, attempt)` is checked against (one MAC
    /// counted); `None` when the session was superseded.
    fn round_message(
        &mut self,
        room: RoomId,
        from: UserId,
        epoch: Epoch,
        attempt: u32,
    ) -> Result<Option<RoundMessage<'_>>, SchemeError> {
        let mk = *self.mk(from, room)?;
        self.ops.macs += 1;
        let Some(sess) = self.session(room, epoch, attempt)? else {
            return Ok(None);
        };
        let q = *sess
            .pos
            .get(&from)
            .ok_or(Misuse::NotAMember { user: from, room })?;
        Ok(Some(RoundMessage { mk, sess, q }))
    }

    #[allow(clippy::too_many_arguments)]
    fn on_round1(
        &mut self,
        room: RoomId,
        from: UserId,
        (epoch, attempt): (Epoch, u32),
        share: Option<[u8; P]>,
        commitment: [u8; P],
        tag: &Tag,
        out: &mut Outbox<Message<C>>,
    ) -> Result<ServerHandled, SchemeError> {
        let Some(RoundMessage { mk, sess, q }) = self.round_message(room, from, epoch, attempt)?
        else {
            return Ok(ServerHandled::Stale);
        };
        prf::verify(
            &mk,
            &[
                b"round1",
                &session_ctx(room, epoch, attempt, from),
                opt_bytes(&share),
                &commitment,
            ],
            tag,
        )?;
        if sess.round1[q].is_some() {
            return Err(Misuse::UnexpectedMessage("duplicate round-1 message").into());
        }
        if share.is_some() != (sess.fresh_left(q) || sess.fresh_right[q]) {
            return Err(SchemeError::Malformed("DH share present iff a link is new"));
        }
        if let Some(r) = &share {
            group::decompress::<C::Group>(r)?;
        }
        group::decompress::<C::Group>(&commitment)?;
        sess.round1[q] = Some((share, commitment));
        sess.received1 += 1;
        if sess.received1 < sess.n() {
            return Ok(ServerHandled::Processed);
        }
        // sid = TCR(room, epoch, (U_q, c_q) in ring order).
        let room_b = room.0.to_be_bytes();
        let epoch_b = epoch.0.to_be_bytes();
        let mut parts: Vec<&[u8]> = vec![&room_b, &epoch_b];
        let ids: Vec<[u8; 4]> = sess.ring.iter().map(|u| u.0.to_be_bytes()).collect();
        for (id, r1) in ids.iter().zip(&sess.round1) {
            parts.push(id);
            parts.push(r1.as_ref().map_or(&[][..], |(_, c)| &c[..]));
        }
        let sid = prf::tcr(&parts);
        sess.sid = Some(sid);
        let replies: Vec<(UserId, Share, Share)> = (0..sess.n())
            .map(|q| {
                let (l, r) = sess.relayed(q);
                (sess.ring[q], l, r)
            })
            .collect();
        for (user, left_share, right_share) in replies {
            self.ops.macs += 1;
            let tag = prf::tag(
                self.mk(user, room)?,
                &[
                    b"round1 reply",
                    &ctx(room, epoch, user),
                    &sid,
                    opt_bytes(&left_share),
                    opt_bytes(&right_share),
                ],
            );
            out.send(
                Dest::User(user),
                Message::Round1Reply {
                    epoch,
                    sid,
                    left_share,
                    right_share,
                    tag,
                },
            );
        }
        Ok(ServerHandled::Processed)
    }

    fn on_round2(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: &Message<C>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<C>>,
    ) -> Result<ServerHandled, SchemeError> {
        let (epoch, attempt) = match msg {
            Message::Round2 { epoch, attempt, .. } | Message::Round2Rep { epoch, attempt, .. } => {
                (*epoch, *attempt)
            }
            _ => return Err(SchemeError::Internal("not a round-2 message")),
        };
        let Some(RoundMessage { mk, sess, q }) = self.round_message(room, from, epoch, attempt)?
        else {
            return Ok(ServerHandled::Stale);
        };
        let sid = sess.sid.ok_or(Misuse::UnexpectedMessage(
            "round 2 before round 1 completed",
        ))?;
        if sess.round2[q].is_some() {
            return Err(Misuse::UnexpectedMessage("duplicate round-2 message").into());
        }
        let Some((share, c)) = sess.round1[q] else {
            return Err(SchemeError::Internal("round 1 incomplete"));
        };
        let (l, r) = sess.relayed(q);
        let mut lr = Vec::with_capacity(2 * P);
        lr.extend_from_slice(opt_bytes(&l));
        lr.extend_from_slice(opt_bytes(&r));
        let cx = session_ctx(room, epoch, attempt, from);
        let values = match (msg, q == sess.rep) {
            (Message::Round2 { k, s, t, tag, .. }, false) => {
                prf::verify(
                    &mk,
                    &[b"round2", &cx, opt_bytes(&share), &c, &sid, &lr, k, s, t],
                    tag,
                )?;
                let s = group::scalar(s)?;
                if !group::opens::<C::Group>(&c, k, &s) {
                    return Err(SchemeError::Crypto);
                }
                Round2Values::Member { k: *k, t: *t }
            }
            (
                Message::Round2Rep {
                    t, t_prime, tag, ..
                },
                true,
            ) => {
                prf::verify(
                    &mk,
                    &[
                        b"round2 rep",
                        &cx,
                        opt_bytes(&share),
                        &c,
                        &sid,
                        &lr,
                        t,
                        t_prime,
                    ],
                    tag,
                )?;
                Round2Values::Rep {
                    t: *t,
                    t_prime: *t_prime,
                }
            }
            _ => {
                return Err(Misuse::UnexpectedMessage(
                    "round-2 message for the wrong role (representative or not)",
                )
                .into())
            }
        };
        sess.round2[q] = Some(values);
        sess.received2 += 1;
        let is_member = matches!(msg, Message::Round2 { .. });
        if is_member {
            self.ops.openings_checked += 1;
        }
        let done = {
            let sess = self
                .session(room, epoch, attempt)?
                .ok_or(SchemeError::Internal("the session vanished"))?;
            sess.received2 == sess.n()
        };
        if done {
            self.finish(room, sid, rng, out)?;
        }
        Ok(ServerHandled::Processed)
    }

    /// All round-2 values are in: check `⊕ T_i = 0`, pick `k_S` and `K_1`, send the finals.
    fn finish(
        &mut self,
        room: RoomId,
        sid: [u8; 32],
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<C>>,
    ) -> Result<(), SchemeError> {
        let Some(sess) = self.rooms.get_mut(&room).and_then(|r| r.session.take()) else {
            return Err(SchemeError::Internal("session vanished"));
        };
        let n = sess.n();
        let mut ts: Vec<V> = Vec::with_capacity(n);
        let mut t_prime = [0u8; V_LEN];
        let mut k_prime = [0u8; 32];
        for v in &sess.round2 {
            match v {
                Some(Round2Values::Member { k, t }) => {
                    ts.push(*t);
                    k_prime = prf::xor32(&k_prime, k);
                }
                Some(Round2Values::Rep { t, t_prime: tp }) => {
                    ts.push(*t);
                    t_prime = *tp;
                }
                None => return Err(SchemeError::Internal("round 2 incomplete")),
            }
        }
        // Invariant: the T values telescope to zero. On failure the session is aborted.
        let sum = ts.iter().fold([0u8; V_LEN], |acc, t| prf::xor64(&acc, t));
        if sum != [0u8; V_LEN] {
            return Err(SchemeError::Crypto);
        }
        let mut ks = self.draw(b"kS", rng);
        let mut k_s = [0u8; 32];
        k_s.copy_from_slice(&ks[..32]);
        ks.zeroize();
        let mut kv = self.draw(b"K1", rng);
        let mut big_k1 = [0u8; 32];
        big_k1.copy_from_slice(&kv[..32]);
        kv.zeroize();
        k_prime = prf::xor32(&k_prime, &k_s);
        k_s.zeroize();
        let Some((_, c1)) = sess.round1[sess.rep] else {
            return Err(SchemeError::Internal("round 1 incomplete"));
        };
        let pp = C::params(&self.msk);
        let epoch = sess.epoch;
        // An interposing server knows every member's left link key (`None` otherwise).
        let substituted_left = match (&mut self.interposer, sess.substitute) {
            (Some(interposer), Some(_)) => {
                let keys = (0..n)
                    .map(|q| {
                        let share = sess
                            .share(q)
                            .ok_or(SchemeError::Internal("a fresh link without a share"))?;
                        interposer.link_key(&sid, &share)
                    })
                    .collect::<Result<Vec<V>, SchemeError>>()?;
                interposer.learn(
                    room,
                    epoch,
                    &sid,
                    (&t_prime, &keys[sess.rep]),
                    &k_prime,
                    &big_k1,
                );
                Some(keys)
            }
            (Some(interposer), None) => {
                interposer.forget(room);
                None
            }
            (None, _) => None,
        };
        // Walk the ring from the representative, accumulating T'_q.
        let mut prefix = [0u8; V_LEN];
        for d in 0..n {
            let q = (sess.rep + d) % n;
            let user = sess.ring[q];
            let ct = C::ibe_encrypt(&pp, &identity(user, sess.frame), &big_k1, rng)?;
            self.ops.ibe_encryptions += 1;
            self.ops.macs += 1;
            let cx = ctx(room, epoch, user);
            let mk = self.mk(user, room)?;
            if let Some(keys) = &substituted_left {
                prefix = Interposer::<C::Group>::forged_prefix(&keys[sess.rep], &keys[q]);
            }
            let msg = if d == 0 {
                let tag = prf::tag(mk, &[b"final rep", &cx, &sid, &k_prime, &ct.u, &ct.body]);
                Message::FinalRep {
                    epoch,
                    k_prime,
                    ct,
                    tag,
                }
            } else {
                let tag = prf::tag(
                    mk,
                    &[
                        b"final", &cx, &sid, &c1, &k_prime, &prefix, &t_prime, &ct.u, &ct.body,
                    ],
                );
                Message::Final {
                    epoch,
                    c1,
                    k_prime,
                    t_prefix: prefix,
                    t_prime,
                    ct,
                    tag,
                }
            };
            out.send(Dest::User(user), msg);
            prefix = prf::xor64(&prefix, &ts[q]);
        }
        big_k1.zeroize();
        if let Some(r) = self.rooms.get_mut(&room) {
            let n = sess.ring.len();
            r.links = (0..n)
                .map(|q| (sess.ring[q], sess.ring[(q + 1) % n]))
                .collect();
            r.current = Some((epoch, sess.ring));
        }
        Ok(())
    }
}

impl<C: MkdCrypto> KdServer for Server<C> {
    type Kd = MkdWith<C>;

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: UserId,
        msg: Message<C>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<C>>,
    ) -> Result<ServerHandled, SchemeError> {
        let room = roster.room;
        match &msg {
            Message::Request { kind, tag } => self.on_request(roster, from, *kind, tag, out),
            Message::Round1 {
                epoch,
                attempt,
                share,
                commitment,
                tag,
            } => self.on_round1(
                room,
                from,
                (*epoch, *attempt),
                *share,
                *commitment,
                tag,
                out,
            ),
            Message::Round2 { .. } | Message::Round2Rep { .. } => {
                self.on_round2(room, from, &msg, rng, out)
            }
            Message::Credentials { .. }
            | Message::Begin { .. }
            | Message::Round1Reply { .. }
            | Message::Final { .. }
            | Message::FinalRep { .. }
            | Message::Update { .. } => Err(Misuse::UnexpectedMessage(
                "a server-to-user DMKD message reached the server",
            )
            .into()),
        }
    }

    fn known_epoch_secret(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.interposer.as_ref()?.learned(room)
    }
}
