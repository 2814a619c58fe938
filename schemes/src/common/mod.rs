//! Mechanisms several schemes share, written once so that a fix lands everywhere at once.
//!
//! * [`aead`]: the crate's one AEAD, for single-use keys and for keys a room's members share.
//! * [`cipher`]: the provider of the symmetric primitives (AEADs, HKDF, PRF) the history and
//!   search schemes are generic over: the real one, or the models' ideal one.
//! * [`back_chain`]: the encrypted chain of per-epoch secrets on a server through which a
//!   joiner walks back to the epochs before its own (epoch-keys, client-rewrap, per-epoch,
//!   Mitra).
//! * [`known_epochs`]: a back-chain client's entry per epoch it held or reached (epoch-keys,
//!   client-rewrap).
//! * [`changers`]: which member the service's directory names as the changer of each epoch, the
//!   only one whose re-keying traffic a server accepts.
//! * [`fixed_hash`]: hash maps whose layout does not depend on a per-process random seed.
//! * [`router`]: synchronous delivery of protocol messages between clients and a server until
//!   the traffic settles (tests, benches, the simulator's set-up, adversary experiments).
//! * [`traffic`]: what a step of a scheme puts on the wire, per direction, as its wire-size
//!   formulas give it (every key-distribution and history scheme).

pub mod aead;
pub mod back_chain;
pub mod changers;
pub mod cipher;
pub mod fixed_hash;
pub mod known_epochs;
pub mod router;
pub mod traffic;
