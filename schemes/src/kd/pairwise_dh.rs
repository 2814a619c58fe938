//! `pairwise-dh`: the member making a change sends a fresh epoch secret to every member over
//! pairwise channels.
//!
//! # Source
//!
//! The "changer distributes over pairwise channels" baseline of end-to-end encrypted group chat
//! (the key-distribution half of client-side fan-out, research/groupkeys.md §3.1(a)). The pairwise
//! channel is shaped like HPKE's authenticated mode (RFC 9180 §5.1.3).
//!
//! # Construction
//!
//! On every membership change (creation, add, remove) the member making it draws a fresh 32-byte
//! [`EpochSecret`] and seals it to each other member of the new roster (joiners included, removed
//! members excluded) in a [`sealed_box`](super::sealed_box): static-ephemeral X25519, HKDF-SHA-256
//! and ChaCha20-Poly1305, shaped like HPKE's authenticated mode (RFC 9180 §5.1.3). Each box is
//! bound to the context (scheme name, room, new epoch, whether the recipient is joining, sender,
//! recipient), so a box cannot be replayed to another member, room or epoch.
//!
//! Credentials are the users' static X25519 public keys ([`Credential`]), published in the
//! directory at enrolment; each client keeps its [`StaticKeyPair`](super::sealed_box::StaticKeyPair). The key server only relays
//! boxes: its [`KdServer::handle`](crate::kd::KdServer::handle) rejects anything addressed to it.
//!
//! The changer holds the new epoch as soon as [`KdClient::change`] returns; every other member
//! holds it once it opened its box.
//!
//! The scheme is generic over its crypto provider ([`PairwiseDhWith`], [`super::provider`]):
//! [`PairwiseDh`] runs it with [`Real`] cryptography, [`crate::model::pairwise_dh`] with ideal
//! objects, so the model is this very protocol code.
//!
//! # Costs
//!
//! Flows and costs, n = members after the change:
//!
//! | change | messages |
//! |---|---|
//! | create, add, remove | changer → each other member: one box with the new epoch secret (n − 1 boxes, n − 1 X25519 pairs at the changer; 2 X25519 at each recipient) |
//!
//! Every box is a message of [`MESSAGE_LEN`] bytes (joining flag, epoch, the sealed secret),
//! whoever sends it to whom; [`change_traffic`] gives a change's n − 1 uploads and n − 1
//! deliveries. There is no rejoin, no per-message layer and nothing issued per period.
//!
//! ## State of a stateless terminal
//!
//! Per room: the epoch and its secret (8 + 32 bytes, [`KdClient::state_len`]). The static X25519
//! secret is the user's long-term credential, which a terminal holds at login (DESIGN.md §2); it
//! is not counted per room.
//!
//! # Security
//!
//! * The server learns nothing: it relays boxes it cannot open (it never holds an epoch secret).
//! * A removed member is excluded from every later epoch, as long as its static key is not used
//!   any more: later secrets are sealed only to the members of the new roster.
//! * A joiner receives only the new epoch secret, never an earlier one.
//! * Recipients check that the sender is on the roster, that the epoch is exactly the next one
//!   (joiners: any epoch after the one they may still hold) and that the box authenticates under
//!   the sender's static key.
//!
//! An active server cannot open, forge or redirect a box, but it keeps the roster: see the last
//! weakness below.
//!
//! # Weaknesses
//!
//! * O(n) public-key work and O(n) uploads at the changer on every change.
//! * No post-compromise security beyond the fresh secret: whoever holds a member's static X25519
//!   secret opens every future box sent to that member, and the static key is never rotated. No
//!   forward secrecy against that compromise either (boxes use the recipient's static key).
//! * Membership is the chat server's roster, not authenticated end to end: a malicious server can
//!   add a member to the roster and the changer will seal the next secret to it.
//!
//! # Side channels
//!
//! X25519 (curve25519-dalek), HKDF-SHA-256 and ChaCha20-Poly1305 (RustCrypto) are constant time;
//! nothing secret-dependent is variable time. Which members receive a box is visible to the
//! server, not secret.

use core::marker::PhantomData;

