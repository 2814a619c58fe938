//! Machinery shared by the discrete-log "hybrid per-epoch" history schemes,
//! [`bbs98`](super::bbs98) and [`keyhom`](super::keyhom), on Ristretto255.
//!
//! # Source
//!
//! The shape follows NTT's patent US 11,336,441 (research/mkd.md §2.3): stored bodies never
//! change; only one small wrap per message key is re-encrypted when the epoch changes.
//!
//! # Construction
//!
//! * **Epoch keys.** Every member derives the epoch's scalar `a_e` from the epoch secret
//!   (HKDF-SHA-512, info `conclave/<scheme>/epoch-key ‖ room ‖ epoch ‖ counter`, reduced
//!   modulo the group order and re-derived with the next counter in the 2^-252 case of zero).
//! * **Message keys.** The first member that sends in an epoch draws a random 32-byte message
//!   key and wraps it re-encryptably under `a_e` (the wrap is the scheme's: [`EpochWrap`]).
//!   Other members reuse it once they have opened a record of the epoch; until then they make
//!   their own, so an epoch may have a few message keys. A key is named by a [`KeyId`]
//!   `(epoch, creator, counter)`, unique per room.
//! * **Records.** A [`Record`] carries the key id, a random 24-byte nonce and the body sealed
//!   with XChaCha20-Poly1305 under the message key ([`crate::common::aead::SharedKey`]: members seal
//!   many bodies under it), with associated data
//!   `conclave/<scheme>/body ‖ room ‖ msg ‖ key id`. The first record sealed under a new
//!   message key also carries its wrap; the server moves the wrap into a per-room wrap table at
//!   `store`, and `get` attaches the key id's current wrap with the epoch it is now under.
//! * **Re-keying.** On an epoch change that shares history, the changer (it holds both epoch
//!   secrets) sends the server a [`ReKey`] from the old epoch to the new one. The server
//!   re-encrypts every wrap under the old epoch, data-parallel (rayon), overwriting it, and
//!   keeps every re-key it received: a wrap stored late, under an epoch the room has left, is
//!   brought forward at `store` by the composition of the later re-keys (one operation, whatever
//!   the number of hops). Under the `from_join` policy no re-key is sent, so wraps of earlier
//!   epochs stay under their epochs' keys, which only earlier members hold. The server takes a
//!   re-key only from the member the directory named changer of its target epoch, only from
//!   the epoch before, and once ([`crate::common::changers`]); a wrong re-key from that changer still
//!   overwrites the wraps (not detected: the server cannot check a re-key).
//! * **Readers** unwrap with the secret of the epoch the attached wrap is under: their current
//!   key or one they held before (clients remember the epoch keys they were given). Opened
//!   message keys are cached, after the body authenticates.
//!
//! Every symmetric primitive above (the HKDFs and the AEADs, the wraps' included) is the
//! scheme's cipher provider's ([`EpochWrap::Cipher`]): the real one for the schemes, the ideal
//! one ([`crate::model::ideal_cipher`]) for their models, which so run no cryptography.
//!
//! # Costs
//!
//! Wire lengths (framing not counted, as elsewhere in this crate): a key id is 16 B, an attached
//! wrap 8 B of epoch plus the scheme's wrap, a nonce 24 B, a body its length plus a 16-byte tag;
//! a [`ReKey`] 8 + 8 + 32 = 48 B. At a change the server does one re-encryption per wrap under
//! the old epoch (one per message key, not per message), data-parallel; a late wrap costs one.
//!
//! Exact lengths: a record is [`record_len`] of its body and whether it carries a wrap (as
//! sealed: the first record of a new message key; as stored and sent: whenever the key's wrap
//! is in the table, under whatever epoch); a change that shares history sends one
//! [`REKEY_LEN`] re-key up and nothing down ([`change_traffic`]), and costs the server one
//! re-encryption per wrap in the room's table ([`change_work`]).
//!
//! # Security
//!
//! Bodies and wraps are end-to-end encrypted; the server sees key ids, epochs,
//! lengths and which records share a message key. A wrap need not authenticate itself (keyhom's
//! does not: a forged wrap yields a wrong message key, which the body's tag rejects), and only
//! an authenticated body makes a message key enter a client's cache. A member adopts another
//! member's message key as its sending key only for a key id of the current epoch whose wrap is
//! under that epoch, and only after the body authenticates: making such a wrap with a message
//! key one knows takes the current epoch key (bbs98 refuses the identity capsule that would not),
//! so neither the server nor a removed member who kept an older epoch key can plant a sending
//! key. A record whose wrap is under an epoch before its key id's is refused outright.
//!
//! # Weaknesses
//!
//! The re-keys the server keeps let anyone holding them and
//! an old epoch key derive the later epoch keys in both schemes built on this module (see
//! their docs): a breach of the server's re-key table is a collusion. A wrong re-key from the
//! named changer overwrites the wraps undetected (above).
//!
//! # Side channels
//!
//! Scalar multiplications, inversions and the hash to the group are curve25519-
//! dalek's constant-time ones, and HKDF-SHA-512 and XChaCha20-Poly1305 are RustCrypto's, constant
//! time too; table look-ups by key id, epoch and message id are variable time but on public
//! values.

