//! The ideal crypto provider of the models: every object of [`crate::kd::provider`] without
//! cryptography, its content in the clear, bound to what the real object is bound to.
//!
//! # Source
//!
//! The ideal functionalities of the universal-composability tradition (Canetti, *Universally
//! Composable Security*, FOCS 2001): an ideal authenticated encryption or signature hands its
//! content only to whoever presents the context it was made for. Here each object carries that
//! context with it, since a run has no trusted party to keep a table.
//!
//! # Construction
//!
//! [`Ideal`] implements each job of [`crate::kd::provider`]:
//!
//! * a **key pair** is a random 64-bit identity; the public key is the same identity, standing
//!   for a 32-byte X25519 key;
//! * a **sealed box** ([`IdealBox`]) holds the sender's and recipient's identities, the context
//!   bytes the real box's key schedule and AEAD take, and the plaintext; it opens only for that
//!   recipient, that sender and that context, and only untouched (the test-only tamperer marks
//!   it), else [`SchemeError::Crypto`], as the real box fails;
//! * a **chain key** is a random root and an iteration; the next chain key is the next
//!   iteration and the message key is the pair, so two chains meet only if the real ones would;
//!   on the wire (inside a sender key distribution message) it is root, iteration and zeros;
//! * a **per-message ciphertext** is the body, each byte complemented, and a 16-byte tag naming
//!   the message key (root, iteration) and the length of the associated data; it decrypts only
//!   under that key. The complement is no encryption (anyone undoes it); it keeps the body's
//!   text out of the bytes the servers store, which the oracle scans for canary plaintexts, as a
//!   real ciphertext keeps it out: without it a model run would report a leak the real run does
//!   not have;
//! * a **signing key** is a random identity, its verifying key the same identity (32 bytes on
//!   the wire: the identity and zeros, anything else is refused as an invalid key, as
//!   ed25519-dalek refuses a non-point); a **signature** is 64 bytes: the signer's identity, the
//!   message's length and its first 52 bytes, and verifies only against that key, length and
//!   prefix. For Sender Keys the prefix is the whole message header (label, room, sender, key
//!   id, iteration) and the start of the ciphertext.
//! * an **IBE master key** is a random identity (drawn as 64 bytes, as the real master secret
//!   is); a **user key** is the master's identity and a 16-byte [`mix`](super::mix) digest of
//!   the user's identity (96 bytes on the wire: those and zeros, anything else refused as a
//!   non-point); an **IBE ciphertext** is 96 bytes: `U` naming the master and the identity
//!   digest, the 32-byte message complemented and a 16-byte check of both, and opens only under
//!   that identity's key of that master, and only unaltered. Encryption draws 64 bytes, as the
//!   real one draws its scalar;
//! * `mkd`'s **group** is the exponent group ([`Exponents`]).
//!
//! Every object has the wire length of the real one for the same inputs; [`Wire::visit_bytes`]
//! of an ideal box visits nothing, so the servers' scans see nothing of it.
//!
//! # Costs
//!
//! No cryptography: copies, comparisons and one 64-bit random draw per key. A model run is
//! charged the real scheme's operations from the calibration table, not these.
//!
//! # Security
//!
//! None: every secret is in the clear in memory. What the objects keep is the real objects'
//! refusals for honest inputs in the wrong place: a box or a message replayed to another
//! recipient, room, epoch, sender, kind, key id or iteration is refused where the real one is,
//! with the same error.
//!
//! # Weaknesses
//!
//! An ideal signature binds a message's length and first 52 bytes, not the rest: a protected
//! message whose body was changed further in still verifies and decrypts to the changed body,
//! where the real one is refused. No party in a run changes a body (the active server's
//! experiments replay, redirect or splice whole messages, or make up garbage, which is
//! refused), so a run is not affected; refusal of tampering is the real cryptography's and is
//! not checked by a model run. Random identities could collide (probability about n²/2⁶⁴).
//!
//! # Side channels
//!
//! Not applicable: nothing secret is computed.

use super::mix::Mix;
use crate::kd::mkd::ibe::{self, Ciphertext};
use crate::kd::provider::{
    HashRatchet, IdentityEncryption, MessageAead, MkdCrypto, Provider, SealedBoxes, Signatures,
    StaticKeys,
};
use crate::kd::sealed_box::SealedBox;
use crate::pre::dl_group::Exponents;
use crate::{CryptoRngCore, SchemeError, Wire};

