//! The cryptography of the schemes built on sealed boxes (`pairwise-dh`, `sender-keys`, `mkd`)
//! and on identity-based keys (`sakke`), behind one trait per job, so that each scheme runs either with real cryptography ([`Real`])
//! or as its model with ideal objects ([`Ideal`](crate::model::ideal_kd::Ideal)).
//!
//! # Source
//!
//! The provider pattern of RustCrypto and of mls-rs (`CryptoProvider`): a scheme names what it
//! computes through traits with associated types, and an implementation supplies the
//! primitives. The primitives of [`Real`] are those of [`sealed_box`] (RFC 9180 §5.1.3 shape)
//! and of libsignal's Sender Keys (hash ratchet, per-message AEAD, Ed25519), `mkd`'s
//! Boneh–Franklin IBE ([`ibe`]) and Ristretto255 group ([`Ristretto`]), and `sakke`'s SAKKE
//! (RFC 6508, [`kem`]) and ECCSI (RFC 6507, [`eccsi`]).
//!
//! # Construction
//!
//! * [`StaticKeys`]: a user's long-term key pair; its public half is the user's credential.
//! * [`SealedBoxes`]: one-shot authenticated encryption from a static key pair to a public key,
//!   bound to a context (the associated data).
//! * [`HashRatchet`]: Sender Keys' chain keys and the message key of each iteration.
//! * [`MessageAead`]: the per-message authenticated encryption under a message key.
//! * [`Signatures`]: each sender key's signing key pair and its signatures.
//! * [`IdentityEncryption`]: an IBE master key, its identities' keys, and encryption of a
//!   32-byte key to an identity.
//! * [`MkdCrypto`]: sealed boxes, IBE and a prime-order group ([`DlGroup`]) together.
//! * [`IdentityKem`]: a KMS master key and its public key, the receiver key (RSK) of an
//!   identifier, its validation into a receiver, and encapsulation of a shared secret value to
//!   an identifier (a 273-octet SED) and its decapsulation.
//! * [`IdentitySignatures`]: a KMS signing master key (KSAK) and its public key (KPAK), the
//!   (SSK, PVT) of an identifier, their validation into a signer, and 129-octet signatures.
//! * [`SakkeCrypto`]: both, for `sakke`.
//!
//! A scheme generic over a provider calls nothing else that is cryptographic, so its protocol
//! code (who sends what, which checks a recipient makes) is one code for the real scheme and its
//! model. Every failure to authenticate is the opaque [`SchemeError::Crypto`].
//!
//! # Costs
//!
//! [`Real`] costs what [`sealed_box`] and the Sender Keys module document: it is the code they
//! ran before the traits existed, called through static dispatch (no boxing, no `dyn`), with the
//! same random draws in the same order.
//!
//! # Security
//!
//! As the primitives: X25519, HKDF-SHA-256 and ChaCha20-Poly1305 for boxes and messages,
//! HMAC-SHA-256 for the ratchet, Ed25519 (`verify_strict`) for signatures, Boneh–Franklin on
//! BLS12-381 for IBE, Ristretto255 for `mkd`'s group, SAKKE parameter set 1 and ECCSI on P-256
//! for `sakke` (see [`sakke`](super::sakke)). Secrets (static keys,
//! chain keys, message keys, signing keys) are zeroised on drop.
//!
//! # Weaknesses
//!
//! Those of the primitives' uses, documented in [`sealed_box`], the Sender Keys module,
//! [`ibe`] and [`sakke`](super::sakke).
//!
//! # Side channels
//!
//! All primitives of [`Real`] are constant time (curve25519-dalek, ed25519-dalek, RustCrypto),
//! except the IBE, whose arkworks arithmetic makes no constant-time claim ([`ibe`]), and SAKKE,
//! which is not constant time either ([`sakke`](super::sakke)).

use core::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use x25519_dalek::PublicKey;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::mkd::ibe;
use super::sakke::curve::POINT_OCTETS as RSK_OCTETS;
use super::sakke::eccsi::{
    self, Kpak, Ksak, Pvt, Signature as EccsiSignature, SigningKey as EccsiSigningKey, Ssk,
    POINT_OCTETS as PVT_OCTETS, SCALAR_OCTETS, SIGNATURE_OCTETS,
};
use super::sakke::kem::{self, KmsMasterKey, KmsPublicKey, Receiver, Rsk, Sed, Ssv, SED_OCTETS};
use super::sealed_box::{self, SealedBox, StaticKeyPair};
use crate::pre::dl_group::{DlGroup, Ristretto};
use crate::{CryptoRngCore, SchemeError};

