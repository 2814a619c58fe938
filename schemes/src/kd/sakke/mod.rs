//! SAKKE placeholder docs.

pub mod curve;
pub mod eccsi;
pub mod field;
pub mod hash;
pub mod pairing;
pub mod sakke;