/// The ideal provider: no cryptography, objects bound to their context in the clear.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ideal;

impl Provider for Ideal {
    const IDEAL: bool = true;
}

/// A user's key pair: its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealKeyPair(u64);

/// A public key: the identity of its key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealPublicKey(u64);

impl StaticKeys for Ideal {
    type KeyPair = IdealKeyPair;
    type PublicKey = IdealPublicKey;

    fn generate(rng: &mut dyn CryptoRngCore) -> IdealKeyPair {
        IdealKeyPair(rng.next_u64())
    }
    fn public(pair: &IdealKeyPair) -> IdealPublicKey {
        IdealPublicKey(pair.0)
    }
    fn visit_public(_key: &IdealPublicKey, _f: &mut dyn FnMut(&[u8])) {}
}

/// An ideal sealed box: the plaintext in the clear with everything the real box is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdealBox {
    sender: IdealPublicKey,
    recipient: IdealPublicKey,
    context: Vec<u8>,
    plaintext: Vec<u8>,
    /// False once the test-only tamperer changed it: it no longer opens.
    intact: bool,
}

impl Wire for IdealBox {
    fn wire_len(&self) -> usize {
        SealedBox::OVERHEAD + self.plaintext.len()
    }
    fn visit_bytes(&self, _f: &mut dyn FnMut(&[u8])) {}
}

#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for IdealBox {
    fn tamper(&mut self) -> bool {
        self.intact = false;
        true
    }
}

impl SealedBoxes for Ideal {
    type Sealed = IdealBox;

    fn seal(
        sender: &IdealKeyPair,
        recipient: &IdealPublicKey,
        context: &[u8],
        plaintext: &[u8],
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<IdealBox, SchemeError> {
        Ok(IdealBox {
            sender: Self::public(sender),
            recipient: *recipient,
            context: context.to_vec(),
            plaintext: plaintext.to_vec(),
            intact: true,
        })
    }

    fn open(
        me: &IdealKeyPair,
        sender: &IdealPublicKey,
        context: &[u8],
        sealed: &IdealBox,
    ) -> Result<Vec<u8>, SchemeError> {
        let bound = sealed.intact
            && sealed.recipient == Self::public(me)
            && sealed.sender == *sender
            && sealed.context == context;
        if bound {
            Ok(sealed.plaintext.clone())
        } else {
            Err(SchemeError::Crypto)
        }
    }
}

/// A chain key: the chain's random root and the iteration it is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealChainKey {
    root: u64,
    step: u32,
}

impl HashRatchet for Ideal {
    type ChainKey = IdealChainKey;
    /// The message key of an iteration is the chain key of that iteration.
    type MessageKey = IdealChainKey;

    fn random_chain(rng: &mut dyn CryptoRngCore) -> IdealChainKey {
        IdealChainKey {
            root: rng.next_u64(),
            step: 0,
        }
    }
    fn next(chain: &IdealChainKey) -> IdealChainKey {
        IdealChainKey {
            root: chain.root,
            step: chain.step.wrapping_add(1),
        }
    }
    fn message_key(chain: &IdealChainKey) -> IdealChainKey {
        *chain
    }
    fn encode_chain(chain: &IdealChainKey, out: &mut Vec<u8>) {
        out.extend_from_slice(&chain.root.to_be_bytes());
        out.extend_from_slice(&chain.step.to_be_bytes());
        out.extend_from_slice(&[0u8; 20]);
    }
    fn chain_from_bytes(bytes: [u8; 32]) -> IdealChainKey {
        let mut root = [0u8; 8];
        root.copy_from_slice(&bytes[..8]);
        let mut step = [0u8; 4];
        step.copy_from_slice(&bytes[8..12]);
        IdealChainKey {
            root: u64::from_be_bytes(root),
            step: u32::from_be_bytes(step),
        }
    }
}

/// The 16-byte tag of an ideal ciphertext: the message key and the associated data's length.
fn tag(key: &IdealChainKey, aad: &[u8]) -> [u8; 16] {
    let mut t = [0u8; 16];
    t[..8].copy_from_slice(&key.root.to_be_bytes());
    t[8..12].copy_from_slice(&key.step.to_be_bytes());
    // Lengths here are headers of a few dozen bytes; a longer one saturates.
    let aad_len = u32::try_from(aad.len()).unwrap_or(u32::MAX);
    t[12..].copy_from_slice(&aad_len.to_be_bytes());
    t
}