/// A crypto provider: a type that carries no data and names the implementations of its jobs.
pub trait Provider: fmt::Debug + Default + Copy + Send + Sync + 'static {
    /// Whether its objects are ideal (a model's): no cryptography runs.
    const IDEAL: bool;
}

/// Long-term key pairs, whose public halves are the users' credentials.
pub trait StaticKeys: Provider {
    /// A user's key pair.
    type KeyPair: fmt::Debug + Send + Sync + 'static;
    /// Its public half.
    type PublicKey: fmt::Debug + Copy + Eq + Send + Sync + 'static;
    /// Bytes of a public key on the wire.
    const PUBLIC_KEY_LEN: usize = 32;

    /// A fresh key pair.
    fn generate(rng: &mut dyn CryptoRngCore) -> Self::KeyPair;
    /// The public half of `pair`.
    fn public(pair: &Self::KeyPair) -> Self::PublicKey;
    /// Visits the encoding of `key` (nothing for an ideal key).
    fn visit_public(key: &Self::PublicKey, f: &mut dyn FnMut(&[u8]));
}

/// Sealed boxes: authenticated encryption from a sender's static key pair to a recipient's
/// public key, bound to a context.
pub trait SealedBoxes: StaticKeys {
    /// A box.
    type Sealed: crate::Wire + fmt::Debug + Clone + Send + Sync + 'static;

    /// Seals `plaintext` from `sender` to `recipient`, bound to `context`.
    ///
    /// # Errors
    /// As [`sealed_box::seal`].
    fn seal(
        sender: &Self::KeyPair,
        recipient: &Self::PublicKey,
        context: &[u8],
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Self::Sealed, SchemeError>;

    /// Opens a box sealed to `me` by `sender` for `context`.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if it was sealed by another sender, to another recipient or for
    /// another context, or was tampered with; as [`sealed_box::open`] otherwise.
    fn open(
        me: &Self::KeyPair,
        sender: &Self::PublicKey,
        context: &[u8],
        sealed: &Self::Sealed,
    ) -> Result<Vec<u8>, SchemeError>;
}

/// Sender Keys' hash ratchet: a chain key per iteration and the message key it gives.
pub trait HashRatchet: Provider {
    /// A chain key (32 bytes on the wire, inside a sender key distribution message).
    type ChainKey: fmt::Debug + Clone + Send + Sync + 'static;
    /// The message key of one iteration.
    type MessageKey;

    /// A fresh chain key.
    fn random_chain(rng: &mut dyn CryptoRngCore) -> Self::ChainKey;
    /// The chain key of the next iteration.
    fn next(chain: &Self::ChainKey) -> Self::ChainKey;
    /// The message key of `chain`'s iteration.
    fn message_key(chain: &Self::ChainKey) -> Self::MessageKey;
    /// Appends the 32-byte encoding of `chain` to `out`.
    fn encode_chain(chain: &Self::ChainKey, out: &mut Vec<u8>);
    /// A chain key from its encoding.
    fn chain_from_bytes(bytes: [u8; 32]) -> Self::ChainKey;
}

/// The per-message authenticated encryption of Sender Keys, under a ratchet's message key.
pub trait MessageAead: HashRatchet {
    /// Bytes the ciphertext adds to the body.
    const TAG_LEN: usize = 16;

    /// Encrypts `body` under `key` with associated data `aad`: `body.len() + TAG_LEN` bytes.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if the AEAD refuses (body over 256 GiB).
    fn encrypt(key: &Self::MessageKey, aad: &[u8], body: &[u8]) -> Result<Vec<u8>, SchemeError>;

    /// Decrypts what [`encrypt`](Self::encrypt) made under the same key and associated data.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] otherwise.
    fn decrypt(
        key: &Self::MessageKey,
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, SchemeError>;
}

/// Signatures of Sender Keys' messages, one signing key pair per sender key.
pub trait Signatures: Provider {
    /// A signing key.
    type SigningKey: fmt::Debug + Send + Sync + 'static;
    /// Its verifying key (32 bytes on the wire).
    type VerifyingKey: fmt::Debug + Clone + Eq + Send + Sync + 'static;
    /// Bytes of a signature.
    const SIGNATURE_LEN: usize = 64;

