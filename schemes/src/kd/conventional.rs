//! `conventional`: the key server generates and holds every room key.
//!
//! # Source
//!
//! Key distribution as a TLS-only chat does it. It is the left column of NTT's Table 1 (Yoshida et
//! al., NTT Technical Review 15(5), 2017) and the baseline every secured scheme is compared with.
//!
//! # Construction
//!
//! On every membership change a member asks the server to re-key ([`Message::Rekey`]); the server
//! draws a fresh 32-byte room key and sends it to each member over the member's TLS channel
//! ([`Message::Key`]). Users publish no credential: conventional chat authenticates them by
//! password over TLS. A client keeps the newest key of each room and ignores an older one.
//!
//! # Costs
//!
//! O(n) sends at the server per change (n members): a 1-byte request from the member making the
//! change ([`REKEY_LEN`]), then a 41-byte key message (epoch and key, [`KEY_LEN`]) to each member,
//! the changer included; [`change_traffic`] gives them per direction, the same for a creation, an
//! add or a removal. No cryptographic work beyond drawing the key. A client holds 40 bytes per
//! room (the epoch and its key). There is no rejoin, no per-message layer and nothing issued per
//! period.
//!
//! # Security
//!
//! There is no end-to-end protection: the server knows every epoch secret, and so does anyone who
//! can read the server's memory or compel its operator. Members removed from a room do not receive
//! later keys, so they are excluded only as long as the server is honest. Keys are protected in
//! transit by TLS alone.
//!
//! # Weaknesses
//!
//! Everything rests on the server: its memory holds every room's current key, and its honesty is
//! the only thing that keeps a removed member out.
//!
//! # Side channels
//!
//! Nothing secret is computed here: the server draws the key from its random generator and copies
//! it into each member's message; its protection in transit is TLS's, outside this crate.

use std::collections::BTreeMap;

use super::held::HeldSecrets;
use super::DirectoryAuthority;
use super::{
    Change, Directory, Handled, KdClient, KdProperties, KdServer, KeyDistribution, Origin, Roster,
    ServerHandled, Traffic,
};
use crate::{
    CryptoRngCore, Dest, Epoch, EpochSecret, Misuse, Outbox, RoomId, SchemeError, UserId, Wire,
};

/// The conventional scheme (server-generated room keys).
#[derive(Debug, Clone, Copy, Default)]
pub struct Conventional;

/// Messages of the conventional scheme.
#[derive(Debug, Clone)]
pub enum Message {
    /// Member to server: please re-key the room (after the directory changed its membership).
    Rekey,
    /// Server to member: the room's key for an epoch.
    Key {
        /// The epoch.
        epoch: Epoch,
        /// The room key (protected only by the TLS channel).
        secret: EpochSecret,
    },
}

/// Bytes of the kind that opens every message.
const KIND: usize = 1;

/// Bytes of a [`Message::Rekey`]: its kind alone (the room travels in the TLS request).
pub const REKEY_LEN: usize = KIND;

/// Bytes of a [`Message::Key`]: kind, epoch and the room key.
pub const KEY_LEN: usize = KIND + size_of::<Epoch>() + size_of::<EpochSecret>();

/// The messages of any change (creation, add or removal) of a room of `members` after it: the
/// changer's request to the key server, then the new key from the key server to every member,
/// the changer included.
#[must_use]
pub fn change_traffic(members: usize) -> Traffic {
    Traffic {
        up: vec![(1, REKEY_LEN)],
        down: vec![(members, KEY_LEN)],
    }
}

impl Wire for Message {
    fn wire_len(&self) -> usize {
        match self {
            Self::Rekey => 1,
            Self::Key { .. } => 1 + 8 + 32,
        }
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        if let Self::Key { secret, .. } = self {
            f(secret.as_bytes());
        }
    }
}

