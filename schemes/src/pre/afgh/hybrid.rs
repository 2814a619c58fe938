//! `afgh-hybrid`: NTT's hybrid design (US 11,336,441; research/mkd.md §2.3) on AFGH: one
//! message key per epoch, wrapped in one AFGH capsule; only those capsules are re-encrypted.
//!
//! # Source
//!
//! NTT's patent US 11,336,441 (research/mkd.md §2.3) for the layout, on the AFGH algebra and
//! re-keying protocol of [`super`]; the hybrid trade-off is research/pre.md §1.6.
//!
//! # Construction
//!
//! The first member to send in an epoch makes a message key: it encapsulates to the epoch's
//! `pk_1` and takes the key from the KEM, `K_msg = HKDF(Z^r, info = label ‖ room ‖ key id ‖ α)`
//! (as random as a fresh key wrapped under the capsule, without a second ciphertext). Its first
//! record with that key carries the capsule; the server moves it into the room's wrap table at
//! `store`. Later senders reuse the epoch's key once they have opened a record sealed with it;
//! until then they make their own, so an epoch may have a few keys. Key ids are (epoch, creator,
//! random 32-bit serial), unique even for a client that lost its state. Bodies:
//! XChaCha20-Poly1305 under `K_msg`, random 24-byte nonce ([`crate::common::aead::SharedKey`]: every
//! member sends under the epoch's key), associated data
//! `room ‖ msg ‖ key id`. At a change the server re-encrypts the wraps only; bodies are never
//! touched (see [`super`] for the protocol and the security analysis).
//!
//! Record as stored: key id (16 B), a flag byte, the wrap when present (48 B; `get` always
//! attaches it), the wrap's current re-encryption if any (8 + 576 B), nonce (24 B), body
//! (plaintext + 16 B tag). Clients cache the message keys they made or opened.
//!
//! # Costs
//!
//! A change costs the server O(message keys) pairings, independent of the number of messages
//! (see [`super`] for the changer's part). A record is its plaintext plus 57 B (key id, flag,
//! nonce, tag), plus the 48-byte wrap when it carries one (the first record of a key as sent,
//! every record as `get` returns it) and 584 B for the wrap's re-encryption once there is one
//! ([`super::wire::hybrid_record_len`]; a change's messages and work:
//! [`super::wire::change_traffic`], [`super::wire::change_work`]).
//! Opening a record under a message key not yet cached costs what [`super`] gives for a
//! capsule; later records under that key cost one AEAD open.
//!
//! # Security
//!
//! As analysed in [`super`] (the server, a removed member, their collusion, a storage breach with
//! an old key): the server learns no message key, and a body bound to `room ‖ msg ‖ key id`
//! cannot be moved to another record. The message key is the KEM's output, as random as a fresh
//! key wrapped under the capsule.
//!
//! # Weaknesses
//!
//! Hybrid trade-off (research/pre.md §1.6): the message key never changes, so whoever cached it
//! (a member later removed) keeps reading that epoch's messages; re-encryption protects the
//! stored wraps, not keys already known.
//!
//! # Side channels
//!
//! The AFGH operations are variable time (arkworks makes no constant-time claims; see
//! [`super::core`]); the AEAD and HKDF-SHA-256 (RustCrypto) are constant time.

use crate::rekeying::RekeyingServer;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::common::aead::{Aad, SHARED_NONCE_LEN};
use crate::common::cipher::{SharedAead, SymmetricCipher};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::core::{Bls12, Capsule, PairingGroups, SharedSecret, G1_LEN};
use super::rekeying::{Capsules, Control, CurrentCapsule, Keyring, KeyringClient};
use crate::common::changers::Changers;
use crate::pre::{
    HistoryClient, HistoryProperties, HistoryProtection, HistoryServer, KeyView, Rotation, Work,
};
use crate::{
    CryptoRngCore, Epoch, Misuse, MsgId, Opened, Outbox, RoomId, SchemeError, UserId, Wire,
};

/// HKDF label of the epoch keys.
const EPOCH_KEY_DOMAIN: &str = "conclave/afgh-hybrid/epoch-key";
/// HKDF label of the message keys.
const MESSAGE_KEY_LABEL: &[u8] = b"conclave/afgh-hybrid/message-key";
/// Length of a body nonce.
const NONCE_LEN: usize = SHARED_NONCE_LEN;

/// Hybrid AFGH proxy re-encryption (one wrapped message key per epoch) in groups `P`:
/// [`AfghHybrid`] on BLS12-381, its model ([`crate::model`]) in the exponents.
#[derive(Debug, Clone, Copy, Default)]
pub struct AfghHybridIn<P>(std::marker::PhantomData<P>);

/// Hybrid AFGH proxy re-encryption (one wrapped message key per epoch).
pub type AfghHybrid = AfghHybridIn<Bls12>;

/// Names a message key: the epoch it belongs to, who made it, and a random serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId {
    /// The epoch whose key wraps it.
    pub epoch: Epoch,
    /// The member that made it.
    pub creator: UserId,
    /// Random, so a creator that lost its state does not reuse an id.
    pub serial: u32,
}