use crate::rekeying::{RekeyingClient, RekeyingServer};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::common::aead::Aad;
use crate::common::cipher::{HkdfHash, SharedAead, SymmetricCipher};
use curve25519_dalek::Scalar;
use rayon::prelude::*;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{
    EpochChange, HistoryClient, HistoryProperties, HistoryProtection, HistoryServer, KeyView,
    Rotation, Traffic, Work,
};
use crate::common::changers::Changers;
use crate::{
    CryptoRngCore, Dest, Epoch, Misuse, MsgId, Opened, Outbox, RoomId, SchemeError, UserId, Wire,
};

/// Length of an encoded [`KeyId`].
pub const KEY_ID_LEN: usize = 16;
/// Length of a body nonce.
pub const NONCE_LEN: usize = crate::common::aead::SHARED_NONCE_LEN;
/// Length of an AEAD tag.
pub const TAG_LEN: usize = crate::common::aead::TAG_LEN;
/// Length of an encoded [`ReKey`].
pub const REKEY_LEN: usize = 8 + 8 + 32;
/// Length of the epoch that goes with an attached wrap.
pub const EPOCH_LEN: usize = 8;

/// Bytes of a record of scheme `W` with a `plaintext`-byte body: the key id, the wrap with its
/// epoch if `wrap` (a sealed record carries one if its message key is new; the server attaches
/// the key's wrap to every record it sends once the wrap is stored), the nonce and the body
/// with its tag.
#[must_use]
pub const fn record_len<W: EpochWrap>(plaintext: usize, wrap: bool) -> usize {
    let wrap = if wrap { EPOCH_LEN + W::WRAP_LEN } else { 0 };
    KEY_ID_LEN + wrap + NONCE_LEN + plaintext + TAG_LEN
}

/// The control messages of a change into epoch `to` in a room whose policy is
/// `shares_history`: the changer's one [`ReKey`] to the server when the change shares history
/// (not at the creation, epoch 0), nothing otherwise; the server answers nothing.
#[must_use]
pub fn change_traffic(shares_history: bool, to: Epoch) -> Traffic {
    if !shares_history || to == Epoch(0) {
        return Traffic::default();
    }
    Traffic {
        up: vec![(1, REKEY_LEN)],
        down: Vec::new(),
    }
}

/// The server work of the change [`change_traffic`] describes, in a room whose wrap table
/// holds `wraps` wraps (one per message key stored): each is under the epoch before, since
/// every earlier re-key (and every late wrap, at `store`) brought it there, and is re-encrypted
/// once, data-parallel.
#[must_use]
pub fn change_work(shares_history: bool, to: Epoch, wraps: usize) -> Vec<(usize, Work)> {
    if !shares_history || to == Epoch(0) {
        return Vec::new();
    }
    vec![(
        1,
        Work {
            op: "reencrypt",
            units: wraps as u64,
            parallel: true,
        },
    )]
}

/// Why a record whose wrap is under an epoch before its key id's is refused.
pub const WRAP_BEFORE_KEY: &str = "a wrap under an epoch before its message key's";

/// The context a wrap is bound to: room and key id.
pub const CONTEXT_LEN: usize = 4 + KEY_ID_LEN;

