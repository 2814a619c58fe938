//! Mitra's per-epoch keys and the primitives built on them.
//!
//! An epoch's index key `K_e` (32 B) is derived from the epoch secret; everything else comes
//! from `K_e` alone, so a back-chain link that hands a joiner `K_{e-1}` gives it exactly the
//! search keys of that epoch and nothing of the other families (message keys are derived from
//! the epoch secret under other labels).

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::wire::Sealed;
use crate::common::aead::Aad;
use crate::common::cipher::{SharedAead, SymmetricCipher};
use crate::pre::KeyView;
use crate::sse::IndexOp;
use crate::{CryptoRngCore, Epoch, Label, MsgId, RoomId, SchemeError, UserId};

/// Size of an address and of a value in the server's dictionary.
pub const ENTRY_LEN: usize = 16;
/// Bytes of a value's 16 that carry its integrity tag (after the 8-byte id and the op byte).
const TAG_LEN: usize = 7;
/// Size of an index key (the root of an epoch's keys).
pub const ROOT_LEN: usize = 32;
/// Size of an AEAD nonce (XChaCha20-Poly1305: many writers seal under one epoch's keys).
pub const NONCE_LEN: usize = crate::common::aead::SHARED_NONCE_LEN;

/// A keyword as Mitra's PRF and log records see it: a 16-byte digest, so log records have a
/// fixed size per keyword and do not leak keyword lengths through their ciphertext length.
pub type KeywordTag = [u8; 16];

/// The digest of a keyword (the provider's hash, SHA-256, with a domain prefix, truncated to
/// 16 B; 2^64 collision resistance, which only matters against an adversary choosing keywords).
pub fn keyword_tag<C: SymmetricCipher>(keyword: &str) -> KeywordTag {
    let digest = C::hash(&[b"conclave mitra keyword\0", keyword.as_bytes()]);
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&digest[..16]);
    tag
}

/// An index entry's operation, as its value encodes it.
pub fn op_byte(op: IndexOp) -> u8 {
    match op {
        IndexOp::Add => 0,
        IndexOp::Delete => 1,
    }
}

/// Inverts [`op_byte`].
pub fn op_from_byte(b: u8) -> Result<IndexOp, SchemeError> {
    match b {
        0 => Ok(IndexOp::Add),
        1 => Ok(IndexOp::Delete),
        _ => Err(SchemeError::Malformed("unknown index operation")),
    }
}

/// Where an entry stands: entry `counter` of `writer`'s chain for `keyword`.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    /// The writer `u`.
    pub writer: UserId,
    /// The keyword `w`.
    pub keyword: &'a KeywordTag,
    /// The counter `c`.
    pub counter: u32,
}

/// Domain separation of the PRF's uses.
#[derive(Clone, Copy)]
enum Use {
    Address = 1,
    Pad = 2,
    Tag = 3,
}

/// Bytes of the PRF's input for a slot: use, writer, keyword digest, counter.
const SLOT_INPUT_LEN: usize = 1 + 4 + 16 + 4;
/// Bytes a tag's input adds after the slot's: message id and op.
const TAG_INPUT_LEN: usize = 8 + 1;

/// One epoch's search keys, with the primitives of provider `C`: the PRF `G` and the AEAD key
/// of log records; the root `K_e` they come from is the epoch's back-chain secret.
pub struct EpochKeys<C: SymmetricCipher> {
    root: [u8; ROOT_LEN],
    /// The PRF already keyed (under `Real`, HMAC-SHA-256 cloned per evaluation, which saves
    /// rehashing the key).
    prf: C::Prf,
    log: C::SharedKey,
}

impl<C: SymmetricCipher> Drop for EpochKeys<C> {
    fn drop(&mut self) {
        // The keyed HMAC and AEAD states are not zeroised (the crates do not offer it here);
        // the root they came from is.
        self.root.zeroize();
    }
}

impl<C: SymmetricCipher> EpochKeys<C> {
    /// The keys of the epoch `key` holds.
    pub fn from_view(key: KeyView<'_>) -> Self {
        let root = C::derive(
            key.secret,
            Label::Custom("conclave sse mitra index"),
            key.room,
            key.epoch,
        );
        Self::from_root(root)
    }

