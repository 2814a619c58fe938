//! Exact sizes of the back-chain traffic ([`crate::common::back_chain`]) of the
//! searchable-encryption schemes that keep one (`per-epoch` and `mitra`, which re-export these
//! items), and the units of the server work it is charged as, so that a cost model can size a
//! change without sealing or walking links.
//!
//! A change that shares history into epoch `e > 0` costs the changer's link to the server, and
//! each joiner (a member with no previous epoch) a request and the server's answer: the links
//! from `e` down as far as they connect, which in a room whose every change shared history is
//! one per change, `e` ([`chain_links`]). The lengths do not depend on whether a request reaches
//! the server before or after the link it waits for; the work does ([`link_units`],
//! [`request_units`]).

use crate::common::back_chain::{LINK_LEN, REQUEST_LEN};
use crate::wire::varint_len;
use crate::Epoch;

/// Bytes of the changer's upload at a change that shares history
/// ([`back_chain::Message::Link`](crate::common::back_chain::Message::Link)): the kind and the
/// link.
pub const LINK_MESSAGE_LEN: usize = 1 + LINK_LEN;

/// Bytes of a joiner's request for the chain below its epoch
/// ([`back_chain::Message::Request`](crate::common::back_chain::Message::Request)).
pub const CHAIN_REQUEST_LEN: usize = REQUEST_LEN;

/// Bytes of the server's answer to a joiner carrying `links` links
/// ([`back_chain::Message::Chain`](crate::common::back_chain::Message::Chain)): the kind, the
/// LEB128 count and the links.
#[must_use]
pub fn chain_len(links: usize) -> usize {
    1 + varint_len(links) + links * LINK_LEN
}

/// Links in the answer to a joiner of `epoch` in a room whose every change so far shared
/// history: one into each epoch after the first. (A change that did not share history uploads
/// no link, and the answer stops at it.)
#[must_use]
pub const fn chain_links(epoch: Epoch) -> usize {
    epoch.0 as usize
}

/// The back-chain messages of a change into `epoch` that `joiners` members join, as
/// `(count, bytes of each)` pairs, in this order: the changer's link (to the server), the
/// joiners' requests (to the server), the server's answers (one to each joiner). Nothing at a
/// room's creation (epoch 0) or when the room does not share history; the room's earlier
/// changes are taken to have shared history too ([`chain_links`]).
#[must_use]
pub fn change_messages(epoch: Epoch, joiners: usize, shares_history: bool) -> Vec<(usize, usize)> {
    let (links, requests) = if shares_history && epoch.0 > 0 {
        (1, joiners)
    } else {
        (0, 0)
    };
    vec![
        (links, LINK_MESSAGE_LEN),
        (requests, CHAIN_REQUEST_LEN),
        (requests, chain_len(chain_links(epoch))),
    ]
}

/// Units of the server's work for a changer's link: the link stored, and the `links` links of
/// the answer sent to each of the `waiting` joiners who asked before the link came.
#[must_use]
pub const fn link_units(links: usize, waiting: usize) -> u64 {
    1 + (links * waiting) as u64
}

/// Units of the server's work for a joiner's request: the `links` links of the answer when the
/// link into the joiner's epoch is stored, nothing when the request is held until it comes
/// ([`link_units`] then counts the answer).
#[must_use]
pub const fn request_units(links: usize, link_stored: bool) -> u64 {
    if link_stored {
        links as u64
    } else {
        0
    }
}