    /// A fresh signing key.
    fn generate_signing(rng: &mut dyn CryptoRngCore) -> Self::SigningKey;
    /// The verifying key of `key`.
    fn verifying_key(key: &Self::SigningKey) -> Self::VerifyingKey;
    /// The 32-byte encoding of a verifying key.
    fn verifying_to_bytes(key: &Self::VerifyingKey) -> [u8; 32];
    /// A verifying key from its encoding.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] if it is not one.
    fn verifying_from_bytes(bytes: &[u8; 32]) -> Result<Self::VerifyingKey, SchemeError>;
    /// Signs `msg`.
    fn sign(key: &Self::SigningKey, msg: &[u8]) -> [u8; 64];
    /// Verifies `signature` on `msg`.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if it is not `key`'s signature of `msg`.
    fn verify(
        key: &Self::VerifyingKey,
        msg: &[u8],
        signature: &[u8; 64],
    ) -> Result<(), SchemeError>;
}

/// Identity-based encryption of a 32-byte key ([`mkd`](super::mkd)'s Boneh–Franklin IBE, which
/// stands in for DMKD's CP-ABE): a master key extracts each identity's key, and a ciphertext
/// made for an identity opens only under that identity's key.
pub trait IdentityEncryption: Provider {
    /// The key generation centre's master key.
    type MasterKey: Send + Sync + 'static;
    /// The public parameters of a master key.
    type Params: fmt::Debug + Copy + Send + Sync + 'static;
    /// An identity's decryption key.
    type UserKey: Send + Sync + 'static;

    /// A fresh master key.
    fn setup(rng: &mut dyn CryptoRngCore) -> Self::MasterKey;
    /// The public parameters of `master`.
    fn params(master: &Self::MasterKey) -> Self::Params;
    /// The key of identity `id`.
    ///
    /// # Errors
    /// As [`ibe::MasterKey::extract`].
    fn extract(master: &Self::MasterKey, id: &[u8]) -> Result<Self::UserKey, SchemeError>;
    /// Encrypts `msg` to identity `id`: [`ibe::CIPHERTEXT_LEN`] bytes.
    ///
    /// # Errors
    /// As [`ibe::PublicParams::encrypt`].
    fn ibe_encrypt(
        params: &Self::Params,
        id: &[u8],
        msg: &[u8; 32],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<ibe::Ciphertext, SchemeError>;
    /// Decrypts a ciphertext made for identity `id` under `id`'s key.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if it was made for another identity or master key, or was
    /// modified; [`SchemeError::Malformed`] if it is not a ciphertext.
    fn ibe_decrypt(
        key: &Self::UserKey,
        id: &[u8],
        ct: &ibe::Ciphertext,
    ) -> Result<[u8; 32], SchemeError>;
    /// The [`ibe::USER_KEY_LEN`]-byte encoding of a user key.
    ///
    /// # Errors
    /// As [`ibe::UserKey::to_bytes`].
    fn user_key_to_bytes(key: &Self::UserKey) -> Result<[u8; ibe::USER_KEY_LEN], SchemeError>;
    /// A user key from its encoding.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] if it encodes none.
    fn user_key_from_bytes(bytes: &[u8]) -> Result<Self::UserKey, SchemeError>;
}

/// Everything [`mkd`](super::mkd) computes: sealed credentials, identity-based encryption, and a
/// prime-order group for its DH ring and Pedersen commitments.
pub trait MkdCrypto: SealedBoxes + IdentityEncryption {
    /// The group of the DH shares, link values and commitments.
    type Group: DlGroup;
}

/// Identity-based key encapsulation ([`sakke`](super::sakke)'s SAKKE, RFC 6508): a Key
/// Management Server's master key issues each identifier's receiver secret key (RSK), and an
/// encapsulation of a shared secret value (SSV) to an identifier under the KMS's public key
/// opens only with that identifier's RSK from that KMS.
pub trait IdentityKem: Provider {
    /// The KMS master secret.
    type KemMasterKey: Send + Sync + 'static;
    /// The KMS public key Z ([`RSK_OCTETS`] octets on the wire).
    type KemPublicKey: fmt::Debug + Clone + PartialEq + Eq + Send + Sync + 'static;
    /// An identifier's RSK, as issued and sent ([`RSK_OCTETS`] octets).
    type Rsk: Clone + Send + Sync + 'static;
    /// A validated RSK, ready to decapsulate.
    type Receiver: fmt::Debug + Send + Sync + 'static;
    /// Encapsulated data ([`SED_OCTETS`] octets).
    type Sed;
    /// Bytes a precomputed [`Receiver`](Self::Receiver) holds, for a run's memory estimate.
    const RECEIVER_BYTES: usize;

