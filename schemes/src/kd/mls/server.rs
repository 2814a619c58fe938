//! The MLS delivery service (RFC 9420 §16.2, RFC 9750 §5): it hands out key packages, orders
//! each room's commits (one per epoch; a commit on an epoch the room has left is refused) and
//! fans them out, the Welcome to the members a commit adds or re-adds (a member whose queued
//! commits expired). It never holds a group secret: commits are signed PublicMessages whose path
//! secrets are HPKE-encrypted to members, Welcomes are encrypted to the joiners' init keys.

use std::collections::VecDeque;

use crate::common::fixed_hash::HashMap;
use std::marker::PhantomData;

use super::client::ONE_TIME_KEY_PACKAGES;
use super::identity::user_of;
use super::member::parse;
use super::message::Message;
use super::provider::{MlsCrypto, SeededCrypto};
use super::MlsWith;
use crate::kd::{KdServer, Roster, ServerHandled};
use crate::{CryptoRngCore, Dest, Epoch, EpochSecret, Misuse, Outbox, RoomId, SchemeError, UserId};

/// A user's key packages at the delivery service.
#[derive(Debug, Clone)]
struct Stock {
    one_time: VecDeque<Vec<u8>>,
    /// Handed out when the one-time ones are gone (RFC 9420 §16.8), never used up.
    last_resort: Vec<u8>,
}

/// What the delivery service keeps of a room.
#[derive(Debug, Clone)]
struct Ordering {
    /// The epoch the next commit must be made on.
    epoch: u64,
    /// The members after the last commit it accepted.
    members: Vec<UserId>,
}

/// The `mls` key server: a delivery service.
#[derive(Debug)]
pub struct DeliveryService<const SUITE: u16 = 1, C = SeededCrypto> {
    stock: HashMap<UserId, Stock>,
    rooms: HashMap<RoomId, Ordering>,
    suite: PhantomData<MlsWith<SUITE, C>>,
}

// By hand: a derived impl would require `C: Default` of the provider, which is only a marker.
impl<const SUITE: u16, C> Default for DeliveryService<SUITE, C> {
    fn default() -> Self {
        Self {
            stock: HashMap::default(),
            rooms: HashMap::default(),
            suite: PhantomData,
        }
    }
}

impl<const SUITE: u16, C> DeliveryService<SUITE, C> {
    /// Stores `user`'s key packages, handed over at enrolment.
    pub(super) fn enroll(&mut self, user: UserId, one_time: Vec<Vec<u8>>, last_resort: Vec<u8>) {
        self.stock.insert(
            user,
            Stock {
                one_time: one_time.into(),
                last_resort,
            },
        );
    }

    /// Key packages for `users`, one each.
    fn key_packages(&mut self, users: &[UserId]) -> Result<Vec<(UserId, Vec<u8>)>, SchemeError> {
        users
            .iter()
            .map(|&u| {
                let stock = self.stock.get_mut(&u).ok_or(Misuse::UnexpectedMessage(
                    "key packages of a user who never enrolled",
                ))?;
                let package = stock
                    .one_time
                    .pop_front()
                    .unwrap_or_else(|| stock.last_resort.clone());
                Ok((u, package))
            })
            .collect()
    }

    fn commit(
        &mut self,
        roster: &Roster<'_>,
        from: UserId,
        commit: Vec<u8>,
        welcome: Option<Vec<u8>>,
        readded: &[UserId],
        out: &mut Outbox<Message>,
    ) -> Result<ServerHandled, SchemeError> {
        let room = roster.room;
        let epoch = parse(&commit)?
            .epoch()
            .ok_or(SchemeError::Malformed("a commit without an epoch"))?;
        let ordering = self.rooms.entry(room).or_insert_with(|| Ordering {
            epoch: 0,
            members: vec![from],
        });
        if epoch != ordering.epoch {
            // Another commit on that epoch came first (or the member is behind): it must redo
            // its change on the room's current epoch.
            return Ok(ServerHandled::Stale);
        }
        let (mut existing, mut joiners) = (Vec::new(), Vec::new());
        if readded.iter().any(|u| {
            *u == from || ordering.members.binary_search(u).is_err() || !roster.contains(*u)
        }) {
            return Err(SchemeError::Malformed("a rejoin of someone not a member"));
        }
        for &u in roster.members {
            if u == from {
                continue;
            }
            if ordering.members.binary_search(&u).is_ok() && !readded.contains(&u) {
                existing.push(u);
            } else {
                joiners.push(u);
            }
        }
        let welcome = match (joiners.is_empty(), welcome) {
            (true, None) => None,
            (false, Some(w)) => Some(w),
            (true, Some(_)) => return Err(SchemeError::Malformed("a Welcome for nobody")),
            (false, None) => return Err(SchemeError::Malformed("new members but no Welcome")),
        };
        ordering.epoch += 1;
        ordering.members = roster.members.to_vec();
        if !existing.is_empty() {
            out.send(Dest::Users(existing), Message::Handshake { room, commit });
        }
        if let Some(welcome) = welcome {
            out.send(Dest::Users(joiners), Message::Welcome { room, welcome });
        }
        out.send(Dest::User(from), Message::Accepted { room, epoch });
        Ok(ServerHandled::Processed)
    }
}

impl<const SUITE: u16, C: MlsCrypto> KdServer for DeliveryService<SUITE, C> {
    type Kd = MlsWith<SUITE, C>;

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: UserId,
        msg: Message,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<ServerHandled, SchemeError> {
        let room = roster.room;
        if msg.room() != room {
            return Err(SchemeError::Malformed("a message about another room"));
        }
        match msg {
            Message::FetchKeyPackages { users, .. } => {
                if !roster.contains(from) {
                    return Err(Misuse::NotAMember { user: from, room }.into());
                }
                let packages = self.key_packages(&users)?;
                out.send(Dest::User(from), Message::KeyPackages { room, packages });
                Ok(ServerHandled::Processed)
            }
            Message::UploadKeyPackage { package, .. } => {
                let owner = parse(&package)?
                    .as_key_package()
                    .and_then(|kp| user_of(kp.signing_identity()));
                if owner != Some(from) {
                    return Err(SchemeError::Malformed("a key package of another user"));
                }
                let stock = self.stock.get_mut(&from).ok_or(Misuse::UnexpectedMessage(
                    "key packages of a user who never enrolled",
                ))?;
                if stock.one_time.len() < ONE_TIME_KEY_PACKAGES {
                    stock.one_time.push_back(package);
                }
                Ok(ServerHandled::Processed)
            }
            Message::Commit {
                commit,
                welcome,
                readded,
                ..
            } => {
                if !roster.contains(from) {
                    return Err(Misuse::NotAMember { user: from, room }.into());
                }
                self.commit(roster, from, commit, welcome, &readded, out)
            }
            Message::KeyPackages { .. }
            | Message::Handshake { .. }
            | Message::Welcome { .. }
            | Message::Accepted { .. } => {
                Err(Misuse::UnexpectedMessage("a message for a member").into())
            }
        }
    }

    fn known_epoch_secret(&self, _room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        None
    }
}
