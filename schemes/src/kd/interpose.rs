//! The key server as an active adversary: a room created through a server set up by
//! [`KeyDistribution::new_interposing_server`], and what each party then holds.
//!
//! The experiment is the same for every scheme: enrol the members with the interposing server,
//! let user 0 create a room with all of them, deliver every message synchronously until none is
//! left, and compare the server's claim with the members' own secrets. A member that refuses a
//! message stops the change there: the attack was detected.

use super::{
    Change, Directory, KdAuthority, KdClient, KdServer, KeyDistribution, OrgId, Origin, Roster,
};
use crate::common::router::{route, Arrival, Misrouted};
use crate::{CryptoRngCore, Epoch, EpochSecret, Outbox, RoomId, SchemeError, UserId};

/// The room the experiment creates.
pub const INTERPOSED_ROOM: RoomId = RoomId(0);

/// What an interposed room creation left with each party.
#[derive(Debug, Clone)]
pub struct InterposedRoom {
    /// Each member's [`KdClient::current`] for the room once delivery stopped, by id.
    pub members: Vec<(UserId, Option<(Epoch, EpochSecret)>)>,
    /// The server's [`KdServer::known_epoch_secret`] for the room: what it claims to have
    /// derived.
    pub server_claim: Option<(Epoch, EpochSecret)>,
    /// The member that refused a message, and why (it detected the interference; nothing was
    /// delivered after that).
    pub refused: Option<(UserId, SchemeError)>,
}

impl InterposedRoom {
    /// Whether the attack exposed the room: every member holds an epoch secret and it is the
    /// one the server claims. A claim no member confirms counts for nothing.
    #[must_use]
    pub fn exposed(&self) -> bool {
        let Some(claim) = &self.server_claim else {
            return false;
        };
        !self.members.is_empty()
            && self
                .members
                .iter()
                .all(|(_, held)| held.as_ref() == Some(claim))
    }
}

/// Creates a room of `members` users (ids `0..members`, created by user 0) through scheme `K`'s
/// interposing server; `None` if `K` has no interposing server.
///
/// # Errors
/// [`SchemeError::Malformed`] if `members` is zero; otherwise what setting up the server,
/// enrolling a user, starting the change or the server's handling of a message returns. A
/// member's refusal is not an error: it is [`InterposedRoom::refused`].
pub fn interposed_room<K: KeyDistribution>(
    members: u32,
    rng: &mut dyn CryptoRngCore,
) -> Result<Option<InterposedRoom>, SchemeError> {
    let Some(server) = K::new_interposing_server(rng) else {
        return Ok(None);
    };
    if members == 0 {
        return Err(SchemeError::Malformed(
            "an interposed room needs at least one member",
        ));
    }
    let mut server = server?;
    let mut clients = Vec::with_capacity(members as usize);
    let mut directory = Vec::with_capacity(members as usize);
    let mut authority = K::Authority::new(OrgId(0), rng)?;
    for u in 0..members {
        let (client, credential) = K::enroll(&mut server, &mut authority, UserId(u), rng)?;
        clients.push(client);
        directory.push(credential);
    }
    let ids: Vec<UserId> = (0..members).map(UserId).collect();
    let roster = Roster {
        room: INTERPOSED_ROOM,
        members: &ids,
    };
    let changer = UserId(0);
    let mut out = Outbox::new();
    clients[0].change(&roster, &Change::Create, &directory, rng, &mut out)?;
    let refused = deliver::<K>(
        &mut server,
        &mut clients,
        &directory,
        &roster,
        (changer, out),
        OnRefusal::Stop,
        rng,
    )?
    .into_iter()
    .next();
    Ok(Some(InterposedRoom {
        members: ids
            .iter()
            .zip(&clients)
            .map(|(u, c)| (*u, held(c.current(INTERPOSED_ROOM))))
            .collect(),
        server_claim: held(server.known_epoch_secret(INTERPOSED_ROOM)),
        refused,
    }))
}

/// What an attacker's client (a removed member's that ignores its removal, [`super::overhear`],
/// or a copy of a leaked member's, [`super::compromise`]) made of the messages it was handed,
/// beside the secret the members hold: one shape for both experiments.
#[derive(Debug, Clone)]
pub struct Exposure {
    /// The epoch and secret the members hold afterwards.
    pub agreed: (Epoch, EpochSecret),
    /// What the attacker's client holds for the room afterwards.
    pub attacker_holds: Option<(Epoch, EpochSecret)>,
    /// Messages the attacker's client was handed.
    pub copies: usize,
    /// Of those, how many it refused.
    pub refused: usize,
}

impl Exposure {
    /// Whether the attacker's client holds the members' secret.
    #[must_use]
    pub fn exposed(&self) -> bool {
        self.attacker_holds.as_ref() == Some(&self.agreed)
    }
}

pub(super) fn held(current: Option<(Epoch, &EpochSecret)>) -> Option<(Epoch, EpochSecret)> {
    current.map(|(e, s)| (e, s.clone()))
}

/// What a delivery does when a member refuses a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnRefusal {
    /// Nothing more is delivered (the interference was detected).
    Stop,
    /// The refusing member sends nothing in answer; the rest is delivered.
    Continue,
}

/// Why a delivery stopped early.
enum Stop {
    /// A member refused a message and [`OnRefusal::Stop`] was asked.
    Refused,
    /// Anything else: an error of the experiment.
    Failed(SchemeError),
}

impl From<Misrouted> for Stop {
    fn from(e: Misrouted) -> Self {
        Self::Failed(e.into())
    }
}

/// Delivers `first` (an outbox of `first.0`) and everything it causes, in order, until nothing
/// is left or, with [`OnRefusal::Stop`], a member refuses a message; returns the refusals.
pub(super) fn deliver<K: KeyDistribution>(
    server: &mut K::Server,
    clients: &mut [K::Client],
    directory: Directory<'_, K>,
    roster: &Roster<'_>,
    (by, out): (UserId, Outbox<K::Message>),
    on_refusal: OnRefusal,
    rng: &mut dyn CryptoRngCore,
) -> Result<Vec<(UserId, SchemeError)>, SchemeError> {
    let mut refusals = Vec::new();
    let delivered =
        route(Origin::User(by), out, |arrival| {
            let mut o = Outbox::new();
            match arrival {
                Arrival::AtServer { from, msg } => {
                    server
                        .handle(roster, from, msg, rng, &mut o)
                        .map_err(Stop::Failed)?;
                }
                Arrival::AtUser { from, to, msg } => {
                    let client = clients.get_mut(to.0 as usize).ok_or(Stop::Failed(
                        SchemeError::Internal("a message to a user not enrolled"),
                    ))?;
                    if let Err(e) = client.handle(roster, from, msg, directory, rng, &mut o) {
                        refusals.push((to, e));
                        if on_refusal == OnRefusal::Stop {
                            return Err(Stop::Refused);
                        }
                        o = Outbox::new();
                    }
                }
            }
            Ok(o)
        });
    match delivered {
        Ok(_) | Err(Stop::Refused) => Ok(refusals),
        Err(Stop::Failed(e)) => Err(e),
    }
}