    /// A fresh master secret.
    fn kem_setup(rng: &mut dyn CryptoRngCore) -> Self::KemMasterKey;
    /// The public key of `master`.
    fn kem_public(master: &Self::KemMasterKey) -> Self::KemPublicKey;
    /// The RSK of identifier `id`.
    ///
    /// # Errors
    /// As [`KmsMasterKey::issue_rsk`].
    fn issue_rsk(master: &Self::KemMasterKey, id: &[u8]) -> Result<Self::Rsk, SchemeError>;
    /// The encoding of an RSK.
    fn rsk_to_bytes(rsk: &Self::Rsk) -> [u8; RSK_OCTETS];
    /// Validates `rsk` as `id`'s under `kms` and keeps it, with the precomputation that speeds
    /// up every later decapsulation if `precompute`.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if it is not that identifier's RSK from that KMS.
    fn receiver(
        kms: &Self::KemPublicKey,
        id: &[u8],
        rsk: Self::Rsk,
        precompute: bool,
    ) -> Result<Self::Receiver, SchemeError>;
    /// The identifier of a receiver.
    fn receiver_id(receiver: &Self::Receiver) -> &[u8];
    /// A receiver without its precomputation.
    fn without_precomputation(receiver: Self::Receiver) -> Self::Receiver;
    /// Encapsulates `ssv` to identifier `id` under `kms` (deterministic in the SSV).
    ///
    /// # Errors
    /// As [`kem::encapsulate_ssv`].
    fn encapsulate(
        kms: &Self::KemPublicKey,
        id: &[u8],
        ssv: &Ssv,
    ) -> Result<Self::Sed, SchemeError>;
    /// The SSV of `sed`, if it was made for `receiver`'s identifier under its KMS, unaltered.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] otherwise.
    fn decapsulate(receiver: &Self::Receiver, sed: &Self::Sed) -> Result<Ssv, SchemeError>;
    /// The encoding of a SED.
    fn sed_to_bytes(sed: &Self::Sed) -> [u8; SED_OCTETS];
    /// A SED from its encoding.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] if it encodes none.
    fn sed_from_bytes(bytes: &[u8]) -> Result<Self::Sed, SchemeError>;
}

/// Identity-based signatures ([`sakke`](super::sakke)'s ECCSI, RFC 6507): a KMS's KSAK issues
/// each identifier's (SSK, PVT), and a signature by it verifies under the KMS's KPAK and that
/// identifier only.
pub trait IdentitySignatures: Provider {
    /// The KMS secret authentication key.
    type Ksak: Send + Sync + 'static;
    /// The KMS public authentication key.
    type Kpak: fmt::Debug + Clone + PartialEq + Eq + Send + Sync + 'static;
    /// An identifier's secret signing key ([`SCALAR_OCTETS`] on the wire).
    type Ssk: Clone + Send + Sync + 'static;
    /// Its public validation token ([`PVT_OCTETS`] on the wire).
    type Pvt: Clone + Send + Sync + 'static;
    /// A validated (SSK, PVT), ready to sign.
    type Signer: fmt::Debug + Send + Sync + 'static;
    /// A signature ([`SIGNATURE_OCTETS`] on the wire).
    type IdSignature;

