//! Two broken key distributions over `pairwise-dh`, each claiming what `pairwise-dh` claims.
//!
//! * [`LeaksToRemoved`]: the member who removes someone also hands the removed user the new
//!   epoch secret (sealed under the secret it kept, so no server sees it in the clear).
//! * [`Diverges`]: one member (user 1) derives a perturbed secret, so members end on different
//!   secrets.
//!
//! Everything else is forwarded whole to `pairwise-dh`, results included.

use std::collections::BTreeMap;

use conclave_schemes::kd::pairwise_dh::PairwiseDh;
use conclave_schemes::kd::{
    Change, Directory, DirectoryAuthority, Handled, KdAuthority, KdClient, KdProperties, KdServer,
    KeyDistribution, MessageLayer, OrgId, Origin, Roster, ServerHandled,
};
use conclave_schemes::{
    CryptoRngCore, Dest, Epoch, EpochSecret, Label, Misuse, Outbox, RoomId, SchemeError, UserId,
    Wire,
};

type Inner = PairwiseDh;
type InnerClient = <Inner as KeyDistribution>::Client;
type InnerServer = <Inner as KeyDistribution>::Server;
type InnerMessage = <Inner as KeyDistribution>::Message;

// ---------------------------------------------------------------------------------------------
// A removed member receives the new epoch secret.

/// `pairwise-dh`, except that a removal also sends the removed users the new epoch secret.
#[derive(Debug)]
pub struct LeaksToRemoved;

/// A `pairwise-dh` message, or the new secret for a removed user.
#[derive(Debug, Clone)]
pub enum LeakyMessage {
    /// `pairwise-dh`'s own.
    Inner(InnerMessage),
    /// The secret of `epoch`, XORed with a pad derived from the secret of `kept` (the epoch the
    /// removed user last held), so that only the removed user recovers it.
    Leak {
        /// The epoch the removed user holds.
        kept: Epoch,
        /// The epoch whose secret this is.
        epoch: Epoch,
        /// The padded secret.
        padded: [u8; 32],
    },
}

impl Wire for LeakyMessage {
    fn wire_len(&self) -> usize {
        match self {
            Self::Inner(m) => 1 + m.wire_len(),
            Self::Leak { .. } => 1 + 8 + 8 + 32,
        }
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        match self {
            Self::Inner(m) => m.visit_bytes(f),
            Self::Leak { padded, .. } => f(padded),
        }
    }
}

const LEAK_PAD: Label = Label::Custom("broken kd: leak to a removed member");

fn pad(kept: &EpochSecret, room: RoomId, epoch: Epoch, bytes: &[u8; 32]) -> [u8; 32] {
    let pad = kept.derive(LEAK_PAD, room, epoch);
    std::array::from_fn(|i| bytes[i] ^ pad[i])
}

/// A user's state: `pairwise-dh`'s, and the secret a leak gave it per room.
#[derive(Debug)]
pub struct LeakyClient {
    me: UserId,
    inner: InnerClient,
    leaked: BTreeMap<RoomId, (Epoch, EpochSecret)>,
}

/// `pairwise-dh`'s server.
#[derive(Debug)]
pub struct LeakyServer(InnerServer);

fn wrap_outbox(inner: Outbox<InnerMessage>, out: &mut Outbox<LeakyMessage>) {
    for (dest, m) in inner.map_into(LeakyMessage::Inner).drain() {
        out.send(dest, m);
    }
}

impl KeyDistribution for LeaksToRemoved {
    const NAME: &'static str = "broken-leaks-to-removed";
    const SUMMARY: &'static str = "pairwise-dh that sends a removed member the new epoch secret";
    const PROPERTIES: KdProperties = Inner::PROPERTIES;
    type Credential = <Inner as KeyDistribution>::Credential;
    type Message = LeakyMessage;
    type Client = LeakyClient;
    type Server = LeakyServer;
    type Authority = DirectoryAuthority<Self>;

