//! `sender-keys`: Signal/WhatsApp Sender Keys, with every sender key distributed over pairwise
//! channels and a fresh room epoch secret from the member making each change.
//!
//! # Source
//!
//! Sender Keys as described in the WhatsApp Security Whitepaper ("Transmitting Messages to
//! Groups") and libsignal's `group_cipher.rs` (research/groupkeys.md §3.1(b)), and analysed by
//! Balbás, Collins and Gajland, *Analysis and Improvements of the Sender Keys Protocol for Group
//! Messaging* (ASIACRYPT 2023).
//!
//! # Construction
//!
//! Per (room, member, epoch of creation) a member owns a **sender key**: a 32-byte chain key and
//! an Ed25519 signing key pair, both drawn from the `rng`. Its key id is the epoch it was created
//! in (a member creates at most one per epoch).
//!
//! The scheme is generic over its crypto provider ([`SenderKeysWith`], [`super::provider`]):
//! [`SenderKeys`] runs it with [`Real`] cryptography, as described here, and
//! [`crate::model::sender_keys`] with ideal objects, so the model is this very protocol code.
//!
//! *Per message* (this scheme's [`MessageLayer`]):
//! the hash ratchet of libsignal, message key = HMAC-SHA-256(chain, 0x01), next chain =
//! HMAC-SHA-256(chain, 0x02). The body is encrypted with ChaCha20-Poly1305 under a key and nonce
//! HKDF-derived from the message key (WhatsApp uses AES-256-CBC with HMAC-SHA-256; this crate keeps
//! one AEAD family) and the result is signed with the sender key's Ed25519 key. The protected
//! message is `key id (8) || iteration (4) || ciphertext (body + 16) || signature (64)`;
//! [`MessageLayer::unprotect`] verifies the signature before it derives anything.
//!
//! *Distribution*: sender key distribution messages (SKDM: key id, iteration, chain key at that
//! iteration, verifying key) travel in [`sealed_box`](super::sealed_box)es (static-ephemeral
//! X25519, authenticated sender), relayed by the server. History protection and search need a room
//! epoch secret as well (DESIGN.md §2): the member making a change draws a fresh [`EpochSecret`]
//! and puts it in the boxes it sends to every other member anyway (the *kick* of the change), so
//! the epoch secret costs no extra box. A member's kick tells it what to do next, via `out`:
//!
//! | change (n = members after) | changer sends | each recipient of the kick sends | boxes |
//! |---|---|---|---|
//! | create | kick (secret + its new SKDM) to the n − 1 others | a new SKDM of its own to the n − 1 others | n(n − 1) |
//! | add k joiners | to each joiner: kick (secret + its current SKDM); to each existing member: kick (secret + list of joiners) | joiner: a new SKDM to the n − 1 others; existing member: its current SKDM to each joiner | for k = 1: 2(n − 1) sender-key boxes + (n − 2) boxes carrying only the secret = 3n − 4 |
//! | remove | kick (secret + its rotated SKDM) to the n − 1 remaining | a rotated SKDM to the n − 1 others | n(n − 1) |
//!
//! Joins do not rotate (Signal and WhatsApp do not either): the joiner receives each member's
//! chain key at its *current* iteration. On a leave "all group participants clear their Sender
//! Key and start over" (WhatsApp): every remaining member rotates.
//!
//! A member reports [`Handled::NewEpoch`] when it holds the new epoch secret (its kick arrived);
//! the other members' new sender keys may still be in flight. [`Client::latest_sender_key`] and
//! [`Client::own_sender_key`] let a caller check that distribution has finished. An application
//! message that arrives before its sender's SKDM (only if the network reorders) cannot be
//! unprotected yet: [`MessageLayer::unprotect`] returns
//! [`Opened::Pending`], and the caller retries once the SKDM is in.
//!
//! ## Re-reading by stateless terminals
//!
//! Sender Keys deletes each message key after use, which a stateless terminal that re-reads
//! stored history at every login and search (the same message many times, in any order) cannot
//! afford. This client keeps, for every sender key it received (its own included), the chain key
//! at the first iteration it learnt (0, or the current iteration for a joiner) and re-derives
//! forward. An in-memory cache of every 64th chain key (not part of the restored state: a terminal
//! rebuilds it at its first read after login) bounds a repeated read to 64 steps. Iterations beyond
//! 2^20 per sender key are refused (a signed message cannot make a receiver ratchet further).
//!
//! # Costs
//!
//! * Boxes per change (the last column of the table above): n(n − 1) for a creation or a removal,
//!   3n − 4 for one joiner. Each box costs its sender an X25519 pair and its recipient two X25519
//!   ([`sealed_box`](super::sealed_box)). [`change_boxes`] gives every change's boxes with their exact lengths
//!   (133 bytes for a sender key, 166 for a kick carrying one, 90 + 4 per joiner for a kick
//!   naming the joiners), checked against those sent.
//! * Per message: one ratchet step (an HMAC pair), one HKDF, one AEAD and one Ed25519 signature
//!   (a reader verifies instead, and re-derives as below); the protected message is the body
//!   plus 92 bytes.
//! * State ([`KdClient::state_len`]): 80 bytes per sender key held (sender, key id, base
//!   iteration, base chain key, verifying key), besides the epoch and its secret (40) and the
//!   member's own current sender key (76). Re-derivation costs one HMAC pair per step, at most 64
//!   steps for a repeated read.
//!
//! # Security
//!
//! * The server learns nothing: it relays boxes and signed ciphertexts.
//! * Removal excludes, after rotation: the removed member holds none of the rotated sender keys
//!   nor the new epoch secret.
//! * A joiner cannot read earlier messages: it learns chain keys at their current iteration and
//!   only the new epoch secret.
//! * Members cannot impersonate each other within the group: messages are signed per sender key.
//! * Limited post-compromise security: a leaked chain key heals only when its owner rotates (on the
//!   next leave); Balbás et al. analyse these limits.
//!
//! An active server cannot open or forge a box or a signed message, but it keeps the roster: see
//! the second weakness below.
//!
//! # Weaknesses
//!
//! The price of re-reading is forward secrecy: the hash ratchet gives per-message forward secrecy
//! only to a client that erases chain keys; this one does not, so whoever obtains a member's state
//! reads every message of every sender key the member holds (the history-protection layer bounds
//! what stored history such a compromise exposes, not this one).
//!
//! * O(n²) boxes per leave (and per creation), O(n) public-key work at every member.
//! * Membership is not authenticated end to end (Rösler, Mainka and Schwenk, *More is Less*,
//!   EuroS&P 2018): the roster is the server's, and a malicious server can add a member who then
//!   receives every current chain key.
//! * A removed member can still produce messages under its old sender key that verify; refusing
//!   them is up to the message server's membership check.
//! * No forward secrecy for re-readable history (above); whoever holds a member's static X25519
//!   key opens every later box sent to it.
//!
//! # Side channels
//!
//! HMAC-SHA-256, HKDF-SHA-256 and ChaCha20-Poly1305 (RustCrypto), Ed25519 (ed25519-dalek) and
//! X25519 (curve25519-dalek) are constant time; nothing secret-dependent is variable time. How many
//! ratchet steps a read takes follows the message's iteration, which travels in the clear.