/// A re-encryptable wrap of a message key under an epoch key: the part that differs between
/// the schemes built on this module. Re-keys are scalars in both.
pub trait EpochWrap: Send + Sync + Sized + 'static {
    /// The scheme's name in scenario files and reports (its [`HistoryProtection::NAME`]).
    const SCHEME_NAME: &'static str;
    /// One line describing the scheme (its [`HistoryProtection::SUMMARY`]).
    const SCHEME_SUMMARY: &'static str;
    /// Prefix of every derivation and associated data, `conclave/<scheme>`.
    const LABEL: &'static str;
    /// Bytes the server keeps per stored wrap (its encoding plus any cache).
    const STORED_LEN: usize;
    /// Bytes of an encoded wrap ([`Self::Wrap`]'s `wire_len`).
    const WRAP_LEN: usize;
    /// A wrap as it crosses the wire (encoded).
    type Wrap: Wire + Clone + core::fmt::Debug + PartialEq + Eq + Send + Sync + 'static;
    /// A wrap as the server keeps it: decoded, ready to re-encrypt.
    type Stored: Send + Sync + 'static;
    /// The symmetric primitives (HKDF, the AEADs of bodies and wraps): the real ones for the
    /// scheme, the ideal ones for its model.
    type Cipher: SymmetricCipher;

    /// Makes a fresh message key and its wrap under `key`, bound to `context`.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if a primitive refuses.
    fn wrap(
        key: &EpochKey,
        context: &[u8; CONTEXT_LEN],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(MessageKey, Self::Wrap), SchemeError>;

    /// The message key in `wrap`, for the holder of the epoch key it is under.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] for a bad encoding; [`SchemeError::Crypto`] if the scheme
    /// detects a wrong key or tampering (a scheme may instead return a wrong key, which the
    /// body's tag then rejects).
    fn unwrap(
        key: &EpochKey,
        context: &[u8; CONTEXT_LEN],
        wrap: &Self::Wrap,
    ) -> Result<MessageKey, SchemeError>;

    /// Decodes a wrap for storage.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] for a non-canonical encoding.
    fn decode(wrap: &Self::Wrap) -> Result<Self::Stored, SchemeError>;

    /// Encodes a stored wrap.
    fn encode(stored: &Self::Stored) -> Self::Wrap;

    /// The re-key from `prev`'s epoch to `next`'s.
    fn rekey(prev: &EpochKey, next: &EpochKey) -> Scalar;

    /// Checks a received re-key.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] if no pair of epoch keys gives it.
    fn check_rekey(rekey: &Scalar) -> Result<(), SchemeError>;

    /// The re-key that does `first` then `then`.
    fn compose(first: &Scalar, then: &Scalar) -> Scalar;

    /// Re-encrypts a stored wrap in place (the server's work).
    fn reencrypt(rekey: &Scalar, stored: &mut Self::Stored);

    /// The next epoch's key scalar from the previous one and the re-key between them. This is
    /// the collusion of a removed member with the server (or a breach of its re-key table).
    fn advance(prev: &Scalar, rekey: &Scalar) -> Scalar;
}

/// Every scheme built on this module: its wrap is the only part it brings; roles, records and
/// claims are this module's.
impl<W: EpochWrap> HistoryProtection for W {
    const NAME: &'static str = W::SCHEME_NAME;
    const SUMMARY: &'static str = W::SCHEME_SUMMARY;
    const PROPERTIES: HistoryProperties = HistoryProperties {
        server_reads_bodies: false,
        removal_excludes: true,
        // Under `from_join` a change leaves stored history under its old key.
        rotates_stored_history: Rotation::WhenSharingHistory,
    };
    type Sealed = Record<W::Wrap>;
    type Message = ReKey;
    type Client = Client<W>;
    type Server = Server<W>;

    fn new_client(user: UserId) -> Client<W> {
        Client::new(user)
    }
}

/// A history scheme built on this module (a shorthand for the bounds its roles need).
pub trait DlScheme:
    EpochWrap
    + HistoryProtection<
        Client = Client<Self>,
        Server = Server<Self>,
        Sealed = Record<<Self as EpochWrap>::Wrap>,
        Message = ReKey,
    >
{
}

impl<W> DlScheme for W where
    W: EpochWrap
        + HistoryProtection<
            Client = Client<W>,
            Server = Server<W>,
            Sealed = Record<<W as EpochWrap>::Wrap>,
            Message = ReKey,
        >
{
}

/// An epoch's key scalar `a_e` (never zero), with the room and epoch it belongs to. Zeroised on
/// drop; `Debug` does not print it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EpochKey {
    #[zeroize(skip)]
    room: RoomId,
    #[zeroize(skip)]
    epoch: Epoch,
    scalar: Scalar,
}

crate::secret::debug_without_secrets!("EpochKey", EpochKey { room, epoch });

impl EpochKey {
    /// Derives scheme `W`'s key of the epoch `key` is for.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] in the negligible case where no counter gives a non-zero scalar.
    pub fn derive<W: EpochWrap>(key: KeyView<'_>) -> Result<Self, SchemeError> {
        let room = key.room.0.to_be_bytes();
        let epoch = key.epoch.0.to_be_bytes();
        for counter in 0..=u8::MAX {
            let mut wide = [0u8; 64];
            let info: [&[u8]; 5] = [
                W::LABEL.as_bytes(),
                b"/epoch-key",
                &room,
                &epoch,
                &[counter],
            ];
            W::Cipher::hkdf_into(HkdfHash::Sha512, key.secret.as_bytes(), &info, &mut wide)?;
            let scalar = Scalar::from_bytes_mod_order_wide(&wide);
            wide.zeroize();
            // A zero scalar would make BBS98's re-key undefined; its chance is 2^-252.
            if scalar != Scalar::ZERO {
                return Ok(Self {
                    room: key.room,
                    epoch: key.epoch,
                    scalar,
                });
            }
        }
        Err(SchemeError::Internal("every derived epoch scalar was zero"))
    }

