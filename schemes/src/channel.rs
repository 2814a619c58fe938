//! The TLS-like record channel every client-server hop runs over, in every stack.
//!
//! A conventional chat is "TLS only", so its column in Table 1 is not free: each hop pays record
//! encryption at the sender and record decryption at the receiver. This module is that record
//! layer, modelled on TLS 1.3 (RFC 8446 §5.2): ChaCha20-Poly1305, at most 2^14 plaintext bytes
//! per record, a 5-byte record header, a 1-byte inner content type and a 16-byte tag, the
//! per-record nonce being the static IV XOR the record sequence number.
//!
//! It protects against the network only; the server at the other end reads what it receives.
//! Key exchange (the TLS handshake) is outside the model: channels are keyed at login.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

use crate::SchemeError;

/// Largest plaintext per record (TLS 1.3).
pub const MAX_RECORD_PLAINTEXT: usize = 1 << 14;
/// Bytes a record adds to its plaintext: header (5), inner content type (1) and tag (16).
pub const RECORD_OVERHEAD: usize = 5 + 1 + 16;

/// Wire length of `payload_len` bytes sent over the channel (at least one record).
#[must_use]
pub fn wire_len(payload_len: usize) -> usize {
    let records = payload_len.div_ceil(MAX_RECORD_PLAINTEXT).max(1);
    payload_len + records * RECORD_OVERHEAD
}

/// One direction of a record channel.
pub struct RecordChannel {
    aead: ChaCha20Poly1305,
    iv: [u8; 12],
    seq: u64,
}

crate::secret::debug_without_secrets!("RecordChannel", RecordChannel { seq });

impl RecordChannel {
    /// A channel direction keyed with `key` and `iv`.
    #[must_use]
    pub fn new(key: &[u8; 32], iv: [u8; 12]) -> Self {
        Self {
            aead: ChaCha20Poly1305::new(Key::from_slice(key)),
            iv,
            seq: 0,
        }
    }

    fn nonce(&self) -> Nonce {
        let mut n = self.iv;
        for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        Nonce::from(n)
    }

    /// Encrypts `payload` into records, appending them to `out`.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if the record sequence number is exhausted.
    pub fn seal(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), SchemeError> {
        let mut chunks: Vec<&[u8]> = payload.chunks(MAX_RECORD_PLAINTEXT).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for chunk in chunks {
            let len = chunk.len() + 1 + 16;
            let header = [23u8, 3, 3, (len >> 8) as u8, len as u8];
            let start = out.len();
            out.extend_from_slice(&header);
            out.extend_from_slice(chunk);
            out.push(23); // inner content type: application data
            let nonce = self.nonce();
            let (head, body) = out[start..].split_at_mut(5);
            let tag = self
                .aead
                .encrypt_in_place_detached(&nonce, head, body)
                .map_err(|_| SchemeError::Internal("record encryption failed"))?;
            out.extend_from_slice(&tag);
            self.seq = self
                .seq
                .checked_add(1)
                .ok_or(SchemeError::Internal("record sequence exhausted"))?;
        }
        Ok(())
    }

    /// Decrypts a byte stream of whole records produced by [`seal`](Self::seal).
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] for truncated or oversized records, [`SchemeError::Crypto`] if a
    /// record does not authenticate.
    pub fn open(&mut self, mut records: &[u8]) -> Result<Vec<u8>, SchemeError> {
        let mut out = Vec::with_capacity(records.len());
        while !records.is_empty() {
            if records.len() < 5 {
                return Err(SchemeError::Malformed("truncated record header"));
            }
            let len = usize::from(records[3]) << 8 | usize::from(records[4]);
            if !(17..=MAX_RECORD_PLAINTEXT + 17).contains(&len) {
                return Err(SchemeError::Malformed("record length out of range"));
            }
            if records.len() < 5 + len {
                return Err(SchemeError::Malformed("truncated record"));
            }
            let (header, rest) = records.split_at(5);
            let (record, rest) = rest.split_at(len);
            let (ct, tag) = record.split_at(len - 16);
            let mut buf = ct.to_vec();
            let nonce = self.nonce();
            self.aead
                .decrypt_in_place_detached(&nonce, header, &mut buf, Tag::from_slice(tag))
                .map_err(|_| SchemeError::Crypto)?;
            if buf.pop() != Some(23) {
                return Err(SchemeError::Malformed("unexpected record content type"));
            }
            out.extend_from_slice(&buf);
            self.seq = self
                .seq
                .checked_add(1)
                .ok_or(SchemeError::Internal("record sequence exhausted"))?;
            records = rest;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_length() {
        for len in [
            0usize,
            1,
            100,
            MAX_RECORD_PLAINTEXT,
            MAX_RECORD_PLAINTEXT + 1,
            50_000,
        ] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut tx = RecordChannel::new(&[1; 32], [2; 12]);
            let mut rx = RecordChannel::new(&[1; 32], [2; 12]);
            let mut wire = Vec::new();
            tx.seal(&payload, &mut wire).unwrap();
            assert_eq!(wire.len(), wire_len(len));
            assert_eq!(rx.open(&wire).unwrap(), payload);
        }
    }

    #[test]
    fn tamper_and_truncation_rejected() {
        let mut tx = RecordChannel::new(&[1; 32], [2; 12]);
        let mut wire = Vec::new();
        tx.seal(b"hello", &mut wire).unwrap();
        let mut bad = wire.clone();
        bad[7] ^= 1;
        assert_eq!(
            RecordChannel::new(&[1; 32], [2; 12]).open(&bad),
            Err(SchemeError::Crypto)
        );
        assert!(matches!(
            RecordChannel::new(&[1; 32], [2; 12]).open(&wire[..wire.len() - 1]),
            Err(SchemeError::Malformed(_))
        ));
        assert!(matches!(
            RecordChannel::new(&[1; 32], [2; 12]).open(&wire[..3]),
            Err(SchemeError::Malformed(_))
        ));
    }
}