impl KeyId {
    /// Encoded length.
    pub const LEN: usize = 16;

    /// Encoding: epoch, creator, serial, big-endian.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[..8].copy_from_slice(&self.epoch.0.to_be_bytes());
        b[8..12].copy_from_slice(&self.creator.0.to_be_bytes());
        b[12..].copy_from_slice(&self.serial.to_be_bytes());
        b
    }
}

/// A message record. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HybridRecord {
    /// The message key it is sealed under.
    pub key: KeyId,
    /// The key's wrap, `α = pk_{1,key.epoch}^r` compressed: carried by the first record sealed
    /// with a new key, and attached by the server to every record it sends.
    pub wrap: Option<[u8; G1_LEN]>,
    /// The server's re-encryption of the wrap to the newest epoch it has a re-key for.
    pub current: Option<CurrentCapsule>,
    /// Body nonce.
    pub nonce: [u8; NONCE_LEN],
    /// ChaCha20-Poly1305 ciphertext and tag.
    pub body: Arc<[u8]>,
}

impl Wire for HybridRecord {
    fn wire_len(&self) -> usize {
        KeyId::LEN
            + 1
            + self.wrap.map_or(0, |_| G1_LEN)
            + self.current.as_ref().map_or(0, |_| CurrentCapsule::LEN)
            + NONCE_LEN
            + self.body.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        if let Some(w) = &self.wrap {
            f(w);
        }
        if let Some(c) = &self.current {
            f(&c.capsule[..]);
        }
        f(&self.nonce);
        f(&self.body);
    }
}

#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for HybridRecord {
    fn tamper(&mut self) -> bool {
        crate::testing::Tamper::tamper(&mut self.body)
    }
}

/// A 32-byte message key. Zeroised on drop; `Debug` prints nothing.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct MessageKey([u8; 32]);

crate::secret::debug_without_secrets!("MessageKey", MessageKey {});

/// The cipher of a message key under `P`'s symmetric provider.
type MessageCipher<P> = <<P as PairingGroups>::Cipher as SymmetricCipher>::SharedKey;

/// The key a client seals with in a room, and its wrap until the first record carries it.
#[derive(Debug)]
struct Sending<P: PairingGroups> {
    id: KeyId,
    key: MessageCipher<P>,
    unsent_wrap: Option<[u8; G1_LEN]>,
}

/// A user's state: epoch keys, the message key it seals with per room, the message keys it
/// made or opened (as the ciphers it opens with).
#[derive(Debug)]
pub struct Client<P: PairingGroups> {
    user: UserId,
    keys: Keyring<P>,
    sending: BTreeMap<RoomId, Sending<P>>,
    known: BTreeMap<(RoomId, KeyId), MessageCipher<P>>,
}

/// A stored body.
#[derive(Debug)]
struct StoredBody {
    key: KeyId,
    nonce: [u8; NONCE_LEN],
    body: Arc<[u8]>,
}

/// The message server: bodies, and per room the wrap table.
#[derive(Debug, Default)]
pub struct Server<P: PairingGroups> {
    bodies: BTreeMap<(RoomId, MsgId), StoredBody>,
    capsules: Capsules<KeyId, P>,
    body_bytes: usize,
}

fn aad(room: RoomId, msg: MsgId, key: &KeyId) -> Aad {
    Aad::new("conclave/afgh-hybrid/body")
        .room(room)
        .msg(msg)
        .bytes(&key.to_bytes())
}

fn message_key<P: PairingGroups>(
    secret: &SharedSecret<P>,
    room: RoomId,
    id: &KeyId,
    wrap: &[u8; G1_LEN],
) -> Result<MessageKey, SchemeError> {
    secret
        .derive_key(&[
            MESSAGE_KEY_LABEL,
            &room.0.to_be_bytes(),
            &id.to_bytes(),
            wrap,
        ])
        .map(MessageKey)
}

impl<P: PairingGroups> HistoryProtection for AfghHybridIn<P> {
    const NAME: &'static str = "afgh-hybrid";
    const SUMMARY: &'static str =
        "hybrid AFGH proxy re-encryption (NTT): one wrapped message key per epoch; the server re-encrypts the wraps only";
    const PROPERTIES: HistoryProperties = HistoryProperties {
        server_reads_bodies: false,
        removal_excludes: true,
        // Single hop: origin wraps are kept, and they still open with their epoch's key.
        rotates_stored_history: Rotation::Never,
    };
    type Sealed = HybridRecord;
    type Message = Control;
    type Client = Client<P>;
    type Server = Server<P>;

    fn new_client(user: UserId) -> Client<P> {
        Client {
            user,
            keys: Keyring::new(EPOCH_KEY_DOMAIN),
            sending: BTreeMap::new(),
            known: BTreeMap::new(),
        }
    }
}

