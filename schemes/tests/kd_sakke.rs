//! `sakke`: its registration, and what one change sends (its conformance suite runs from the
//! registry, in `conformance.rs`).
#![allow(clippy::unwrap_used)]

use conclave_schemes::kd::sakke::group::{self, identifier, kms_uri, user_uri, KeyPeriod, Sakke};
use conclave_schemes::kd::{
    Change, Handled, KdAuthority, KdClient, KdServer, KeyDistribution, OrgId, Period, Roster,
};
use conclave_schemes::testing::{self, KdHarness};
use conclave_schemes::{Dest, Epoch, RoomId, UserId, Wire};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

#[test]
fn sakke_registered_with_its_claims() {
    let p = Sakke::PROPERTIES;
    // Each KMS derives every epoch secret sent to its users (escrow); the relay derives none.
    assert!(p.authority_can_derive && !p.server_knows_epoch_secret);
    assert!(p.removal_excludes && p.join_excludes_past);
    assert!(!p.layer_hides_history_from_joiners);
    let registry = conclave_schemes::registry::Registry::builtin();
    let kd = registry.names(conclave_schemes::registry::Family::KeyDistribution);
    assert!(kd.contains(&"sakke"), "{kd:?}");
}

/// Identifiers are RFC 6509 §3.2's, `YYYY-MM\0URI\0`.
#[test]
fn identifiers_follow_rfc6509() {
    let period = KeyPeriod::new(2011, 2).unwrap();
    let id = identifier(period, "tel:+447700900123").unwrap();
    assert_eq!(id, b"2011-02\0tel:+447700900123\0");
    let ours = identifier(KeyPeriod::MODEL_START, &user_uri(UserId(12))).unwrap();
    assert_eq!(ours, b"2027-01\0conclave:user/12\0");
    assert!(identifier(period, "tel:+44\0evil").is_err());
    assert!(identifier(period, "").is_err());
    assert!(KeyPeriod::new(2027, 13).is_err());
    assert!(KeyPeriod::new(2027, 0).is_err());
    // The run's periods are the months from 2027-01.
    assert_eq!(KeyPeriod::of(Period(0)).unwrap(), KeyPeriod::MODEL_START);
    assert_eq!(KeyPeriod::of(Period(11)).unwrap().to_string(), "2027-12");
    assert_eq!(KeyPeriod::of(Period(12)).unwrap().to_string(), "2028-01");
    assert!(KeyPeriod::of(Period(u32::MAX)).is_err());
    assert_eq!(kms_uri(OrgId(3)), "kms.org3.conclave");
}

/// A change sends one I_MESSAGE per other member of the new roster, through the relay, each of
/// the documented size; the changer holds the epoch at once and the server holds nothing.
#[test]
fn one_signed_i_message_per_other_member() {
    let mut r = rng(22);
    let room = RoomId(4);
    let mut h = KdHarness::<Sakke>::with_room(12, room, 3, &mut r);
    h.change(
        room,
        UserId(1),
        Change::Add(&[UserId(10), UserId(11)]),
        &mut r,
    );
    let (epoch, _) = h.agreed(room);
    assert_eq!(epoch, Epoch(1));

    let members = h.rosters[&room].clone();
    let view = Roster {
        room,
        members: &members,
    };
    let out = h
        .change_by(UserId(0), &view, &Change::Remove(&[]), &mut r)
        .unwrap();
    let sent: Vec<_> = out.iter().cloned().collect();
    let expected: Vec<Dest> = members[1..].iter().map(|u| Dest::User(*u)).collect();
    assert_eq!(
        sent.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>(),
        expected
    );
    for (d, m) in &sent {
        let Dest::User(to) = d else { panic!() };
        let id_len = |u: UserId| {
            identifier(KeyPeriod::MODEL_START, &user_uri(u))
                .unwrap()
                .len()
        };
        let kms_len = |u: UserId| kms_uri(testing::org_of(u)).len();
        assert_eq!(
            m.wire_len(),
            group::message_len(
                id_len(UserId(0)),
                id_len(*to),
                kms_len(UserId(0)),
                kms_len(*to)
            )
        );
    }
    // Users 0-9 have 24-octet identifiers, users 10-99 25-octet ones; KMS URIs are 17 octets.
    assert_eq!(sent[0].1.wire_len(), 513);
    assert_eq!(sent[2].1.wire_len(), 514);
    assert_eq!(group::FIXED_OCTETS, 431);
    assert_eq!(h.clients[0].current(room).map(|(e, _)| e), Some(Epoch(2)));
    for (d, m) in &sent {
        let Dest::User(to) = d else { panic!() };
        let from = conclave_schemes::kd::Origin::User(UserId(0));
        let got = h.handle_by(*to, &view, from, m, &mut r).unwrap();
        assert_eq!(got, Handled::NewEpoch(Epoch(2)));
    }
    h.agreed(room);
    assert!(h.server.known_epoch_secret(room).is_none());
    // Escrow: the recipient's KMS opens any I_MESSAGE to one of its users with the RSK it
    // issues again, and gets the very secret the members hold; not for another room, and not
    // an I_MESSAGE to a user of the other KMS.
    let held = h.clients[1].current(room).map(|(e, s)| (e, s.clone()));
    for (d, m) in &sent {
        let Dest::User(to) = d else { panic!() };
        let org = usize::from(testing::org_of(*to).0);
        let kms = &h.authorities[org];
        let escrowed = kms.escrow(room, m).expect("the KMS escrows").unwrap();
        assert_eq!(Some(escrowed), held);
        assert!(kms.escrow(RoomId(room.0 + 1), m).unwrap().is_err());
        assert!(h.authorities[1 - org].escrow(room, m).unwrap().is_err());
    }
    assert_eq!(h.clients[0].state_len(room).unwrap(), 40);
    assert_eq!(h.clients[5].state_len(room).unwrap(), 0);
}