    /// The room.
    #[must_use]
    pub fn room(&self) -> RoomId {
        self.room
    }

    /// The epoch.
    #[must_use]
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The scalar `a_e`. Handle with care: it is the epoch's secret key.
    #[must_use]
    pub fn scalar(&self) -> &Scalar {
        &self.scalar
    }

    /// The key of `rekey.to` from this key of `rekey.from` and the re-key the server received:
    /// what a removed member who colludes with the server (or steals its re-key table) gets.
    /// It exists to demonstrate the attack, in tests and in the simulator's adversary checks.
    ///
    /// # Errors
    /// [`SchemeError::Misuse`] if the re-key does not start at this key's epoch;
    /// [`SchemeError::Malformed`] if it is not a valid re-key.
    pub fn collude<W: EpochWrap>(&self, rekey: &ReKey) -> Result<Self, SchemeError> {
        if rekey.from != self.epoch {
            return Err(Misuse::StaleEpoch {
                have: self.epoch,
                got: rekey.from,
            }
            .into());
        }
        let rk = decode_rekey::<W>(rekey)?;
        Ok(Self {
            room: self.room,
            epoch: rekey.to,
            scalar: W::advance(&self.scalar, &rk),
        })
    }
}

/// A 32-byte message key. Zeroised on drop; `Debug` does not print it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MessageKey(pub(crate) [u8; 32]);

crate::secret::debug_without_secrets!("MessageKey", MessageKey {});

impl MessageKey {
    /// The key's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The 32-byte key provider `C`'s HKDF (HKDF-SHA-256 under the real one) derives from the
/// encoded group element `point` for `purpose` of the scheme labelled `label`, bound to
/// `context`.
pub(crate) fn point_key<C: SymmetricCipher>(
    label: &str,
    purpose: &[u8],
    point: &[u8; 32],
    context: &[u8; CONTEXT_LEN],
) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(C::hkdf(point, &[label.as_bytes(), purpose, context]))
}

/// Scheme `W`'s cipher of a shared message key.
type MessageCipher<W> = <<W as EpochWrap>::Cipher as SymmetricCipher>::SharedKey;

/// The name of a message key: the epoch it was made in, its creator and the creator's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId {
    /// The epoch whose key first wrapped it.
    pub epoch: Epoch,
    /// The member that made it.
    pub creator: UserId,
    /// The creator's count of message keys made so far.
    pub counter: u32,
}

impl KeyId {
    /// The 16-byte encoding: epoch, creator and counter, big-endian.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; KEY_ID_LEN] {
        let mut out = [0u8; KEY_ID_LEN];
        out[..8].copy_from_slice(&self.epoch.0.to_be_bytes());
        out[8..12].copy_from_slice(&self.creator.0.to_be_bytes());
        out[12..].copy_from_slice(&self.counter.to_be_bytes());
        out
    }
}

/// A wrap with the epoch whose key it is under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedWrap<W> {
    /// The epoch the wrap is under now.
    pub epoch: Epoch,
    /// The wrap.
    pub wrap: W,
}

/// A message record: as a sender seals it (with a wrap if its message key is new) and as the
/// server sends it to a reader (with the key id's current wrap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<W> {
    /// The message key the body is sealed under.
    pub key_id: KeyId,
    /// The message key's wrap, if attached.
    pub wrap: Option<AttachedWrap<W>>,
    /// The body's nonce (random: a message key seals many bodies).
    pub nonce: [u8; NONCE_LEN],
    /// The sealed body, with its tag.
    pub body: Arc<[u8]>,
}

impl<W: Wire> Wire for Record<W> {
    fn wire_len(&self) -> usize {
        let wrap = self
            .wrap
            .as_ref()
            .map_or(0, |w| EPOCH_LEN + w.wrap.wire_len());
        KEY_ID_LEN + wrap + NONCE_LEN + self.body.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.key_id.to_bytes());
        if let Some(w) = &self.wrap {
            f(&w.epoch.0.to_be_bytes());
            w.wrap.visit_bytes(f);
        }
        f(&self.nonce);
        f(&self.body);
    }
}

#[cfg(any(test, feature = "testing"))]
impl<W> crate::testing::Tamper for Record<W> {
    fn tamper(&mut self) -> bool {
        // The body always holds at least its tag.
        crate::testing::Tamper::tamper(&mut self.body)
    }
}