    /// A fresh KSAK.
    fn sig_setup(rng: &mut dyn CryptoRngCore) -> Self::Ksak;
    /// The KPAK of `ksak`.
    fn kpak(ksak: &Self::Ksak) -> Self::Kpak;
    /// The (SSK, PVT) of identifier `id`.
    fn issue_signing(
        ksak: &Self::Ksak,
        id: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> (Self::Ssk, Self::Pvt);
    /// The encoding of an SSK.
    fn ssk_to_bytes(ssk: &Self::Ssk) -> [u8; SCALAR_OCTETS];
    /// The encoding of a PVT.
    fn pvt_to_bytes(pvt: &Self::Pvt) -> [u8; PVT_OCTETS];
    /// Validates (SSK, PVT) as `id`'s under `kpak` and keeps them.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if they are not that identifier's from that KMS.
    fn signer(
        kpak: &Self::Kpak,
        id: &[u8],
        ssk: Self::Ssk,
        pvt: Self::Pvt,
    ) -> Result<Self::Signer, SchemeError>;
    /// Signs `msg`.
    fn id_sign(signer: &Self::Signer, msg: &[u8], rng: &mut dyn CryptoRngCore)
        -> Self::IdSignature;
    /// Verifies `signature` on `msg` by identifier `id` under `kpak`.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if it is not that identifier's signature of `msg`.
    fn id_verify(
        kpak: &Self::Kpak,
        id: &[u8],
        msg: &[u8],
        signature: &Self::IdSignature,
    ) -> Result<(), SchemeError>;
    /// The encoding of a signature.
    fn signature_to_bytes(signature: &Self::IdSignature) -> [u8; SIGNATURE_OCTETS];
    /// A signature from its encoding.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] if it encodes none.
    fn signature_from_bytes(bytes: &[u8]) -> Result<Self::IdSignature, SchemeError>;
}

/// Everything [`sakke`](super::sakke) computes: SAKKE and ECCSI.
pub trait SakkeCrypto: IdentityKem + IdentitySignatures {}

impl<P: IdentityKem + IdentitySignatures> SakkeCrypto for P {}

/// Everything Sender Keys computes.
pub trait SenderKeyCrypto: SealedBoxes + MessageAead + Signatures {}

impl<P: SealedBoxes + MessageAead + Signatures> SenderKeyCrypto for P {}

/// The real cryptography: X25519 sealed boxes, HMAC-SHA-256 ratchet, ChaCha20-Poly1305,
/// Ed25519.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Real;

impl Provider for Real {
    const IDEAL: bool = false;
}

impl StaticKeys for Real {
    type KeyPair = StaticKeyPair;
    type PublicKey = PublicKey;

    fn generate(rng: &mut dyn CryptoRngCore) -> StaticKeyPair {
        StaticKeyPair::generate(rng)
    }
    fn public(pair: &StaticKeyPair) -> PublicKey {
        pair.public()
    }
    fn visit_public(key: &PublicKey, f: &mut dyn FnMut(&[u8])) {
        f(key.as_bytes());
    }
}

impl SealedBoxes for Real {
    type Sealed = SealedBox;

    fn seal(
        sender: &StaticKeyPair,
        recipient: &PublicKey,
        context: &[u8],
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<SealedBox, SchemeError> {
        sealed_box::seal(sender, recipient, context, plaintext, rng)
    }
    fn open(
        me: &StaticKeyPair,
        sender: &PublicKey,
        context: &[u8],
        sealed: &SealedBox,
    ) -> Result<Vec<u8>, SchemeError> {
        sealed_box::open(me, sender, context, sealed)
    }
}

/// A chain key of the hash ratchet. Zeroised on drop; `Debug` does not print it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ChainKey([u8; 32]);

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainKey").finish_non_exhaustive()
    }
}

/// A message key of the hash ratchet. Zeroised on drop; `Debug` does not print it.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MessageKey([u8; 32]);

impl fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageKey").finish_non_exhaustive()
    }
}

/// In constant time, for tests that compare re-derived keys.
impl PartialEq for MessageKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&other.0).into()
    }
}

/// HMAC-SHA-256 of one byte under a 32-byte key.
fn hmac_byte(key: &[u8; 32], byte: u8) -> [u8; 32] {
    // HMAC pads keys shorter than the block to the block size with zeros (RFC 2104), so keying
    // with the zero-padded 64 bytes is the same function and cannot fail on length.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    block.zeroize();
    mac.update(&[byte]);
    mac.finalize().into_bytes().into()
}

impl HashRatchet for Real {
    type ChainKey = ChainKey;
    type MessageKey = MessageKey;

    fn random_chain(rng: &mut dyn CryptoRngCore) -> ChainKey {
        let mut chain = ChainKey([0u8; 32]);
        rng.fill_bytes(&mut chain.0);
        chain
    }
    /// libsignal: next chain = HMAC-SHA-256(chain, 0x02).
    fn next(chain: &ChainKey) -> ChainKey {
        ChainKey(hmac_byte(&chain.0, 0x02))
    }
    /// libsignal: message key = HMAC-SHA-256(chain, 0x01).
    fn message_key(chain: &ChainKey) -> MessageKey {
        MessageKey(hmac_byte(&chain.0, 0x01))
    }
    fn encode_chain(chain: &ChainKey, out: &mut Vec<u8>) {
        out.extend_from_slice(&chain.0);
    }
    fn chain_from_bytes(bytes: [u8; 32]) -> ChainKey {
        ChainKey(bytes)
    }
}

