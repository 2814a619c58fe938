//! What members and the delivery service send each other: MLS messages (RFC 9420 §6) as their
//! TLS-encoded bytes, in a thin envelope naming the room.

use crate::wire::varint_len;
use crate::{RoomId, UserId, Wire};

/// Any `mls` protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Member → delivery service: a key package of each of these users, to add them.
    FetchKeyPackages {
        /// The room they will join.
        room: RoomId,
        /// Who.
        users: Vec<UserId>,
    },
    /// Delivery service → member: the key packages asked for, in the order asked.
    KeyPackages {
        /// The room.
        room: RoomId,
        /// One `MlsMessage` (a KeyPackage) per user.
        packages: Vec<(UserId, Vec<u8>)>,
    },
    /// Member → delivery service: a fresh key package of the sender, replacing one used.
    UploadKeyPackage {
        /// The room whose Welcome used the old one.
        room: RoomId,
        /// The `MlsMessage` (a KeyPackage).
        package: Vec<u8>,
    },
    /// Member → delivery service: a commit on the room's current epoch, and the Welcome for
    /// the users it adds or re-adds.
    Commit {
        /// The room.
        room: RoomId,
        /// The `MlsMessage` (a PublicMessage carrying the Commit).
        commit: Vec<u8>,
        /// The `MlsMessage` (a Welcome), if the commit adds anyone.
        welcome: Option<Vec<u8>>,
        /// Members whose old leaves the commit replaces (a rejoin): they get the Welcome, not
        /// the commit.
        readded: Vec<UserId>,
    },
    /// Delivery service → members: a commit it accepted, in the room's order.
    Handshake {
        /// The room.
        room: RoomId,
        /// The `MlsMessage` carrying the Commit.
        commit: Vec<u8>,
    },
    /// Delivery service → joiner: the Welcome of the commit that added it.
    Welcome {
        /// The room.
        room: RoomId,
        /// The `MlsMessage` (a Welcome with the ratchet tree extension).
        welcome: Vec<u8>,
    },
    /// Delivery service → committer: its commit on `epoch` is the room's next one.
    Accepted {
        /// The room.
        room: RoomId,
        /// The epoch the commit was made on.
        epoch: u64,
    },
}

impl Message {
    /// The room the message is about.
    #[must_use]
    pub fn room(&self) -> RoomId {
        match self {
            Self::FetchKeyPackages { room, .. }
            | Self::KeyPackages { room, .. }
            | Self::UploadKeyPackage { room, .. }
            | Self::Commit { room, .. }
            | Self::Handshake { room, .. }
            | Self::Welcome { room, .. }
            | Self::Accepted { room, .. } => *room,
        }
    }
}

fn bytes_len(b: &[u8]) -> usize {
    varint_len(b.len()) + b.len()
}

impl Wire for Message {
    fn wire_len(&self) -> usize {
        // kind (1) and room (4), then the fields.
        5 + match self {
            Self::FetchKeyPackages { users, .. } => varint_len(users.len()) + 4 * users.len(),
            Self::KeyPackages { packages, .. } => {
                varint_len(packages.len())
                    + packages
                        .iter()
                        .map(|(_, p)| 4 + bytes_len(p))
                        .sum::<usize>()
            }
            Self::UploadKeyPackage { package, .. } => bytes_len(package),
            // One flags octet says which of the optional Welcome and re-added list follow.
            Self::Commit {
                commit,
                welcome,
                readded,
                ..
            } => {
                bytes_len(commit)
                    + 1
                    + welcome.as_deref().map_or(0, bytes_len)
                    + if readded.is_empty() {
                        0
                    } else {
                        varint_len(readded.len()) + 4 * readded.len()
                    }
            }
            Self::Handshake { commit, .. } => bytes_len(commit),
            Self::Welcome { welcome, .. } => bytes_len(welcome),
            Self::Accepted { .. } => 8,
        }
    }

    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        match self {
            Self::FetchKeyPackages { .. } | Self::Accepted { .. } => {}
            Self::KeyPackages { packages, .. } => packages.iter().for_each(|(_, p)| f(p)),
            Self::UploadKeyPackage { package, .. } => f(package),
            Self::Commit {
                commit, welcome, ..
            } => {
                f(commit);
                if let Some(w) = welcome {
                    f(w);
                }
            }
            Self::Handshake { commit, .. } => f(commit),
            Self::Welcome { welcome, .. } => f(welcome),
        }
    }
}

#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for Message {
    fn tamper(&mut self) -> bool {
        // A bit near the end: inside the signature or the last AEAD tag of every MLS message.
        let target = match self {
            Self::KeyPackages { packages, .. } => packages.first_mut().map(|(_, p)| p),
            Self::Commit { commit, .. } | Self::Handshake { commit, .. } => Some(commit),
            Self::Welcome { welcome, .. } => Some(welcome),
            Self::UploadKeyPackage { package, .. } => Some(package),
            Self::FetchKeyPackages { .. } | Self::Accepted { .. } => None,
        };
        match target.and_then(|b| b.len().checked_sub(3).map(|i| (b, i))) {
            Some((b, i)) => {
                b[i] ^= 0x01;
                true
            }
            None => false,
        }
    }
}
