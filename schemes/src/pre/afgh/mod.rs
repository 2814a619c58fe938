//! AFGH proxy re-encryption on BLS12-381: `afgh` (one capsule per message, [`Afgh`]) and
//! `afgh-hybrid` (one wrapped message key per epoch, NTT's design, [`AfghHybrid`]).
//!
//! # Source
//!
//! Ateniese, Fu, Green, Hohenberger, "Improved Proxy Re-Encryption Schemes with Applications
//! to Secure Distributed Storage" (NDSS 2005; ACM TISSEC 9(1), 2006), key-optimal scheme,
//! adapted to the Type-3 pairing of BLS12-381 as in research/pre.md §1.2 (c). The hybrid layout
//! follows NTT's US 11,336,441 (research/mkd.md §2.3). Performance anchors and recommendations:
//! research/pre.md §4, §5.
//!
//! # Construction
//!
//! Capsules in `G_1` (48 B), re-keys in `G_2` (96 B), re-encrypted capsules in `G_T` (576 B), used
//! as a KEM ([`core`]). The epoch key `a_e` is a non-zero scalar derived by HKDF from the room's
//! epoch secret; `pk_1 = g_1^a`, `pk_2 = g_2^a`.
//!
//! ## Epochs and re-keying
//!
//! AFGH is single hop (a `G_T` element cannot be re-encrypted again), so the server keeps every
//! capsule in its *origin* form and, at each history-sharing change to epoch `K`, re-encrypts
//! it afresh from its origin epoch `j` with `rk_{j→K} = g_2^{a_K/a_j}`. The changer need not
//! hold `a_j`: it relays through the server ([`rekeying`]): it sends `rk_{K-1→K}`, receives the
//! server's `rk_{j→K-1}` and returns `rk_{j→K} = rk_{j→K-1}^{a_K/a_{K-1}}`. Soundness:
//! `(g_2^{a_{K-1}/a_j})^{a_K/a_{K-1}} = g_2^{a_K/a_j}`, the re-key AFGH defines. Records stored
//! late (sealed under an origin the server already has a re-key for) are re-encrypted at
//! `store`. With `shares_history` false nothing is re-keyed: joiners cannot open history, and
//! members open old records with the old epoch keys they kept.
//!
//! Readers open a record from its origin capsule if they hold the origin epoch's key (one
//! pairing with `g_2^{1/a_j}`, prepared once per epoch), else from its current re-encryption if
//! they hold its target epoch (a `G_T` subgroup check and one `G_T` exponentiation).
//!
//! # Costs
//!
//! * `afgh`: O(N) pairings per change for N stored messages (about 1.2 ms each on arkworks,
//!   data-parallel); `afgh-hybrid`: O(message keys).
//! * Each change costs the changer one `G_2` exponentiation per origin epoch the room ever had
//!   (the re-keys are kept for late records), so it grows with the room's age.
//! * Re-encrypted capsules are 576 B (12 times the origin's 48 B), and the origin capsule is
//!   kept as well. The server keeps one prepared re-key (about 20 KB of line coefficients) per
//!   origin epoch in memory; it is derived data, not counted in `stored_len`.
//! * Reading: one prepared pairing from an origin capsule, or a `G_T` subgroup check and one
//!   `G_T` exponentiation from a re-encryption (above).
//! * Exact lengths of both schemes' records and re-keying messages, and a change's server work:
//!   [`wire`] (a change into epoch `K` sends a 113-byte request, then `K − 1` re-keys each way).
//!
//! # Security
//!
//! * **Server**: holds capsules, re-keys and re-encrypted capsules; learns no message key
//!   (eDBDH-style assumption). It can make records unreadable (a tampered capsule or body fails
//!   to open), not readable.
//! * **Dishonest server in the re-keying**: whatever points it hands the changer, the answers
//!   are those points raised to `a_K/a_t`; `a_K` is always in the numerator, so even with a
//!   colluding old member (who knows `a_t`) they give at most multiples of the public
//!   `pk_{2,K}`, never `g_2^{1/a_K}`. The server sees two `G_2` points per origin, not the ratio.
//! * **Removed member** (holds `a_j` for the epochs it was in, last `a_{K-1}`, and the message
//!   keys it cached): opens nothing sealed after its removal; every such capsule is under some
//!   `a_{e ≥ K}` and every re-encryption targets an epoch `≥ K`.
//! * **Server + removed member**: `rk_{j→K-1}^{1/a_{K-1}} = g_2^{1/a_j}`, the weak secret of
//!   each older origin epoch `j`; it opens the origin capsules of epoch `j`, messages the member
//!   could read anyway (they had been re-encrypted to its epoch). Post-removal re-keys
//!   `g_2^{a_e/a_j}` (`e ≥ K`) combined with what they hold give only `pk_{2,e}` (public), never
//!   `a_e` or `g_2^{1/a_e}`: **no post-removal message**. This is AFGH's advantage over BBS98
//!   and key-homomorphic wraps, where the two recover the new keys.
//! * **Joiner + server** (shared history): the weak secrets of older epochs: history it may read.
//! * **Storage breach with an old key `a_j`** (everything `get` returns, and `a_j`): the
//!   origin capsules of epoch `j` stay **exposed** (they are kept for single-hop re-encryption),
//!   so the records sealed in epoch `j` (`afgh`) or under epoch `j`'s message keys
//!   (`afgh-hybrid`) open; nothing of other epochs does. Hence
//!   `rotates_stored_history: Rotation::Never`.
//! * Bodies are ChaCha20-Poly1305 with keys bound to the room, the message (or key id), the
//!   origin epoch and the capsule; moving a capsule or body to another record fails. There is
//!   no sender authentication in this layer: any member can seal as any message id.
//!
//! # Weaknesses
//!
//! * `afgh` re-encrypts every stored message at every change: the reason NTT re-encrypts
//!   per-epoch keys instead (`afgh-hybrid`). Either way the changer's work grows with the room's
//!   age (Costs).
//! * Eager re-encryption: the whole cost lands at the change (a churn spike), not at reads.
//! * Hybrid: a cached message key keeps opening its epoch's messages after re-encryption.
//! * Storage breach with an old key: the origin capsules of that epoch stay exposed (Security).
//!
//! # Side channels
//!
//! **Not constant time**: arkworks 0.5 makes no constant-time claims; scalar
//! multiplications, `G_T` exponentiations and pairings with secret scalars or points
//! (`r`, `1/a`, `a_K/a_t`, `g_2^{1/a}`) may leak through timing. The AEAD and HKDF-SHA-256
//! (RustCrypto) are constant time.

pub mod core;
pub mod groups;
pub mod hybrid;
pub mod per_message;
pub mod rekeying;
pub mod wire;

pub use hybrid::{AfghHybrid, AfghHybridIn};
pub use per_message::{Afgh, AfghIn};