    fn new_server(rng: &mut dyn CryptoRngCore) -> Result<LeakyServer, SchemeError> {
        Inner::new_server(rng).map(LeakyServer)
    }

    fn enroll(
        server: &mut LeakyServer,
        _authority: &mut DirectoryAuthority<Self>,
        user: UserId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(LeakyClient, Self::Credential), SchemeError> {
        // The inner scheme's directory stands for this one's: it holds nothing.
        let mut directory = DirectoryAuthority::<Inner>::new(OrgId(0), rng)?;
        let (inner, credential) = Inner::enroll(&mut server.0, &mut directory, user, rng)?;
        let client = LeakyClient {
            me: user,
            inner,
            leaked: BTreeMap::new(),
        };
        Ok((client, credential))
    }
}

impl KdClient for LeakyClient {
    type Kd = LeaksToRemoved;

    fn change(
        &mut self,
        roster: &Roster<'_>,
        change: &Change<'_>,
        directory: Directory<'_, LeaksToRemoved>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<LeakyMessage>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        let before = self.inner.current(room).map(|(e, s)| (e, s.clone()));
        let mut inner_out = Outbox::new();
        let handled = self
            .inner
            .change(roster, change, directory, rng, &mut inner_out);
        wrap_outbox(inner_out, out);
        if let (Change::Remove(removed), Some((kept, kept_secret)), Some((epoch, secret))) =
            (change, before, self.inner.current(room))
        {
            if epoch > kept {
                for &user in *removed {
                    let padded = pad(&kept_secret, room, epoch, secret.as_bytes());
                    out.send(
                        Dest::User(user),
                        LeakyMessage::Leak {
                            kept,
                            epoch,
                            padded,
                        },
                    );
                }
            }
        }
        handled
    }

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: Origin,
        msg: &LeakyMessage,
        directory: Directory<'_, LeaksToRemoved>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<LeakyMessage>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        match msg {
            LeakyMessage::Inner(m) => {
                let mut inner_out = Outbox::new();
                let handled = self
                    .inner
                    .handle(roster, from, m, directory, rng, &mut inner_out);
                wrap_outbox(inner_out, out);
                handled
            }
            LeakyMessage::Leak {
                kept,
                epoch,
                padded,
            } => match self.inner.current(room) {
                Some((held, secret)) if held == *kept => {
                    let leaked = EpochSecret::from_bytes(pad(secret, room, *epoch, padded));
                    self.leaked.insert(room, (*epoch, leaked));
                    Ok(Handled::NewEpoch(*epoch))
                }
                // Sealed under a secret this user no longer holds: overtaken.
                Some(_) => Ok(Handled::Stale),
                None => Err(Misuse::NotAMember {
                    user: self.me,
                    room,
                }
                .into()),
            },
        }
    }

    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        let inner = self.inner.current(room);
        match self.leaked.get(&room) {
            Some((e, s)) if inner.is_none_or(|(held, _)| held < *e) => Some((*e, s)),
            _ => inner,
        }
    }

    fn state_len(&mut self, room: RoomId) -> Result<usize, SchemeError> {
        self.inner.state_len(room)
    }

    fn message_layer(&mut self) -> Option<&mut dyn MessageLayer> {
        self.inner.message_layer()
    }
}

impl KdServer for LeakyServer {
    type Kd = LeaksToRemoved;

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: UserId,
        msg: LeakyMessage,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<LeakyMessage>,
    ) -> Result<ServerHandled, SchemeError> {
        match msg {
            LeakyMessage::Inner(m) => {
                let mut inner_out = Outbox::new();
                let r = self.0.handle(roster, from, m, rng, &mut inner_out);
                wrap_outbox(inner_out, out);
                r
            }
            // Leaks are addressed to a user and only relayed.
            LeakyMessage::Leak { .. } => Err(SchemeError::Malformed(
                "a leak is for a removed user, not the server",
            )),
        }
    }

    fn known_epoch_secret(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.0.known_epoch_secret(room)
    }
}