/// The re-key from one epoch to a later one, sent by the changer to the message server only
/// (with an old epoch key it gives the new one: see the schemes' docs).
#[derive(Clone, PartialEq, Eq)]
pub struct ReKey {
    /// The epoch whose wraps it re-encrypts.
    pub from: Epoch,
    /// The epoch they end up under.
    pub to: Epoch,
    /// The re-key scalar, canonical little-endian.
    pub key: [u8; 32],
}

crate::secret::debug_without_secrets!("ReKey", ReKey { from, to });

impl Wire for ReKey {
    fn wire_len(&self) -> usize {
        REKEY_LEN
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.from.0.to_be_bytes());
        f(&self.to.0.to_be_bytes());
        f(&self.key);
    }
}

fn decode_rekey<W: EpochWrap>(rekey: &ReKey) -> Result<Scalar, SchemeError> {
    if rekey.to <= rekey.from {
        return Err(SchemeError::Malformed(
            "a re-key must lead to a later epoch",
        ));
    }
    let rk = Option::<Scalar>::from(Scalar::from_canonical_bytes(rekey.key))
        .ok_or(SchemeError::Malformed("non-canonical re-key scalar"))?;
    W::check_rekey(&rk)?;
    Ok(rk)
}

/// The context a wrap and its message key are bound to: room and key id.
#[must_use]
pub fn wrap_context(room: RoomId, key_id: KeyId) -> [u8; CONTEXT_LEN] {
    let mut out = [0u8; CONTEXT_LEN];
    out[..4].copy_from_slice(&room.0.to_be_bytes());
    out[4..].copy_from_slice(&key_id.to_bytes());
    out
}

fn body_aad<W: EpochWrap>(room: RoomId, msg: MsgId, key_id: KeyId) -> Aad {
    Aad::new(W::LABEL)
        .bytes(b"/body")
        .room(room)
        .msg(msg)
        .bytes(&key_id.to_bytes())
}

fn open_body<W: EpochWrap>(
    message_key: &mut MessageCipher<W>,
    room: RoomId,
    msg: MsgId,
    record: &Record<W::Wrap>,
) -> Result<Vec<u8>, SchemeError> {
    message_key.open(
        &record.nonce,
        body_aad::<W>(room, msg, record.key_id).as_ref(),
        &record.body,
    )
}

/// Opens `record` of message `msg` with an epoch key alone, as a fresh client (or an attacker)
/// holding only that key would: it unwraps the attached wrap if it is under `key`'s epoch.
///
/// # Errors
/// [`SchemeError::Crypto`] if the wrap is missing, under another epoch, or anything fails to
/// authenticate; [`SchemeError::Malformed`] for a bad encoding.
pub fn open_with_epoch_key<W: EpochWrap>(
    key: &EpochKey,
    msg: MsgId,
    record: &Record<W::Wrap>,
) -> Result<Vec<u8>, SchemeError> {
    let wrap = record
        .wrap
        .as_ref()
        .filter(|w| w.epoch == key.epoch)
        .ok_or(SchemeError::Crypto)?;
    let message_key = W::unwrap(key, &wrap_context(key.room, record.key_id), &wrap.wrap)?;
    open_body::<W>(
        &mut W::Cipher::shared_key(&message_key.0),
        key.room,
        msg,
        record,
    )
}

/// The message key a client seals under, with its wrap if the key is new.
struct SendingKey<'a, W: EpochWrap> {
    id: KeyId,
    key: &'a mut MessageCipher<W>,
    new_wrap: Option<AttachedWrap<W::Wrap>>,
}

/// A member's client: the epoch keys it held, the message keys it opened or made (each as the
/// cipher this client seals and opens with), and the message key it sends under in each room.
pub struct Client<W: EpochWrap> {
    user: UserId,
    epoch_keys: BTreeMap<(RoomId, Epoch), EpochKey>,
    message_keys: BTreeMap<(RoomId, KeyId), MessageCipher<W>>,
    sending: BTreeMap<RoomId, KeyId>,
    made: u32,
    scheme: PhantomData<fn() -> W>,
}

crate::secret::debug_without_secrets!("Client", Client<W: EpochWrap> {
    user,
    epoch_keys.len(),
    message_keys.len()
});

impl<W: EpochWrap> Client<W> {
    /// A fresh client for `user`.
    #[must_use]
    pub fn new(user: UserId) -> Self {
        Self {
            user,
            epoch_keys: BTreeMap::new(),
            message_keys: BTreeMap::new(),
            sending: BTreeMap::new(),
            made: 0,
            scheme: PhantomData,
        }
    }

