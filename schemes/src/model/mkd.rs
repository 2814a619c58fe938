//! The model of `mkd`: the real scheme's ring, rounds and checks with ideal IBE, sealed boxes and
//! group, no pairing and no curve arithmetic.
//!
//! # Source
//!
//! [`crate::kd::mkd`], which it stands for in the `model` cost mode (see [`crate::model`]).
//!
//! # Construction
//!
//! [`MkdModel`] is [`MkdWith`] over the [`Ideal`] provider: the very client, key server and
//! checks of the real scheme (its module is the one code for both), with
//!
//! * the DH shares, link values and Pedersen commitments computed in the exponent group
//!   ([`Exponents`](crate::pre::dl_group::Exponents), the generic group model) instead of
//!   Ristretto255, so that the ring's algebra (links that agree, `⊕ T_i = 0`, openings that
//!   open their commitments, identity shares refused) is the scheme's on discrete logarithms in
//!   the clear, with the same 32-byte encodings;
//! * `K_1` under an ideal identity-based encryption: a 96-byte ciphertext naming the master key
//!   and the identity `user ‖ frame`, carrying `K_1` and a check, which opens only under that
//!   identity's key and only unaltered ([`IdentityEncryption`](crate::kd::provider::IdentityEncryption)
//!   of [`Ideal`]);
//! * each time frame's credentials in an ideal sealed box
//!   ([`IdealBox`](super::ideal_kd::IdealBox)), bound to the server, the user and the frame.
//!
//! The PRFs, the twisted PRF, `TCR` and the MACs (HMAC-SHA-256/512, SHA-256: microseconds against
//! a pairing's milliseconds) still run, so a tampered, replayed or misdirected message is refused
//! where the real one is, by the same MAC.
//!
//! # Costs
//!
//! The real scheme's messages, of the lengths of [`sizes`](crate::kd::mkd::sizes), in the same
//! order to the same parties; a member stores the real scheme's state per room. No public-key
//! work runs: a run charges the real scheme's operations from the calibration table, under the
//! real scheme's name.
//!
//! # Security
//!
//! None of its own: every discrete logarithm, IBE key and sealed credential is in the clear. The
//! server's checks (MACs, openings, `⊕ T_i = 0`) and the members' (MACs, the representative's
//! opening, frames and epochs), hence who holds which epoch, are the real scheme's code and stay
//! checked by the oracle. What a model run does **not** check: that the server cannot compute a
//! link key (CDH) or read `K_1`, and that a removed member cannot derive a later secret; both rest
//! on cryptography that did not run.
//!
//! # Weaknesses
//!
//! Those of [`super::ideal_kd`]. The ideal IBE names an identity by a 16-byte digest of
//! [`mix`](super::mix), not a hash: identities that collide in it would share a key, which no run
//! constructs.
//!
//! # Side channels
//!
//! Not applicable: nothing secret is computed.

use super::ideal_kd::Ideal;
use crate::kd::mkd::MkdWith;

/// The model of [`Mkd`](crate::kd::mkd::Mkd).
pub type MkdModel = MkdWith<Ideal>;
