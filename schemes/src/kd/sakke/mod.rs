//! SAKKE placeholder docs.

pub mod curve;
pub mod field;
pub mod pairing;
