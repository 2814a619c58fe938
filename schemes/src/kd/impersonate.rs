//! An authority nobody trusts impersonates a user of another organisation.
//!
//! The experiment, the same for every scheme whose authority issues credentials: organisations
//! 0 (users 0 and 2) and 1 (user 1) trust each other's authority ([`TwoOrganisations`]); a
//! third authority, trusted by nobody, issues credentials for user 1's identity; their holder
//! creates a room of users 0, 1 and 2 as user 1, through an honest key server, while the
//! directory still lists user 1's own credential. Every message is delivered, whatever a member
//! refuses. The impersonation worked if a genuine member then holds an epoch of that room.

use super::authority::TwoOrganisations;
use super::interpose::{deliver, held, OnRefusal};
use super::{Change, KdAuthority, KdClient, KeyDistribution, OrgId, Roster};
use crate::{CryptoRngCore, Epoch, EpochSecret, Outbox, RoomId, SchemeError, UserId};

/// The room the impostor creates.
pub const IMPERSONATED_ROOM: RoomId = RoomId(0);

/// The user whose identity the untrusted authority issues credentials for.
pub const VICTIM: UserId = UserId(1);

/// What the genuine members made of an impostor's room creation.
#[derive(Debug, Clone)]
pub struct Impersonation {
    /// Each genuine member other than the victim, with the epoch it holds for the room once
    /// delivery ended (`None`: it took nothing).
    pub members: Vec<(UserId, Option<(Epoch, EpochSecret)>)>,
    /// Each refusal, in delivery order, with the member's reason.
    pub refusals: Vec<(UserId, SchemeError)>,
}

impl Impersonation {
    /// Whether some genuine member took the impostor's key.
    #[must_use]
    pub fn accepted(&self) -> bool {
        self.members.iter().any(|(_, held)| held.is_some())
    }
}

/// Runs the experiment for scheme `K`; `None` if `K`'s authority issues no credentials (the
/// directory vouches for public keys, and a forged directory entry is outside this model).
///
/// # Errors
/// What setting up an authority or the server, enrolling a user, trusting an authority or the
/// impostor's change returns. A member's refusal is not an error: it is
/// [`Impersonation::refusals`].
pub fn impersonation<K: KeyDistribution>(
    rng: &mut dyn CryptoRngCore,
) -> Result<Option<Impersonation>, SchemeError> {
    if !<K::Authority as KdAuthority>::ISSUES_PER_PERIOD {
        return Ok(None);
    }
    let TwoOrganisations {
        mut server,
        authorities,
        mut clients,
        directory,
    } = TwoOrganisations::<K>::new(3, rng)?;
    let mut rogue = K::Authority::new(OrgId(2), rng)?;
    // The impostor trusts the genuine authorities, so it can address their users.
    let (mut impostor, _) = K::enroll(&mut server, &mut rogue, VICTIM, rng)?;
    for (org, authority) in authorities.iter().enumerate() {
        impostor.trust(OrgId(org as u16), &authority.public())?;
    }
    let members: Vec<UserId> = (0..3).map(UserId).collect();
    let roster = Roster {
        room: IMPERSONATED_ROOM,
        members: &members,
    };
    let mut out = Outbox::new();
    impostor.change(&roster, &Change::Create, &directory, rng, &mut out)?;
    let refusals = deliver::<K>(
        &mut server,
        &mut clients,
        &directory,
        &roster,
        (VICTIM, out),
        OnRefusal::Continue,
        rng,
    )?;
    Ok(Some(Impersonation {
        members: members
            .iter()
            .zip(&clients)
            .filter(|(u, _)| **u != VICTIM)
            .map(|(u, c)| (*u, held(c.current(IMPERSONATED_ROOM))))
            .collect(),
        refusals,
    }))
}