use super::held::{member_sender, planned_change, HeldSecrets};
use super::provider::{Real, SealedBoxes, StaticKeys};
use super::relay::{RelayOnly, RelayServer};
use super::sealed_box::SealedBox;
use super::DirectoryAuthority;
use super::{
    Change, Directory, Handled, KdClient, KdProperties, KeyDistribution, Origin, Roster, Traffic,
};
use crate::{CryptoRngCore, Epoch, EpochSecret, Outbox, RoomId, SchemeError, UserId, Wire};

/// The pairwise-dh scheme over crypto provider `P`: [`PairwiseDh`] with real cryptography, its
/// model ([`crate::model::pairwise_dh`]) with ideal objects.
#[derive(Debug, Clone, Copy, Default)]
pub struct PairwiseDhWith<P>(PhantomData<P>);

/// The pairwise-dh scheme (the changer seals a fresh epoch secret to each member).
pub type PairwiseDh = PairwiseDhWith<Real>;

/// A user's public credential: its static public key (X25519 for [`Real`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential<P: StaticKeys = Real>(pub P::PublicKey);

impl<P: StaticKeys> Wire for Credential<P> {
    fn wire_len(&self) -> usize {
        P::PUBLIC_KEY_LEN
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        P::visit_public(&self.0, f);
    }
}

/// The message of pairwise-dh: a new epoch secret sealed from the changer to one member.
#[derive(Debug, Clone)]
pub struct Message<P: SealedBoxes = Real> {
    epoch: Epoch,
    joining: bool,
    sealed: P::Sealed,
}

impl<P: SealedBoxes> Message<P> {
    /// The epoch the secret is for.
    #[must_use]
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Whether the recipient is joining the room (or the room is being created).
    #[must_use]
    pub fn joining(&self) -> bool {
        self.joining
    }
}

impl<P: SealedBoxes> Wire for Message<P> {
    fn wire_len(&self) -> usize {
        // joining flag, epoch, box
        1 + 8 + self.sealed.wire_len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        self.sealed.visit_bytes(f);
    }
}

#[cfg(any(test, feature = "testing"))]
impl<P: SealedBoxes> crate::testing::Tamper for Message<P>
where
    P::Sealed: crate::testing::Tamper,
{
    fn tamper(&mut self) -> bool {
        self.sealed.tamper()
    }
}

/// A user's pairwise-dh state: its static key pair and the current epoch of each of its rooms.
#[derive(Debug)]
pub struct Client<P: SealedBoxes = Real> {
    me: UserId,
    keys: P::KeyPair,
    rooms: HeldSecrets,
}

/// The key server of pairwise-dh: a relay that computes nothing.
pub type Server<P = Real> = RelayServer<PairwiseDhWith<P>>;

/// Bytes of a pairwise-dh message on the wire (flag, epoch, box of a 32-byte secret).
pub const MESSAGE_LEN: usize = 1 + 8 + SealedBox::OVERHEAD + 32;

/// The messages of any change (creation, add or removal) of a room of `members` after it: the
/// changer's box to each other member, relayed by the key server.
#[must_use]
pub fn change_traffic(members: usize) -> Traffic {
    Traffic::relayed(vec![(members.saturating_sub(1), MESSAGE_LEN)])
}

impl<P: SealedBoxes> KeyDistribution for PairwiseDhWith<P> {
    const NAME: &'static str = "pairwise-dh";
    const SUMMARY: &'static str = if P::IDEAL {
        "model of pairwise-dh: its messages and checks, with ideal boxes (no X25519)"
    } else {
        "the changer seals a fresh epoch secret to each member over pairwise X25519 channels"
    };
    const PROPERTIES: KdProperties = KdProperties {
        server_knows_epoch_secret: false,
        removal_excludes: true,
        join_excludes_past: true,
        authority_can_derive: false,
        layer_hides_history_from_joiners: false,
        heals_after_update: false,
        rejoins: false,
    };
    type Credential = Credential<P>;
    type Message = Message<P>;
    type Client = Client<P>;
    type Server = Server<P>;
    type Authority = DirectoryAuthority<Self>;

    fn new_server(_rng: &mut dyn CryptoRngCore) -> Result<Server<P>, SchemeError> {
        Ok(Server::default())
    }

    fn enroll(
        _server: &mut Server<P>,
        _authority: &mut DirectoryAuthority<Self>,
        user: UserId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(Client<P>, Credential<P>), SchemeError> {
        let keys = P::generate(rng);
        let cred = Credential(P::public(&keys));
        Ok((
            Client {
                me: user,
                keys,
                rooms: HeldSecrets::default(),
            },
            cred,
        ))
    }
}

