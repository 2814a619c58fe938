//! `afgh`: pure pairing-based proxy re-encryption, one AFGH capsule per message.
//!
//! # Source
//!
//! The AFGH scheme of Ateniese, Fu, Green and Hohenberger on BLS12-381 as set up in [`super`],
//! used directly: every message has its own capsule.
//!
//! # Construction
//!
//! Each message is sealed with its own KEM: capsule `α = pk_{1,e}^r` under the sender's epoch
//! `e`, body key `HKDF(Z^r, info = label ‖ room ‖ msg ‖ e ‖ α)`, body ChaCha20-Poly1305 (a fresh
//! key per message, so a fixed nonce) with `room ‖ msg ‖ e` as associated data. At every
//! history-sharing change the server re-encrypts **every** stored capsule from its origin
//! epoch to the new one (see [`super`] for the protocol and the security analysis shared with
//! `afgh-hybrid`).
//!
//! Record as stored and sent: origin epoch (8 B), origin capsule (48 B), a flag (1 B), the
//! current re-encryption if any (target epoch 8 B + 576 B), body (plaintext + 16 B tag).
//!
//! # Costs
//!
//! O(N) pairings per change for N stored messages, reported as
//! `Work { op: "reencrypt", units: N, parallel: true }`. A record is its plaintext plus 73 B, and
//! 584 B more once re-encrypted (above): [`super::wire::record_len`]; a change's messages and
//! work are [`super::wire::change_traffic`] and [`super::wire::change_work`]. Sealing costs one `G_1` and one `G_T` exponentiation
//! ([`super::core`]); opening, what [`super`] gives for a capsule.
//!
//! # Security
//!
//! As analysed in [`super`], shared with `afgh-hybrid`: the server learns no message key, and a
//! body key is bound to the room, the message, the origin epoch and the capsule, so a capsule or
//! body moved to another record fails to open.
//!
//! # Weaknesses
//!
//! Re-keying cost grows with the stored history (O(N) pairings per change), the reason
//! `afgh-hybrid` re-encrypts per-epoch keys instead; a re-encrypted capsule is 576 B, kept next
//! to the 48-byte origin.
//!
//! # Side channels
//!
//! The AFGH operations are variable time (arkworks makes no constant-time claims; see
//! [`super::core`]); the AEAD and HKDF-SHA-256 (RustCrypto) are constant time.

use crate::rekeying::RekeyingServer;
use std::collections::BTreeMap;
use std::sync::Arc;

use zeroize::Zeroize;

use super::core::{Bls12, Capsule, PairingGroups, SharedSecret, G1_LEN};
use super::rekeying::{Capsules, Control, CurrentCapsule, Keyring, KeyringClient};
use crate::common::aead::Aad;
use crate::common::changers::Changers;
use crate::common::cipher::SymmetricCipher;
use crate::pre::{
    HistoryClient, HistoryProperties, HistoryProtection, HistoryServer, KeyView, Rotation, Work,
};
use crate::{CryptoRngCore, Epoch, MsgId, Opened, Outbox, RoomId, SchemeError, UserId, Wire};

/// HKDF label of the epoch keys.
const EPOCH_KEY_DOMAIN: &str = "conclave/afgh/epoch-key";
/// HKDF label of the body keys.
const BODY_KEY_LABEL: &[u8] = b"conclave/afgh/body-key";

/// Pure pairing-based AFGH proxy re-encryption (one capsule per message) in groups `P`:
/// [`Afgh`] on BLS12-381, its model ([`crate::model`]) in the exponents.
#[derive(Debug, Clone, Copy, Default)]
pub struct AfghIn<P>(std::marker::PhantomData<P>);

/// Pure pairing-based AFGH proxy re-encryption (one capsule per message).
pub type Afgh = AfghIn<Bls12>;

/// A message record: its origin capsule, its current re-encryption, its body. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfghRecord {
    /// The epoch it was sealed under.
    pub origin: Epoch,
    /// `α = pk_{1,origin}^r`, compressed.
    pub capsule: [u8; G1_LEN],
    /// The server's re-encryption of `capsule` to the newest epoch it has a re-key for.
    pub current: Option<CurrentCapsule>,
    /// ChaCha20-Poly1305 ciphertext and tag.
    pub body: Arc<[u8]>,
}

impl Wire for AfghRecord {
    fn wire_len(&self) -> usize {
        8 + G1_LEN + 1 + self.current.as_ref().map_or(0, |_| CurrentCapsule::LEN) + self.body.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.capsule);
        if let Some(c) = &self.current {
            f(&c.capsule[..]);
        }
        f(&self.body);
    }
}