impl<P: PairingGroups> Client<P> {
    /// The message key to seal with in `key`'s epoch, made (and wrapped) if this client has
    /// none yet.
    fn sending_key(
        &mut self,
        key: KeyView<'_>,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<&mut Sending<P>, SchemeError> {
        let current = self
            .sending
            .get(&key.room)
            .is_some_and(|s| s.id.epoch == key.epoch);
        if !current {
            let id = KeyId {
                epoch: key.epoch,
                creator: self.user,
                serial: rng.next_u32(),
            };
            let pk1 = self.keys.key(key)?.public_g1();
            let (capsule, secret) = Capsule::<P>::encapsulate(&pk1, rng);
            let wrap = capsule.to_bytes()?;
            let message_key = message_key(&secret, key.room, &id, &wrap)?;
            self.known
                .insert((key.room, id), P::Cipher::shared_key(&message_key.0));
            self.sending.insert(
                key.room,
                Sending {
                    id,
                    key: P::Cipher::shared_key(&message_key.0),
                    unsent_wrap: Some(wrap),
                },
            );
        }
        self.sending
            .get_mut(&key.room)
            .ok_or(SchemeError::Internal("sending key was just stored"))
    }
}

impl<P: PairingGroups> HistoryClient for Client<P> {
    type Scheme = AfghHybridIn<P>;

    fn seal(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<HybridRecord, SchemeError> {
        let sending = self.sending_key(key, rng)?;
        let aad = aad(key.room, msg, &sending.id);
        let (nonce, body) = sending.key.seal(aad.as_ref(), plaintext, rng)?;
        Ok(HybridRecord {
            key: sending.id,
            wrap: sending.unsent_wrap.take(),
            current: None,
            nonce,
            body: body.into(),
        })
    }

    fn open(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &HybridRecord,
    ) -> Result<Opened, SchemeError> {
        let id = sealed.key;
        let aad = aad(key.room, msg, &id);
        let slot = (key.room, id);
        let plaintext = match self.known.get_mut(&slot) {
            Some(cipher) => cipher.open(&sealed.nonce, aad.as_ref(), &sealed.body)?,
            None => {
                // No wrap attached: the server holds none for this key yet.
                let Some(wrap) = sealed.wrap.as_ref() else {
                    return Ok(Opened::Pending {
                        waiting_for: id.epoch,
                    });
                };
                let secret =
                    match self
                        .keys
                        .recover(key, id.epoch, wrap, sealed.current.as_ref())?
                    {
                        Ok(secret) => secret,
                        Err(waiting_for) => return Ok(Opened::Pending { waiting_for }),
                    };
                let mut cipher =
                    P::Cipher::shared_key(&message_key(&secret, key.room, &id, wrap)?.0);
                let plaintext = cipher.open(&sealed.nonce, aad.as_ref(), &sealed.body)?;
                // Only a key that authenticated a body is remembered or adopted for sending.
                self.known.insert(slot, cipher);
                plaintext
            }
        };
        let adopt = id.epoch == key.epoch
            && self
                .sending
                .get(&key.room)
                .is_none_or(|s| s.id.epoch != key.epoch);
        if let Some(cipher) = self.known.get(&slot).filter(|_| adopt) {
            let key = cipher.for_another_sealer();
            self.sending.insert(
                slot.0,
                Sending {
                    id,
                    key,
                    unsent_wrap: None,
                },
            );
        }
        Ok(Opened::Plaintext(plaintext))
    }
}

impl<P: PairingGroups> KeyringClient for Client<P> {
    type Groups = P;
    fn keyring(&mut self) -> &mut Keyring<P> {
        &mut self.keys
    }
}

impl<P: PairingGroups> HistoryServer for Server<P> {
    type Scheme = AfghHybridIn<P>;

    fn store(&mut self, room: RoomId, msg: MsgId, sealed: HybridRecord) -> Result<(), SchemeError> {
        crate::pre::not_stored_yet(&self.bodies, &(room, msg))?;
        let wraps = self.capsules.room(room);
        match &sealed.wrap {
            Some(wrap) => wraps.insert(sealed.key, sealed.key.epoch, wrap)?,
            None if wraps.contains(&sealed.key) => {}
            None => {
                return Err(Misuse::UnexpectedMessage(
                    "record sealed under a message key whose wrap was never stored",
                )
                .into())
            }
        }
        self.body_bytes += KeyId::LEN + NONCE_LEN + sealed.body.len();
        self.bodies.insert(
            (room, msg),
            StoredBody {
                key: sealed.key,
                nonce: sealed.nonce,
                body: sealed.body,
            },
        );
        Ok(())
    }

    fn get(&self, room: RoomId, msg: MsgId) -> Option<HybridRecord> {
        let stored = self.bodies.get(&(room, msg))?;
        let wrap = self.capsules.get(room, &stored.key)?;
        Some(HybridRecord {
            key: stored.key,
            wrap: Some(wrap.capsule),
            current: wrap.current,
            nonce: stored.nonce,
            body: Arc::clone(&stored.body),
        })
    }
}

impl<P: PairingGroups> RekeyingServer for Server<P> {
    type Message = Control;

    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: Control,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Control>,
    ) -> Result<Work, SchemeError> {
        self.capsules.handle(room, from, msg, out)
    }

    fn changers(&mut self) -> Option<&mut Changers> {
        Some(self.capsules.changers())
    }

    fn stored_len(&self) -> usize {
        self.body_bytes + self.capsules.stored_len()
    }
}