    /// The keys derived from an index key `K_e` (as a back-chain link carries it).
    pub fn from_root(root: [u8; ROOT_LEN]) -> Self {
        let [mut prf_key, mut log_key] =
            C::hkdf_each(&root, [&[b"conclave mitra prf"], &[b"conclave mitra log"]]);
        let prf = C::prf_key(&prf_key);
        let log = C::shared_key(&log_key);
        prf_key.zeroize();
        log_key.zeroize();
        Self { root, prf, log }
    }

    /// `K_e` itself: the epoch's back-chain secret.
    pub fn root(&self) -> &[u8; ROOT_LEN] {
        &self.root
    }

    /// `G(K_e, purpose ‖ u ‖ w ‖ c ‖ suffix)`, with `suffix` at most [`TAG_INPUT_LEN`] bytes.
    fn prf(&self, purpose: Use, slot: Slot<'_>, suffix: &[u8]) -> [u8; 32] {
        let mut input = [0u8; SLOT_INPUT_LEN + TAG_INPUT_LEN];
        input[0] = purpose as u8;
        input[1..5].copy_from_slice(&slot.writer.0.to_be_bytes());
        input[5..21].copy_from_slice(slot.keyword);
        input[21..SLOT_INPUT_LEN].copy_from_slice(&slot.counter.to_be_bytes());
        let end = SLOT_INPUT_LEN + suffix.len();
        input[SLOT_INPUT_LEN..end].copy_from_slice(suffix);
        C::prf(&self.prf, &input[..end])
    }

    /// `G(K_e, "addr" ‖ u ‖ w ‖ c)`: where the entry of `slot` lives.
    pub fn address(&self, slot: Slot<'_>) -> [u8; ENTRY_LEN] {
        truncate(&self.prf(Use::Address, slot, &[]))
    }

    fn tag(&self, slot: Slot<'_>, id: MsgId, op: IndexOp) -> [u8; 32] {
        let mut suffix = [0u8; TAG_INPUT_LEN];
        suffix[..8].copy_from_slice(&id.0.to_be_bytes());
        suffix[8] = op_byte(op);
        self.prf(Use::Tag, slot, &suffix)
    }

    /// `(id ‖ op ‖ t) ⊕ G(K_e, "val" ‖ u ‖ w ‖ c)`, with `t` the first 7 bytes of
    /// `G(K_e, "tag" ‖ u ‖ w ‖ c ‖ id ‖ op)`: Mitra's value, plus an integrity tag in the bytes
    /// the paper leaves as padding so a tampered value is rejected rather than misread.
    pub fn seal_value(&self, slot: Slot<'_>, id: MsgId, op: IndexOp) -> [u8; ENTRY_LEN] {
        let mut block = [0u8; ENTRY_LEN];
        block[..8].copy_from_slice(&id.0.to_be_bytes());
        block[8] = op_byte(op);
        let tag = self.tag(slot, id, op);
        block[9..].copy_from_slice(&tag[..TAG_LEN]);
        xor(&mut block, &truncate(&self.prf(Use::Pad, slot, &[])));
        block
    }

    /// Inverts [`seal_value`](Self::seal_value) and checks the tag.
    pub fn open_value(
        &self,
        slot: Slot<'_>,
        value: &[u8; ENTRY_LEN],
    ) -> Result<(MsgId, IndexOp), SchemeError> {
        let mut block = *value;
        xor(&mut block, &truncate(&self.prf(Use::Pad, slot, &[])));
        let mut id = [0u8; 8];
        id.copy_from_slice(&block[..8]);
        let id = MsgId(u64::from_be_bytes(id));
        // Any op byte other than the two valid ones cannot carry a valid tag; check the tag
        // under `Add` for those so the failure is the same opaque `Crypto`.
        let op = op_from_byte(block[8]).unwrap_or(IndexOp::Add);
        let tag_ok: bool = self.tag(slot, id, op)[..TAG_LEN].ct_eq(&block[9..]).into();
        if tag_ok && block[8] == op_byte(op) {
            Ok((id, op))
        } else {
            Err(SchemeError::Crypto)
        }
    }

