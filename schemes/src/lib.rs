//! Conclave's cryptography: the three scheme families an end-to-end encrypted business chat is
//! built from, each behind one trait, plus a type-erased layer and a registry by name.
//!
//! * [`kd`]: **group key distribution**. Every current member of a room obtains the room's
//!   [`EpochSecret`] for the current epoch; every membership change starts a new epoch.
//! * [`pre`]: **history protection**. Message bodies are sealed under keys derived from epoch
//!   secrets; schemes differ in how stored history is protected when the epoch changes (for
//!   example by proxy re-encryption on the server).
//! * [`sse`]: **searchable encryption**. The search server answers keyword queries over an index
//!   it cannot read.
//!
//! Every family is split into a client role (one value per user, holding that user's state for all
//! its rooms) and a server role (one value per server). Roles never talk to each other directly:
//! they push messages into an [`Outbox`] and the caller (the simulator, a test, a bench) routes
//! them. Each message type reports its exact encoded length ([`Wire::wire_len`]) so bandwidth is
//! metered without serialising in-process, and can show its bytes ([`Wire::visit_bytes`]) so the
//! security oracle can scan everything a server sees.
//!
//! # Purity
//!
//! This crate has no clock, no I/O and no global random number generator: every randomised call
//! takes an `rng: &mut dyn CryptoRngCore` (rand_core 0.6, the generation arkworks uses), so a run
//! is reproducible from its seed.
//!
//! # Not for production
//!
//! This is a research harness. The symmetric primitives come from RustCrypto and are constant
//! time; scheme logic around them is written for measurement, not hardened against side
//! channels. Each scheme module states its own security properties and known weaknesses.

pub mod channel;
pub mod common;
pub mod erased;
mod error;
mod ids;
pub mod kd;
pub mod model;
mod outcome;
pub mod pre;
pub mod registry;
pub mod rekeying;
mod secret;
pub mod sse;
mod wire;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{Misuse, SchemeError};
pub use ids::{Epoch, MsgId, RoomId, UserId, EPOCH_BEYOND_LIMIT};
pub use outcome::Opened;
pub use rand_core::CryptoRngCore;
pub use secret::{EpochSecret, Label};
pub use wire::{Dest, Nothing, Origin, Outbox, Wire};