/// The static public key of `user` in the directory.
pub(crate) fn lookup<P: StaticKeys>(
    directory: &[Credential<P>],
    user: UserId,
) -> Result<&P::PublicKey, SchemeError> {
    usize::try_from(user.0)
        .ok()
        .and_then(|i| directory.get(i))
        .map(|c| &c.0)
        .ok_or(SchemeError::Malformed("user missing from the directory"))
}

/// The context a box is bound to.
fn context(
    room: RoomId,
    epoch: Epoch,
    joining: bool,
    sender: UserId,
    recipient: UserId,
) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(PairwiseDh::NAME.len() + 21);
    ctx.extend_from_slice(PairwiseDh::NAME.as_bytes());
    ctx.extend_from_slice(&room.0.to_be_bytes());
    ctx.extend_from_slice(&epoch.0.to_be_bytes());
    ctx.push(u8::from(joining));
    ctx.extend_from_slice(&sender.0.to_be_bytes());
    ctx.extend_from_slice(&recipient.0.to_be_bytes());
    ctx
}

impl<P: SealedBoxes> Client<P> {
    /// This client's user.
    #[must_use]
    pub fn user(&self) -> UserId {
        self.me
    }
}

impl<P: SealedBoxes> KdClient for Client<P> {
    type Kd = PairwiseDhWith<P>;

    fn change(
        &mut self,
        roster: &Roster<'_>,
        change: &Change<'_>,
        directory: Directory<'_, PairwiseDhWith<P>>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message<P>>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        let planned = planned_change(roster, self.me, change, self.rooms.epoch(room))?;
        let epoch = planned.epoch;
        let secret = EpochSecret::random(rng);
        // Seal every box before touching state or the outbox, so a failure leaves neither changed.
        let mut boxes = Vec::with_capacity(roster.members.len().saturating_sub(1));
        for &member in roster.members.iter().filter(|m| **m != self.me) {
            let joining = planned.joins(member);
            let ctx = context(room, epoch, joining, self.me, member);
            let recipient = lookup(directory, member)?;
            let sealed = P::seal(&self.keys, recipient, &ctx, secret.as_bytes(), rng)?;
            boxes.push((
                member,
                Message {
                    epoch,
                    joining,
                    sealed,
                },
            ));
        }
        Ok(self.rooms.complete_change(room, epoch, secret, boxes, out))
    }

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: Origin,
        msg: &Message<P>,
        directory: Directory<'_, PairwiseDhWith<P>>,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<Message<P>>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        let Some(sender) = member_sender(roster, from, self.me)? else {
            return Ok(Handled::Stale);
        };
        if !self.rooms.takes(room, msg.epoch, msg.joining)? {
            return Ok(Handled::Stale);
        }
        let ctx = context(room, msg.epoch, msg.joining, sender, self.me);
        let plain = P::open(&self.keys, lookup(directory, sender)?, &ctx, &msg.sealed)?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| SchemeError::Malformed("epoch secret of the wrong length"))?;
        self.rooms
            .hold(room, msg.epoch, EpochSecret::from_bytes(bytes));
        Ok(Handled::NewEpoch(msg.epoch))
    }

    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.rooms.current(room)
    }

    /// Epoch and secret, if the client holds the room (the static key is the user's long-term
    /// credential and not counted per room).
    fn state_len(&mut self, room: RoomId) -> Result<usize, SchemeError> {
        Ok(self.rooms.state_len(room))
    }
}

impl<P: SealedBoxes> RelayOnly for PairwiseDhWith<P> {
    const REFUSAL: &'static str = "the pairwise-dh server only relays";
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::kd::KdServer;
    use crate::Dest;
    use crate::Misuse;