    fn remember(&mut self, key: KeyView<'_>) -> Result<(), SchemeError> {
        if let Entry::Vacant(slot) = self.epoch_keys.entry((key.room, key.epoch)) {
            slot.insert(EpochKey::derive::<W>(key)?);
        }
        Ok(())
    }

    /// The epoch key of `epoch` in `key.room`: `key` itself or one this client held.
    /// The epoch key of `epoch` of `key.room`, if this client holds it (`None` otherwise).
    fn epoch_key(&self, key: KeyView<'_>, epoch: Epoch) -> Result<Option<EpochKey>, SchemeError> {
        if let Some(k) = self.epoch_keys.get(&(key.room, epoch)) {
            return Ok(Some(k.clone()));
        }
        if key.epoch == epoch {
            return EpochKey::derive::<W>(key).map(Some);
        }
        Ok(None)
    }

    /// The message key to seal under at `key`'s epoch, with the wrap to attach if it is new.
    fn sending_key(
        &mut self,
        key: KeyView<'_>,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<SendingKey<'_, W>, SchemeError> {
        if let Some(&id) = self
            .sending
            .get(&key.room)
            .filter(|id| id.epoch == key.epoch)
        {
            if self.message_keys.contains_key(&(key.room, id)) {
                return Ok(SendingKey {
                    id,
                    key: self
                        .message_keys
                        .get_mut(&(key.room, id))
                        .ok_or(SchemeError::Internal("sending key was just found"))?,
                    new_wrap: None,
                });
            }
        }
        let counter = self.made;
        self.made = counter
            .checked_add(1)
            .ok_or(SchemeError::Internal("message key counter exhausted"))?;
        let id = KeyId {
            epoch: key.epoch,
            creator: self.user,
            counter,
        };
        let epoch_key = self
            .epoch_key(key, key.epoch)?
            .ok_or(SchemeError::Internal("the current epoch key is missing"))?;
        let (mk, wrap) = W::wrap(&epoch_key, &wrap_context(key.room, id), rng)?;
        self.sending.insert(key.room, id);
        self.message_keys
            .insert((key.room, id), W::Cipher::shared_key(&mk.0));
        Ok(SendingKey {
            id,
            key: self
                .message_keys
                .get_mut(&(key.room, id))
                .ok_or(SchemeError::Internal("sending key was just stored"))?,
            new_wrap: Some(AttachedWrap {
                epoch: key.epoch,
                wrap,
            }),
        })
    }
}

impl<W: DlScheme> HistoryClient for Client<W> {
    type Scheme = W;

    fn seal(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Record<W::Wrap>, SchemeError> {
        let SendingKey {
            id: key_id,
            key: mk,
            new_wrap: wrap,
        } = self.sending_key(key, rng)?;
        let (nonce, body) = mk.seal(
            body_aad::<W>(key.room, msg, key_id).as_ref(),
            plaintext,
            rng,
        )?;
        Ok(Record {
            key_id,
            wrap,
            nonce,
            body: body.into(),
        })
    }

    fn open(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &Record<W::Wrap>,
    ) -> Result<Opened, SchemeError> {
        let slot = (key.room, sealed.key_id);
        if let Some(mk) = self.message_keys.get_mut(&slot) {
            return open_body::<W>(mk, key.room, msg, sealed).map(Opened::Plaintext);
        }
        // No wrap attached: the server holds none for this key yet (its re-key is on the way).
        let Some(wrap) = sealed.wrap.as_ref() else {
            return Ok(Opened::Pending {
                waiting_for: sealed.key_id.epoch,
            });
        };
        // Wraps only move forward from their key's epoch. One under an earlier epoch was made
        // with a key a removed member may have kept: opening it would let that member (with the
        // server) choose a message key current members then send under.
        if wrap.epoch < sealed.key_id.epoch {
            return Err(SchemeError::Malformed(WRAP_BEFORE_KEY));
        }
        // A wrap under an epoch this client does not hold (yet, or any more).
        let Some(epoch_key) = self.epoch_key(key, wrap.epoch)? else {
            return Ok(Opened::Pending {
                waiting_for: wrap.epoch,
            });
        };
        let mk = W::unwrap(
            &epoch_key,
            &wrap_context(key.room, sealed.key_id),
            &wrap.wrap,
        )?;
        let mut mk = W::Cipher::shared_key(&mk.0);
        let plaintext = open_body::<W>(&mut mk, key.room, msg, sealed)?;
        // Only an authenticated body lets a message key in; a member then sends under the key
        // of the current epoch it has seen rather than making its own.
        self.message_keys.insert(slot, mk);
        if sealed.key_id.epoch == key.epoch
            && self
                .sending
                .get(&key.room)
                .is_none_or(|id| id.epoch != key.epoch)
        {
            self.sending.insert(key.room, sealed.key_id);
        }
        Ok(Opened::Plaintext(plaintext))
    }
}

impl<W: DlScheme> RekeyingClient for Client<W> {
    type Message = ReKey;