use std::collections::BTreeMap;

use core::marker::PhantomData;

use zeroize::Zeroize;

use super::pairwise_dh::lookup;
pub use super::pairwise_dh::Credential;
use super::provider::{Real, SenderKeyCrypto};
use super::relay::{RelayOnly, RelayServer};
use super::sealed_box::SealedBox;
use super::DirectoryAuthority;
use super::{
    Change, Directory, Handled, KdClient, KdProperties, KeyDistribution, MessageLayer, Origin,
    Roster,
};
use crate::{
    CryptoRngCore, Dest, Epoch, EpochSecret, Misuse, Opened, Outbox, RoomId, SchemeError, UserId,
    Wire,
};

/// The Sender Keys scheme over crypto provider `P`: [`SenderKeys`] with real cryptography, its
/// model ([`crate::model::sender_keys`]) with ideal objects.
#[derive(Debug, Clone, Copy, Default)]
pub struct SenderKeysWith<P>(PhantomData<P>);

/// The Sender Keys scheme.
pub type SenderKeys = SenderKeysWith<Real>;

/// Highest iteration of a sender key (protect refuses to go further, unprotect to derive further).
pub const MAX_ITERATION: u32 = 1 << 20;
/// Distance between cached chain keys when re-deriving.
const CHECKPOINT: u32 = 64;
/// Bytes of an encoded SKDM: key id, iteration, chain key, verifying key.
const SKDM_LEN: usize = 8 + 4 + 32 + 32;
/// Bytes a protected message adds to its body: key id, iteration, AEAD tag, signature.
pub const PROTECT_OVERHEAD: usize = 8 + 4 + 16 + 64;
/// Bytes of the state kept per sender key held: sender, key id, base iteration, base chain key,
/// verifying key.
pub const SENDER_KEY_STATE: usize = 4 + 8 + 4 + 32 + 32;

/// Bytes of a [`Message`] besides its box's plaintext: kind, epoch and the box's overhead.
const MESSAGE_OVERHEAD: usize = 1 + 8 + SealedBox::OVERHEAD;
/// Bytes of a message carrying a sender key.
pub const SENDER_KEY_MESSAGE_LEN: usize = MESSAGE_OVERHEAD + SKDM_LEN;
/// Bytes of a kick that carries the changer's sender key (to every member on a creation or a
/// removal, to each joiner on an add): action, epoch secret, sender key.
pub const KICK_WITH_SENDER_KEY_LEN: usize = MESSAGE_OVERHEAD + 1 + 32 + SKDM_LEN;

/// Bytes of the kick an add sends each existing member: action, epoch secret and the joiners.
#[must_use]
pub const fn kick_naming_joiners_len(joiners: usize) -> usize {
    MESSAGE_OVERHEAD + 1 + 32 + 4 * joiners
}

/// The boxes of `change` in a room of `members` after it (the table above), as `(count, bytes
/// of each)` pairs: the changer's kicks first, then the sender keys the members send on. What
/// the key server relays and the members receive, in total; each box goes to one member.
#[must_use]
pub fn change_boxes(change: &Change<'_>, members: usize) -> Vec<(usize, usize)> {
    let others = members.saturating_sub(1);
    match change {
        Change::Add(added) => {
            let joiners = added.len();
            let existing = others.saturating_sub(joiners);
            vec![
                (joiners, KICK_WITH_SENDER_KEY_LEN),
                (existing, kick_naming_joiners_len(joiners)),
                // Each joiner's new key to everyone else; each existing member's to each joiner.
                (
                    joiners * others + existing * joiners,
                    SENDER_KEY_MESSAGE_LEN,
                ),
            ]
        }
        Change::Create | Change::Remove(_) => vec![
            (others, KICK_WITH_SENDER_KEY_LEN),
            (others * others, SENDER_KEY_MESSAGE_LEN),
        ],
    }
}