/// Nothing in a conventional message is authenticated by its recipient (TLS protects it in
/// transit), so there is nothing to corrupt: the conformance suite does not check tampering for
/// a scheme whose server knows the epoch secret.
#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for Message {
    fn tamper(&mut self) -> bool {
        false
    }
}

/// A user's credential: conventional chat authenticates users by password over TLS, so there
/// is nothing public to publish.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCredential;

impl Wire for NoCredential {
    fn wire_len(&self) -> usize {
        0
    }
    fn visit_bytes(&self, _f: &mut dyn FnMut(&[u8])) {}
}

/// A user's room keys.
#[derive(Debug, Default)]
pub struct Client {
    keys: HeldSecrets,
}

/// The key server: it holds every room's current key.
#[derive(Debug, Default)]
pub struct Server {
    keys: BTreeMap<RoomId, (Epoch, EpochSecret)>,
}

impl KeyDistribution for Conventional {
    const NAME: &'static str = "conventional";
    const SUMMARY: &'static str = "server generates and holds every room key; TLS only";
    const PROPERTIES: KdProperties = KdProperties {
        server_knows_epoch_secret: true,
        removal_excludes: false,
        join_excludes_past: false,
        authority_can_derive: false,
        layer_hides_history_from_joiners: false,
        heals_after_update: false,
        rejoins: false,
    };
    type Credential = NoCredential;
    type Message = Message;
    type Client = Client;
    type Server = Server;
    type Authority = DirectoryAuthority<Self>;

    fn new_server(_rng: &mut dyn CryptoRngCore) -> Result<Server, SchemeError> {
        Ok(Server::default())
    }

    fn enroll(
        _server: &mut Server,
        _authority: &mut DirectoryAuthority<Self>,
        _user: UserId,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<(Client, NoCredential), SchemeError> {
        Ok((Client::default(), NoCredential))
    }
}

impl KdClient for Client {
    type Kd = Conventional;

    fn change(
        &mut self,
        _roster: &Roster<'_>,
        _change: &Change<'_>,
        _directory: Directory<'_, Conventional>,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        out.send(Dest::Server, Message::Rekey);
        Ok(Handled::Nothing)
    }

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: Origin,
        msg: &Message,
        _directory: Directory<'_, Conventional>,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        match (from, msg) {
            (Origin::Server, Message::Key { epoch, secret }) => {
                epoch.bounded()?;
                if self
                    .keys
                    .epoch(roster.room)
                    .is_some_and(|have| have >= *epoch)
                {
                    return Ok(Handled::Stale);
                }
                self.keys.hold(roster.room, *epoch, secret.clone());
                Ok(Handled::NewEpoch(*epoch))
            }
            _ => Err(Misuse::UnexpectedMessage(
                "conventional clients accept only keys from the server",
            )
            .into()),
        }
    }

    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.keys.current(room)
    }

    fn state_len(&mut self, room: RoomId) -> Result<usize, SchemeError> {
        Ok(self.keys.state_len(room))
    }
}

impl KdServer for Server {
    type Kd = Conventional;

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: UserId,
        msg: Message,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<ServerHandled, SchemeError> {
        if !matches!(msg, Message::Rekey) {
            return Err(Misuse::UnexpectedMessage(
                "the conventional server accepts only re-key requests",
            )
            .into());
        }
        if !roster.contains(from) {
            return Err(Misuse::NotAMember {
                user: from,
                room: roster.room,
            }
            .into());
        }
        let epoch = match self.keys.get(&roster.room) {
            Some((e, _)) => e.advance()?,
            None => Epoch(0),
        };
        let secret = EpochSecret::random(rng);
        for &member in roster.members {
            out.send(
                Dest::User(member),
                Message::Key {
                    epoch,
                    secret: secret.clone(),
                },
            );
        }
        self.keys.insert(roster.room, (epoch, secret));
        Ok(ServerHandled::Processed)
    }

    fn known_epoch_secret(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.keys.get(&room).map(|(e, s)| (*e, s))
    }
}
