//! The model of `pairwise-dh`: its flows, without X25519 or the sealed boxes.
//!
//! # Source
//!
//! [`crate::kd::pairwise_dh`], which it stands for in the `model` cost mode (see
//! [`crate::model`]).
//!
//! # Construction
//!
//! As the real scheme: on every membership change the member making it draws a fresh
//! [`EpochSecret`] and sends one message to each other member of the new roster through the
//! relaying key server; recipients check the sender, the epoch and the joining flag exactly as
//! the real clients do ([`crate::kd::held`]) and hold the secret. Where the real message carries
//! a sealed box, the model carries an ideal one ([`IdealBox`]): the secret in the clear with the
//! context the real box is bound to (room, epoch, joining flag, sender, recipient), which opens
//! only for that context, as authenticated encryption does against anyone who does not hold the
//! keys. A replayed or redirected box is refused as the real one is ([`SchemeError::Crypto`]).
//! A message is charged as the real one: [`MESSAGE_LEN`] bytes. A credential stands for a
//! 32-byte X25519 public key.
//!
//! # Costs
//!
//! Per change, n − 1 messages of [`MESSAGE_LEN`] bytes from the changer, as
//! [`crate::kd::pairwise_dh`]; a client holds [`HELD_STATE_LEN`](crate::kd::held::HELD_STATE_LEN) bytes per room. No
//! public-key work runs: a run charges the real scheme's operations from the calibration
//! table, under the real scheme's name.
//!
//! # Security
//!
//! None of its own: the secret travels in the clear in memory. The relay's refusal of anything
//! addressed to it, the recipients' checks of roster, sender and epoch, and so who holds which
//! epoch, are the real scheme's and stay checked by the oracle. That a box hides its secret from
//! the server and from removed members, and that a tampered box is refused, is the real scheme's
//! cryptography and is not checked in a model run. The bytes of a message are not modelled:
//! [`Wire::visit_bytes`] visits none, so the servers' scans see nothing of it.
//!
//! # Weaknesses
//!
//! It sizes a box from [`SealedBox::OVERHEAD`](crate::kd::sealed_box::SealedBox::OVERHEAD); a
//! change of the box's encoding must change that constant, which the real scheme's tests check.
//!
//! # Side channels
//!
//! Not applicable: nothing secret is computed.

use crate::kd::held::{member_sender, planned_change, HeldSecrets};
use crate::kd::pairwise_dh::{PairwiseDh, MESSAGE_LEN};
use crate::kd::relay::{RelayOnly, RelayServer};
use crate::kd::{
    Change, Directory, DirectoryAuthority, Handled, KdClient, KdProperties, KeyDistribution,
    Origin, Roster,
};
use crate::{CryptoRngCore, Epoch, EpochSecret, Outbox, RoomId, SchemeError, UserId, Wire};

/// The model of [`PairwiseDh`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PairwiseDhModel;

/// Stands for a user's X25519 public key in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential;

impl Wire for Credential {
    fn wire_len(&self) -> usize {
        32
    }
    fn visit_bytes(&self, _f: &mut dyn FnMut(&[u8])) {}
}

/// Stands for a pairwise-dh message: the epoch secret for one member, in an [`IdealBox`].
#[derive(Debug, Clone)]
pub struct Message {
    epoch: Epoch,
    joining: bool,
    sealed: IdealBox,
}

/// What a real box is bound to: its AEAD's associated data and the two static keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BoxContext {
    room: RoomId,
    epoch: Epoch,
    joining: bool,
    sender: UserId,
    recipient: UserId,
}

/// A sealed box as an ideal authenticated encryption: it opens to its secret for the context it
/// was sealed for and for no other. Nobody in a run makes one but a changer (a server can only
/// replay or redirect what it relayed), so this is what the real box's authentication gives.
#[derive(Debug, Clone)]
pub struct IdealBox {
    context: BoxContext,
    secret: EpochSecret,
}

impl IdealBox {
    fn open(&self, context: &BoxContext) -> Result<&EpochSecret, SchemeError> {
        if self.context == *context {
            Ok(&self.secret)
        } else {
            Err(SchemeError::Crypto)
        }
    }
}