/// Which kind of box a [`Message`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// From the member making a change: the new epoch secret and what to do next.
    Kick,
    /// A sender key distribution message.
    SenderKey,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Self::Kick => 0,
            Self::SenderKey => 1,
        }
    }
}

/// A message of the scheme: one pairwise box from a member to another, relayed by the server.
#[derive(Debug, Clone)]
pub struct Message<P: SenderKeyCrypto = Real> {
    kind: Kind,
    epoch: Epoch,
    sealed: P::Sealed,
}

impl<P: SenderKeyCrypto> Message<P> {
    /// What the box carries.
    #[must_use]
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The epoch it was sent for.
    #[must_use]
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }
}

impl<P: SenderKeyCrypto> Wire for Message<P> {
    fn wire_len(&self) -> usize {
        // kind, epoch, box
        1 + 8 + self.sealed.wire_len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        self.sealed.visit_bytes(f);
    }
}

#[cfg(any(test, feature = "testing"))]
impl<P: SenderKeyCrypto> crate::testing::Tamper for Message<P>
where
    P::Sealed: crate::testing::Tamper,
{
    fn tamper(&mut self) -> bool {
        self.sealed.tamper()
    }
}

/// A sender key distribution message (the plaintext inside a box).
struct Skdm<P: SenderKeyCrypto> {
    id: Epoch,
    iteration: u32,
    chain: P::ChainKey,
    verifying: P::VerifyingKey,
}

impl<P: SenderKeyCrypto> Skdm<P> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.0.to_be_bytes());
        out.extend_from_slice(&self.iteration.to_be_bytes());
        P::encode_chain(&self.chain, out);
        out.extend_from_slice(&P::verifying_to_bytes(&self.verifying));
    }

    fn parse(bytes: &[u8]) -> Result<Self, SchemeError> {
        let bad = SchemeError::Malformed("sender key distribution message of the wrong length");
        if bytes.len() != SKDM_LEN {
            return Err(bad);
        }
        let (id, rest) = bytes.split_at(8);
        let (iteration, rest) = rest.split_at(4);
        let (chain, verifying) = rest.split_at(32);
        let id = Epoch(u64::from_be_bytes(id.try_into().map_err(|_| bad.clone())?));
        let iteration = u32::from_be_bytes(iteration.try_into().map_err(|_| bad.clone())?);
        let chain = P::chain_from_bytes(chain.try_into().map_err(|_| bad.clone())?);
        let verifying = P::verifying_from_bytes(&verifying.try_into().map_err(|_| bad)?)?;
        if iteration > MAX_ITERATION {
            return Err(SchemeError::Malformed("sender key iteration out of range"));
        }
        Ok(Self {
            id,
            iteration,
            chain,
            verifying,
        })
    }
}

/// What a kick asks its recipient to do.
enum Action<P: SenderKeyCrypto> {
    /// The recipient is new to the room (creation or join): make a sender key, send it to all.
    Fresh(Skdm<P>),
    /// A member left: rotate, send the new sender key to all.
    Rotate(Skdm<P>),
    /// These users joined: send them the current sender key.
    Share(Vec<UserId>),
}

/// The plaintext of a kick: the new epoch secret and an action.
struct Kick<P: SenderKeyCrypto> {
    secret: EpochSecret,
    action: Action<P>,
}

