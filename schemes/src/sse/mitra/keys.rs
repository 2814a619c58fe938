//! Mitra's per-epoch keys and the primitives built on them.
//!
//! An epoch's index key `K_e` (32 B) is derived from the epoch secret; everything else comes
//! from `K_e` alone, so a back-chain link that hands a joiner `K_{e-1}` gives it exactly the
//! search keys of that epoch and nothing of the other families (message keys are derived from
//! the epoch secret under other labels).

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use super::wire::Sealed;
use crate::common::aead::{Aad, SharedKey};
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

/// The digest of a keyword (SHA-256 with a domain prefix, truncated to 16 B; 2^64 collision
/// resistance, which only matters against an adversary choosing keywords).
pub fn keyword_tag(keyword: &str) -> KeywordTag {
    let digest = Sha256::new()
        .chain_update(b"conclave mitra keyword\0")
        .chain_update(keyword.as_bytes())
        .finalize();
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

/// One epoch's search keys: the PRF `G` and the AEAD key of log records; the root `K_e` they
/// come from is the epoch's back-chain secret.
pub struct EpochKeys {
    root: [u8; ROOT_LEN],
    /// HMAC-SHA-256 already keyed (cloned per evaluation, which saves rehashing the key).
    prf: Hmac<Sha256>,
    log: SharedKey,
}

impl Drop for EpochKeys {
    fn drop(&mut self) {
        // The keyed HMAC and AEAD states are not zeroised (the crates do not offer it here);
        // the root they came from is.
        self.root.zeroize();
    }
}

impl EpochKeys {
    /// The keys of the epoch `key` holds.
    pub fn from_view(key: KeyView<'_>) -> Result<Self, SchemeError> {
        let root = key.secret.derive(
            Label::Custom("conclave sse mitra index"),
            key.room,
            key.epoch,
        );
        Self::from_root(root)
    }

    /// The keys derived from an index key `K_e` (as a back-chain link carries it).
    pub fn from_root(root: [u8; ROOT_LEN]) -> Result<Self, SchemeError> {
        let hk = Hkdf::<Sha256>::new(None, &root);
        let expand = |info: &[u8]| -> Result<[u8; 32], SchemeError> {
            let mut out = [0u8; 32];
            hk.expand(info, &mut out)
                .map_err(|_| SchemeError::Internal("HKDF refused a 32-byte output"))?;
            Ok(out)
        };
        let mut prf_key = expand(b"conclave mitra prf")?;
        let mut log_key = expand(b"conclave mitra log")?;
        let prf = <Hmac<Sha256> as Mac>::new_from_slice(&prf_key)
            .map_err(|_| SchemeError::Internal("HMAC refused a 32-byte key"))?;
        let log = SharedKey::new(&log_key);
        prf_key.zeroize();
        log_key.zeroize();
        Ok(Self { root, prf, log })
    }

    /// `K_e` itself: the epoch's back-chain secret.
    pub fn root(&self) -> &[u8; ROOT_LEN] {
        &self.root
    }

    fn prf(&self, purpose: Use, slot: Slot<'_>) -> Hmac<Sha256> {
        self.prf
            .clone()
            .chain_update([purpose as u8])
            .chain_update(slot.writer.0.to_be_bytes())
            .chain_update(slot.keyword)
            .chain_update(slot.counter.to_be_bytes())
    }

    /// `G(K_e, "addr" ‖ u ‖ w ‖ c)`: where the entry of `slot` lives.
    pub fn address(&self, slot: Slot<'_>) -> [u8; ENTRY_LEN] {
        truncate(self.prf(Use::Address, slot))
    }

    fn tag(&self, slot: Slot<'_>, id: MsgId, op: IndexOp) -> Hmac<Sha256> {
        self.prf(Use::Tag, slot)
            .chain_update(id.0.to_be_bytes())
            .chain_update([op_byte(op)])
    }

    /// `(id ‖ op ‖ t) ⊕ G(K_e, "val" ‖ u ‖ w ‖ c)`, with `t` the first 7 bytes of
    /// `G(K_e, "tag" ‖ u ‖ w ‖ c ‖ id ‖ op)`: Mitra's value, plus an integrity tag in the bytes
    /// the paper leaves as padding so a tampered value is rejected rather than misread.
    pub fn seal_value(&self, slot: Slot<'_>, id: MsgId, op: IndexOp) -> [u8; ENTRY_LEN] {
        let mut block = [0u8; ENTRY_LEN];
        block[..8].copy_from_slice(&id.0.to_be_bytes());
        block[8] = op_byte(op);
        let tag = self.tag(slot, id, op).finalize().into_bytes();
        block[9..].copy_from_slice(&tag[..TAG_LEN]);
        xor(&mut block, &truncate(self.prf(Use::Pad, slot)));
        block
    }

    /// Inverts [`seal_value`](Self::seal_value) and checks the tag.
    pub fn open_value(
        &self,
        slot: Slot<'_>,
        value: &[u8; ENTRY_LEN],
    ) -> Result<(MsgId, IndexOp), SchemeError> {
        let mut block = *value;
        xor(&mut block, &truncate(self.prf(Use::Pad, slot)));
        let mut id = [0u8; 8];
        id.copy_from_slice(&block[..8]);
        let id = MsgId(u64::from_be_bytes(id));
        // Any op byte other than the two valid ones cannot carry a valid tag; check the tag
        // under `Add` for those so the failure is the same opaque `Crypto`.
        let op = op_from_byte(block[8]).unwrap_or(IndexOp::Add);
        let tag_ok = self
            .tag(slot, id, op)
            .verify_truncated_left(&block[9..])
            .is_ok();
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
    aead: &mut SharedKey,
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

fn open(aead: &mut SharedKey, aad: &[u8], sealed: &Sealed) -> Result<Vec<u8>, SchemeError> {
    aead.open(&sealed.nonce, aad, &sealed.ciphertext)
}

fn truncate(mac: Hmac<Sha256>) -> [u8; ENTRY_LEN] {
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; ENTRY_LEN];
    out.copy_from_slice(&full[..ENTRY_LEN]);
    out
}

fn xor(block: &mut [u8; ENTRY_LEN], pad: &[u8; ENTRY_LEN]) {
    for (b, p) in block.iter_mut().zip(pad) {
        *b ^= p;
    }
}
