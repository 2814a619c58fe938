//! DMKD's messages, their wire sizes, and the MAC contexts both sides compute.

use super::prf::{Tag, TAG_LEN, V, V_LEN};
use super::{ibe, P};
use crate::kd::provider::{MkdCrypto, Real, SealedBoxes};
use crate::{Epoch, RoomId, UserId, Wire};

/// The kind of change a member requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Room creation (Dist).
    Create,
    /// Members were added (Join).
    Add,
    /// Members were removed (Leave).
    Remove,
}

impl ChangeKind {
    pub(super) fn byte(self) -> u8 {
        match self {
            Self::Create => 0,
            Self::Add => 1,
            Self::Remove => 2,
        }
    }
}

/// A member's place in a session's ring, as the server's `Begin` assigns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seat {
    /// The time frame whose keys the session uses.
    pub frame: u64,
    /// Left ring neighbour.
    pub left: UserId,
    /// Right ring neighbour.
    pub right: UserId,
    /// The left link is new (fresh DH).
    pub fresh_left: bool,
    /// The right link is new (fresh DH).
    pub fresh_right: bool,
    /// This member is the representative `U_1`.
    pub representative: bool,
}

impl Seat {
    /// Calls `mac` on what the tag of a `Begin` with this seat covers, `ctx` being the
    /// session context of its recipient: the server tags it, the member verifies it.
    pub(super) fn authenticate<R>(&self, ctx: &[u8], mac: impl FnOnce(&[&[u8]]) -> R) -> R {
        let flags = [
            u8::from(self.fresh_left),
            u8::from(self.fresh_right),
            u8::from(self.representative),
        ];
        mac(&[
            b"begin",
            ctx,
            &self.frame.to_be_bytes(),
            &self.left.0.to_be_bytes(),
            &self.right.0.to_be_bytes(),
            &flags,
        ])
    }
}

/// Messages of DMKD. `tag` is always an HMAC-SHA-256 under the per-frame key `mk_i` shared by
/// the user and the server, over the room, the epoch, the user and every field. Generic over
/// the provider of its cryptography (the model's sealed credentials are ideal boxes).
#[derive(Debug, Clone)]
pub enum Message<C: MkdCrypto = Real> {
    /// Member → server: start a change (the roster after it is the directory's).
    Request {
        /// What changed.
        kind: ChangeKind,
        /// MAC.
        tag: Tag,
    },
    /// Server → user: credentials of a time frame, sealed to the user's X25519 key.
    Credentials {
        /// The frame.
        frame: u64,
        /// `IBE key for user ‖ frame (96 B) ‖ mk (32 B)`, sealed.
        sealed: <C as SealedBoxes>::Sealed,
    },
    /// Server → member: a session starts.
    Begin {
        /// The new epoch.
        epoch: Epoch,
        /// Which session for this epoch (a session a member never answered is superseded by
        /// the next change's, for the same epoch).
        attempt: u32,
        /// The member's place in the session.
        seat: Seat,
        /// MAC.
        tag: Tag,
    },
    /// Member → server, round 1: `(R_i, c_i)`.
    Round1 {
        /// The epoch.
        epoch: Epoch,
        /// The session, as its `Begin` said.
        attempt: u32,
        /// `R_i = g^{r_i}`, if one of the member's links is new.
        share: Option<[u8; P]>,
        /// `c_i = g^{k_i} h^{s_i}`.
        commitment: [u8; P],
        /// MAC.
        tag: Tag,
    },
    /// Server → member, round 1: `(sid, R_α, R_β)` (shares only for new links).
    Round1Reply {
        /// The epoch.
        epoch: Epoch,
        /// `sid = TCR(…)`.
        sid: [u8; 32],
        /// The left neighbour's fresh share.
        left_share: Option<[u8; P]>,
        /// The right neighbour's fresh share.
        right_share: Option<[u8; P]>,
        /// MAC.
        tag: Tag,
    },
    /// Member (not the representative) → server, round 2: `(k_j, s_j, T_j, σ_j)`.
    Round2 {
        /// The epoch.
        epoch: Epoch,
        /// The session, as its `Begin` said.
        attempt: u32,
        /// `k_j`.
        k: [u8; 32],
        /// `s_j`.
        s: [u8; P],
        /// `T_j = K^l ⊕ K^r`.
        t: V,
        /// MAC.
        tag: Tag,
    },
    /// Representative → server, round 2: `(T_1, T', σ_1)`.
    Round2Rep {
        /// The epoch.
        epoch: Epoch,
        /// The session, as its `Begin` said.
        attempt: u32,
        /// `T_1`.
        t: V,
        /// `T' = K_1^l ⊕ (k_1 ‖ s_1)`.
        t_prime: V,
        /// MAC.
        tag: Tag,
    },
    /// Server → member (not the representative): `(c_1, k', T'_j, T', CT_j, σ'_j)`.
    Final {
        /// The epoch.
        epoch: Epoch,
        /// The representative's commitment `c_1`.
        c1: [u8; P],
        /// `k' = ⊕_{j ≠ 1} k_j ⊕ k_S`.
        k_prime: [u8; 32],
        /// `T'_j`, the XOR of the `T` values from the representative up to this member.
        t_prefix: V,
        /// `T'`.
        t_prime: V,
        /// `K_1` encrypted to `user ‖ frame`.
        ct: ibe::Ciphertext,
        /// MAC.
        tag: Tag,
    },
    /// Server → member, at a new time frame (Update): a fresh `K_1^(t)` for a room, encrypted to
    /// `user ‖ frame`. Sent after the frame's [`Message::Credentials`], whose IBE key and MAC key
    /// it needs.
    Update {
        /// The room (the server sends it unprompted, so it names the room).
        room: RoomId,
        /// The new epoch (the room's current one plus one).
        epoch: Epoch,
        /// The new time frame.
        frame: u64,
        /// `K_1^(t)` encrypted to `user ‖ frame`.
        ct: ibe::Ciphertext,
        /// MAC.
        tag: Tag,
    },
    /// Server → representative: `(k', CT_1, σ'_1)`.
    FinalRep {
        /// The epoch.
        epoch: Epoch,
        /// `k'`.
        k_prime: [u8; 32],
        /// `K_1` encrypted to `user ‖ frame`.
        ct: ibe::Ciphertext,
        /// MAC.
        tag: Tag,
    },
}