// ---------------------------------------------------------------------------------------------
// Members end on different secrets.

/// The member whose secret [`Diverges`] perturbs.
pub const DIVERGING_USER: UserId = UserId(1);

/// `pairwise-dh`, except that [`DIVERGING_USER`] holds every epoch secret with one bit flipped.
#[derive(Debug)]
pub struct Diverges;

/// A user's state: `pairwise-dh`'s, and for the diverging user the perturbed secret per room.
#[derive(Debug)]
pub struct DivergingClient {
    inner: InnerClient,
    diverges: bool,
    perturbed: BTreeMap<RoomId, (Epoch, EpochSecret)>,
}

/// `pairwise-dh`'s server.
#[derive(Debug)]
pub struct DivergingServer(InnerServer);

impl DivergingClient {
    /// Re-derives the perturbed secret after the inner client may have moved on.
    fn refresh(&mut self, room: RoomId) {
        if !self.diverges {
            return;
        }
        if let Some((epoch, secret)) = self.inner.current(room) {
            let mut bytes = *secret.as_bytes();
            bytes[0] ^= 1;
            self.perturbed
                .insert(room, (epoch, EpochSecret::from_bytes(bytes)));
        }
    }
}

impl KeyDistribution for Diverges {
    const NAME: &'static str = "broken-diverges";
    const SUMMARY: &'static str = "pairwise-dh in which user 1 holds a perturbed epoch secret";
    const PROPERTIES: KdProperties = Inner::PROPERTIES;
    type Credential = <Inner as KeyDistribution>::Credential;
    type Message = InnerMessage;
    type Client = DivergingClient;
    type Server = DivergingServer;
    type Authority = DirectoryAuthority<Self>;

    fn new_server(rng: &mut dyn CryptoRngCore) -> Result<DivergingServer, SchemeError> {
        Inner::new_server(rng).map(DivergingServer)
    }

    fn enroll(
        server: &mut DivergingServer,
        _authority: &mut DirectoryAuthority<Self>,
        user: UserId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(DivergingClient, Self::Credential), SchemeError> {
        // The inner scheme's directory stands for this one's: it holds nothing.
        let mut directory = DirectoryAuthority::<Inner>::new(OrgId(0), rng)?;
        let (inner, credential) = Inner::enroll(&mut server.0, &mut directory, user, rng)?;
        let client = DivergingClient {
            inner,
            diverges: user == DIVERGING_USER,
            perturbed: BTreeMap::new(),
        };
        Ok((client, credential))
    }
}

impl KdClient for DivergingClient {
    type Kd = Diverges;

    fn change(
        &mut self,
        roster: &Roster<'_>,
        change: &Change<'_>,
        directory: Directory<'_, Diverges>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<InnerMessage>,
    ) -> Result<Handled, SchemeError> {
        let handled = self.inner.change(roster, change, directory, rng, out);
        self.refresh(roster.room);
        handled
    }

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: Origin,
        msg: &InnerMessage,
        directory: Directory<'_, Diverges>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<InnerMessage>,
    ) -> Result<Handled, SchemeError> {
        let handled = self.inner.handle(roster, from, msg, directory, rng, out);
        self.refresh(roster.room);
        handled
    }

    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        if self.diverges {
            self.perturbed.get(&room).map(|(e, s)| (*e, s))
        } else {
            self.inner.current(room)
        }
    }

    fn state_len(&mut self, room: RoomId) -> Result<usize, SchemeError> {
        self.inner.state_len(room)
    }

    fn message_layer(&mut self) -> Option<&mut dyn MessageLayer> {
        self.inner.message_layer()
    }
}

impl KdServer for DivergingServer {
    type Kd = Diverges;

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: UserId,
        msg: InnerMessage,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<InnerMessage>,
    ) -> Result<ServerHandled, SchemeError> {
        self.0.handle(roster, from, msg, rng, out)
    }

    fn known_epoch_secret(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.0.known_epoch_secret(room)
    }
}