impl MessageAead for Ideal {
    fn encrypt(key: &IdealChainKey, aad: &[u8], body: &[u8]) -> Result<Vec<u8>, SchemeError> {
        let mut out = Vec::with_capacity(body.len() + Self::TAG_LEN);
        out.extend(body.iter().map(|b| !b));
        out.extend_from_slice(&tag(key, aad));
        Ok(out)
    }
    fn decrypt(key: &IdealChainKey, aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SchemeError> {
        let body_len = ciphertext
            .len()
            .checked_sub(Self::TAG_LEN)
            .ok_or(SchemeError::Crypto)?;
        let (body, t) = ciphertext.split_at(body_len);
        if t == tag(key, aad) {
            Ok(body.iter().map(|b| !b).collect())
        } else {
            Err(SchemeError::Crypto)
        }
    }
}

/// A signing key: its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealSigningKey(u64);

/// A verifying key: the identity of its signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealVerifyingKey(u64);

/// Bytes of a message an ideal signature carries.
const SIGNED_PREFIX: usize = 64 - 8 - 4;

/// The ideal signature of `msg` by `signer`: identity, length and prefix of the message.
fn signature(signer: u64, msg: &[u8]) -> [u8; 64] {
    let mut sig = [0u8; 64];
    sig[..8].copy_from_slice(&signer.to_be_bytes());
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    sig[8..12].copy_from_slice(&len.to_be_bytes());
    let prefix = &msg[..msg.len().min(SIGNED_PREFIX)];
    sig[12..12 + prefix.len()].copy_from_slice(prefix);
    sig
}

impl Signatures for Ideal {
    type SigningKey = IdealSigningKey;
    type VerifyingKey = IdealVerifyingKey;

    fn generate_signing(rng: &mut dyn CryptoRngCore) -> IdealSigningKey {
        IdealSigningKey(rng.next_u64())
    }
    fn verifying_key(key: &IdealSigningKey) -> IdealVerifyingKey {
        IdealVerifyingKey(key.0)
    }
    fn verifying_to_bytes(key: &IdealVerifyingKey) -> [u8; 32] {
        let mut out = [0u8; 32];
        out[..8].copy_from_slice(&key.0.to_be_bytes());
        out
    }
    fn verifying_from_bytes(bytes: &[u8; 32]) -> Result<IdealVerifyingKey, SchemeError> {
        let (id, rest) = bytes.split_at(8);
        if rest.iter().any(|b| *b != 0) {
            return Err(SchemeError::Malformed("invalid verifying key"));
        }
        let mut be = [0u8; 8];
        be.copy_from_slice(id);
        Ok(IdealVerifyingKey(u64::from_be_bytes(be)))
    }
    fn sign(key: &IdealSigningKey, msg: &[u8]) -> [u8; 64] {
        signature(key.0, msg)
    }
    fn verify(
        key: &IdealVerifyingKey,
        msg: &[u8],
        signature_bytes: &[u8; 64],
    ) -> Result<(), SchemeError> {
        if signature(key.0, msg) == *signature_bytes {
            Ok(())
        } else {
            Err(SchemeError::Crypto)
        }
    }
}

/// An IBE master key: a random identity, drawn as the real master key's secret is (64 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealMasterKey(u64);

/// An IBE user key: the master key it was extracted from and the digest of its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealUserKey {
    master: u64,
    identity: [u8; 16],
}

/// Bytes of the ideal user key's encoding that carry it: master and identity digest.
const USER_KEY_BODY: usize = 8 + 16;

/// The digest an ideal user key and ciphertext name their identity by.
pub(crate) fn identity_digest(id: &[u8]) -> [u8; 16] {
    Mix::new("conclave model ibe identity").field(id).block(0)
}

/// The 16-byte check of an ideal IBE ciphertext: its `U` and its message, so that a changed
/// byte is refused as the real AEAD refuses it.
fn ibe_check(u: &[u8], msg: &[u8; 32]) -> [u8; 16] {
    Mix::new("conclave model ibe check")
        .field(u)
        .field(msg)
        .block(0)
}