/// Bytes of the kind that opens every message.
pub(super) const KIND: usize = 1;
/// Bytes of an epoch.
pub(super) const EPOCH: usize = 8;
/// Bytes of a session's attempt number.
pub(super) const ATTEMPT: usize = 4;

impl<C: MkdCrypto> Message<C> {
    /// The epoch the message is about, if it names one.
    #[must_use]
    pub fn epoch(&self) -> Option<Epoch> {
        match self {
            Self::Request { .. } | Self::Credentials { .. } => None,
            Self::Begin { epoch, .. }
            | Self::Round1 { epoch, .. }
            | Self::Round1Reply { epoch, .. }
            | Self::Round2 { epoch, .. }
            | Self::Round2Rep { epoch, .. }
            | Self::Final { epoch, .. }
            | Self::Update { epoch, .. }
            | Self::FinalRep { epoch, .. } => Some(*epoch),
        }
    }
}

impl<C: MkdCrypto> Wire for Message<C> {
    fn wire_len(&self) -> usize {
        let opt = |o: &Option<[u8; P]>| 1 + o.map_or(0, |_| P);
        KIND + match self {
            Self::Request { .. } => 1 + TAG_LEN,
            Self::Credentials { sealed, .. } => 8 + sealed.wire_len(),
            Self::Begin { .. } => EPOCH + ATTEMPT + 8 + 4 + 4 + 1 + TAG_LEN,
            Self::Round1 { share, .. } => EPOCH + ATTEMPT + opt(share) + P + TAG_LEN,
            Self::Round1Reply {
                left_share,
                right_share,
                ..
            } => EPOCH + 32 + opt(left_share) + opt(right_share) + TAG_LEN,
            Self::Round2 { .. } => EPOCH + ATTEMPT + 32 + P + V_LEN + TAG_LEN,
            Self::Round2Rep { .. } => EPOCH + ATTEMPT + 2 * V_LEN + TAG_LEN,
            Self::Final { .. } => EPOCH + P + 32 + 2 * V_LEN + ibe::CIPHERTEXT_LEN + TAG_LEN,
            Self::FinalRep { .. } => EPOCH + 32 + ibe::CIPHERTEXT_LEN + TAG_LEN,
            Self::Update { .. } => 4 + EPOCH + 8 + ibe::CIPHERTEXT_LEN + TAG_LEN,
        }
    }

    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        match self {
            Self::Request { tag, .. } | Self::Begin { tag, .. } => f(tag),
            Self::Credentials { sealed, .. } => sealed.visit_bytes(f),
            Self::Round1 {
                share,
                commitment,
                tag,
                ..
            } => {
                if let Some(s) = share {
                    f(s);
                }
                f(commitment);
                f(tag);
            }
            Self::Round1Reply {
                sid,
                left_share,
                right_share,
                tag,
                ..
            } => {
                f(sid);
                for s in [left_share, right_share].into_iter().flatten() {
                    f(s);
                }
                f(tag);
            }
            Self::Round2 { k, s, t, tag, .. } => {
                f(k);
                f(s);
                f(t);
                f(tag);
            }
            Self::Round2Rep {
                t, t_prime, tag, ..
            } => {
                f(t);
                f(t_prime);
                f(tag);
            }
            Self::Final {
                c1,
                k_prime,
                t_prefix,
                t_prime,
                ct,
                tag,
                ..
            } => {
                f(c1);
                f(k_prime);
                f(t_prefix);
                f(t_prime);
                f(&ct.u);
                f(&ct.body);
                f(tag);
            }
            Self::FinalRep {
                k_prime, ct, tag, ..
            } => {
                f(k_prime);
                f(&ct.u);
                f(&ct.body);
                f(tag);
            }
            Self::Update { ct, tag, .. } => {
                f(&ct.u);
                f(&ct.body);
                f(tag);
            }
        }
    }
}

