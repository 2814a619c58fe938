//! The key server as an active adversary: a room created through a server set up by
//! [`KeyDistribution::new_interposing_server`], and what each party then holds.
//!
//! The experiment is the same for every scheme: enrol the members with the interposing server,
//! let user 0 create a room with all of them, deliver every message synchronously until none is
//! left, and compare the server's claim with the members' own secrets. A member that refuses a
//! message stops the change there: the attack was detected.

use super::{Change, Directory, KdClient, KdServer, KeyDistribution, Origin, Roster};
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
    for u in 0..members {
        let (client, credential) = K::enroll(&mut server, UserId(u), rng)?;
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
    let refused = deliver_until_quiet::<K>(
        &mut server,
        &mut clients,
        &directory,
        &roster,
        (changer, out),
        rng,
    )?;
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

fn held(current: Option<(Epoch, &EpochSecret)>) -> Option<(Epoch, EpochSecret)> {
    current.map(|(e, s)| (e, s.clone()))
}

/// Why an interposed delivery stopped early.
enum Stop {
    /// A member refused a message: the attack was detected.
    Refused(UserId, SchemeError),
    /// Anything else: an error of the experiment.
    Failed(SchemeError),
}

impl From<Misrouted> for Stop {
    fn from(e: Misrouted) -> Self {
        Self::Failed(e.into())
    }
}

/// Delivers `first` (an outbox of `first.0`) and everything it causes, in order, until nothing
/// is left or a member refuses a message (returned).
fn deliver_until_quiet<K: KeyDistribution>(
    server: &mut K::Server,
    clients: &mut [K::Client],
    directory: Directory<'_, K>,
    roster: &Roster<'_>,
    (by, out): (UserId, Outbox<K::Message>),
    rng: &mut dyn CryptoRngCore,
) -> Result<Option<(UserId, SchemeError)>, SchemeError> {
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
                    client
                        .handle(roster, from, msg, directory, rng, &mut o)
                        .map_err(|e| Stop::Refused(to, e))?;
                }
            }
            Ok(o)
        });
    match delivered {
        Ok(_) => Ok(None),
        Err(Stop::Refused(to, e)) => Ok(Some((to, e))),
        Err(Stop::Failed(e)) => Err(e),
    }
}
