//! One member's MLS group for one room: joining by Welcome, following the delivery service's
//! commits in order, and the room's epoch secret from the MLS exporter. Generic over the mls-rs
//! configuration, so the same code path runs in the scheme (directory identities, seeded
//! provider) and against the MLS working group's interop vectors (basic identities).

use mls_rs::client_builder::MlsConfig;
use mls_rs::error::MlsError;
use mls_rs::group::{CommitEffect, ReceivedMessage};
use mls_rs::time::MlsTime;
use mls_rs::{Client, Group, MlsMessage};

use crate::{EpochSecret, RoomId, SchemeError};

/// The exporter label of a room's epoch secret: `MLS-Exporter(LABEL, room id (4 octets,
/// big-endian), 32)` (RFC 9420 §8.5).
pub const EXPORTER_LABEL: &[u8] = b"conclave epoch secret";

/// The time every credential check and key-package lifetime is judged at: 2027-01-01T00:00Z.
/// Schemes read no clock; a simulated month stays inside every lifetime issued.
pub const CLOCK: u64 = 1_798_761_600;

/// [`CLOCK`] as mls-rs takes it.
#[must_use]
pub fn now() -> MlsTime {
    MlsTime::from(CLOCK)
}

/// What the library said, as the scheme reports it: parsing failures are malformed input;
/// everything else (signatures, MACs, decryption, tree and credential validation) is an opaque
/// cryptographic failure.
pub(crate) fn refused(e: MlsError) -> SchemeError {
    match e {
        MlsError::SerializationError(_) | MlsError::ExtensionError(_) => {
            SchemeError::Malformed("not a valid MLS message")
        }
        _ => SchemeError::Crypto,
    }
}

/// Parses an MLS message.
///
/// # Errors
/// [`SchemeError::Malformed`] if the bytes are not one.
pub fn parse(bytes: &[u8]) -> Result<MlsMessage, SchemeError> {
    MlsMessage::from_bytes(bytes).map_err(|_| SchemeError::Malformed("not a valid MLS message"))
}

/// The room's epoch secret of the epoch `group` is in.
///
/// # Errors
/// [`SchemeError::Internal`] if the library has deleted the exporter (this crate never does).
pub fn epoch_secret<C: MlsConfig>(
    group: &Group<C>,
    room: RoomId,
) -> Result<EpochSecret, SchemeError> {
    let secret = group
        .export_secret(EXPORTER_LABEL, &room.0.to_be_bytes(), 32)
        .map_err(|_| SchemeError::Internal("the MLS exporter is gone"))?;
    let bytes: [u8; 32] = secret
        .as_bytes()
        .try_into()
        .map_err(|_| SchemeError::Internal("the MLS exporter gave the wrong length"))?;
    Ok(EpochSecret::from_bytes(bytes))
}

/// Joins by `welcome` (whose ratchet tree comes in its extension, or as `tree`).
///
/// # Errors
/// [`SchemeError::Malformed`] if it does not parse; [`SchemeError::Crypto`] if it is not for one
/// of `client`'s key packages or does not validate.
pub fn join<C: MlsConfig>(
    client: &Client<C>,
    welcome: &[u8],
    tree: Option<&[u8]>,
) -> Result<Group<C>, SchemeError> {
    join_at(client, welcome, tree, Some(now()))
}

/// [`join`], judging credentials and leaf lifetimes at `time` instead of [`CLOCK`], or not
/// judging lifetimes when it is `None` (for the interop vectors, whose lifetimes end before it).
///
/// # Errors
/// As [`join`].
pub fn join_at<C: MlsConfig>(
    client: &Client<C>,
    welcome: &[u8],
    tree: Option<&[u8]>,
    time: Option<MlsTime>,
) -> Result<Group<C>, SchemeError> {
    let welcome = parse(welcome)?;
    let tree = tree
        .map(mls_rs::group::ExportedTree::from_bytes)
        .transpose()
        .map_err(|_| SchemeError::Malformed("not a valid ratchet tree"))?;
    let (group, _) = client.join_group(tree, &welcome, time).map_err(refused)?;
    Ok(group)
}

/// What a handshake message did to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// A commit moved the group to its next epoch.
    Advanced,
    /// A commit removed this member: the group is no longer usable.
    Removed,
    /// A proposal was cached for the commit that will reference it.
    Proposal,
}

/// Processes one handshake message for the epoch `group` is in.
///
/// # Errors
/// [`SchemeError::Malformed`] if it does not parse or is not a handshake message;
/// [`SchemeError::Crypto`] if it does not authenticate or validate.
pub fn follow<C: MlsConfig>(
    group: &mut Group<C>,
    message: MlsMessage,
) -> Result<Followed, SchemeError> {
    follow_at(group, message, Some(now()))
}

/// [`follow`], judging the lifetimes of the leaves a commit brings in at `time` instead of
/// [`CLOCK`], or not judging them when it is `None` (for the interop vectors).
///
/// # Errors
/// As [`follow`].
pub fn follow_at<C: MlsConfig>(
    group: &mut Group<C>,
    message: MlsMessage,
    time: Option<MlsTime>,
) -> Result<Followed, SchemeError> {
    let received = match time {
        Some(time) => group.process_incoming_message_with_time(message, time),
        None => group.process_incoming_message(message),
    };
    match received.map_err(refused)? {
        ReceivedMessage::Commit(c) => Ok(match c.effect {
            CommitEffect::NewEpoch(_) => Followed::Advanced,
            CommitEffect::Removed { .. } => Followed::Removed,
            CommitEffect::ReInit(_) => {
                return Err(SchemeError::Malformed(
                    "re-initialising a room is not supported",
                ))
            }
        }),
        ReceivedMessage::Proposal(_) => Ok(Followed::Proposal),
        _ => Err(SchemeError::Malformed("not a handshake message")),
    }
}