#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for AfghRecord {
    fn tamper(&mut self) -> bool {
        crate::testing::Tamper::tamper(&mut self.body)
    }
}

/// A user's state: the keys of every epoch it held.
#[derive(Debug)]
pub struct Client<P: PairingGroups> {
    keys: Keyring<P>,
}

/// The message server: bodies, and per room the capsule store.
#[derive(Debug, Default)]
pub struct Server<P: PairingGroups> {
    bodies: BTreeMap<(RoomId, MsgId), Arc<[u8]>>,
    capsules: Capsules<MsgId, P>,
    body_bytes: usize,
}

fn body_key<P: PairingGroups>(
    secret: &SharedSecret<P>,
    room: RoomId,
    msg: MsgId,
    origin: Epoch,
    capsule: &[u8; G1_LEN],
) -> Result<[u8; 32], SchemeError> {
    secret.derive_key(&[
        BODY_KEY_LABEL,
        &room.0.to_be_bytes(),
        &msg.0.to_be_bytes(),
        &origin.0.to_be_bytes(),
        capsule,
    ])
}

fn aad(room: RoomId, msg: MsgId, origin: Epoch) -> Aad {
    Aad::new("conclave/afgh/body")
        .room(room)
        .msg(msg)
        .epoch(origin)
}

impl<P: PairingGroups> HistoryProtection for AfghIn<P> {
    const NAME: &'static str = "afgh";
    const SUMMARY: &'static str =
        "AFGH proxy re-encryption on BLS12-381, one capsule per message; the server re-encrypts every capsule at each change";
    const PROPERTIES: HistoryProperties = HistoryProperties {
        server_reads_bodies: false,
        removal_excludes: true,
        // Single hop: origin capsules are kept, and they still open with their epoch's key.
        rotates_stored_history: Rotation::Never,
    };
    type Sealed = AfghRecord;
    type Message = Control;
    type Client = Client<P>;
    type Server = Server<P>;

    fn new_client(_user: UserId) -> Client<P> {
        Client {
            keys: Keyring::new(EPOCH_KEY_DOMAIN),
        }
    }
}

impl<P: PairingGroups> HistoryClient for Client<P> {
    type Scheme = AfghIn<P>;

    fn seal(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<AfghRecord, SchemeError> {
        let pk1 = self.keys.key(key)?.public_g1();
        let (capsule, secret) = Capsule::<P>::encapsulate(&pk1, rng);
        let capsule = capsule.to_bytes()?;
        let mut k = body_key(&secret, key.room, msg, key.epoch, &capsule)?;
        let body = P::Cipher::seal_once(&k, aad(key.room, msg, key.epoch).as_ref(), plaintext);
        k.zeroize();
        Ok(AfghRecord {
            origin: key.epoch,
            capsule,
            current: None,
            body: body?.into(),
        })
    }

    fn open(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &AfghRecord,
    ) -> Result<Opened, SchemeError> {
        let secret =
            match self
                .keys
                .recover(key, sealed.origin, &sealed.capsule, sealed.current.as_ref())?
            {
                Ok(secret) => secret,
                Err(waiting_for) => return Ok(Opened::Pending { waiting_for }),
            };
        let mut k = body_key(&secret, key.room, msg, sealed.origin, &sealed.capsule)?;
        let plaintext =
            P::Cipher::open_once(&k, aad(key.room, msg, sealed.origin).as_ref(), &sealed.body)
                .map(Opened::Plaintext);
        k.zeroize();
        plaintext
    }
}

impl<P: PairingGroups> KeyringClient for Client<P> {
    type Groups = P;
    fn keyring(&mut self) -> &mut Keyring<P> {
        &mut self.keys
    }
}

impl<P: PairingGroups> HistoryServer for Server<P> {
    type Scheme = AfghIn<P>;

    fn store(&mut self, room: RoomId, msg: MsgId, sealed: AfghRecord) -> Result<(), SchemeError> {
        crate::pre::not_stored_yet(&self.bodies, &(room, msg))?;
        self.capsules
            .room(room)
            .insert(msg, sealed.origin, &sealed.capsule)?;
        self.body_bytes += sealed.body.len();
        self.bodies.insert((room, msg), sealed.body);
        Ok(())
    }

    fn get(&self, room: RoomId, msg: MsgId) -> Option<AfghRecord> {
        let body = self.bodies.get(&(room, msg))?;
        let stored = self.capsules.get(room, &msg)?;
        Some(AfghRecord {
            origin: stored.origin,
            capsule: stored.capsule,
            current: stored.current,
            body: Arc::clone(body),
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