    fn setup(n: u32, rng: &mut ChaCha20Rng) -> (Vec<Client>, Vec<Credential>) {
        let mut server = Server::default();
        let mut directory = <DirectoryAuthority<PairwiseDh> as crate::kd::KdAuthority>::new(
            crate::kd::OrgId(0),
            rng,
        )
        .unwrap();
        (0..n)
            .map(|u| PairwiseDh::enroll(&mut server, &mut directory, UserId(u), rng).unwrap())
            .unzip()
    }

    #[test]
    fn create_then_checks() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let (mut clients, dir) = setup(4, &mut rng);
        let members = [UserId(0), UserId(1), UserId(2)];
        let roster = Roster {
            room: RoomId(1),
            members: &members,
        };
        let mut out = Outbox::new();
        let h = clients[0]
            .change(&roster, &Change::Create, &dir, &mut rng, &mut out)
            .unwrap();
        assert_eq!(h, Handled::NewEpoch(Epoch(0)));
        assert_eq!(out.len(), 2);
        let msgs: Vec<(Dest, Message)> = out.drain().collect();
        for (d, m) in &msgs {
            assert_eq!(m.wire_len(), MESSAGE_LEN);
            let Dest::User(to) = d else { panic!() };
            let got = clients[to.0 as usize]
                .handle(
                    &roster,
                    Origin::User(UserId(0)),
                    m,
                    &dir,
                    &mut rng,
                    &mut Outbox::new(),
                )
                .unwrap();
            assert_eq!(got, Handled::NewEpoch(Epoch(0)));
        }
        // Replaying the box is a stale epoch; a box claimed to come from another member fails.
        let (_, m) = &msgs[0];
        let replay = clients[1].handle(
            &roster,
            Origin::User(UserId(0)),
            m,
            &dir,
            &mut rng,
            &mut Outbox::new(),
        );
        assert_eq!(replay, Ok(Handled::Stale));
        // The server handles nothing.
        assert!(Server::default()
            .handle(&roster, UserId(0), m.clone(), &mut rng, &mut Outbox::new())
            .is_err());
        // A non-member cannot change the room.
        assert!(matches!(
            clients[3].change(
                &roster,
                &Change::Remove(&[]),
                &dir,
                &mut rng,
                &mut Outbox::new()
            ),
            Err(SchemeError::Misuse(Misuse::NotAMember { .. }))
        ));
        assert_eq!(clients[1].state_len(RoomId(1)).unwrap(), 40);
        assert_eq!(clients[3].state_len(RoomId(1)).unwrap(), 0);
    }

    /// A box of a fresh secret from user 0 (`from`) to user 1 in room 1, made directly.
    fn boxed(
        from: &Client,
        dir: &[Credential],
        epoch: Epoch,
        joining: bool,
        rng: &mut ChaCha20Rng,
    ) -> Message {
        let ctx = context(RoomId(1), epoch, joining, UserId(0), UserId(1));
        let secret = EpochSecret::random(rng);
        let sealed = Real::seal(&from.keys, &dir[1].0, &ctx, secret.as_bytes(), rng);
        Message {
            epoch,
            joining,
            sealed: sealed.unwrap(),
        }
    }

    /// A member (the changer of a room is any member) boxes a joiner an epoch at the end of the
    /// counter: it must be refused, so that the joiner's next epoch cannot wrap around to 0.
    #[test]
    fn joiner_box_at_the_end_of_the_epoch_range_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let (mut clients, dir) = setup(2, &mut rng);
        let members = [UserId(0), UserId(1)];
        let roster = Roster {
            room: RoomId(1),
            members: &members,
        };
        let far = boxed(&clients[0], &dir, Epoch(u64::MAX), true, &mut rng);
        // Had it been accepted, a box of epoch 0 would be taken as the next one.
        let wrapped = boxed(&clients[0], &dir, Epoch(0), false, &mut rng);
        let mut open = |msg: &Message| {
            let from = Origin::User(UserId(0));
            clients[1].handle(&roster, from, msg, &dir, &mut rng, &mut Outbox::new())
        };
        let got = open(&far);
        assert!(
            matches!(got, Err(SchemeError::Malformed(_))),
            "epoch u64::MAX accepted: {got:?}"
        );
        assert!(open(&wrapped).is_err());
    }
}