/// The AEAD key and nonce for a message key.
fn aead_keys(message_key: &MessageKey) -> (Key, Nonce) {
    let hk = Hkdf::<Sha256>::new(None, &message_key.0);
    let mut okm = [0u8; 44];
    // 44 bytes is far below HKDF-SHA-256's limit.
    if hk
        .expand(b"conclave sender-keys aead v1", &mut okm)
        .is_err()
    {
        unreachable!("HKDF output length 44 is always valid");
    }
    let keys = (*Key::from_slice(&okm[..32]), *Nonce::from_slice(&okm[32..]));
    okm.zeroize();
    keys
}

impl MessageAead for Real {
    fn encrypt(key: &MessageKey, aad: &[u8], body: &[u8]) -> Result<Vec<u8>, SchemeError> {
        let (mut aead_key, nonce) = aead_keys(key);
        let cipher = ChaCha20Poly1305::new(&aead_key);
        aead_key.zeroize();
        cipher
            .encrypt(&nonce, Payload { msg: body, aad })
            .map_err(|_| SchemeError::Internal("message encryption failed"))
    }
    fn decrypt(key: &MessageKey, aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SchemeError> {
        let (mut aead_key, nonce) = aead_keys(key);
        let cipher = ChaCha20Poly1305::new(&aead_key);
        aead_key.zeroize();
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| SchemeError::Crypto)
    }
}

impl Signatures for Real {
    type SigningKey = SigningKey;
    type VerifyingKey = VerifyingKey;

    fn generate_signing(rng: &mut dyn CryptoRngCore) -> SigningKey {
        let mut sk = [0u8; 32];
        rng.fill_bytes(&mut sk);
        let signing = SigningKey::from_bytes(&sk);
        sk.zeroize();
        signing
    }
    fn verifying_key(key: &SigningKey) -> VerifyingKey {
        key.verifying_key()
    }
    fn verifying_to_bytes(key: &VerifyingKey) -> [u8; 32] {
        key.to_bytes()
    }
    fn verifying_from_bytes(bytes: &[u8; 32]) -> Result<VerifyingKey, SchemeError> {
        VerifyingKey::from_bytes(bytes).map_err(|_| SchemeError::Malformed("invalid verifying key"))
    }
    fn sign(key: &SigningKey, msg: &[u8]) -> [u8; 64] {
        key.sign(msg).to_bytes()
    }
    fn verify(key: &VerifyingKey, msg: &[u8], signature: &[u8; 64]) -> Result<(), SchemeError> {
        key.verify_strict(msg, &Signature::from_bytes(signature))
            .map_err(|_| SchemeError::Crypto)
    }
}

impl IdentityEncryption for Real {
    type MasterKey = ibe::MasterKey;
    type Params = ibe::PublicParams;
    type UserKey = ibe::UserKey;

    fn setup(rng: &mut dyn CryptoRngCore) -> ibe::MasterKey {
        ibe::MasterKey::generate(rng)
    }
    fn params(master: &ibe::MasterKey) -> ibe::PublicParams {
        master.public()
    }
    fn extract(master: &ibe::MasterKey, id: &[u8]) -> Result<ibe::UserKey, SchemeError> {
        master.extract(id)
    }
    fn ibe_encrypt(
        params: &ibe::PublicParams,
        id: &[u8],
        msg: &[u8; 32],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<ibe::Ciphertext, SchemeError> {
        params.encrypt(id, msg, rng)
    }
    fn ibe_decrypt(
        key: &ibe::UserKey,
        id: &[u8],
        ct: &ibe::Ciphertext,
    ) -> Result<[u8; 32], SchemeError> {
        key.decrypt(id, ct)
    }
    fn user_key_to_bytes(key: &ibe::UserKey) -> Result<[u8; ibe::USER_KEY_LEN], SchemeError> {
        key.to_bytes()
    }
    fn user_key_from_bytes(bytes: &[u8]) -> Result<ibe::UserKey, SchemeError> {
        ibe::UserKey::from_bytes(bytes)
    }
}

impl MkdCrypto for Real {
    type Group = Ristretto;
}

impl IdentityKem for Real {
    type KemMasterKey = KmsMasterKey;
    type KemPublicKey = KmsPublicKey;
    type Rsk = Rsk;
    type Receiver = Receiver;
    type Sed = Sed;
    // 390 KiB of Miller-loop lines and a 1 MiB table (the sakke module doc).
    const RECEIVER_BYTES: usize = (390 + 1024) << 10;

