//! MIKEY-SAKKE primitives: ECCSI identity-based signatures (RFC 6507) on NIST P-256 and SAKKE
//! identity-based key encapsulation (RFC 6508) with parameter set 1 of RFC 6509, each with the
//! Key Management Server (KMS) operations that issue users' keys; [`group`] builds the `sakke`
//! key-distribution scheme (MIKEY-SAKKE group keys) on them.
//!
//! # Source
//!
//! * RFC 6507 (ECCSI) §5.1.1 KMS issue of (SSK, PVT), §5.1.2 user validation, §5.2.1 sign,
//!   §5.2.2 verify; SHA-256, N = 32 ([`eccsi`]).
//! * RFC 6508 (SAKKE) §3.2 the Tate–Lichtenbaum pairing with the distortion map, §5.1
//!   HashToIntegerRange, §6.1 RSK issue and validation, §6.2.1 encapsulation, §6.2.2
//!   decapsulation ([`kem`], [`pairing`], [`hash`]).
//! * RFC 6509 Appendix A, parameter set 1: the 1024-bit p ≡ 3 (mod 4), the 1022-bit q with
//!   p + 1 = 4q, E: y² = x³ − 3x, P and g = ⟨P, P⟩ ([`field`], [`curve`]).
//! * Known answers: RFC 6507 Appendix A and RFC 6508 Appendix A, every intermediate value
//!   (`tests/kd_sakke_vectors.rs`). Interoperability: wolfSSL 5.5.4's wolfCrypt, both
//!   directions, keys from either KMS (`tests/kd_sakke_wolfssl.rs`, feature `wolfssl-interop`).
//!
//! # Construction
//!
//! F_p and F_q are ark-ff Montgomery fields of 16 64-bit limbs; F_p² = F_p\[i\]/(i² + 1) is
//! ark-ff's quadratic extension; points are ark-ec short-Weierstrass points in Jacobian
//! coordinates. The Miller loop is this module's own (ark-ec has no pairing for this curve): it
//! keeps the running point in Jacobian coordinates and scales every line by F_p factors, which
//! vanish in PF_p = F_p²*/F_p*, so it never inverts (see [`pairing`]). The final exponentiation is
//! by (p + 1)/q = 4 and the pairing value is represented by x₂/x₁ (RFC 6508 §2.1).
//!
//! * KMS: master secret z ∈ \[2, q − 1\], public Z = \[z\]P; RSK for identifier a is
//!   K = \[(a + z)⁻¹\]P. ECCSI KMS: KSAK, KPAK = \[KSAK\]G; SSK = KSAK + HS·v, PVT = \[v\]G.
//! * Encapsulation to b: r = H2IR(SSV ‖ b, q), R = \[r\](\[b\]P + Z), H = SSV ⊕ H2IR(g^r, 2^128);
//!   the SED is `0x04 ‖ Rx ‖ Ry ‖ H`, 273 octets. Decapsulation: w = ⟨R, K⟩, SSV = H ⊕
//!   H2IR(w, 2^128), then the re-encryption test \[r\](\[b\]P + Z) = R.
//! * ECCSI signature `r ‖ s ‖ PVT`, 129 octets.
//!
//! # Costs
//!
//! Parameter set 1 (one 1024-bit multiplication M):
//!
//! | operation | work |
//! |---|---|
//! | encapsulate | \[b\]P + Z (ark-ec double-and-add), \[r\]·(width-5 wNAF: 1,021 doublings, ≈ 170 additions), g^r (≈ 511 F_p² multiplications from a process-wide table of g^(2^j)), 5 SHA-256 |
//! | decapsulate | one Miller loop over q − 1 (1,021 doublings, ≈ 510 additions, each with its line), 2 F_p² squarings, one inversion, one wNAF multiplication |
//! | decapsulate, precomputed receiver | Miller loop evaluated from the RSK's stored lines (one M per line plus the F_p² accumulation), the test from a window-4 table (256 mixed additions); the receiver stores ≈ 1.4 MiB |
//! | RSK validation | one pairing |
//! | ECCSI sign / verify | one fixed-base multiplication and one inversion / one two-point linear combination and one multiplication |
//!
//! Sizes: SED 273 octets, ECCSI signature 129, KMS public key Z 257, RSK 257, KPAK and PVT 65.
//! `cargo bench -p conclave-benches --bench sakke` times each operation beside wolfSSL's.
//!
//! # Security
//!
//! SAKKE is the Sakai–Kasahara identity-based KEM; its security reduces to the ℓ-BDHI problem in
//! the random-oracle model (Chen and Cheng's proof for the Sakai–Kasahara IBE), and the
//! re-encryption test rejects every SED that is not an honest encapsulation of its own SSV. ECCSI
//! is an EC-Schnorr-like identity-based signature. The pairing maps into a subgroup of a 2048-bit
//! F_p²: classical estimates put discrete logarithms there at about 112 bits, and the
//! number-field-sieve variants for extension fields (Kim and Barbulescu, 2016) lower that
//! estimate; P-256 gives 128 bits. Parameter set 1 is what MIKEY-SAKKE deployments use, and its
//! SAKKE half is the weaker one.
//!
//! **Escrow by design.** The KMS holds z and KSAK: it can compute every RSK it issued and so
//! open every SED sent to its users, and it can issue an SSK/PVT for any identity of its domain
//! and so sign as any of them. Against a **passive server** that only relays SEDs and
//! signatures, confidentiality holds as long as the server is not the KMS and does not collude
//! with it. Against an **active server**, an I_MESSAGE is bound to its sender by ECCSI under the
//! sender's KMS's KPAK, so the server cannot forge or alter one, but a server that *is* (or
//! colludes with) the KMS reads and forges everything in that domain. Identifiers carry a key
//! period (RFC 6509 §3.2: "2011-02\0tel:+447700900123\0"), so a key issued for one period
//! cannot open encapsulations to the next.
//!
//! # Weaknesses
//!
//! * No forward secrecy: an RSK opens every SED sent to its identifier in its key period.
//! * Revocation is only by key period: a user whose RSK leaks stays exposed until the period
//!   ends.
//! * The KMS is a single point of total compromise for its domain (above).
//! * Identifiers are reduced mod q and read as integers, so distinct identifier octet strings
//!   congruent mod q (or differing only by leading zero octets) share an RSK; real identifiers
//!   begin with a non-zero period string and are far shorter than q.
//! * A SED is not authenticated by itself (anyone can encapsulate to anyone); MIKEY-SAKKE signs
//!   the I_MESSAGE that carries it with the sender's ECCSI key.
//!
//! # Side channels
//!
//! Nothing here is constant time, and it must not be used where an attacker can time a device:
//!
//! * ark-ff's Montgomery multiplication ends in a data-dependent subtraction and its inversion is
//!   a variable-time binary extended Euclid; ark-ff makes no constant-time claim.
//! * The Miller loop's shape follows the public q, but its arithmetic runs on the secret RSK (or
//!   its stored lines) with the variable-time field operations above.
//! * Scalar multiplications by secret scalars (r; (a + z)⁻¹ at the KMS) use ark-ec's
//!   double-and-add, wNAF or windowed table, all of which branch on or index by the scalar's
//!   bits; g^r multiplies in a table entry per set bit of r.
//! * ECCSI uses RustCrypto's `p256`, whose field and scalar arithmetic is constant time; the
//!   SHA-256 hashing and the comparison of J_x with r are not secret-dependent.

pub mod curve;
pub mod eccsi;
pub mod field;
pub mod group;
pub mod hash;
pub mod kem;
pub mod pairing;

pub use group::{Sakke, SakkeWith};
