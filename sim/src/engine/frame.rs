//! Message framing: the nodes of the service, what travels between them, and its wire length.

use std::sync::Arc;

use conclave_schemes::erased::Packet;
use conclave_schemes::kd::{Origin, Period};
use conclave_schemes::{MsgId, RoomId, UserId};

use super::OpId;
use crate::metrics::Party;

/// A node of the chat service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Node {
    User(UserId),
    KeyServer,
    /// The key management server of an organisation.
    Kms(u16),
    MessageServer,
    SearchServer,
}

impl Node {
    pub(super) fn party(self) -> Party {
        match self {
            Node::User(_) => Party::Client,
            Node::KeyServer => Party::KeyServer,
            Node::Kms(_) => Party::Kms,
            Node::MessageServer => Party::MessageServer,
            Node::SearchServer => Party::SearchServer,
        }
    }
}

/// What travels between nodes.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// A key-distribution message (`origin` is who the recipient hears it from). A user's
    /// message with a non-empty `relay` is for the server to pass on to those users.
    Kd {
        packet: Packet,
        origin: Origin,
        relay: Vec<UserId>,
        /// The directory's roster of the room when the message was sent: a recipient checks
        /// the message against the membership of its change, however late it processes it.
        roster: Arc<[UserId]>,
    },
    /// History-protection control traffic.
    HistoryCtl { packet: Packet },
    /// Searchable-encryption control traffic.
    SearchCtl { packet: Packet },
    /// A sealed message and its index update, user to message server.
    Upload {
        msg: MsgId,
        sealed: Packet,
        index: Packet,
    },
    /// An index update, message server to search server.
    IndexUpdate { msg: MsgId, index: Packet },
    /// The message server acknowledges a stored message.
    Ack { msg: MsgId },
    /// The message server pushes a stored message to an online member.
    Deliver { msg: MsgId, sealed: Packet },
    /// One round of a search query.
    Query { packet: Packet },
    /// The search server's reply.
    Reply { packet: Packet },
    /// A request for stored messages.
    Fetch { ids: Vec<MsgId> },
    /// Stored messages.
    Fetched { records: Vec<(MsgId, Packet)> },
    /// A terminal asks for its state at login.
    LoginRequest,
    /// State blobs, queued key-distribution messages and recent messages of every room.
    LoginResponse {
        rooms: Vec<LoginRoom>,
        mailbox: Vec<KdMail>,
        /// Rooms whose queued key traffic expired: the terminal rejoins them.
        expired: Vec<RoomId>,
    },
    /// A terminal asks its KMS for its credentials of these key periods.
    KeyRequest { periods: Vec<Period> },
    /// The KMS's answer: the credentials, one packet per period asked.
    KeysIssued { issued: Vec<Packet> },
}

/// A key-distribution message queued for an offline user.
#[derive(Debug, Clone)]
pub(crate) struct KdMail {
    pub(super) room: RoomId,
    pub(super) origin: Origin,
    pub(super) packet: Packet,
    pub(super) roster: Arc<[UserId]>,
}

#[derive(Debug, Clone)]
pub(crate) struct LoginRoom {
    pub(super) room: RoomId,
    pub(super) blob_len: usize,
    pub(super) recent: Vec<(MsgId, Packet)>,
}

/// Framing bytes on top of a body's packets (type, room, ids).
const FRAME: usize = 16;

impl Body {
    pub(super) fn wire_len(&self) -> usize {
        let payload = match self {
            Body::Kd { packet, relay, .. } => packet.wire_len() + 4 * relay.len(),
            Body::HistoryCtl { packet }
            | Body::SearchCtl { packet }
            | Body::Query { packet }
            | Body::Reply { packet } => packet.wire_len(),
            Body::Upload { sealed, index, .. } => sealed.wire_len() + index.wire_len() + 8,
            Body::IndexUpdate { index, .. } => index.wire_len() + 8,
            Body::Ack { .. } | Body::LoginRequest => 8,
            // The user's URI stands in the session the request travels on; each period is 4.
            Body::KeyRequest { periods } => 4 + 4 * periods.len(),
            Body::KeysIssued { issued } => 4 + issued.iter().map(Packet::wire_len).sum::<usize>(),
            Body::Deliver { sealed, .. } => sealed.wire_len() + 8,
            Body::Fetch { ids } => 4 + 8 * ids.len(),
            Body::Fetched { records } => {
                4 + records
                    .iter()
                    .map(|(_, p)| 12 + p.wire_len())
                    .sum::<usize>()
            }
            Body::LoginResponse {
                rooms,
                mailbox,
                expired,
            } => {
                4 + rooms
                    .iter()
                    .map(|r| {
                        12 + r.blob_len
                            + r.recent
                                .iter()
                                .map(|(_, p)| 12 + p.wire_len())
                                .sum::<usize>()
                    })
                    .sum::<usize>()
                    + mailbox
                        .iter()
                        .map(|m| 12 + m.packet.wire_len())
                        .sum::<usize>()
                    // An optional section: its count, then the rooms.
                    + if expired.is_empty() {
                        0
                    } else {
                        4 + 4 * expired.len()
                    }
            }
        };
        payload + FRAME
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub(super) op: Option<OpId>,
    pub(super) from: Node,
    pub(super) room: RoomId,
    pub(super) body: Body,
}