/// 64 bytes from the generator, as the real IBE draws each of its scalars.
fn draw_wide(rng: &mut dyn CryptoRngCore) -> [u8; 64] {
    let mut wide = [0u8; 64];
    rng.fill_bytes(&mut wide);
    wide
}

impl IdentityEncryption for Ideal {
    type MasterKey = IdealMasterKey;
    type Params = IdealMasterKey;
    type UserKey = IdealUserKey;

    fn setup(rng: &mut dyn CryptoRngCore) -> IdealMasterKey {
        let wide = draw_wide(rng);
        let mut id = [0u8; 8];
        id.copy_from_slice(&wide[..8]);
        IdealMasterKey(u64::from_be_bytes(id))
    }
    fn params(master: &IdealMasterKey) -> IdealMasterKey {
        *master
    }
    fn extract(master: &IdealMasterKey, id: &[u8]) -> Result<IdealUserKey, SchemeError> {
        Ok(IdealUserKey {
            master: master.0,
            identity: identity_digest(id),
        })
    }
    /// `U` names the master key and the identity (zeros after them), the body is the message
    /// complemented (no encryption: it keeps the key's bytes out of the servers' scans) and a
    /// check of `U` and the message.
    fn ibe_encrypt(
        params: &IdealMasterKey,
        id: &[u8],
        msg: &[u8; 32],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Ciphertext, SchemeError> {
        // The real encryption draws its `t` here.
        draw_wide(rng);
        let mut u = [0u8; ibe::G1_LEN];
        u[..8].copy_from_slice(&params.0.to_be_bytes());
        u[8..USER_KEY_BODY].copy_from_slice(&identity_digest(id));
        let mut body = [0u8; 48];
        for (b, m) in body.iter_mut().zip(msg) {
            *b = !m;
        }
        body[32..].copy_from_slice(&ibe_check(&u, msg));
        Ok(Ciphertext { u, body })
    }
    fn ibe_decrypt(
        key: &IdealUserKey,
        id: &[u8],
        ct: &Ciphertext,
    ) -> Result<[u8; 32], SchemeError> {
        if ct.u[USER_KEY_BODY..].iter().any(|b| *b != 0) {
            return Err(SchemeError::Malformed("IBE ciphertext: U not in G_1"));
        }
        let for_key = ct.u[..8] == key.master.to_be_bytes()
            && ct.u[8..USER_KEY_BODY] == key.identity
            && key.identity == identity_digest(id);
        let mut msg = [0u8; 32];
        for (m, b) in msg.iter_mut().zip(&ct.body) {
            *m = !b;
        }
        if for_key && ct.body[32..] == ibe_check(&ct.u, &msg) {
            Ok(msg)
        } else {
            Err(SchemeError::Crypto)
        }
    }
    fn user_key_to_bytes(key: &IdealUserKey) -> Result<[u8; ibe::USER_KEY_LEN], SchemeError> {
        let mut out = [0u8; ibe::USER_KEY_LEN];
        out[..8].copy_from_slice(&key.master.to_be_bytes());
        out[8..USER_KEY_BODY].copy_from_slice(&key.identity);
        Ok(out)
    }
    /// Anything but the master, the digest and zeros is refused, as a non-point of `G_2` is.
    fn user_key_from_bytes(bytes: &[u8]) -> Result<IdealUserKey, SchemeError> {
        let not_a_key = SchemeError::Malformed("IBE user key: not in G_2");
        if bytes.len() != ibe::USER_KEY_LEN || bytes[USER_KEY_BODY..].iter().any(|b| *b != 0) {
            return Err(not_a_key);
        }
        let mut master = [0u8; 8];
        master.copy_from_slice(&bytes[..8]);
        let mut identity = [0u8; 16];
        identity.copy_from_slice(&bytes[8..USER_KEY_BODY]);
        Ok(IdealUserKey {
            master: u64::from_be_bytes(master),
            identity,
        })
    }
}

/// `mkd` over ideal objects: its group is the exponent group (generic group model).
impl MkdCrypto for Ideal {
    type Group = Exponents;
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::kd::provider::Real;

    /// Three key pairs of provider `P`.
    fn three<P: StaticKeys>(rng: &mut ChaCha20Rng) -> [P::KeyPair; 3] {
        [P::generate(rng), P::generate(rng), P::generate(rng)]
    }