impl<P: SenderKeyCrypto> Kick<P> {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 32 + SKDM_LEN);
        match &self.action {
            Action::Fresh(_) => out.push(0),
            Action::Rotate(_) => out.push(1),
            Action::Share(_) => out.push(2),
        }
        out.extend_from_slice(self.secret.as_bytes());
        match &self.action {
            Action::Fresh(skdm) | Action::Rotate(skdm) => skdm.encode(&mut out),
            Action::Share(users) => {
                for u in users {
                    out.extend_from_slice(&u.0.to_be_bytes());
                }
            }
        }
        out
    }

    fn parse(bytes: &[u8]) -> Result<Self, SchemeError> {
        let bad = SchemeError::Malformed("kick of the wrong length");
        let Some((&tag, rest)) = bytes.split_first() else {
            return Err(bad);
        };
        if rest.len() < 32 {
            return Err(bad);
        }
        let (secret, rest) = rest.split_at(32);
        let secret = EpochSecret::from_bytes(secret.try_into().map_err(|_| bad.clone())?);
        let action = match tag {
            0 => Action::Fresh(Skdm::parse(rest)?),
            1 => Action::Rotate(Skdm::parse(rest)?),
            2 => {
                if rest.len() % 4 != 0 {
                    return Err(bad);
                }
                Action::Share(
                    rest.chunks_exact(4)
                        .map(|c| UserId(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                        .collect(),
                )
            }
            _ => return Err(SchemeError::Malformed("unknown kick action")),
        };
        Ok(Self { secret, action })
    }
}

/// A sender key this client can read with (another member's, or its own).
#[derive(Debug)]
struct SenderKey<P: SenderKeyCrypto> {
    base_iteration: u32,
    /// Chain keys at `base_iteration + i * CHECKPOINT`; `[0]` is the restored state, the rest a
    /// cache.
    checkpoints: Vec<P::ChainKey>,
    verifying: P::VerifyingKey,
}

impl<P: SenderKeyCrypto> SenderKey<P> {
    fn new(base_iteration: u32, chain: P::ChainKey, verifying: P::VerifyingKey) -> Self {
        Self {
            base_iteration,
            checkpoints: vec![chain],
            verifying,
        }
    }

    /// The message key at `iteration`, or `Crypto` if it is before what this client learnt.
    fn message_key(&mut self, iteration: u32) -> Result<P::MessageKey, SchemeError> {
        if iteration > MAX_ITERATION {
            return Err(SchemeError::Malformed("iteration out of range"));
        }
        let offset = iteration
            .checked_sub(self.base_iteration)
            .ok_or(SchemeError::Crypto)?;
        let index = (offset / CHECKPOINT) as usize;
        while self.checkpoints.len() <= index {
            let Some(last) = self.checkpoints.last() else {
                return Err(SchemeError::Internal("sender key without a base chain key"));
            };
            let mut chain = last.clone();
            for _ in 0..CHECKPOINT {
                chain = P::next(&chain);
            }
            self.checkpoints.push(chain);
        }
        let mut chain = self.checkpoints[index].clone();
        for _ in 0..offset % CHECKPOINT {
            chain = P::next(&chain);
        }
        Ok(P::message_key(&chain))
    }
}

/// The member's own current sender key.
#[derive(Debug)]
struct OwnKey<P: SenderKeyCrypto> {
    id: Epoch,
    iteration: u32,
    chain: P::ChainKey,
    signing: P::SigningKey,
}

impl<P: SenderKeyCrypto> OwnKey<P> {
    fn generate(id: Epoch, rng: &mut dyn CryptoRngCore) -> Self {
        // The chain key first, then the signing key: the order of the random draws.
        let chain = P::random_chain(rng);
        let signing = P::generate_signing(rng);
        Self {
            id,
            iteration: 0,
            chain,
            signing,
        }
    }

    fn skdm(&self) -> Skdm<P> {
        Skdm {
            id: self.id,
            iteration: self.iteration,
            chain: self.chain.clone(),
            verifying: P::verifying_key(&self.signing),
        }
    }
}

/// A member's state for one room.
#[derive(Debug)]
struct RoomState<P: SenderKeyCrypto> {
    epoch: Option<(Epoch, EpochSecret)>,
    own: Option<OwnKey<P>>,
    /// Every sender key held, by (owner, key id), the member's own included.
    keys: BTreeMap<(UserId, Epoch), SenderKey<P>>,
}

impl<P: SenderKeyCrypto> Default for RoomState<P> {
    fn default() -> Self {
        Self {
            epoch: None,
            own: None,
            keys: BTreeMap::new(),
        }
    }
}

impl<P: SenderKeyCrypto> RoomState<P> {
    /// Fails if `skdm` conflicts with a key already held under the same id; returns whether it
    /// is new.
    fn check_new(&self, owner: UserId, skdm: &Skdm<P>) -> Result<bool, SchemeError> {
        match self.keys.get(&(owner, skdm.id)) {
            None => Ok(true),
            Some(k) if k.verifying == skdm.verifying => Ok(false),
            Some(_) => Err(Misuse::UnexpectedMessage("conflicting sender key").into()),
        }
    }

    fn store(&mut self, owner: UserId, skdm: Skdm<P>) {
        self.keys
            .entry((owner, skdm.id))
            .or_insert_with(|| SenderKey::new(skdm.iteration, skdm.chain, skdm.verifying));
    }
}

/// A user's Sender Keys state: its static key pair and its state per room.
#[derive(Debug)]
pub struct Client<P: SenderKeyCrypto = Real> {
    me: UserId,
    keys: P::KeyPair,
    rooms: BTreeMap<RoomId, RoomState<P>>,
}

/// The key server of Sender Keys: a relay that computes nothing.
pub type Server<P = Real> = RelayServer<SenderKeysWith<P>>;

impl<P: SenderKeyCrypto> KeyDistribution for SenderKeysWith<P> {
    const NAME: &'static str = "sender-keys";
    const SUMMARY: &'static str = if P::IDEAL {
        "model of sender-keys: its messages, checks and message layer, with ideal objects"
    } else {
        "Signal/WhatsApp Sender Keys over pairwise X25519 boxes; every member rotates on a leave"
    };
    const PROPERTIES: KdProperties = KdProperties {
        server_knows_epoch_secret: false,
        removal_excludes: true,
        join_excludes_past: true,
        authority_can_derive: false,
        layer_hides_history_from_joiners: true,
        heals_after_update: false,
        rejoins: false,
    };
    const MESSAGE_LAYER: bool = true;
    type Credential = Credential<P>;
    type Message = Message<P>;
    type Client = Client<P>;
    type Server = Server<P>;
    type Authority = DirectoryAuthority<Self>;

    fn new_server(_rng: &mut dyn CryptoRngCore) -> Result<Server<P>, SchemeError> {
        Ok(Server::default())
    }

    fn enroll(
        _server: &mut Server<P>,
        _authority: &mut DirectoryAuthority<Self>,
        user: UserId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(Client<P>, Credential<P>), SchemeError> {
        let keys = P::generate(rng);
        let cred = Credential(P::public(&keys));
        Ok((
            Client {
                me: user,
                keys,
                rooms: BTreeMap::new(),
            },
            cred,
        ))
    }
}

/// Where and at which epoch a member sends boxes, and the directory to look recipients up in.
struct Fanout<'a, P: SenderKeyCrypto> {
    room: RoomId,
    epoch: Epoch,
    directory: &'a [Credential<P>],
}

