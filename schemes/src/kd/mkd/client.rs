//! The member's role: static secrets, the current frame's credentials, per-room ring state, and
//! the three steps of a change (round 1 on `Begin`, round 2 on the reply, key derivation on the
//! final message).

use std::collections::BTreeMap;

use curve25519_dalek::scalar::Scalar;
use zeroize::Zeroize;

use super::message::{
    credentials_context, ctx, identity, opt_bytes, session_ctx, update_mac_parts, update_sid,
    ChangeKind, Message, Seat,
};
use super::prf::{self, Tag, V, V_LEN};
use super::{group, ibe, MkdWith, P};
use crate::kd::provider::{MkdCrypto, Real};
use crate::kd::{Change, Directory, Handled, KdClient, Origin, Roster};
use crate::pre::dl_group::DlGroup;
use crate::{CryptoRngCore, Dest, Epoch, EpochSecret, Misuse, Outbox, RoomId, SchemeError, UserId};

/// 32 random bytes.
pub(super) fn random32(rng: &mut dyn CryptoRngCore) -> [u8; 32] {
    let mut b = [0u8; 32];
    rng.fill_bytes(&mut b);
    b
}

/// Operation counts of a client (for the cost model: per-member work is O(1) in the group size).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientOps {
    /// Fixed-base exponentiations `g^r` (fresh DH shares).
    pub dh_shares: u64,
    /// Variable-base exponentiations `R^r` (fresh link values).
    pub dh_links: u64,
    /// Pedersen commitments computed.
    pub commitments: u64,
    /// Pedersen openings checked.
    pub openings_checked: u64,
    /// IBE decryptions (one pairing each).
    pub ibe_decryptions: u64,
}

/// A member's stored state for a room (what a terminal restores at login).
#[derive(Clone)]
struct ClientRoom {
    epoch: Epoch,
    secret: EpochSecret,
    left: UserId,
    right: UserId,
    h_left: [u8; P],
    h_right: [u8; P],
    r: [u8; P],
    /// The session id of the room's last change or Update (public: the server computed or can
    /// compute it).
    sid: [u8; 32],
    /// `K_2 = F'(sid, k' ⊕ k_1)` of the room's last change, carried through Updates.
    k2: [u8; 32],
}

impl Drop for ClientRoom {
    fn drop(&mut self) {
        self.h_left.zeroize();
        self.h_right.zeroize();
        self.r.zeroize();
        self.k2.zeroize();
    }
}

/// A member's state during a session.
struct ClientSession {
    epoch: Epoch,
    attempt: u32,
    seat: Seat,
    r_secret: Option<Scalar>,
    share: Option<[u8; P]>,
    k: [u8; 32],
    s: Scalar,
    c: [u8; P],
    /// After round 1: sid, link values and the left key.
    sid: Option<[u8; 32]>,
    h_left: [u8; P],
    h_right: [u8; P],
    k_left: V,
}

impl Drop for ClientSession {
    fn drop(&mut self) {
        self.k.zeroize();
        self.s.zeroize();
        if let Some(r) = &mut self.r_secret {
            r.zeroize();
        }
        self.h_left.zeroize();
        self.h_right.zeroize();
        self.k_left.zeroize();
    }
}

/// A user's DMKD state: static secrets, the current frame's credentials and per-room state.
/// Generic over the provider of its cryptography.
pub struct Client<C: MkdCrypto = Real> {
    user: UserId,
    keypair: C::KeyPair,
    server_public: C::PublicKey,
    st: [u8; 32],
    st1: [u8; 32],
    frame: u64,
    usk: C::UserKey,
    mk: [u8; 32],
    rooms: BTreeMap<RoomId, ClientRoom>,
    sessions: BTreeMap<RoomId, ClientSession>,
    ops: ClientOps,
}

