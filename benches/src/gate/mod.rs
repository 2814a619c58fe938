//! The regression gate's cases: one per scheme operation and size, made from fixed seeds, so
//! that running a case twice does exactly the same work.
//!
//! A case has a name (`family/scheme/operation/size`), a set-up that builds everything the
//! operation needs, and the operation itself, which returns what it sent ([`Bytes`]). The
//! instruction-count bench (`benches/gate.rs`, run under Callgrind by gungraun) counts only
//! the operation; the `regress` binary runs the same cases natively for their bytes and compares
//! both with the committed baseline ([`baseline`]).
//!
//! Every scheme of the registry's lists is covered (a new scheme is benched at once):
//!
//! | family | operations | sizes |
//! |---|---|---|
//! | key distribution ([`kd`]) | `create`, `join`, `leave` (and `rejoin` where the scheme rejoins): the whole change, every party's work | rooms of [`kd::sizes`] members |
//! | | `protect`, `unprotect` (schemes with a message layer) | bodies of [`history::BODIES`] bytes |
//! | | `issue` (the authority), `renew` (the client) (schemes whose credentials expire) | one user, one period |
//! | history protection ([`history`]) | `seal`, `store`, `open` | bodies of [`history::BODIES`] bytes |
//! | | `rekey`: a change re-keying the stored history (re-encryption per record, re-wraps, links) | [`history::STORED`] stored records |
//! | searchable encryption ([`sse`]) | `index` (client update and server apply) | one update of 8 keywords into an index of [`sse::INDEXED`] messages |
//! | | `search`: query, every round, resolution | [`sse::RESULTS`] results |
//! | | `rekey`: a change re-keying the index | [`sse::INDEXED`] indexed messages |
//! | record channel ([`channel`]) | `seal`, `open` (TLS 1.3's record layer) | payloads of [`channel::PAYLOADS`] bytes |
//! | engine ([`engine`]) | one calibrated run of a small scenario on the conventional stack | 1 |
//!
//! The calibration table's keys map onto these: `client.change`, `client.handle` and
//! `server.handle` of a key-distribution scheme are the parts of `create`, `join`, `leave`
//! and `rejoin`, `client.rejoin` is `rejoin`, `protect`, `unprotect`, `kms.issue` and
//! `client.renew` are `protect`, `unprotect`, `issue` and `renew`; `seal`, `store` and `open`
//! are themselves; `tls/seal` and `tls/open` are the record channel's; `epoch_changed`,
//! `client.handle`, `reencrypt`, `rewrap`, `headers`, `chain`, `back-chain`, `rekey`,
//! `send-chain` and `store-link` are parts of `rekey`; `index` and `apply` are `index`;
//! `query`, `search` and `resolve` are `search`. `blob/open` (a terminal's state blob at login)
//! is the crate's one AEAD, benched through the schemes' `seal` and `open`.

pub mod baseline;
pub mod channel;
pub mod engine;
pub mod history;
pub mod kd;
pub mod sse;

use std::any::Any;
use std::collections::BTreeMap;

/// Bytes an operation sent, by role or message kind (`changer`, `server`, `members`, `record`,
/// `query`, `reply`, ...): an exact metric, compared for equality.
pub type Bytes = BTreeMap<&'static str, u64>;

/// What running a case's operation leaves: its bytes, and state to drop outside the measured
/// region (freeing a large harness is not the operation's cost).
#[allow(missing_debug_implementations)]
pub struct Ran {
    /// What the operation sent.
    pub bytes: Bytes,
    /// Everything the operation worked on, dropped by the caller.
    pub state: Box<dyn Any>,
}

/// A case after its set-up: the operation, ready to run once.
#[allow(missing_debug_implementations)]
pub struct Prepared(Box<dyn FnOnce() -> Ran>);

impl Prepared {
    /// Wraps the operation `op`.
    pub fn new(op: impl FnOnce() -> Ran + 'static) -> Self {
        Self(Box::new(op))
    }

    /// Runs the operation.
    #[must_use]
    pub fn run(self) -> Ran {
        (self.0)()
    }
}

/// One benchmark of the gate.
#[allow(missing_debug_implementations)]
pub struct Case {
    /// `family/scheme/operation/size`.
    pub name: String,
    /// Builds what the operation needs (not measured).
    pub prepare: Box<dyn Fn() -> Prepared>,
}

impl Case {
    fn new(name: String, prepare: impl Fn() -> Prepared + 'static) -> Self {
        Self {
            name,
            prepare: Box::new(prepare),
        }
    }
}

/// Every case of the gate, in a fixed order (the bench numbers them in this order).
#[must_use]
pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    kd::cases(&mut all);
    history::cases(&mut all);
    sse::cases(&mut all);
    channel::cases(&mut all);
    engine::cases(&mut all);
    all
}

/// Sets up case `index` of [`cases`].
///
/// # Panics
/// If there is no such case.
#[must_use]
pub fn prepare(index: usize) -> Prepared {
    let all = cases();
    let case = all
        .get(index)
        .unwrap_or_else(|| panic!("the gate has no case {index}"));
    (case.prepare)()
}

/// How many cases [`cases`] has.
#[must_use]
pub fn count() -> usize {
    cases().len()
}