    fn epoch_changed(
        &mut self,
        change: EpochChange<'_>,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<ReKey>,
    ) -> Result<(), SchemeError> {
        let next = change.next;
        self.remember(next)?;
        let Some(prev) = change.prev else {
            return Ok(());
        };
        if prev.room != next.room {
            return Err(Misuse::UnexpectedMessage("an epoch change across rooms").into());
        }
        if prev.epoch >= next.epoch {
            return Err(Misuse::StaleEpoch {
                have: prev.epoch,
                got: next.epoch,
            }
            .into());
        }
        self.remember(prev)?;
        // Under `from_join` stored history must not reach the joiners' key: no re-key then.
        if change.changer && change.shares_history {
            let (Some(a_prev), Some(a_next)) = (
                self.epoch_keys.get(&(prev.room, prev.epoch)),
                self.epoch_keys.get(&(next.room, next.epoch)),
            ) else {
                return Err(SchemeError::Internal(
                    "an epoch key just derived is missing",
                ));
            };
            out.send(
                Dest::Server,
                ReKey {
                    from: prev.epoch,
                    to: next.epoch,
                    key: W::rekey(a_prev, a_next).to_bytes(),
                },
            );
        }
        Ok(())
    }

    fn handle(
        &mut self,
        _key: KeyView<'_>,
        _msg: &ReKey,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<ReKey>,
    ) -> Result<(), SchemeError> {
        Err(Misuse::UnexpectedMessage("the message server sends clients no re-keys").into())
    }
}

/// A stored record, without its wrap (that is in the wrap table).
#[derive(Debug, Clone)]
struct StoredRecord {
    key_id: KeyId,
    nonce: [u8; NONCE_LEN],
    body: Arc<[u8]>,
}

/// An entry of a room's wrap table.
struct TableEntry<S> {
    key_id: KeyId,
    epoch: Epoch,
    wrap: S,
}

/// What the server keeps per room.
struct Room<W: EpochWrap> {
    records: BTreeMap<MsgId, StoredRecord>,
    wraps: Vec<TableEntry<W::Stored>>,
    wrap_index: BTreeMap<KeyId, usize>,
    /// Every re-key received, by the epoch it starts at: `(to, re-key)`.
    rekeys: BTreeMap<Epoch, (Epoch, Scalar)>,
}

impl<W: EpochWrap> Default for Room<W> {
    fn default() -> Self {
        Self {
            records: BTreeMap::new(),
            wraps: Vec::new(),
            wrap_index: BTreeMap::new(),
            rekeys: BTreeMap::new(),
        }
    }
}

impl<W: EpochWrap> Room<W> {
    /// The last epoch a wrap under `from` can be brought to and the composed re-key that does
    /// it, if any re-key starts at `from`.
    fn forward(&self, from: Epoch) -> Option<(Epoch, Scalar)> {
        let (mut end, mut rk) = *self.rekeys.get(&from)?;
        // Epochs strictly increase along the chain, so this ends.
        while let Some((next, step)) = self.rekeys.get(&end) {
            rk = W::compose(&rk, step);
            end = *next;
        }
        Some((end, rk))
    }
}

/// The message server: per room, records without wraps, the wrap table and the re-keys.
pub struct Server<W: EpochWrap> {
    rooms: BTreeMap<RoomId, Room<W>>,
    stored_bytes: usize,
    changers: Changers,
}

impl<W: EpochWrap> core::fmt::Debug for Server<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("rooms", &self.rooms.len())
            .field("stored_bytes", &self.stored_bytes)
            .finish()
    }
}

impl<W: EpochWrap> Default for Server<W> {
    fn default() -> Self {
        Self {
            rooms: BTreeMap::new(),
            stored_bytes: 0,
            changers: Changers::default(),
        }
    }
}

impl<W: DlScheme> HistoryServer for Server<W> {
    type Scheme = W;