    fn kem_setup(rng: &mut dyn CryptoRngCore) -> KmsMasterKey {
        KmsMasterKey::generate(rng)
    }
    fn kem_public(master: &KmsMasterKey) -> KmsPublicKey {
        master.public_key()
    }
    fn issue_rsk(master: &KmsMasterKey, id: &[u8]) -> Result<Rsk, SchemeError> {
        master.issue_rsk(id)
    }
    fn rsk_to_bytes(rsk: &Rsk) -> [u8; RSK_OCTETS] {
        rsk.to_bytes()
    }
    fn receiver(
        kms: &KmsPublicKey,
        id: &[u8],
        rsk: Rsk,
        precompute: bool,
    ) -> Result<Receiver, SchemeError> {
        if precompute {
            Receiver::with_precomputation(kms, id, rsk)
        } else {
            Receiver::new(kms, id, rsk)
        }
    }
    fn receiver_id(receiver: &Receiver) -> &[u8] {
        receiver.id()
    }
    fn without_precomputation(receiver: Receiver) -> Receiver {
        receiver.without_precomputation()
    }
    fn encapsulate(kms: &KmsPublicKey, id: &[u8], ssv: &Ssv) -> Result<Sed, SchemeError> {
        kem::encapsulate_ssv(kms, id, ssv)
    }
    fn decapsulate(receiver: &Receiver, sed: &Sed) -> Result<Ssv, SchemeError> {
        receiver.decapsulate(sed)
    }
    fn sed_to_bytes(sed: &Sed) -> [u8; SED_OCTETS] {
        sed.to_bytes()
    }
    fn sed_from_bytes(bytes: &[u8]) -> Result<Sed, SchemeError> {
        Sed::from_bytes(bytes)
    }
}

impl IdentitySignatures for Real {
    type Ksak = Ksak;
    type Kpak = Kpak;
    type Ssk = Ssk;
    type Pvt = Pvt;
    type Signer = EccsiSigningKey;
    type IdSignature = EccsiSignature;

    fn sig_setup(rng: &mut dyn CryptoRngCore) -> Ksak {
        Ksak::generate(rng)
    }
    fn kpak(ksak: &Ksak) -> Kpak {
        ksak.kpak()
    }
    fn issue_signing(ksak: &Ksak, id: &[u8], rng: &mut dyn CryptoRngCore) -> (Ssk, Pvt) {
        ksak.issue(rng, id)
    }
    fn ssk_to_bytes(ssk: &Ssk) -> [u8; SCALAR_OCTETS] {
        ssk.to_bytes()
    }
    fn pvt_to_bytes(pvt: &Pvt) -> [u8; PVT_OCTETS] {
        pvt.to_bytes()
    }
    fn signer(kpak: &Kpak, id: &[u8], ssk: Ssk, pvt: Pvt) -> Result<EccsiSigningKey, SchemeError> {
        EccsiSigningKey::new(kpak, id, ssk, pvt)
    }
    fn id_sign(
        signer: &EccsiSigningKey,
        msg: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> EccsiSignature {
        signer.sign(rng, msg)
    }
    fn id_verify(
        kpak: &Kpak,
        id: &[u8],
        msg: &[u8],
        signature: &EccsiSignature,
    ) -> Result<(), SchemeError> {
        eccsi::verify(kpak, id, msg, signature)
    }
    fn signature_to_bytes(signature: &EccsiSignature) -> [u8; SIGNATURE_OCTETS] {
        signature.to_bytes()
    }
    fn signature_from_bytes(bytes: &[u8]) -> Result<EccsiSignature, SchemeError> {
        EccsiSignature::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratchet_matches_libsignal_convention() {
        let ck = ChainKey([3; 32]);
        assert_eq!(Real::message_key(&ck).0, hmac_byte(&[3; 32], 1));
        // The padded-key HMAC equals the slice-keyed one.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[3; 32]).unwrap();
        mac.update(&[2]);
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(Real::next(&ck).0, expected);
    }
}