impl<C: MkdCrypto> core::fmt::Debug for Client<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("user", &self.user)
            .field("frame", &self.frame)
            .field("rooms", &self.rooms.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<C: MkdCrypto> Drop for Client<C> {
    fn drop(&mut self) {
        self.st.zeroize();
        self.st1.zeroize();
        self.mk.zeroize();
    }
}

/// Per-room state a terminal restores: epoch 8, secret 32, neighbours 2×4, `H^l`, `H^r`, `r` 3×32,
/// `sid` and `K_2` 2×32.
const ROOM_STATE_LEN: usize = 8 + 32 + 8 + 3 * P + 2 * 32;
/// Per-user credentials of the current frame: frame 8, IBE key 96, `mk` 32.
const CREDENTIAL_STATE_LEN: usize = 8 + ibe::USER_KEY_LEN + 32;

impl<C: MkdCrypto> Client<C> {
    /// Provisions `user`'s client from its enrolment credentials (sealed by the server) and
    /// fresh static strings `st_i`, `st'_i`.
    pub(super) fn provision(
        user: UserId,
        keypair: C::KeyPair,
        server_public: C::PublicKey,
        frame: u64,
        sealed: &C::Sealed,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Self, SchemeError> {
        let (usk, mk) = open_credentials::<C>(&keypair, &server_public, user, frame, sealed)?;
        Ok(Self {
            user,
            keypair,
            server_public,
            st: random32(rng),
            st1: random32(rng),
            frame,
            usk,
            mk,
            rooms: BTreeMap::new(),
            sessions: BTreeMap::new(),
            ops: ClientOps::default(),
        })
    }

    /// This client's operation counts so far.
    #[must_use]
    pub fn ops(&self) -> ClientOps {
        self.ops
    }

    /// The time frame of the credentials this client holds.
    #[must_use]
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// `tPRF` with fresh ephemerals `(ã, ã')` and this user's static strings.
    fn tprf(&self, purpose: &[u8], rng: &mut dyn CryptoRngCore) -> V {
        let (mut a, mut a1) = (random32(rng), random32(rng));
        let v = prf::tprf(purpose, &a, &a1, &self.st, &self.st1);
        a.zeroize();
        a1.zeroize();
        v
    }

    /// Whether a message about `epoch` of `room` was overtaken: this client already holds that
    /// epoch or a later one, or is in a session for a later epoch.
    fn superseded(&self, room: RoomId, epoch: Epoch) -> bool {
        self.rooms.get(&room).is_some_and(|r| r.epoch >= epoch)
            || self.sessions.get(&room).is_some_and(|s| s.epoch > epoch)
    }

    fn on_begin(
        &mut self,
        roster: &Roster<'_>,
        (epoch, attempt): (Epoch, u32),
        seat: Seat,
        tag: &Tag,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<C>>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        let ctx = session_ctx(room, epoch, attempt, self.user);
        seat.authenticate(&ctx, |parts| prf::verify(&self.mk, parts, tag))?;
        let Seat {
            frame,
            left,
            right,
            fresh_left,
            fresh_right,
            ..
        } = seat;
        if !roster.contains(self.user) {
            return Err(Misuse::NotAMember {
                user: self.user,
                room,
            }
            .into());
        }
        if !roster.contains(left) || !roster.contains(right) {
            return Err(SchemeError::Malformed("ring neighbour is not a member"));
        }
        if frame != self.frame {
            return Err(SchemeError::Malformed("session of another time frame"));
        }
        if self.superseded(room, epoch) {
            return Ok(Handled::Stale);
        }
        // A stored link may be reused only if this member holds it.
        let stored = self.rooms.get(&room);
        if (!fresh_left && stored.is_none_or(|s| s.left != left))
            || (!fresh_right && stored.is_none_or(|s| s.right != right))
        {
            return Err(SchemeError::Malformed(
                "the key server asks to reuse a ring link this member does not hold",
            ));
        }
        let (h_left, h_right) = stored.map_or(([0; P], [0; P]), |s| (s.h_left, s.h_right));

        let fresh = fresh_left || fresh_right;
        let (r_secret, share) = if fresh {
            let mut v = self.tprf(b"r", rng);
            let r = group::scalar_wide(&v);
            v.zeroize();
            self.ops.dh_shares += 1;
            (Some(r), Some(group::g_pow::<C::Group>(&r)))
        } else {
            (None, None)
        };
        let mut kv = self.tprf(b"k", rng);
        let mut k = [0u8; 32];
        k.copy_from_slice(&kv[..32]);
        kv.zeroize();
        let mut sv = self.tprf(b"s", rng);
        let s = group::scalar_wide(&sv);
        sv.zeroize();
        let c = group::commit::<C::Group>(&k, &s);
        self.ops.commitments += 1;

        let tag = prf::tag(
            &self.mk,
            &[
                b"round1",
                &session_ctx(room, epoch, attempt, self.user),
                opt_bytes(&share),
                &c,
            ],
        );
        out.send(
            Dest::Server,
            Message::Round1 {
                epoch,
                attempt,
                share,
                commitment: c,
                tag,
            },
        );
        self.sessions.insert(
            room,
            ClientSession {
                epoch,
                attempt,
                seat,
                r_secret,
                share,
                k,
                s,
                c,
                sid: None,
                h_left,
                h_right,
                k_left: [0; V_LEN],
            },
        );
        Ok(Handled::Nothing)
    }

    #[allow(clippy::too_many_arguments)]
    fn on_round1_reply(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        sid: &[u8; 32],
        left_share: &Option<[u8; P]>,
        right_share: &Option<[u8; P]>,
        tag: &Tag,
        out: &mut Outbox<Message<C>>,
    ) -> Result<Handled, SchemeError> {
        prf::verify(
            &self.mk,
            &[
                b"round1 reply",
                &ctx(room, epoch, self.user),
                sid,
                opt_bytes(left_share),
                opt_bytes(right_share),
            ],
            tag,
        )?;
        if self.superseded(room, epoch) {
            return Ok(Handled::Stale);
        }
        let user = self.user;
        let mk = self.mk;
        let sess = self
            .sessions
            .get_mut(&room)
            .ok_or(Misuse::UnexpectedMessage("no DMKD session for this room"))?;
        if sess.epoch != epoch || sess.sid.is_some() {
            return Err(Misuse::UnexpectedMessage("round-1 reply out of order").into());
        }
        if left_share.is_some() != sess.seat.fresh_left
            || right_share.is_some() != sess.seat.fresh_right
        {
            return Err(SchemeError::Malformed(
                "round-1 reply shares do not match links",
            ));
        }
        if let Some(r) = sess.r_secret {
            if let Some(rl) = left_share {
                sess.h_left = group::pow::<C::Group>(rl, &r)?;
                self.ops.dh_links += 1;
            }
            if let Some(rr) = right_share {
                sess.h_right = group::pow::<C::Group>(rr, &r)?;
                self.ops.dh_links += 1;
            }
        }
        if let Some(r) = &mut sess.r_secret {
            r.zeroize();
        }
        sess.r_secret = None;
        let k_left = prf::f(sid, &sess.h_left);
        let k_right = prf::f(sid, &sess.h_right);
        #[allow(unused_mut)]
        let mut t = prf::xor64(&k_left, &k_right);
        sess.k_left = k_left;
        sess.sid = Some(*sid);
        // σ covers (U_j, R_j, c_j, sid, R_α, R_β, …) as in research/mkd.md §1.6.
        let attempt = sess.attempt;
        let base: [&[u8]; 4] = [
            &session_ctx(room, epoch, attempt, user),
            opt_bytes(&sess.share),
            &sess.c,
            sid,
        ];
        let mut lr = Vec::with_capacity(2 * P);
        lr.extend_from_slice(opt_bytes(left_share));
        lr.extend_from_slice(opt_bytes(right_share));
        let msg = if sess.seat.representative {
            let mut ks = [0u8; V_LEN];
            ks[..32].copy_from_slice(&sess.k);
            ks[32..].copy_from_slice(sess.s.as_bytes());
            let t_prime = prf::xor64(&k_left, &ks);
            ks.zeroize();
            let tag = prf::tag(
                &mk,
                &[
                    b"round2 rep",
                    base[0],
                    base[1],
                    base[2],
                    base[3],
                    &lr,
                    &t,
                    &t_prime,
                ],
            );
            Message::Round2Rep {
                epoch,
                attempt,
                t,
                t_prime,
                tag,
            }
        } else {
            #[allow(unused_mut)]
            let mut k = sess.k;
            #[cfg(any(test, feature = "testing"))]
            corrupt(&mut k, &mut t);
            let s = sess.s.to_bytes();
            let tag = prf::tag(
                &mk,
                &[
                    b"round2", base[0], base[1], base[2], base[3], &lr, &k, &s, &t,
                ],
            );
            Message::Round2 {
                epoch,
                attempt,
                k,
                s,
                t,
                tag,
            }
        };
        out.send(Dest::Server, msg);
        Ok(Handled::Nothing)
    }

    #[allow(clippy::too_many_arguments)]
    fn on_final(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        c1: Option<&[u8; P]>,
        k_prime: &[u8; 32],
        t_prefix: Option<&V>,
        t_prime: Option<&V>,
        ct: &ibe::Ciphertext,
        tag: &Tag,
    ) -> Result<Handled, SchemeError> {
        if self.superseded(room, epoch) {
            return Ok(Handled::Stale);
        }
        let sess = self
            .sessions
            .get(&room)
            .ok_or(Misuse::UnexpectedMessage("no DMKD session for this room"))?;
        let sid = sess
            .sid
            .ok_or(Misuse::UnexpectedMessage("final message before round 2"))?;
        if sess.epoch != epoch {
            return Err(Misuse::StaleEpoch {
                have: sess.epoch,
                got: epoch,
            }
            .into());
        }
        let c = ctx(room, epoch, self.user);
        let mut k1 = match (sess.seat.representative, c1, t_prefix, t_prime) {
            (true, None, None, None) => {
                prf::verify(
                    &self.mk,
                    &[b"final rep", &c, &sid, k_prime, &ct.u, &ct.body],
                    tag,
                )?;
                sess.k
            }
            (false, Some(c1), Some(t_prefix), Some(t_prime)) => {
                prf::verify(
                    &self.mk,
                    &[
                        b"final", &c, &sid, c1, k_prime, t_prefix, t_prime, &ct.u, &ct.body,
                    ],
                    tag,
                )?;
                let mut k1l = prf::xor64(t_prefix, &sess.k_left);
                let mut ks = prf::xor64(t_prime, &k1l);
                k1l.zeroize();
                let mut k1 = [0u8; 32];
                k1.copy_from_slice(&ks[..32]);
                let mut sb = [0u8; 32];
                sb.copy_from_slice(&ks[32..]);
                ks.zeroize();
                let s1 = group::scalar(&sb).map_err(|_| SchemeError::Crypto);
                sb.zeroize();
                self.ops.openings_checked += 1;
                // k_1 is secret here: the constant-time check.
                if !group::opens_secret::<C::Group>(c1, &k1, &s1?) {
                    return Err(SchemeError::Crypto);
                }
                k1
            }
            _ => {
                return Err(Misuse::UnexpectedMessage(
                    "final message for the wrong role (representative or not)",
                )
                .into())
            }
        };
        self.ops.ibe_decryptions += 1;
        let mut big_k1 = C::ibe_decrypt(&self.usk, &identity(self.user, sess.seat.frame), ct)?;
        let mut x = prf::xor32(k_prime, &k1);
        k1.zeroize();
        let mut big_k2 = prf::f1(&sid, &x);
        x.zeroize();
        let (secret, r) = session_key::<C::Group>(&sid, &big_k1, &big_k2);
        big_k1.zeroize();
        let Some(sess) = self.sessions.remove(&room) else {
            big_k2.zeroize();
            return Err(SchemeError::Internal("session vanished"));
        };
        self.rooms.insert(
            room,
            ClientRoom {
                epoch,
                secret,
                left: sess.seat.left,
                right: sess.seat.right,
                h_left: sess.h_left,
                h_right: sess.h_right,
                r,
                sid,
                k2: big_k2,
            },
        );
        big_k2.zeroize();
        Ok(Handled::NewEpoch(epoch))
    }

    /// The Update at a new time frame (research/mkd.md §1.8, "K2 carried in state"): decrypt
    /// `K_1^(t)`, chain `sid_t` from the stored `sid`, and derive
    /// `SK_t = F''(sid_t, K_1^(t)) ⊕ F''(sid_t, K_2)` and `r` with the stored `K_2`.
    fn on_update(
        &mut self,
        roster: &Roster<'_>,
        room: RoomId,
        epoch: Epoch,
        frame: u64,
        ct: &ibe::Ciphertext,
        tag: &Tag,
    ) -> Result<Handled, SchemeError> {
        if roster.room != room {
            return Err(SchemeError::Malformed("update delivered for another room"));
        }
        let cx = ctx(room, epoch, self.user);
        let frame_b = frame.to_be_bytes();
        // Under this frame's MAC key: an Update of an earlier frame (or one that arrives before
        // this frame's credentials) fails here.
        prf::verify(&self.mk, &update_mac_parts(&cx, &frame_b, ct), tag)?;
        if frame != self.frame {
            return Err(SchemeError::Malformed("update of another time frame"));
        }
        if !roster.contains(self.user) {
            return Err(Misuse::NotAMember {
                user: self.user,
                room,
            }
            .into());
        }
        let have = self
            .rooms
            .get(&room)
            .ok_or(Misuse::UnknownRoom(room))?
            .epoch;
        if epoch <= have {
            return Ok(Handled::Stale);
        }
        if !epoch.follows(have) {
            return Err(Misuse::StaleEpoch { have, got: epoch }.into());
        }
        self.ops.ibe_decryptions += 1;
        let mut big_k1 = C::ibe_decrypt(&self.usk, &identity(self.user, frame), ct)?;
        let Some(state) = self.rooms.get_mut(&room) else {
            big_k1.zeroize();
            return Err(SchemeError::Internal("room state vanished"));
        };
        let sid = update_sid(room, epoch, frame, &state.sid);
        let (secret, r) = session_key::<C::Group>(&sid, &big_k1, &state.k2);
        big_k1.zeroize();
        state.epoch = epoch;
        state.secret = secret;
        state.r.zeroize();
        state.r = r;
        state.sid = sid;
        // The server sends an Update only while no change of the room is in progress, so a
        // session this member still holds was aborted by the server.
        self.sessions.remove(&room);
        Ok(Handled::NewEpoch(epoch))
    }
}

/// `SK = F''(sid, K_1) ⊕ F''(sid, K_2)` and the stored `r = F'''(sid, K_1) + F'''(sid, K_2)`.
pub(super) fn session_key<G: DlGroup>(
    sid: &[u8; 32],
    k1: &[u8; 32],
    k2: &[u8; 32],
) -> (EpochSecret, [u8; P]) {
    let mut a = prf::f2(sid, k1);
    let mut b = prf::f2(sid, k2);
    let secret = EpochSecret::from_bytes(prf::xor32(&a, &b));
    a.zeroize();
    b.zeroize();
    let r = G::encode(&G::add(&prf::f3::<G>(sid, k1), &prf::f3::<G>(sid, k2)));
    (secret, r)
}

#[cfg(any(test, feature = "testing"))]
thread_local! {
    static CORRUPT_NEXT: core::cell::Cell<Option<Corruption>> = const { core::cell::Cell::new(None) };
}

/// What the test hook [`Client::corrupt_next_round2`] corrupts.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// Flip a bit of `T_j` (caught by the server's `⊕ T_i = 0` check).
    T,
    /// Flip a bit of `k_j` (caught by the server's check of the opening of `c_j`).
    K,
}

#[cfg(any(test, feature = "testing"))]
impl<C: MkdCrypto> Client<C> {
    /// Test hook: the next round-2 message a non-representative client on this thread sends
    /// carries a corrupted `T_j` or `k_j` with a valid MAC (a member that misbehaves, rather
    /// than a network attacker), so that the server's own checks are what must catch it.
    pub fn corrupt_next_round2(what: Corruption) {
        CORRUPT_NEXT.with(|c| c.set(Some(what)));
    }
}

#[cfg(any(test, feature = "testing"))]
fn corrupt(k: &mut [u8; 32], t: &mut V) {
    match CORRUPT_NEXT.with(|c| c.replace(None)) {
        Some(Corruption::T) => t[0] ^= 1,
        Some(Corruption::K) => k[0] ^= 1,
        None => {}
    }
}

fn open_credentials<C: MkdCrypto>(
    keypair: &C::KeyPair,
    server_public: &C::PublicKey,
    user: UserId,
    frame: u64,
    sealed: &C::Sealed,
) -> Result<(C::UserKey, [u8; 32]), SchemeError> {
    let mut pt = C::open(
        keypair,
        server_public,
        &credentials_context(user, frame),
        sealed,
    )?;
    if pt.len() != ibe::USER_KEY_LEN + 32 {
        pt.zeroize();
        return Err(SchemeError::Malformed("credentials length"));
    }
    let usk = C::user_key_from_bytes(&pt[..ibe::USER_KEY_LEN]);
    let mut mk = [0u8; 32];
    mk.copy_from_slice(&pt[ibe::USER_KEY_LEN..]);
    pt.zeroize();
    Ok((usk?, mk))
}

impl<C: MkdCrypto> KdClient for Client<C> {
    type Kd = MkdWith<C>;

    fn change(
        &mut self,
        roster: &Roster<'_>,
        change: &Change<'_>,
        _directory: Directory<'_, MkdWith<C>>,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<C>>,
    ) -> Result<Handled, SchemeError> {
        if !roster.contains(self.user) {
            return Err(Misuse::NotAMember {
                user: self.user,
                room: roster.room,
            }
            .into());
        }
        let kind = match change {
            Change::Create => ChangeKind::Create,
            Change::Add(_) => ChangeKind::Add,
            Change::Remove(_) => ChangeKind::Remove,
        };
        let tag = prf::tag(
            &self.mk,
            &[
                b"request",
                &ctx(roster.room, Epoch(0), self.user),
                &[kind.byte()],
            ],
        );
        out.send(Dest::Server, Message::Request { kind, tag });
        Ok(Handled::Nothing)
    }

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: Origin,
        msg: &Message<C>,
        _directory: Directory<'_, MkdWith<C>>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<C>>,
    ) -> Result<Handled, SchemeError> {
        if from != Origin::Server {
            return Err(
                Misuse::UnexpectedMessage("DMKD clients hear only from the key server").into(),
            );
        }
        let room = roster.room;
        if let Some(epoch) = msg.epoch() {
            epoch.bounded()?;
        }
        match msg {
            Message::Credentials { frame, sealed } => {
                if *frame <= self.frame {
                    return Err(SchemeError::Malformed("credentials of an old time frame"));
                }
                let (usk, mk) = open_credentials::<C>(
                    &self.keypair,
                    &self.server_public,
                    self.user,
                    *frame,
                    sealed,
                )?;
                self.usk = usk;
                self.mk = mk;
                self.frame = *frame;
                Ok(Handled::Nothing)
            }
            Message::Begin {
                epoch,
                attempt,
                seat,
                tag,
            } => self.on_begin(roster, (*epoch, *attempt), *seat, tag, rng, out),
            Message::Round1Reply {
                epoch,
                sid,
                left_share,
                right_share,
                tag,
            } => self.on_round1_reply(room, *epoch, sid, left_share, right_share, tag, out),
            Message::Final {
                epoch,
                c1,
                k_prime,
                t_prefix,
                t_prime,
                ct,
                tag,
            } => self.on_final(
                room,
                *epoch,
                Some(c1),
                k_prime,
                Some(t_prefix),
                Some(t_prime),
                ct,
                tag,
            ),
            Message::FinalRep {
                epoch,
                k_prime,
                ct,
                tag,
            } => self.on_final(room, *epoch, None, k_prime, None, None, ct, tag),
            Message::Update {
                room: for_room,
                epoch,
                frame,
                ct,
                tag,
            } => self.on_update(roster, *for_room, *epoch, *frame, ct, tag),
            Message::Request { .. }
            | Message::Round1 { .. }
            | Message::Round2 { .. }
            | Message::Round2Rep { .. } => Err(Misuse::UnexpectedMessage(
                "a user-to-server DMKD message reached a client",
            )
            .into()),
        }
    }

    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.rooms.get(&room).map(|r| (r.epoch, &r.secret))
    }

    fn state_len(&mut self, room: RoomId) -> Result<usize, SchemeError> {
        Ok(if self.rooms.contains_key(&room) {
            ROOM_STATE_LEN + CREDENTIAL_STATE_LEN
        } else {
            0
        })
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::kd::mkd::Mkd;
    use crate::kd::{DirectoryAuthority, KdAuthority, KeyDistribution, OrgId};

    /// A non-representative member checks the representative's opening `(k_1, s_1)` recovered
    /// from `T'` against `c_1`: a server (holding the member's MAC key) that alters `T'` is caught.
    #[test]
    fn member_checks_the_representatives_commitment() {
        let mut rng = ChaCha20Rng::seed_from_u64(90);
        let mut server = Mkd::new_server(&mut rng).unwrap();
        let mut directory = DirectoryAuthority::new(OrgId(0), &mut rng).unwrap();
        let (mut client, _) =
            Mkd::enroll(&mut server, &mut directory, UserId(1), &mut rng).unwrap();
        let (mk, ibe_public) = server.test_keys(UserId(1)).unwrap();
        let room = RoomId(1);
        let epoch = Epoch(0);
        let sid = [3u8; 32];
        let k_left = [5u8; V_LEN];
        let (k1, s1) = ([6u8; 32], group::scalar_wide(&[7u8; 64]));
        let c1 = group::commit::<crate::pre::dl_group::Ristretto>(&k1, &s1);
        let rep_left = [8u8; V_LEN];
        let mut ks = [0u8; V_LEN];
        ks[..32].copy_from_slice(&k1);
        ks[32..].copy_from_slice(s1.as_bytes());
        let good_t_prime = prf::xor64(&rep_left, &ks);
        let t_prefix = prf::xor64(&rep_left, &k_left);
        let k_prime = [9u8; 32];
        let ct = ibe_public
            .encrypt(&identity(UserId(1), 0), &[10u8; 32], &mut rng)
            .unwrap();
        let attempt = |client: &mut Client, t_prime: V| {
            client.sessions.insert(
                room,
                ClientSession {
                    epoch,
                    attempt: 0,
                    seat: Seat {
                        frame: 0,
                        left: UserId(0),
                        right: UserId(2),
                        fresh_left: true,
                        fresh_right: true,
                        representative: false,
                    },
                    r_secret: None,
                    share: None,
                    k: [0; 32],
                    s: Scalar::ZERO,
                    c: [0; 32],
                    sid: Some(sid),
                    h_left: [0; 32],
                    h_right: [0; 32],
                    k_left,
                },
            );
            let cx = ctx(room, epoch, UserId(1));
            let tag = prf::tag(
                &mk,
                &[
                    b"final", &cx, &sid, &c1, &k_prime, &t_prefix, &t_prime, &ct.u, &ct.body,
                ],
            );
            client.on_final(
                room,
                epoch,
                Some(&c1),
                &k_prime,
                Some(&t_prefix),
                Some(&t_prime),
                &ct,
                &tag,
            )
        };
        let mut bad = good_t_prime;
        bad[0] ^= 1; // changes k_1
        assert_eq!(attempt(&mut client, bad), Err(SchemeError::Crypto));
        let mut bad = good_t_prime;
        bad[40] ^= 1; // changes s_1
        assert_eq!(attempt(&mut client, bad), Err(SchemeError::Crypto));
        assert!(client.current(room).is_none());
        assert_eq!(
            attempt(&mut client, good_t_prime),
            Ok(Handled::NewEpoch(epoch))
        );
        // The derived secret is F''(sid, K_1) ⊕ F''(sid, F'(sid, k' ⊕ k_1)).
        let k2 = prf::f1(&sid, &prf::xor32(&k_prime, &k1));
        let expect = prf::xor32(&prf::f2(&sid, &[10u8; 32]), &prf::f2(&sid, &k2));
        assert_eq!(
            client.current(room).map(|(_, s)| *s.as_bytes()),
            Some(expect)
        );
    }
}
