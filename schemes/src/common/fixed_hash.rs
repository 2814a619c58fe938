//! Hash maps whose layout, and so whose cost, depends only on what they hold.
//!
//! std's `HashMap` seeds its SipHash keys from the operating system once per process, so the
//! same inserts and lookups on the same data cost a slightly different number of instructions
//! in every process (where tables grow, how long probe sequences are): up to 2 % on a small
//! index update. Conclave's schemes take no randomness but the `rng` they are given, and the
//! regression gate counts instructions to 3 %: both want the layout fixed. These maps hash with
//! foldhash's fast hasher under its fixed seed, which also costs a fraction of SipHash on the
//! short keys they hold (keywords, ids, 32-byte labels): the engine and the servers look one up
//! for every message and keyword.
//!
//! A fixed, non-cryptographic hash lets whoever chooses the keys of a map choose collisions
//! (HashDoS). Here every map is keyed by values a scheme derives itself or by ids the simulator
//! assigns, and every server is an in-process model; a service exposed to hostile clients would
//! key a collision-resistant hasher.

/// Builds foldhash's fast hasher under its fixed seed.
pub type FixedState = foldhash::fast::FixedState;

/// A `HashMap` with [`FixedState`]; make one with `HashMap::default()`.
pub type HashMap<K, V> = std::collections::HashMap<K, V, FixedState>;

/// A `HashSet` with [`FixedState`]; make one with `HashSet::default()`.
pub type HashSet<T> = std::collections::HashSet<T, FixedState>;