impl Wire for Message {
    fn wire_len(&self) -> usize {
        MESSAGE_LEN
    }
    fn visit_bytes(&self, _f: &mut dyn FnMut(&[u8])) {}
}

/// A user's state: the current epoch and secret of each of its rooms.
#[derive(Debug)]
pub struct Client {
    me: UserId,
    rooms: HeldSecrets,
}

impl KeyDistribution for PairwiseDhModel {
    const NAME: &'static str = PairwiseDh::NAME;
    const SUMMARY: &'static str =
        "model of pairwise-dh: its messages and checks, secrets in the clear, no X25519";
    const PROPERTIES: KdProperties = PairwiseDh::PROPERTIES;
    type Credential = Credential;
    type Message = Message;
    type Client = Client;
    type Server = RelayServer<Self>;
    type Authority = DirectoryAuthority<Self>;

    fn new_server(_rng: &mut dyn CryptoRngCore) -> Result<Self::Server, SchemeError> {
        Ok(RelayServer::default())
    }

    fn enroll(
        _server: &mut Self::Server,
        _authority: &mut DirectoryAuthority<Self>,
        user: UserId,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<(Client, Credential), SchemeError> {
        Ok((
            Client {
                me: user,
                rooms: HeldSecrets::default(),
            },
            Credential,
        ))
    }
}

impl RelayOnly for PairwiseDhModel {
    const REFUSAL: &'static str = "the pairwise-dh server only relays";
}

impl KdClient for Client {
    type Kd = PairwiseDhModel;

    fn change(
        &mut self,
        roster: &Roster<'_>,
        change: &Change<'_>,
        directory: Directory<'_, PairwiseDhModel>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        let planned = planned_change(roster, self.me, change, self.rooms.epoch(room))?;
        let epoch = planned.epoch;
        let secret = EpochSecret::random(rng);
        let mut messages = Vec::with_capacity(roster.members.len().saturating_sub(1));
        for &member in roster.members.iter().filter(|m| **m != self.me) {
            // The real changer looks every recipient up to seal to it: so does the model.
            enrolled(directory, member)?;
            let joining = planned.joins(member);
            let context = BoxContext {
                room,
                epoch,
                joining,
                sender: self.me,
                recipient: member,
            };
            messages.push((
                member,
                Message {
                    epoch,
                    joining,
                    sealed: IdealBox {
                        context,
                        secret: secret.clone(),
                    },
                },
            ));
        }
        Ok(self
            .rooms
            .complete_change(room, epoch, secret, messages, out))
    }

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: Origin,
        msg: &Message,
        directory: Directory<'_, PairwiseDhModel>,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        let Some(sender) = member_sender(roster, from, self.me)? else {
            return Ok(Handled::Stale);
        };
        if !self.rooms.takes(room, msg.epoch, msg.joining)? {
            return Ok(Handled::Stale);
        }
        enrolled(directory, sender)?;
        let secret = msg.sealed.open(&BoxContext {
            room,
            epoch: msg.epoch,
            joining: msg.joining,
            sender,
            recipient: self.me,
        })?;
        self.rooms.hold(room, msg.epoch, secret.clone());
        Ok(Handled::NewEpoch(msg.epoch))
    }

    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.rooms.current(room)
    }

    /// As the real client: [`HELD_STATE_LEN`](crate::kd::held::HELD_STATE_LEN) bytes per room
    /// held.
    fn state_len(&mut self, room: RoomId) -> Result<usize, SchemeError> {
        Ok(self.rooms.state_len(room))
    }
}