    fn store(
        &mut self,
        room: RoomId,
        msg: MsgId,
        sealed: Record<W::Wrap>,
    ) -> Result<(), SchemeError> {
        let state = self.rooms.entry(room).or_default();
        super::not_stored_yet(&state.records, &msg)?;
        let Record {
            key_id,
            wrap,
            nonce,
            body,
        } = sealed;
        if let Some(attached) = wrap {
            if state.wrap_index.contains_key(&key_id) {
                return Err(Misuse::UnexpectedMessage("a second wrap of a message key").into());
            }
            if attached.epoch != key_id.epoch {
                return Err(SchemeError::Malformed(
                    "a new wrap is not under its key's epoch",
                ));
            }
            let mut stored = W::decode(&attached.wrap)?;
            let mut epoch = attached.epoch;
            // Sealed before re-keys the server already applied: bring it forward now.
            if let Some((end, rk)) = state.forward(epoch) {
                W::reencrypt(&rk, &mut stored);
                epoch = end;
            }
            state.wrap_index.insert(key_id, state.wraps.len());
            state.wraps.push(TableEntry {
                key_id,
                epoch,
                wrap: stored,
            });
            self.stored_bytes += KEY_ID_LEN + EPOCH_LEN + W::STORED_LEN;
        }
        self.stored_bytes += KEY_ID_LEN + NONCE_LEN + body.len();
        state.records.insert(
            msg,
            StoredRecord {
                key_id,
                nonce,
                body,
            },
        );
        Ok(())
    }

    fn get(&self, room: RoomId, msg: MsgId) -> Option<Record<W::Wrap>> {
        let state = self.rooms.get(&room)?;
        let record = state.records.get(&msg)?;
        let wrap = state
            .wrap_index
            .get(&record.key_id)
            .and_then(|&i| state.wraps.get(i))
            .map(|entry| AttachedWrap {
                epoch: entry.epoch,
                wrap: W::encode(&entry.wrap),
            });
        Some(Record {
            key_id: record.key_id,
            wrap,
            nonce: record.nonce,
            body: Arc::clone(&record.body),
        })
    }

    /// Chains the server's re-keys from the kept key's epoch to the epoch the record's wrap is
    /// under (`a_{e+1} = rk·a_e` for BBS98, `a_e + Δ` for keyhom) and opens it.
    fn collude(&self, kept: KeyView<'_>, msg: MsgId) -> Result<Vec<u8>, SchemeError> {
        let room = self.rooms.get(&kept.room).ok_or(SchemeError::Crypto)?;
        let record = self.get(kept.room, msg).ok_or(SchemeError::Crypto)?;
        let target = record
            .wrap
            .as_ref()
            .map(|w| w.epoch)
            .ok_or(SchemeError::Crypto)?;
        let mut key = EpochKey::derive::<W>(kept)?;
        while key.epoch() < target {
            let Some((to, rk)) = room.rekeys.get(&key.epoch()) else {
                return Err(SchemeError::Crypto);
            };
            let rekey = ReKey {
                from: key.epoch(),
                to: *to,
                key: rk.to_bytes(),
            };
            key = key.collude::<W>(&rekey)?;
        }
        open_with_epoch_key::<W>(&key, msg, &record)
    }
}

impl<W: DlScheme> RekeyingServer for Server<W> {
    type Message = ReKey;

    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: ReKey,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<ReKey>,
    ) -> Result<Work, SchemeError> {
        if !msg.to.follows(msg.from) {
            return Err(SchemeError::Malformed("a re-key not from the epoch before"));
        }
        let rk = decode_rekey::<W>(&msg)?;
        // Only the changer the directory named, once.
        self.changers.check(room, msg.to, from)?;
        let state = self.rooms.entry(room).or_default();
        if state.rekeys.contains_key(&msg.from) {
            return Err(Misuse::UnexpectedMessage("a second re-key from one epoch").into());
        }
        state.rekeys.insert(msg.from, (msg.to, rk));
        self.stored_bytes += REKEY_LEN;
        let Some((end, total)) = state.forward(msg.from) else {
            return Err(SchemeError::Internal("a re-key just kept is missing"));
        };
        // Every wrap under `from`, and only those: wraps of earlier epochs were brought
        // forward when their re-keys came, or stay under a `from_join` boundary.
        let units = state.wraps.iter().filter(|e| e.epoch == msg.from).count();
        state
            .wraps
            .par_iter_mut()
            .filter(|e| e.epoch == msg.from)
            .for_each(|e| {
                W::reencrypt(&total, &mut e.wrap);
                e.epoch = end;
            });
        Ok(Work {
            op: "reencrypt",
            units: units as u64,
            parallel: true,
        })
    }

    fn changers(&mut self) -> Option<&mut Changers> {
        Some(&mut self.changers)
    }

    fn stored_len(&self) -> usize {
        self.stored_bytes
    }
}

impl<W: EpochWrap> Server<W> {
    /// The key ids in `room`'s wrap table with the epoch each wrap is under now.
    #[must_use]
    pub fn wrap_epochs(&self, room: RoomId) -> Vec<(KeyId, Epoch)> {
        self.rooms.get(&room).map_or_else(Vec::new, |s| {
            s.wraps.iter().map(|e| (e.key_id, e.epoch)).collect()
        })
    }
}