/// The context a box is bound to.
fn context(kind: Kind, room: RoomId, epoch: Epoch, sender: UserId, recipient: UserId) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(SenderKeys::NAME.len() + 21);
    ctx.extend_from_slice(SenderKeys::NAME.as_bytes());
    ctx.push(kind.byte());
    ctx.extend_from_slice(&room.0.to_be_bytes());
    ctx.extend_from_slice(&epoch.0.to_be_bytes());
    ctx.extend_from_slice(&sender.0.to_be_bytes());
    ctx.extend_from_slice(&recipient.0.to_be_bytes());
    ctx
}

/// What a protected message's AEAD and signature are bound to, besides the ciphertext.
fn message_header(room: RoomId, sender: UserId, id: Epoch, iteration: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(32 + 24);
    h.extend_from_slice(b"conclave sender-keys message v1");
    h.extend_from_slice(&room.0.to_be_bytes());
    h.extend_from_slice(&sender.0.to_be_bytes());
    h.extend_from_slice(&id.0.to_be_bytes());
    h.extend_from_slice(&iteration.to_be_bytes());
    h
}

impl<P: SenderKeyCrypto> Client<P> {
    /// This client's user.
    #[must_use]
    pub fn user(&self) -> UserId {
        self.me
    }

    /// The id (epoch of creation) of this member's current sender key for `room`.
    #[must_use]
    pub fn own_sender_key(&self, room: RoomId) -> Option<Epoch> {
        self.rooms.get(&room)?.own.as_ref().map(|k| k.id)
    }

    /// The id of the newest sender key of `user` this client holds for `room`. Distribution of a
    /// change is finished when, for every pair of members, this equals the other's
    /// [`own_sender_key`](Self::own_sender_key).
    #[must_use]
    pub fn latest_sender_key(&self, room: RoomId, user: UserId) -> Option<Epoch> {
        self.rooms
            .get(&room)?
            .keys
            .range((user, Epoch(0))..=(user, Epoch(u64::MAX)))
            .next_back()
            .map(|((_, id), _)| *id)
    }

    /// Seals a kick or an SKDM to `to`.
    fn seal_to(
        &self,
        at: &Fanout<'_, P>,
        kind: Kind,
        to: UserId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(Dest, Message<P>), SchemeError> {
        let ctx = context(kind, at.room, at.epoch, self.me, to);
        let recipient = lookup(at.directory, to)?;
        let sealed = P::seal(&self.keys, recipient, &ctx, plaintext, rng)?;
        Ok((
            Dest::User(to),
            Message {
                kind,
                epoch: at.epoch,
                sealed,
            },
        ))
    }

    /// SKDM boxes of `own` to every user of `to`, appended to `boxes`.
    fn share(
        &self,
        at: &Fanout<'_, P>,
        own: &OwnKey<P>,
        to: impl Iterator<Item = UserId>,
        rng: &mut dyn CryptoRngCore,
        boxes: &mut Vec<(Dest, Message<P>)>,
    ) -> Result<(), SchemeError> {
        let mut plain = Vec::with_capacity(SKDM_LEN);
        own.skdm().encode(&mut plain);
        let sealed: Result<Vec<_>, _> = to
            .map(|user| self.seal_to(at, Kind::SenderKey, user, &plain, rng))
            .collect();
        plain.zeroize();
        boxes.extend(sealed?);
        Ok(())
    }

    fn handle_kick(
        &mut self,
        roster: &Roster<'_>,
        sender: UserId,
        at: &Fanout<'_, P>,
        kick: Kick<P>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<P>>,
    ) -> Result<Handled, SchemeError> {
        let (room, epoch) = (at.room, at.epoch);
        let state = self.rooms.get(&room);
        let held = state.and_then(|s| s.epoch.as_ref().map(|(e, _)| *e));
        let fresh = matches!(kick.action, Action::Fresh(_));
        match (held, fresh) {
            (Some(have), _) if have >= epoch => return Ok(Handled::Stale),
            // A gap: the sender thought this member held an epoch it never reached.
            (Some(have), false) if !epoch.follows(have) => {
                return Err(Misuse::StaleEpoch { have, got: epoch }.into())
            }
            (None, false) => return Err(Misuse::UnknownRoom(room).into()),
            _ => {}
        }
        // Everything fallible first; state changes last.
        let others = || roster.members.iter().copied().filter(|m| *m != self.me);
        let mut boxes = Vec::new();
        let mut new_own = None;
        let mut theirs = None;
        match kick.action {
            Action::Fresh(skdm) | Action::Rotate(skdm) => {
                if let Some(s) = state {
                    s.check_new(sender, &skdm)?;
                }
                if skdm.id > epoch {
                    return Err(SchemeError::Malformed("sender key from a future epoch"));
                }
                let own = OwnKey::generate(epoch, rng);
                self.share(at, &own, others(), rng, &mut boxes)?;
                new_own = Some(own);
                theirs = Some(skdm);
            }
            Action::Share(joiners) => {
                let own = state
                    .and_then(|s| s.own.as_ref())
                    .ok_or(SchemeError::Internal("member without a sender key"))?;
                let to = joiners
                    .into_iter()
                    .filter(|j| *j != self.me && roster.contains(*j));
                self.share(at, own, to, rng, &mut boxes)?;
            }
        }
        let state = self.rooms.entry(room).or_default();
        if let Some(skdm) = theirs {
            state.store(sender, skdm);
        }
        if let Some(own) = new_own {
            state.keys.insert(
                (self.me, own.id),
                SenderKey::new(0, own.chain.clone(), P::verifying_key(&own.signing)),
            );
            state.own = Some(own);
        }
        state.epoch = Some((epoch, kick.secret));
        for (dest, msg) in boxes {
            out.send(dest, msg);
        }
        Ok(Handled::NewEpoch(epoch))
    }
}

impl<P: SenderKeyCrypto> KdClient for Client<P> {
    type Kd = SenderKeysWith<P>;