/// The real scheme's refusal of a user missing from the directory.
fn enrolled(directory: &[Credential], user: UserId) -> Result<(), SchemeError> {
    usize::try_from(user.0)
        .ok()
        .and_then(|i| directory.get(i))
        .map(|_| ())
        .ok_or(SchemeError::Malformed("user missing from the directory"))
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::kd::held::HELD_STATE_LEN;
    use crate::kd::{KdAuthority, OrgId};
    use crate::Dest;

    /// Users `0..n` enrolled in one organisation: their clients and the directory.
    fn enrolled(n: u32, rng: &mut ChaCha20Rng) -> (Vec<Client>, Vec<Credential>) {
        let mut server = RelayServer::default();
        let mut authority = DirectoryAuthority::new(OrgId(0), rng).unwrap();
        (0..n)
            .map(|u| PairwiseDhModel::enroll(&mut server, &mut authority, UserId(u), rng).unwrap())
            .unzip()
    }

    #[test]
    fn a_change_sends_each_other_member_one_message_of_the_real_length() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (mut clients, directory) = enrolled(4, &mut rng);
        let members = [UserId(0), UserId(1), UserId(3)];
        let roster = Roster {
            room: RoomId(5),
            members: &members,
        };
        let mut out = Outbox::new();
        let h = clients[0]
            .change(&roster, &Change::Create, &directory, &mut rng, &mut out)
            .unwrap();
        assert_eq!(h, Handled::NewEpoch(Epoch(0)));
        let sent: Vec<(Dest, Message)> = out.drain().collect();
        assert_eq!(sent.len(), 2);
        for (dest, msg) in sent {
            assert_eq!(msg.wire_len(), MESSAGE_LEN);
            let Dest::User(to) = dest else {
                panic!("a message to {dest:?}")
            };
            let got = clients[to.0 as usize]
                .handle(
                    &roster,
                    Origin::User(UserId(0)),
                    &msg,
                    &directory,
                    &mut rng,
                    &mut Outbox::new(),
                )
                .unwrap();
            assert_eq!(got, Handled::NewEpoch(Epoch(0)));
            assert_eq!(
                clients[to.0 as usize].current(RoomId(5)),
                clients[0].current(RoomId(5))
            );
        }
        assert!(clients[2].current(RoomId(5)).is_none(), "not a member");
        assert_eq!(clients[1].state_len(RoomId(5)).unwrap(), HELD_STATE_LEN);
    }

    #[test]
    fn a_box_opens_only_for_the_room_and_recipient_it_was_sealed_for() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let (mut clients, directory) = enrolled(4, &mut rng);
        let members = [UserId(0), UserId(1), UserId(3)];
        let roster = |room| Roster {
            room,
            members: &members,
        };
        let mut out = Outbox::new();
        clients[0]
            .change(
                &roster(RoomId(5)),
                &Change::Create,
                &directory,
                &mut rng,
                &mut out,
            )
            .unwrap();
        let (_, to_1) = out
            .drain()
            .find(|(d, _)| *d == Dest::User(UserId(1)))
            .unwrap();
        let mut handle = |client: &mut Client, room| {
            client.handle(
                &roster(room),
                Origin::User(UserId(0)),
                &to_1,
                &directory,
                &mut rng,
                &mut Outbox::new(),
            )
        };
        let redirected = handle(&mut clients[3], RoomId(5));
        assert!(
            matches!(redirected, Err(SchemeError::Crypto)),
            "{redirected:?}"
        );
        let other_room = handle(&mut clients[1], RoomId(6));
        assert!(
            matches!(other_room, Err(SchemeError::Crypto)),
            "{other_room:?}"
        );
        assert!(clients[1].current(RoomId(6)).is_none());
        assert_eq!(
            handle(&mut clients[1], RoomId(5)).unwrap(),
            Handled::NewEpoch(Epoch(0))
        );
    }

    #[test]
    fn a_message_from_outside_the_roster_is_refused_as_the_real_client_refuses_it() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let (mut clients, directory) = enrolled(3, &mut rng);
        let members = [UserId(0), UserId(1)];
        let roster = Roster {
            room: RoomId(1),
            members: &members,
        };
        let context = BoxContext {
            room: RoomId(1),
            epoch: Epoch(0),
            joining: true,
            sender: UserId(2),
            recipient: UserId(1),
        };
        let msg = Message {
            epoch: Epoch(0),
            joining: true,
            sealed: IdealBox {
                context,
                secret: EpochSecret::random(&mut rng),
            },
        };
        let r = clients[1].handle(
            &roster,
            Origin::User(UserId(2)),
            &msg,
            &directory,
            &mut rng,
            &mut Outbox::new(),
        );
        assert!(r.is_err(), "{r:?}");
        assert!(clients[1].current(RoomId(1)).is_none());
    }
}
