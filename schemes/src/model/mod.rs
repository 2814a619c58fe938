//! Models of the schemes, for the `model` cost mode: the same protocol without its cryptography.
//!
//! A run under `cost_model: model` charges every operation from the calibration table, as a
//! `calibrated` run does, but runs no public-key cryptography, so that it can reach
//! organisations far larger than real cryptography allows. Each scheme it runs is one of:
//!
//! * **crypto-free**: a scheme that computes nothing secret (`conventional`, `none`, `plaintext`)
//!   runs as it is; it is its own model.
//! * **modelled**: the scheme's own code, generic over the provider of its primitives, run
//!   over an ideal provider and registered under the scheme's name (the list below). So a model
//!   keeps the scheme's protocol (who sends what to whom, in what order, which checks a
//!   recipient makes, which epoch it then holds) by construction, sends messages and keeps
//!   state of exactly the real lengths, and cannot drift from the protocol it stands for; only
//!   its primitives differ: each ideal object has the real one's encoded length and opens only
//!   for what the real one is bound to, but keeps nothing secret.
//!
//! What a model guarantees: under the same scenario, seed and calibration table, a `model` run
//! sends the same messages (number, order, destinations, lengths) and is charged the same as a
//! `calibrated` run, so latencies and bytes agree; the engine's test of this compares the two
//! runs' reports. What it does not: nothing in a model is secret, so the oracle's checks that
//! rest on cryptography (that a server or a removed member cannot open what it holds, that a
//! tampered message is refused) hold by construction, not by test; the report says so. The
//! adversary experiments that build small systems of their own (an interposing key server, a
//! forged credential, a removed member listening, a leaked member state) still run the real
//! scheme.
//!
//! # Data-family models
//!
//! The history schemes `epoch-keys` and `client-rewrap` and the search schemes `per-epoch` and
//! `mitra` are written once, generic over the provider of their symmetric primitives
//! ([`crate::common::cipher`]); their models are the same code on the ideal provider
//! ([`ideal_cipher::Ideal`]). Everything that is not a primitive runs as in the real scheme: the
//! records, headers, updates, queries, log records and back-chain links have the real layout and
//! exact length, nonces and message keys are drawn from the generator as the real ones are,
//! servers keep the same state, refuse the same misuse and answer the same requests, and clients
//! make the same checks. An ideal AEAD opens only under the key, nonce and associated data it was
//! sealed with, and only unaltered, so the active server's experiments (a forged or corrupted
//! record or header, a record spliced into another room, message or epoch, a moved back-chain
//! link, a rolled-back history) are refused exactly where the real scheme refuses them; an ideal
//! PRF gives equal outputs exactly for equal inputs, so the search server's leakage measures
//! (linkable and repeated queries, Mitra's addresses) are the real ones, and a Mitra value whose
//! bytes were altered fails its truncated tag as the real one does.
//!
//! What a data-family model run does **not** check by cryptography: that a body, a link or a
//! label hides anything (an ideal ciphertext is its plaintext under a public mask, an ideal
//! label a public mix of key and keyword; the canary scans find nothing in them only because
//! the mask and the mix scramble bytes, not because anything is secret); that a removed member
//! or the server cannot compute a key it was not given (keys are public mixes of the epoch
//! secret, which the model does not hide); and that forging a tag or a label is infeasible (the
//! mix is not built to resist a search for collisions, which the simulator's adversary never
//! makes: it alters, moves, replays and withholds bytes).
//!
//! [`registry`](crate::registry) lists which schemes have a model
//! ([`Registry::modelled`](crate::registry::Registry::modelled)). They are:
//!
//! * `epoch-keys`, `client-rewrap`, `per-epoch` and `mitra`: the schemes' own code over
//!   [`ideal_cipher`] (above).
//! * `rekey-index`: the scheme's own code in the exponent group
//!   ([`Exponents`](crate::pre::dl_group::Exponents), the generic group model) over
//!   [`ideal_cipher`]: a keyword's tag is its mixed hash times the epoch's exponent, a
//!   re-keying factor raises every stored tag by a multiplication modulo ℓ, and the exponent's
//!   seed is the ideal key of the epoch secret, so the index's tags, updates, queries and
//!   factors have the scheme's encodings and lengths and match exactly where the scheme's do,
//!   with no group operation and no symmetric cryptography run.
//! * `pairwise-dh` and `sender-keys`: [`pairwise_dh`] and [`sender_keys`], the schemes' own code
//!   over the ideal provider [`ideal_kd`], whose boxes, chain keys, message ciphertexts and
//!   signatures are ideal ones bound to their context.
//! * `mkd`: [`mkd`], the scheme's own code over [`ideal_kd`] with the exponent group: its DH
//!   ring and Pedersen commitments are the scheme's algebra on discrete logarithms in the clear,
//!   `K_1` travels in an ideal identity-based ciphertext and the frame's credentials in ideal
//!   boxes. Its PRFs and MACs (HMAC) still run.
//! * `sakke`: [`sakke`], the scheme's own code (its KMSs, I_MESSAGE encoding, the recipients'
//!   checks and the relay) over [`ideal_kd`]'s provider with ideal SAKKE and ECCSI: an RSK and a
//!   SED name the KMS and the identifier they are bound to, a signature checks the KPAK, the
//!   identifier and the whole signed message, each of the real encoded length (257, 273, 129
//!   octets), with no pairing and no curve arithmetic. The epoch secret's HKDF still runs.
//! * `bbs98` and `keyhom`: the schemes' own code run in the exponent group
//!   ([`Exponents`](crate::pre::dl_group::Exponents), the generic group model) instead of
//!   Ristretto255, so that every wrap, unwrap, re-encryption and composition of re-keys is the
//!   scheme's algebra on discrete logarithms in the clear, with the scheme's encodings and
//!   lengths. Their symmetric layer (the HKDF derivations, the XChaCha20-Poly1305 of bodies and
//!   the ChaCha20-Poly1305 of capsules) runs over the group's cipher provider
//!   ([`DlGroup::Cipher`](crate::pre::dl_group::DlGroup::Cipher)), the ideal one
//!   ([`ideal_cipher`]) in the exponent group, so the model runs no cryptography at all.
//!
//! * `afgh` and `afgh-hybrid`: likewise, the schemes' own code in the exponents of BLS12-381's
//!   three groups ([`Exponents`](crate::pre::afgh::groups::Exponents)): a pairing is a
//!   product in `Fr`. Their HKDF and AEADs run over the groups' cipher provider
//!   ([`PairingGroups::Cipher`](crate::pre::afgh::groups::PairingGroups::Cipher)), the ideal
//!   one in the exponents, as for `bbs98`.
//!
//! * `mls`: [`mls`], the scheme's own code (mls-rs and the delivery service) on an ideal crypto
//!   provider ([`IdealCrypto`](mls::IdealCrypto)): every hash, MAC, key derivation, AEAD,
//!   HPKE encryption and signature is a stand-in of the real one's length, with keys in the
//!   clear, so commits, Welcomes, key packages and serialised group states have the scheme's
//!   exact lengths.
//!
//! [`mix`] is the models' one stand-in for a hash.

pub mod ideal_cipher;
pub mod ideal_kd;
pub mod mix;
pub mod mkd;
pub mod mls;
pub mod pairwise_dh;
pub mod sakke;
pub mod sender_keys;