#[cfg(any(test, feature = "testing"))]
impl<C: MkdCrypto> crate::testing::Tamper for Message<C>
where
    <C as SealedBoxes>::Sealed: crate::testing::Tamper,
{
    fn tamper(&mut self) -> bool {
        match self {
            Self::Request { tag, .. } => tag[0] ^= 1,
            Self::Credentials { sealed, .. } => return sealed.tamper(),
            Self::Begin { seat, .. } => seat.frame ^= 1,
            Self::Round1 { commitment, .. } => commitment[0] ^= 1,
            Self::Round1Reply { sid, .. } => sid[0] ^= 1,
            Self::Round2 { t, .. } | Self::Round2Rep { t, .. } => t[0] ^= 1,
            Self::Final { t_prefix, .. } => t_prefix[0] ^= 1,
            Self::FinalRep { k_prime, .. } => k_prime[0] ^= 1,
            Self::Update { ct, .. } => ct.body[0] ^= 1,
        }
        true
    }
}

// MAC contexts and IBE identities.

pub(super) fn ctx(room: RoomId, epoch: Epoch, user: UserId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&room.0.to_be_bytes());
    b[4..12].copy_from_slice(&epoch.0.to_be_bytes());
    b[12..].copy_from_slice(&user.0.to_be_bytes());
    b
}

/// The MAC context of a session's messages: [`ctx`] and the session's attempt number.
pub(super) fn session_ctx(room: RoomId, epoch: Epoch, attempt: u32, user: UserId) -> [u8; 20] {
    let mut b = [0u8; 20];
    b[..16].copy_from_slice(&ctx(room, epoch, user));
    b[16..].copy_from_slice(&attempt.to_be_bytes());
    b
}

/// The MAC input of an [`Message::Update`] (shared by both sides).
pub(super) fn update_mac_parts<'a>(
    cx: &'a [u8; 16],
    frame: &'a [u8; 8],
    ct: &'a ibe::Ciphertext,
) -> [&'a [u8]; 5] {
    [b"update", cx, frame, &ct.u, &ct.body]
}

/// `sid_t = TCR("update", room, epoch, frame, sid)`: the session id of an Update, chained from
/// the room's previous one (which every member holds and the server does not need).
pub(super) fn update_sid(room: RoomId, epoch: Epoch, frame: u64, sid: &[u8; 32]) -> [u8; 32] {
    super::prf::tcr(&[
        b"update",
        &room.0.to_be_bytes(),
        &epoch.0.to_be_bytes(),
        &frame.to_be_bytes(),
        sid,
    ])
}

pub(super) fn opt_bytes(o: &Option<[u8; P]>) -> &[u8] {
    o.as_ref().map_or(&[], |b| &b[..])
}

pub(super) fn identity(user: UserId, frame: u64) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&user.0.to_be_bytes());
    b[4..].copy_from_slice(&frame.to_be_bytes());
    b
}

pub(super) fn credentials_context(user: UserId, frame: u64) -> Vec<u8> {
    let mut c = b"conclave mkd credentials v1".to_vec();
    c.extend_from_slice(&identity(user, frame));
    c
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    #[test]
    fn wire_lengths_match_the_fields() {
        let mut rng = ChaCha20Rng::seed_from_u64(91);
        let msk = ibe::MasterKey::generate(&mut rng);
        let ct = msk.public().encrypt(b"id", &[0; 32], &mut rng).unwrap();
        let msgs: [Message; 6] = [
            Message::Request {
                kind: ChangeKind::Add,
                tag: [0; 32],
            },
            Message::Round1 {
                epoch: Epoch(1),
                attempt: 0,
                share: Some([0; 32]),
                commitment: [0; 32],
                tag: [0; 32],
            },
            Message::Round1 {
                epoch: Epoch(1),
                attempt: 0,
                share: None,
                commitment: [0; 32],
                tag: [0; 32],
            },
            Message::Round2Rep {
                epoch: Epoch(1),
                attempt: 0,
                t: [0; 64],
                t_prime: [0; 64],
                tag: [0; 32],
            },
            Message::FinalRep {
                epoch: Epoch(1),
                k_prime: [0; 32],
                ct: ct.clone(),
                tag: [0; 32],
            },
            Message::Update {
                room: RoomId(1),
                epoch: Epoch(1),
                frame: 1,
                ct,
                tag: [0; 32],
            },
        ];
        let lens: Vec<usize> = msgs.iter().map(Wire::wire_len).collect();
        assert_eq!(lens, [34, 110, 78, 173, 169, 149]);
        for m in &msgs {
            let mut visited = 0;
            m.visit_bytes(&mut |b: &[u8]| visited += b.len());
            // Everything but the kind byte, room, epoch, frame, flags and option markers is
            // visited.
            assert!(m.wire_len() - visited <= 21, "{m:?}");
        }
    }
}