    /// Seals a log record's body; the header (room, epoch, writer) is bound as associated data.
    pub fn seal_log(
        &mut self,
        header: &LogHeader,
        body: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Sealed, SchemeError> {
        seal(&mut self.log, header.aad().as_ref(), body, rng)
    }

    /// Opens a log record's body.
    pub fn open_log(
        &mut self,
        header: &LogHeader,
        sealed: &Sealed,
    ) -> Result<Vec<u8>, SchemeError> {
        open(&mut self.log, header.aad().as_ref(), sealed)
    }
}

/// What a log record's authentication covers besides its body.
pub struct LogHeader {
    pub room: RoomId,
    pub epoch: Epoch,
    pub writer: UserId,
}

impl LogHeader {
    fn aad(&self) -> Aad {
        Aad::new("conclave mitra log")
            .room(self.room)
            .epoch(self.epoch)
            .user(self.writer)
    }
}

fn seal(
    aead: &mut impl SharedAead,
    aad: &[u8],
    msg: &[u8],
    rng: &mut dyn CryptoRngCore,
) -> Result<Sealed, SchemeError> {
    let (nonce, ciphertext) = aead.seal(aad, msg, rng)?;
    Ok(Sealed {
        nonce,
        ciphertext: ciphertext.into(),
    })
}

fn open(aead: &mut impl SharedAead, aad: &[u8], sealed: &Sealed) -> Result<Vec<u8>, SchemeError> {
    aead.open(&sealed.nonce, aad, &sealed.ciphertext)
}

fn truncate(full: &[u8; 32]) -> [u8; ENTRY_LEN] {
    let mut out = [0u8; ENTRY_LEN];
    out.copy_from_slice(&full[..ENTRY_LEN]);
    out
}

fn xor(block: &mut [u8; ENTRY_LEN], pad: &[u8; ENTRY_LEN]) {
    for (b, p) in block.iter_mut().zip(pad) {
        *b ^= p;
    }
}

#[cfg(test)]
mod tests {
    use hkdf::Hkdf;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::common::cipher::Real;

    /// Under the real provider, the keyword digest, addresses, pads and tags are the SHA-256
    /// and HMAC-SHA-256 values of the inputs streamed field by field, as the scheme computed
    /// them before it was generic over its provider.
    #[test]
    fn real_outputs_are_the_streamed_primitives() {
        let tag = keyword_tag::<Real>("budget");
        let digest = Sha256::new()
            .chain_update(b"conclave mitra keyword\0")
            .chain_update(b"budget")
            .finalize();
        assert_eq!(tag[..], digest[..16]);
        let root = [7u8; ROOT_LEN];
        let keys = EpochKeys::<Real>::from_root(root);
        let mut prf_key = [0u8; 32];
        Hkdf::<Sha256>::new(None, &root)
            .expand(b"conclave mitra prf", &mut prf_key)
            .unwrap();
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&prf_key).unwrap();
        let g = |purpose: u8| {
            mac.clone()
                .chain_update([purpose])
                .chain_update(5u32.to_be_bytes())
                .chain_update(tag)
                .chain_update(3u32.to_be_bytes())
        };
        let slot = Slot {
            writer: UserId(5),
            keyword: &tag,
            counter: 3,
        };
        assert_eq!(keys.address(slot)[..], g(1).finalize().into_bytes()[..16]);
        let t = g(3)
            .chain_update(9u64.to_be_bytes())
            .chain_update([1])
            .finalize()
            .into_bytes();
        let mut expected = [0u8; ENTRY_LEN];
        expected[..8].copy_from_slice(&9u64.to_be_bytes());
        expected[8] = 1;
        expected[9..].copy_from_slice(&t[..TAG_LEN]);
        xor(
            &mut expected,
            &truncate(&g(2).finalize().into_bytes().into()),
        );
        let value = keys.seal_value(slot, MsgId(9), IndexOp::Delete);
        assert_eq!(value, expected);
        assert_eq!(
            keys.open_value(slot, &value),
            Ok((MsgId(9), IndexOp::Delete))
        );
    }
}