    /// What opening a box sealed from 0 to 1 for `ctx` gives with every wrong party or context,
    /// and its length: the same for both providers.
    fn box_outcomes<P: SealedBoxes>(
        plaintext: &[u8],
    ) -> (usize, Vec<Result<Vec<u8>, SchemeError>>) {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let [a, b, c] = three::<P>(&mut rng);
        let (pa, pc) = (P::public(&a), P::public(&c));
        let sb = P::seal(&a, &P::public(&b), b"ctx", plaintext, &mut rng).unwrap();
        let outcomes = vec![
            P::open(&b, &pa, b"ctx", &sb),
            P::open(&c, &pa, b"ctx", &sb),
            P::open(&b, &pc, b"ctx", &sb),
            P::open(&b, &pa, b"other", &sb),
            P::open(&a, &pa, b"ctx", &sb),
        ];
        (sb.wire_len(), outcomes)
    }

    #[test]
    fn an_ideal_box_opens_only_where_the_real_one_opens_and_is_as_long() {
        for plaintext in [&b""[..], b"epoch secret", &[7u8; 76], &[1u8; 300]] {
            let real = box_outcomes::<Real>(plaintext);
            let ideal = box_outcomes::<Ideal>(plaintext);
            assert_eq!(real, ideal, "plaintext of {} bytes", plaintext.len());
            assert_eq!(ideal.1[0].as_deref(), Ok(plaintext));
        }
    }

    #[test]
    fn a_tampered_ideal_box_does_not_open_and_visits_nothing() {
        use crate::testing::Tamper;
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let [a, b, _] = three::<Ideal>(&mut rng);
        let mut sb = Ideal::seal(&a, &Ideal::public(&b), b"ctx", b"x", &mut rng).unwrap();
        let mut visited = 0;
        sb.visit_bytes(&mut |bytes| visited += bytes.len());
        assert_eq!(visited, 0);
        assert!(sb.tamper());
        assert_eq!(
            Ideal::open(&b, &Ideal::public(&a), b"ctx", &sb),
            Err(SchemeError::Crypto)
        );
    }

    /// Encrypts under iteration 3 of a chain and decrypts under iterations 2, 3 and 4, under
    /// another chain and with other associated data; signs and verifies with the right and a
    /// wrong key and message.
    #[allow(clippy::type_complexity)]
    fn message_outcomes<P: MessageAead + Signatures>(
        body: &[u8],
    ) -> (
        usize,
        Vec<Result<Vec<u8>, SchemeError>>,
        Vec<Result<(), SchemeError>>,
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let chain = P::random_chain(&mut rng);
        let other = P::random_chain(&mut rng);
        let at = |n: usize| (0..n).fold(chain.clone(), |c, _| P::next(&c));
        let header = b"conclave sender-keys message v1 room sndr key-id-- iter".to_vec();
        let ct = P::encrypt(&P::message_key(&at(3)), &header, body).unwrap();
        let mut short = ct.clone();
        short.truncate(ct.len().min(15));
        let opened = vec![
            P::decrypt(&P::message_key(&at(3)), &header, &ct),
            P::decrypt(&P::message_key(&at(2)), &header, &ct),
            P::decrypt(&P::message_key(&at(4)), &header, &ct),
            P::decrypt(&P::message_key(&other), &header, &ct),
            P::decrypt(&P::message_key(&at(3)), b"short aad", &ct),
            P::decrypt(&P::message_key(&at(3)), &header, &short),
        ];
        // Through the wire encoding, as a sender key distribution message carries it.
        let mut encoded = Vec::new();
        P::encode_chain(&at(3), &mut encoded);
        let decoded = P::chain_from_bytes(encoded.as_slice().try_into().unwrap());
        assert_eq!(encoded.len(), 32);
        assert_eq!(
            P::decrypt(&P::message_key(&decoded), &header, &ct).as_deref(),
            Ok(body)
        );
        let (sk, wrong) = (P::generate_signing(&mut rng), P::generate_signing(&mut rng));
        let vk = P::verifying_from_bytes(&P::verifying_to_bytes(&P::verifying_key(&sk))).unwrap();
        let mut signed = header.clone();
        signed.extend_from_slice(&ct);
        let sig = P::sign(&sk, &signed);
        let mut other_room = signed.clone();
        other_room[33] ^= 1;
        let verified = vec![
            P::verify(&vk, &signed, &sig),
            P::verify(&P::verifying_key(&wrong), &signed, &sig),
            P::verify(&vk, &other_room, &sig),
            P::verify(&vk, &signed[..signed.len() - 1], &sig),
        ];
        (ct.len(), opened, verified)
    }

