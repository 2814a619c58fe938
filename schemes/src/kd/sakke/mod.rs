//! SAKKE placeholder docs.

pub mod curve;
pub mod eccsi;
pub mod field;
pub mod hash;
pub mod kem;
pub mod pairing;
