//! A removed member that ignores its removal and overhears the change that removed it.
//!
//! The experiment, the same for every scheme: users 0 to 3 of two organisations that trust each
//! other ([`TwoOrganisations`]) share a room; where the authorities issue per key period, every
//! user first moves to the next period, so the member about to be removed holds its keys of
//! the current period. User 0 then removes user 3. Every message of that change is delivered
//! to its addressee as usual and also, as a copy, to user 3's client, handled as if user 3
//! were still on the roster (a client that ignores its removal); its refusals are ignored. The
//! removal is exposed if user 3 then holds the secret the changer drew for the new epoch.

use super::authority::TwoOrganisations;
use super::interpose::{held, Exposure};
use super::{Change, KdAuthority, KdClient, KeyDistribution, Period, Roster};
use crate::{CryptoRngCore, Outbox, RoomId, SchemeError, UserId};

/// The room of the experiment.
pub const OVERHEARD_ROOM: RoomId = RoomId(0);

/// The member removed.
pub const REMOVED: UserId = UserId(3);

/// What the removed member (the attacker) made of the change that removed it; the secret agreed
/// on is the one the changer holds after the removal.
pub type Overheard = Exposure;

/// Runs the experiment for scheme `K`.
///
/// # Errors
/// What setting up, enrolling, renewing, a change or an honest member's handling returns
/// (an honest member must accept the change), and [`SchemeError::Internal`] if the changer
/// holds no key after its change.
pub fn removed_member_overhears<K: KeyDistribution>(
    rng: &mut dyn CryptoRngCore,
) -> Result<Overheard, SchemeError> {
    let mut sys = TwoOrganisations::<K>::new(REMOVED.0 + 1, rng)?;
    let before: Vec<UserId> = (0..=REMOVED.0).map(UserId).collect();
    let after: Vec<UserId> = (0..REMOVED.0).map(UserId).collect();
    run_change(&mut sys, &before, Change::Create, None, rng, &mut (0, 0))?;
    if <K::Authority as KdAuthority>::ISSUES_PER_PERIOD {
        sys.renew_all(Period(1), rng)?;
    }
    let mut counts = (0, 0);
    run_change(
        &mut sys,
        &after,
        Change::Remove(&[REMOVED]),
        Some(&before),
        rng,
        &mut counts,
    )?;
    let (refused, copies) = counts;
    // Whether the remaining members agree is the oracle's members_read, not this experiment's.
    let agreed = held(sys.clients[0].current(OVERHEARD_ROOM)).ok_or(SchemeError::Internal(
        "the changer holds no key after the removal",
    ))?;
    Ok(Overheard {
        agreed,
        attacker_holds: held(sys.clients[REMOVED.0 as usize].current(OVERHEARD_ROOM)),
        refused,
        copies,
    })
}

/// User 0 makes `change` under `roster`; every message is delivered, and with `overhear` (the
/// roster the removed member pretends is current) copied to [`REMOVED`]. Counts the copies
/// refused and handed in `counts`.
fn run_change<K: KeyDistribution>(
    sys: &mut TwoOrganisations<K>,
    roster: &[UserId],
    change: Change<'_>,
    overhear: Option<&[UserId]>,
    rng: &mut dyn CryptoRngCore,
    counts: &mut (usize, usize),
) -> Result<(), SchemeError> {
    let view = Roster {
        room: OVERHEARD_ROOM,
        members: roster,
    };
    sys.run_change(
        &view,
        UserId(0),
        &change,
        rng,
        &mut |sys, to, from, msg, rng| {
            let Some(pretended) = overhear.filter(|_| to != REMOVED) else {
                return;
            };
            let pretend = Roster {
                room: OVERHEARD_ROOM,
                members: pretended,
            };
            counts.1 += 1;
            let copy = sys.clients[REMOVED.0 as usize].handle(
                &pretend,
                from,
                msg,
                &sys.directory,
                rng,
                &mut Outbox::new(),
            );
            counts.0 += usize::from(copy.is_err());
        },
    )
}