    fn change(
        &mut self,
        roster: &Roster<'_>,
        change: &Change<'_>,
        directory: Directory<'_, SenderKeysWith<P>>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<P>>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        let state = self.rooms.get(&room);
        let held = state.and_then(|s| s.epoch.as_ref().map(|(e, _)| *e));
        let current_own = state.and_then(|s| s.own.as_ref());
        let epoch = super::held::planned_change(roster, self.me, change, held)?.epoch;
        // A creation or a removal rotates the changer's sender key; a join does not.
        let new_own = match (change, current_own) {
            (Change::Add(_), Some(_)) => None,
            _ => Some(OwnKey::generate(epoch, rng)),
        };
        let Some(own) = new_own.as_ref().or(current_own) else {
            return Err(SchemeError::Internal("member without a sender key"));
        };
        let secret = EpochSecret::random(rng);
        let at = Fanout {
            room,
            epoch,
            directory,
        };
        let joiners: Vec<UserId> = match change {
            Change::Add(us) => roster
                .members
                .iter()
                .copied()
                .filter(|m| *m != self.me && us.contains(m))
                .collect(),
            _ => Vec::new(),
        };
        let mut boxes = Vec::with_capacity(roster.members.len());
        for member in roster.members.iter().copied().filter(|m| *m != self.me) {
            let action = match change {
                Change::Create => Action::Fresh(own.skdm()),
                Change::Remove(_) => Action::Rotate(own.skdm()),
                Change::Add(_) if joiners.contains(&member) => Action::Fresh(own.skdm()),
                Change::Add(_) => Action::Share(joiners.clone()),
            };
            let mut plain = Kick {
                secret: secret.clone(),
                action,
            }
            .encode();
            let sealed = self.seal_to(&at, Kind::Kick, member, &plain, rng);
            plain.zeroize();
            boxes.push(sealed?);
        }
        let state = self.rooms.entry(room).or_default();
        if let Some(own) = new_own {
            state.keys.insert(
                (self.me, own.id),
                SenderKey::new(0, own.chain.clone(), P::verifying_key(&own.signing)),
            );
            state.own = Some(own);
        }
        state.epoch = Some((epoch, secret));
        for (dest, msg) in boxes {
            out.send(dest, msg);
        }
        Ok(Handled::NewEpoch(epoch))
    }

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: Origin,
        msg: &Message<P>,
        directory: Directory<'_, SenderKeysWith<P>>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<P>>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        msg.epoch.bounded()?;
        let sender = match (msg.kind, from) {
            // A sender key of an epoch this member holds or has left behind may come from a member
            // removed since (its box waited in an offline member's mailbox, and the roster is
            // already the later one); the messages it sent before its removal still need it. It is authenticated by the
            // sender's static key like any box, and lets its owner do nothing it could not do
            // with the sender key it held anyway.
            (Kind::SenderKey, Origin::User(sender))
                if sender != self.me
                    && roster.contains(self.me)
                    && self
                        .current(room)
                        .is_some_and(|(held, _)| msg.epoch <= held) =>
            {
                sender
            }
            _ => match super::held::member_sender(roster, from, self.me)? {
                Some(sender) => sender,
                None => return Ok(Handled::Stale),
            },
        };
        let ctx = context(msg.kind, room, msg.epoch, sender, self.me);
        let mut plain = P::open(&self.keys, lookup(directory, sender)?, &ctx, &msg.sealed)?;
        let parsed = match msg.kind {
            Kind::Kick => Kick::parse(&plain).map(Ok),
            Kind::SenderKey => Skdm::parse(&plain).map(Err),
        };
        plain.zeroize();
        match parsed? {
            Ok(kick) => {
                let at = Fanout {
                    room,
                    epoch: msg.epoch,
                    directory,
                };
                self.handle_kick(roster, sender, &at, kick, rng, out)
            }
            Err(skdm) => {
                if skdm.id > msg.epoch {
                    return Err(SchemeError::Malformed("sender key from a future epoch"));
                }
                // Sender keys may arrive before the kick of their epoch (a joiner's, for
                // example): they are kept whatever epoch the room is at.
                if let Some(s) = self.rooms.get(&room) {
                    s.check_new(sender, &skdm)?;
                }
                self.rooms.entry(room).or_default().store(sender, skdm);
                Ok(Handled::Nothing)
            }
        }
    }

    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.rooms.get(&room)?.epoch.as_ref().map(|(e, s)| (*e, s))
    }

    /// Epoch and secret (40), the own current sender key (76: id, iteration, chain key, signing
    /// key) and every sender key held for re-reading ([`SENDER_KEY_STATE`] = 80 each).
    fn state_len(&mut self, room: RoomId) -> Result<usize, SchemeError> {
        Ok(self.rooms.get(&room).map_or(0, |s| {
            s.epoch.as_ref().map_or(0, |_| 8 + 32)
                + s.own.as_ref().map_or(0, |_| SKDM_LEN)
                + s.keys.len() * SENDER_KEY_STATE
        }))
    }

    fn message_layer(&mut self) -> Option<&mut dyn MessageLayer> {
        Some(self)
    }
}

