//! Wire metering and message routing.

use crate::UserId;

/// Anything that crosses the simulated network.
///
/// Implementations report the exact length the message would have when encoded, and expose the
/// byte strings it carries so that the security oracle can scan everything a server sees. Fixed
/// framing (tags, lengths) need not be visited; every field that could carry user data must be.
pub trait Wire {
    /// Exact encoded length in bytes.
    fn wire_len(&self) -> usize;
    /// Calls `f` on every byte string this message carries.
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8]));
}

/// Traffic that never exists (the type has no values): what a scheme that sends nothing of a
/// kind names as that kind, such as the credentials an authority that issues none issues
/// ([`NothingIssued`](crate::kd::NothingIssued)) or the control traffic of a scheme without
/// re-keying ([`NoMessage`](crate::pre::none::NoMessage)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nothing {}

impl Wire for Nothing {
    fn wire_len(&self) -> usize {
        match *self {}
    }
    fn visit_bytes(&self, _f: &mut dyn FnMut(&[u8])) {
        match *self {}
    }
}

/// Bytes of the LEB128 length prefix of a list of `n` items.
#[must_use]
pub(crate) fn varint_len(n: usize) -> usize {
    (usize::BITS - n.leading_zeros()).div_ceil(7).max(1) as usize
}

/// Who sent a message: the server of the family, or a user (relayed by the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The family's server (key server, message server or search server).
    Server,
    /// A user (relayed by the server).
    User(UserId),
}

/// Where a role wants a message to go. All traffic physically passes through the servers of the
/// chat service; the caller meters each hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// The server of this family (key server, message server or search server).
    Server,
    /// One user, relayed by the server.
    User(UserId),
    /// Several users, relayed by the server (one copy each).
    Users(Vec<UserId>),
}

/// Messages a role wants sent, in order.
#[derive(Debug)]
pub struct Outbox<M> {
    items: Vec<(Dest, M)>,
}

impl<M> Default for Outbox<M> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

impl<M> Outbox<M> {
    /// An empty outbox.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `msg` for `to`.
    pub fn send(&mut self, to: Dest, msg: M) {
        self.items.push((to, msg));
    }

    /// Number of queued messages.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The queued messages, in order.
    pub fn iter(&self) -> impl Iterator<Item = &(Dest, M)> {
        self.items.iter()
    }

    /// Takes every queued message, leaving the outbox empty.
    pub fn drain(&mut self) -> std::vec::Drain<'_, (Dest, M)> {
        self.items.drain(..)
    }

    /// Converts each message, keeping destinations and order.
    pub fn map_into<N>(self, mut f: impl FnMut(M) -> N) -> Outbox<N> {
        Outbox {
            items: self.items.into_iter().map(|(d, m)| (d, f(m))).collect(),
        }
    }
}

impl Wire for Vec<u8> {
    fn wire_len(&self) -> usize {
        self.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(self);
    }
}
