//! A member whose whole state leaks, then updates: post-compromise security.
//!
//! The experiment, the same for every scheme: users 0 to 3 of two organisations that trust each
//! other ([`TwoOrganisations`]) share a room. The attacker copies user 2's whole client: the
//! system is built twice from the same seed (schemes draw all their randomness from the `rng`
//! they are given, so both copies are equal up to this point), and the second copy's client of
//! user 2 is the attacker's. Then user 2 makes an update (`Change::Remove(&[])`, a re-key of
//! the room by the leaked member itself), and user 0 makes another. Every message of both
//! changes addressed to user 2 is also handed to the attacker's copy, which handles it as user
//! 2 would; its refusals are ignored. The member is healed if the copy does not hold the secret
//! the members agree on after the second update; where authorities issue keys per period, no
//! period passes (healing by renewal is another matter).

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::authority::TwoOrganisations;
use super::interpose::{held, Exposure};
use super::{Change, KdClient, KeyDistribution, Roster};
use crate::{CryptoRngCore, Outbox, RoomId, SchemeError, UserId};

/// The room of the experiment.
pub const LEAK_ROOM: RoomId = RoomId(0);

/// The member whose state leaks.
pub const LEAKED: UserId = UserId(2);

/// Members of the room.
const MEMBERS: [UserId; 4] = [UserId(0), UserId(1), UserId(2), UserId(3)];

/// What the attacker's copy of the leaked member made of the updates after the leak; the secret
/// agreed on is the one the members hold after both updates.
pub type Leaked = Exposure;

/// The system with the room created, from `seed`.
fn system<K: KeyDistribution>(
    seed: [u8; 32],
) -> Result<(TwoOrganisations<K>, ChaCha20Rng), SchemeError> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let mut sys = TwoOrganisations::<K>::new(MEMBERS.len() as u32, &mut rng)?;
    change(&mut sys, UserId(0), Change::Create, &mut rng, None)?;
    Ok((sys, rng))
}

/// Runs the experiment for scheme `K`.
///
/// # Errors
/// What setting up, enrolling, a change or an honest member's handling returns, and
/// [`SchemeError::Internal`] if the two builds differ before the leak (a scheme that draws
/// randomness other than from its `rng`) or no member holds a key after the updates.
pub fn leaked_member_updates<K: KeyDistribution>(
    rng: &mut dyn CryptoRngCore,
) -> Result<Leaked, SchemeError> {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let (mut real, mut real_rng) = system::<K>(seed)?;
    let (leaked, mut copy_rng) = system::<K>(seed)?;
    let mut copy: Copy<'_, K> = Copy {
        client: leaked
            .clients
            .into_iter()
            .nth(LEAKED.0 as usize)
            .ok_or(SchemeError::Internal("the leaked member was not enrolled"))?,
        directory: leaked.directory,
        rng: &mut copy_rng,
        copies: 0,
        refused: 0,
    };
    if held(copy.client.current(LEAK_ROOM))
        != held(real.clients[LEAKED.0 as usize].current(LEAK_ROOM))
    {
        return Err(SchemeError::Internal(
            "two builds from one seed differ: the scheme draws randomness other than its rng",
        ));
    }
    for changer in [LEAKED, UserId(0)] {
        change(
            &mut real,
            changer,
            Change::Remove(&[]),
            &mut real_rng,
            Some(&mut copy),
        )?;
    }
    let agreed = held(real.clients[0].current(LEAK_ROOM)).ok_or(SchemeError::Internal(
        "no member holds a key after the updates",
    ))?;
    Ok(Leaked {
        agreed,
        attacker_holds: held(copy.client.current(LEAK_ROOM)),
        copies: copy.copies,
        refused: copy.refused,
    })
}

/// The attacker's copy of the leaked member's client, in a system of its own.
struct Copy<'r, K: KeyDistribution> {
    client: K::Client,
    directory: Vec<K::Credential>,
    rng: &'r mut ChaCha20Rng,
    copies: usize,
    refused: usize,
}

/// `changer` makes `change` in the room of all [`MEMBERS`]; every message is delivered, and one
/// addressed to [`LEAKED`] is also handed to `copy`.
fn change<K: KeyDistribution>(
    sys: &mut TwoOrganisations<K>,
    changer: UserId,
    change: Change<'_>,
    rng: &mut dyn CryptoRngCore,
    mut copy: Option<&mut Copy<'_, K>>,
) -> Result<(), SchemeError> {
    let view = Roster {
        room: LEAK_ROOM,
        members: &MEMBERS,
    };
    sys.run_change(&view, changer, &change, rng, &mut |_, to, from, msg, _| {
        if let Some(c) = copy.as_deref_mut().filter(|_| to == LEAKED) {
            c.copies += 1;
            let got = c
                .client
                .handle(&view, from, msg, &c.directory, c.rng, &mut Outbox::new());
            c.refused += usize::from(got.is_err());
        }
    })
}