impl<P: SenderKeyCrypto> MessageLayer for Client<P> {
    fn protect(
        &mut self,
        room: RoomId,
        body: &[u8],
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, SchemeError> {
        let me = self.me;
        let own = self
            .rooms
            .get_mut(&room)
            .ok_or(Misuse::UnknownRoom(room))?
            .own
            .as_mut()
            .ok_or(Misuse::NotAMember { user: me, room })?;
        if own.iteration >= MAX_ITERATION {
            return Err(SchemeError::Unsupported(
                "sender key exhausted; it must be rotated",
            ));
        }
        let header = message_header(room, me, own.id, own.iteration);
        let ct = P::encrypt(&P::message_key(&own.chain), &header, body)?;
        let mut out = Vec::with_capacity(body.len() + PROTECT_OVERHEAD);
        out.extend_from_slice(&own.id.0.to_be_bytes());
        out.extend_from_slice(&own.iteration.to_be_bytes());
        out.extend_from_slice(&ct);
        let mut signed = header;
        signed.extend_from_slice(&ct);
        out.extend_from_slice(&P::sign(&own.signing, &signed));
        own.chain = P::next(&own.chain);
        own.iteration += 1;
        Ok(out)
    }

    fn unprotect(
        &mut self,
        room: RoomId,
        sender: UserId,
        body: &[u8],
    ) -> Result<Opened, SchemeError> {
        if body.len() < PROTECT_OVERHEAD {
            return Err(SchemeError::Malformed("protected message too short"));
        }
        let (id, rest) = body.split_at(8);
        let (iteration, rest) = rest.split_at(4);
        let (ct, sig) = rest.split_at(rest.len() - 64);
        let bad = SchemeError::Malformed("protected message");
        let id = Epoch(u64::from_be_bytes(id.try_into().map_err(|_| bad.clone())?));
        let iteration = u32::from_be_bytes(iteration.try_into().map_err(|_| bad.clone())?);
        let sig: &[u8; 64] = sig.try_into().map_err(|_| bad)?;
        if iteration > MAX_ITERATION {
            return Err(SchemeError::Malformed("iteration out of range"));
        }
        let Some(key) = self
            .rooms
            .get_mut(&room)
            .ok_or(Misuse::UnknownRoom(room))?
            .keys
            .get_mut(&(sender, id))
        else {
            // The sender's key of that epoch travels in its own box, which may come later.
            return Ok(Opened::Pending { waiting_for: id });
        };
        let header = message_header(room, sender, id, iteration);
        let mut signed = header.clone();
        signed.extend_from_slice(ct);
        P::verify(&key.verifying, &signed, sig)?;
        P::decrypt(&key.message_key(iteration)?, &header, ct).map(Opened::Plaintext)
    }
}

impl<P: SenderKeyCrypto> RelayOnly for SenderKeysWith<P> {
    const REFUSAL: &'static str = "the sender-keys server only relays";
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::kd::provider::{HashRatchet, MessageAead, Signatures};
    use crate::testing::KdHarness;