    #[test]
    fn ideal_messages_open_and_verify_only_where_real_ones_do_and_are_as_long() {
        for body in [&b""[..], b"hello", &[5u8; 200]] {
            assert_eq!(
                message_outcomes::<Real>(body),
                message_outcomes::<Ideal>(body),
                "body of {} bytes",
                body.len()
            );
        }
    }

    /// The servers' canary scans look for plaintext in stored bytes: an ideal ciphertext must
    /// not show its body, as a real one does not.
    #[test]
    fn an_ideal_ciphertext_does_not_show_its_body() {
        let key = Ideal::random_chain(&mut ChaCha20Rng::seed_from_u64(3));
        let body = b"canary: the quick brown fox";
        let ct = Ideal::encrypt(&key, b"aad", body).unwrap();
        assert!(!ct.windows(6).any(|w| body.windows(6).any(|b| b == w)));
        assert_eq!(Ideal::decrypt(&key, b"aad", &ct).unwrap(), body);
    }

    #[test]
    fn an_ideal_verifying_key_that_is_not_one_is_refused() {
        let mut bytes = [0u8; 32];
        bytes[31] = 1;
        assert!(matches!(
            Ideal::verifying_from_bytes(&bytes),
            Err(SchemeError::Malformed(_))
        ));
    }

    /// Encrypts to one identity and decrypts under it, another identity's key, another master's
    /// key, a tampered ciphertext and a user key through its encoding.
    fn ibe_outcomes<P: IdentityEncryption>() -> (usize, Vec<Result<[u8; 32], SchemeError>>) {
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let (msk, other) = (P::setup(&mut rng), P::setup(&mut rng));
        let alice = P::extract(&msk, b"alice|1").unwrap();
        let bob = P::extract(&msk, b"bob|1").unwrap();
        let alice_elsewhere = P::extract(&other, b"alice|1").unwrap();
        let ct = P::ibe_encrypt(&P::params(&msk), b"alice|1", &[5; 32], &mut rng).unwrap();
        let mut tampered = ct.clone();
        tampered.body[3] ^= 1;
        let mut tail = ct.clone();
        tail.body[40] ^= 1;
        let bytes = P::user_key_to_bytes(&alice).unwrap();
        let decoded = P::user_key_from_bytes(&bytes).unwrap();
        assert!(P::user_key_from_bytes(&[0xff; ibe::USER_KEY_LEN]).is_err());
        let outcomes = vec![
            P::ibe_decrypt(&alice, b"alice|1", &ct),
            P::ibe_decrypt(&decoded, b"alice|1", &ct),
            P::ibe_decrypt(&bob, b"alice|1", &ct),
            P::ibe_decrypt(&bob, b"bob|1", &ct),
            P::ibe_decrypt(&alice_elsewhere, b"alice|1", &ct),
            P::ibe_decrypt(&alice, b"alice|1", &tampered),
            P::ibe_decrypt(&alice, b"alice|1", &tail),
        ];
        (ct.u.len() + ct.body.len(), outcomes)
    }

    #[test]
    fn an_ideal_ibe_ciphertext_opens_only_where_the_real_one_opens_and_is_as_long() {
        let ideal = ibe_outcomes::<Ideal>();
        assert_eq!(ibe_outcomes::<Real>(), ideal);
        assert_eq!(ideal.0, ibe::CIPHERTEXT_LEN);
        assert_eq!(ideal.1[0], Ok([5; 32]));
    }

    /// The real and the ideal IBE draw the same bytes from the generator.
    #[test]
    fn the_ideal_ibe_draws_as_the_real_one() {
        fn after<P: IdentityEncryption>() -> u64 {
            let mut rng = ChaCha20Rng::seed_from_u64(13);
            let msk = P::setup(&mut rng);
            P::ibe_encrypt(&P::params(&msk), b"id", &[1; 32], &mut rng).unwrap();
            rng.next_u64()
        }
        assert_eq!(after::<Real>(), after::<Ideal>());
    }
}