    /// [`change_boxes`] against the boxes members receive in a creation, adds of one and two,
    /// a removal and a re-key.
    #[test]
    fn change_boxes_are_those_sent() {
        use std::cell::RefCell;
        use std::rc::Rc;

        let mut rng = ChaCha20Rng::seed_from_u64(31);
        let mut h = KdHarness::<SenderKeys>::new(9, &mut rng);
        let sent: Rc<RefCell<Vec<usize>>> = Rc::default();
        let log = Rc::clone(&sent);
        h.tamper = Some(Box::new(move |m: &mut Message| {
            log.borrow_mut().push(m.wire_len());
            false
        }));
        let room = RoomId(2);
        let founders: Vec<UserId> = (0..5).map(UserId).collect();
        let mut check = |h: &mut KdHarness<SenderKeys>, change: Change<'_>, by: u32| {
            sent.borrow_mut().clear();
            if matches!(change, Change::Create) {
                h.create(room, &founders, UserId(by), &mut rng);
            } else {
                h.change(room, UserId(by), change, &mut rng);
            }
            let members = h.rosters[&room].len();
            let mut expected: Vec<usize> = change_boxes(&change, members)
                .into_iter()
                .flat_map(|(count, len)| std::iter::repeat_n(len, count))
                .collect();
            let mut got = sent.borrow().clone();
            expected.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, expected, "{change:?} to {members} members");
        };
        check(&mut h, Change::Create, 0);
        check(&mut h, Change::Add(&[UserId(5)]), 1);
        check(&mut h, Change::Add(&[UserId(6), UserId(7)]), 0);
        check(&mut h, Change::Remove(&[UserId(2)]), 3);
        check(&mut h, Change::Remove(&[]), 4);
    }

    #[test]
    fn rederivation_from_checkpoints() {
        let base = Real::chain_from_bytes([9; 32]);
        let signing = Real::generate_signing(&mut ChaCha20Rng::seed_from_u64(1));
        let mut sk = SenderKey::<Real>::new(5, base.clone(), Real::verifying_key(&signing));
        let mut chain = base;
        let mut expected = Vec::new();
        for _ in 5..300 {
            expected.push(Real::message_key(&chain));
            chain = Real::next(&chain);
        }
        // Out of order and repeated.
        for i in [299u32, 5, 70, 69, 133, 299, 6] {
            assert_eq!(sk.message_key(i).unwrap(), expected[(i - 5) as usize]);
        }
        assert_eq!(sk.message_key(4), Err(SchemeError::Crypto));
        assert!(matches!(
            sk.message_key(MAX_ITERATION + 1),
            Err(SchemeError::Malformed(_))
        ));
    }

    /// A member holds every other member's chain key; it still cannot pass a message off as
    /// someone else's, because the signature is under the owner's signing key.
    #[test]
    fn member_cannot_impersonate() {
        let mut rng = ChaCha20Rng::seed_from_u64(21);
        let room = RoomId(1);
        let mut h = KdHarness::<SenderKeys>::new(3, &mut rng);
        h.create(
            room,
            &[UserId(0), UserId(1), UserId(2)],
            UserId(0),
            &mut rng,
        );
        let genuine = h.clients[0].protect(room, b"hello", &mut rng).unwrap();
        // User 1 forges a message from user 0 at the next iteration with what it holds.
        let forger = &mut h.clients[1];
        let key = forger
            .rooms
            .get_mut(&room)
            .unwrap()
            .keys
            .get_mut(&(UserId(0), Epoch(0)))
            .unwrap();
        let mk = key.message_key(1).unwrap();
        let header = message_header(room, UserId(0), Epoch(0), 1);
        let ct = Real::encrypt(&mk, &header, b"pay the forger").unwrap();
        let mut signed = header;
        signed.extend_from_slice(&ct);
        let own_sig = Real::sign(&forger.rooms[&room].own.as_ref().unwrap().signing, &signed);
        let mut forged = Vec::new();
        forged.extend_from_slice(&0u64.to_be_bytes());
        forged.extend_from_slice(&1u32.to_be_bytes());
        forged.extend_from_slice(&ct);
        forged.extend_from_slice(&own_sig);
        assert_eq!(
            h.clients[2].unprotect(room, UserId(0), &forged),
            Err(SchemeError::Crypto)
        );
        assert_eq!(
            h.clients[2]
                .unprotect(room, UserId(0), &genuine)
                .unwrap()
                .plaintext()
                .unwrap(),
            b"hello"
        );
    }

    #[test]
    fn kick_and_skdm_parsing_is_strict() {
        assert!(Kick::<Real>::parse(&[]).is_err());
        assert!(Kick::<Real>::parse(&[0; 20]).is_err());
        assert!(Kick::<Real>::parse(&[2; 1 + 32 + 3]).is_err());
        assert!(Kick::<Real>::parse(&[7; 1 + 32]).is_err());
        assert!(matches!(
            Kick::<Real>::parse(&[2; 1 + 32 + 8]).map(|k| k.action),
            Ok(Action::Share(u)) if u.len() == 2
        ));
        assert!(Skdm::<Real>::parse(&[0; SKDM_LEN - 1]).is_err());
    }

    /// A member kicks another into a "fresh" epoch at the end of the counter: refused, so that
    /// the recipient's next epoch cannot wrap around.
    #[test]
    fn fresh_kick_at_the_end_of_the_epoch_range_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(31);
        let room = RoomId(4);
        let mut h = KdHarness::<SenderKeys>::new(2, &mut rng);
        h.create(room, &[UserId(0), UserId(1)], UserId(0), &mut rng);
        let far = Epoch(u64::MAX);
        let kick = Kick {
            secret: EpochSecret::from_bytes([8; 32]),
            action: Action::Fresh(OwnKey::<Real>::generate(Epoch(0), &mut rng).skdm()),
        };
        let at = Fanout {
            room,
            epoch: far,
            directory: &h.directory,
        };
        let (_, msg) = h.clients[0]
            .seal_to(&at, Kind::Kick, UserId(1), &kick.encode(), &mut rng)
            .unwrap();
        let members = [UserId(0), UserId(1)];
        let roster = Roster {
            room,
            members: &members,
        };
        let got = h.clients[1].handle(
            &roster,
            Origin::User(UserId(0)),
            &msg,
            &h.directory,
            &mut rng,
            &mut Outbox::new(),
        );
        assert!(
            matches!(got, Err(SchemeError::Malformed(_))),
            "epoch u64::MAX accepted: {got:?}"
        );
    }
}
