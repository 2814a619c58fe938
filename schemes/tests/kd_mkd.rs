//! The `mkd` (DMKD) key-distribution scheme: the protocol's invariants, per-member O(1) cost,
//! time frames, and that the server never sees an epoch secret (its conformance suite runs from
//! the registry, in `conformance.rs`). Every test runs twice: on the scheme (`real`) and on its
//! model (`model`, the same code over the ideal provider).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use std::collections::{BTreeMap, VecDeque};

use conclave_schemes::kd::mkd::{self, ClientOps, Corruption, MkdWith, ServerOps};
use conclave_schemes::kd::provider::Real;
use conclave_schemes::kd::{Change, Handled, KdClient, KdServer, KeyDistribution, Origin, Roster};
use conclave_schemes::model::ideal_kd::Ideal;
use conclave_schemes::testing::{self, KdHarness};
use conclave_schemes::{Dest, Epoch, EpochSecret, Outbox, RoomId, SchemeError, UserId, Wire};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The suite over crypto provider `$provider`, in module `$name`.
macro_rules! suite {
    ($name:ident, $provider:ty) => {
        mod $name {
            #![allow(clippy::unwrap_used)]
            use super::*;

            type Mkd = MkdWith<$provider>;
            type Client = mkd::Client<$provider>;
            type Credential = mkd::Credential<$provider>;
            type Message = mkd::Message<$provider>;
            type Server = mkd::Server<$provider>;

#[test]
fn properties() {
    let p = Mkd::PROPERTIES;
    assert!(!p.server_knows_epoch_secret && p.removal_excludes && p.join_excludes_past);
}

/// One hop of routed traffic: `None` is the server.
struct Hop {
    from: Option<UserId>,
    to: Option<UserId>,
    msg: Message,
}

/// Which messages a router loses.
type Lost = fn(&Message) -> bool;

/// A small organisation with its own router, which logs every hop and surfaces errors.
struct Org {
    server: Server,
    clients: Vec<Client>,
    directory: Vec<Credential>,
    rosters: BTreeMap<RoomId, Vec<UserId>>,
    log: Vec<Hop>,
    /// Messages the router loses on their way to a user (a terminal that drops them).
    lost: Option<(UserId, Lost)>,
    rng: ChaCha20Rng,
}

impl Org {
    fn new(users: u32, seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (server, _, clients, directory) = testing::enroll_all::<Mkd>(users, &mut rng);
        Self {
            server,
            clients,
            directory,
            rosters: BTreeMap::new(),
            log: Vec::new(),
            lost: None,
            rng,
        }
    }

    fn client(&self, u: UserId) -> &Client {
        &self.clients[u.0 as usize]
    }

    /// The pairwise DH links each user computes for `change` by `by`, run to agreement.
    fn dh_links_of(&mut self, room: RoomId, by: UserId, change: Change<'_>) -> Vec<u64> {
        let links =
            |org: &Self| -> Vec<u64> { org.clients.iter().map(|c| c.ops().dh_links).collect() };
        let before = links(self);
        self.change(room, by, change).unwrap();
        self.agreed(room);
        links(self)
            .iter()
            .zip(&before)
            .map(|(a, b)| a - b)
            .collect()
    }

    fn change(&mut self, room: RoomId, by: UserId, change: Change<'_>) -> Result<(), SchemeError> {
        let roster = self.rosters.entry(room).or_default();
        testing::apply_change(roster, &change);
        let members = roster.clone();
        let view = Roster {
            room,
            members: &members,
        };
        let mut out = Outbox::new();
        self.clients[by.0 as usize].change(
            &view,
            &change,
            &self.directory,
            &mut self.rng,
            &mut out,
        )?;
        let mut queue: VecDeque<(Option<UserId>, Dest, Message)> =
            out.drain().map(|(d, m)| (Some(by), d, m)).collect();
        while let Some((from, dest, msg)) = queue.pop_front() {
            match (from, dest) {
                (Some(u), Dest::Server) => {
                    self.log.push(Hop {
                        from,
                        to: None,
                        msg: msg.clone(),
                    });
                    let mut o = Outbox::new();
                    self.server.handle(&view, u, msg, &mut self.rng, &mut o)?;
                    queue.extend(o.drain().map(|(d, m)| (None, d, m)));
                }
                (None, Dest::User(v)) => {
                    self.log.push(Hop {
                        from,
                        to: Some(v),
                        msg: msg.clone(),
                    });
                    if self.lost.is_some_and(|(u, lose)| u == v && lose(&msg)) {
                        continue;
                    }
                    let mut o = Outbox::new();
                    let _: Handled = self.clients[v.0 as usize].handle(
                        &view,
                        Origin::Server,
                        &msg,
                        &self.directory,
                        &mut self.rng,
                        &mut o,
                    )?;
                    queue.extend(o.drain().map(|(d, m)| (Some(v), d, m)));
                }
                _ => panic!("unexpected route"),
            }
        }
        Ok(())
    }

    fn create(&mut self, room: RoomId, members: &[UserId], by: UserId) -> Result<(), SchemeError> {
        self.rosters.insert(room, members.to_vec());
        self.change(room, by, Change::Create)
    }

    fn agreed(&self, room: RoomId) -> (Epoch, EpochSecret) {
        let members = &self.rosters[&room];
        let (e, s) = self.client(members[0]).current(room).unwrap();
        let (e, s) = (e, s.clone());
        for m in members {
            let (em, sm) = self.client(*m).current(room).unwrap();
            assert_eq!(em, e, "members disagree on the epoch");
            assert!(*sm == s, "members disagree on the secret");
        }
        (e, s)
    }

    /// A new time frame: credentials, then the Update of every room, delivered in order.
    fn new_time_frame(&mut self) -> u64 {
        let mut out = Outbox::new();
        let frame = self.server.new_time_frame(&mut self.rng, &mut out).unwrap();
        for (d, m) in out.drain() {
            let Dest::User(u) = d else {
                panic!("credentials and updates go to one user")
            };
            self.log.push(Hop {
                from: None,
                to: Some(u),
                msg: m.clone(),
            });
            from_server(
                &mut self.clients,
                &self.rosters,
                &self.directory,
                u,
                &m,
                &mut self.rng,
            )
            .unwrap();
        }
        frame
    }
}

fn ids(r: std::ops::Range<u32>) -> Vec<UserId> {
    r.map(UserId).collect()
}

/// A member that never saw a session's final does not hold that session's ring links: if it is
/// removed and comes back before another session completes, the key server must not ask it to
/// reuse them (found by `conclave fuzz --seed 61208`: the member's terminal dropped the final,
/// which reached it after its removal, and the rejoin failed).
#[test]
fn a_rejoiner_that_missed_a_final_gets_fresh_links() {
    let room = RoomId(1);
    let mut org = Org::new(5, 61208);
    org.create(room, &ids(0..3), UserId(0)).unwrap();
    // User 2 never sees the final of the join of user 3: it still holds epoch 0's links.
    org.lost = Some((UserId(2), |m| {
        matches!(m, Message::Final { .. } | Message::FinalRep { .. })
    }));
    org.change(room, UserId(0), Change::Add(&[UserId(3)]))
        .unwrap();
    assert_eq!(org.client(UserId(2)).current(room).unwrap().0, Epoch(0));
    // User 2 is removed, and the session of that change never completes: user 1 hears nothing.
    org.lost = Some((UserId(1), |_| true));
    org.change(room, UserId(0), Change::Remove(&[UserId(2)]))
        .unwrap();
    org.lost = None;
    // User 2 comes back into the same ring position, between users 1 and 3.
    org.change(room, UserId(0), Change::Add(&[UserId(2)]))
        .unwrap();
    let (epoch, _) = org.agreed(room);
    assert_eq!(
        epoch,
        Epoch(2),
        "the rejoin supersedes the unfinished removal"
    );
}

#[test]
fn agreement_across_dist_joins_and_leaves() {
    let room = RoomId(1);
    let mut org = Org::new(10, 10);
    org.create(room, &ids(0..4), UserId(0)).unwrap();
    let mut seen = vec![org.agreed(room)];
    assert_eq!(seen[0].0, Epoch(0));
    let steps: Vec<(UserId, Change<'static>)> = vec![
        (UserId(1), Change::Add(&[UserId(4)])),
        (UserId(0), Change::Add(&[UserId(5), UserId(6)])),
        (UserId(2), Change::Remove(&[UserId(0)])), // the first ring member leaves
        (UserId(5), Change::Remove(&[UserId(3), UserId(6)])), // two at once
        (UserId(2), Change::Add(&[UserId(0), UserId(7)])), // a former member rejoins
        (
            UserId(4),
            Change::Remove(&[UserId(1), UserId(2), UserId(5), UserId(7)]),
        ), // down to 2
        (UserId(0), Change::Add(&[UserId(9)])),
    ];
    for (by, ch) in steps {
        org.change(room, by, ch).unwrap();
        let (e, s) = org.agreed(room);
        let prev = seen.last().unwrap();
        assert_eq!(e, prev.0.next().unwrap(), "one epoch per change");
        assert!(seen.iter().all(|(_, old)| *old != s), "fresh secret");
        seen.push((e, s));
    }
    assert_eq!(org.rosters[&room], vec![UserId(0), UserId(4), UserId(9)]);
    // Removed members hold no later secret.
    let latest = &seen.last().unwrap().1;
    for u in [1, 2, 3, 5, 6, 7] {
        assert!(org.clients[u]
            .current(room)
            .is_none_or(|(_, s)| s != latest));
    }
    assert!(org.clients[8].current(room).is_none());
    assert!(org.server.known_epoch_secret(room).is_none());
}

#[test]
fn xor_of_t_values_is_zero_and_enforced() {
    let room = RoomId(2);
    let mut org = Org::new(6, 20);
    org.create(room, &ids(0..5), UserId(0)).unwrap();
    // Every honest session's T values (round 2, user to server) XOR to zero.
    let mut sum = [0u8; 64];
    let mut count = 0;
    for hop in &org.log {
        match &hop.msg {
            Message::Round2 { t, .. } | Message::Round2Rep { t, .. } => {
                for (a, b) in sum.iter_mut().zip(t) {
                    *a ^= b;
                }
                count += 1;
            }
            _ => {}
        }
    }
    assert_eq!(count, 5);
    assert_eq!(sum, [0u8; 64]);

    // A member that sends a wrong T (correctly MAC'd, valid opening) is caught by the server.
    let before = org.agreed(room);
    Client::corrupt_next_round2(Corruption::T);
    let err = org.change(room, UserId(0), Change::Add(&[UserId(5)]));
    assert_eq!(err, Err(SchemeError::Crypto));
    assert!(org.rosters[&room].iter().all(|u| org
        .client(*u)
        .current(room)
        .is_none_or(|(e, _)| e == before.0)));
    // The aborted session is replaced by a new request, which completes.
    org.change(room, UserId(1), Change::Add(&[])).unwrap();
    let (e, s) = org.agreed(room);
    assert_eq!(e, before.0.next().unwrap());
    assert!(s != before.1);
}

/// What one member sent and received during one change, and its operation counts.
#[derive(Debug, PartialEq, Eq)]
struct MemberCost {
    sent: (usize, usize),
    received: (usize, usize),
    ops: ClientOps,
}

fn member_cost(org: &Org, from: usize, u: UserId, ops_before: &[ClientOps]) -> MemberCost {
    let mut sent = (0, 0);
    let mut received = (0, 0);
    for hop in &org.log[from..] {
        if hop.from == Some(u) {
            sent.0 += 1;
            sent.1 += hop.msg.wire_len();
        }
        if hop.to == Some(u) {
            received.0 += 1;
            received.1 += hop.msg.wire_len();
        }
    }
    let now = org.client(u).ops();
    let b = ops_before[u.0 as usize];
    MemberCost {
        sent,
        received,
        ops: ClientOps {
            dh_shares: now.dh_shares - b.dh_shares,
            dh_links: now.dh_links - b.dh_links,
            commitments: now.commitments - b.commitments,
            openings_checked: now.openings_checked - b.openings_checked,
            ibe_decryptions: now.ibe_decryptions - b.ibe_decryptions,
        },
    }
}

/// Per-member cost of a Dist and of a Join for a group of `n`, for an interior member (not the
/// changer, the representative or a new link's endpoint), plus the server's counts.
fn costs(n: u32) -> (MemberCost, MemberCost, MemberCost, ServerOps) {
    let room = RoomId(3);
    let mut org = Org::new(n + 1, 30 + u64::from(n));
    let ops0: Vec<_> = org.clients.iter().map(Client::ops).collect();
    org.create(room, &ids(0..n), UserId(0)).unwrap();
    let dist = member_cost(&org, 0, UserId(3), &ops0);
    let dist_rep = member_cost(&org, 0, UserId(0), &ops0);
    let server_dist = org.server.ops();
    let mark = org.log.len();
    let ops1: Vec<_> = org.clients.iter().map(Client::ops).collect();
    org.change(room, UserId(0), Change::Add(&[UserId(n)]))
        .unwrap();
    org.agreed(room);
    let join = member_cost(&org, mark, UserId(3), &ops1);
    (dist, dist_rep, join, server_dist)
}

#[test]
fn per_member_cost_is_constant_and_server_cost_linear() {
    let (d8, r8, j8, s8) = costs(8);
    // n = 64 takes ~30 s in an unoptimised build (64 pairings, hashes to G_2 and G_2
    // multiplications at the server), so debug builds compare 8 with 16 and release builds 8 with 64.
    let n_big = if cfg!(debug_assertions) { 16 } else { 64 };
    let (d64, r64, j64, s64) = costs(n_big);
    // An interior member: 2 messages out, 3 in, the same bytes, one share, two DH, one
    // commitment, one opening check and one IBE decryption, whatever the group size.
    assert_eq!(d8, d64);
    assert_eq!(r8, r64);
    assert_eq!(
        d8.ops,
        ClientOps {
            dh_shares: 1,
            dh_links: 2,
            commitments: 1,
            openings_checked: 1,
            ibe_decryptions: 1
        }
    );
    assert_eq!((d8.sent.0, d8.received.0), (2, 3));
    // Sizes: Round1 with a share 110 B + Round2 173 B; Begin 62 + Round1Reply 139 + Final 329
    // (the session messages carry a 4-byte attempt number).
    assert_eq!(d8.sent.1, 110 + 173);
    assert_eq!(d8.received.1, 62 + 139 + 329);
    // Join: an interior member does no DH at all (stored links), only a commitment.
    assert_eq!(j8, j64);
    assert_eq!(
        j8.ops,
        ClientOps {
            dh_shares: 0,
            dh_links: 0,
            commitments: 1,
            openings_checked: 1,
            ibe_decryptions: 1
        }
    );
    assert_eq!(j8.sent.1, 78 + 173);
    // Server: one IBE encryption per member, one opening check per non-representative.
    for (s, n) in [(s8, 8u64), (s64, n_big as u64)] {
        assert_eq!(s.ibe_encryptions, n);
        assert_eq!(s.openings_checked, n - 1);
    }
}

#[test]
fn epoch_secrets_never_reach_the_server() {
    let room = RoomId(4);
    let mut org = Org::new(8, 40);
    let mut secrets = Vec::new();
    org.create(room, &ids(0..4), UserId(1)).unwrap();
    secrets.push(org.agreed(room).1);
    org.change(room, UserId(0), Change::Add(&[UserId(4), UserId(5)]))
        .unwrap();
    secrets.push(org.agreed(room).1);
    org.new_time_frame(); // the Update re-keys the room
    secrets.push(org.agreed(room).1);
    org.change(room, UserId(2), Change::Remove(&[UserId(0)]))
        .unwrap();
    secrets.push(org.agreed(room).1);
    assert!(org.server.known_epoch_secret(room).is_none());
    let mut scanned = 0;
    for hop in &org.log {
        hop.msg.visit_bytes(&mut |b: &[u8]| {
            scanned += b.len();
            for s in &secrets {
                let s = s.as_bytes();
                assert!(
                    !b.windows(s.len()).any(|w| w == s)
                        && !s.windows(8).any(|w| b.windows(8).any(|x| x == w)),
                    "an epoch secret (or 8 bytes of one) appears in server traffic"
                );
            }
        });
    }
    assert!(scanned > 1000);
}

#[test]
fn time_frames_issue_fresh_credentials() {
    let room = RoomId(5);
    let mut org = Org::new(5, 50);
    assert_eq!(org.server.frame(), 0);
    org.create(room, &ids(0..3), UserId(0)).unwrap();
    let (_, s0) = org.agreed(room);
    let mark = org.log.len();
    assert_eq!(org.new_time_frame(), 1);
    assert!(org.clients.iter().all(|c| c.frame() == 1));
    // One sealed credential per enrolled user: 1 + 8 + 32 + (96 + 32) + 16 bytes; then one
    // Update per member of the room.
    let creds: Vec<&Hop> = org.log[mark..]
        .iter()
        .filter(|h| matches!(h.msg, Message::Credentials { .. }))
        .collect();
    assert_eq!(creds.len(), 5);
    assert_eq!(org.log.len() - mark, 5 + 3);
    assert!(creds.iter().all(|h| h.msg.wire_len() == 185));
    let (e_upd, s_upd) = org.agreed(room);
    assert_eq!(e_upd, Epoch(1));
    assert!(s_upd != s0);
    // A replayed or tampered credential message is rejected.
    let roster = Roster { room, members: &[] };
    let old = creds[0].msg.clone();
    let dir = org.directory.clone();
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    assert!(org.clients[0]
        .handle(
            &roster,
            Origin::Server,
            &old,
            &dir,
            &mut rng,
            &mut Outbox::new()
        )
        .is_err());
    let mut bad = old.clone();
    {
        use conclave_schemes::testing::Tamper;
        assert!(bad.tamper());
    }
    if let Message::Credentials { frame, .. } = &mut bad {
        *frame = 2;
    }
    assert!(org.clients[0]
        .handle(
            &roster,
            Origin::Server,
            &bad,
            &dir,
            &mut rng,
            &mut Outbox::new()
        )
        .is_err());
    // Changes keep working under the new frame's keys, on top of the updated epoch.
    org.change(room, UserId(1), Change::Add(&[UserId(3)]))
        .unwrap();
    let (e, s1) = org.agreed(room);
    assert_eq!(e, Epoch(2));
    assert!(s1 != s0 && s1 != s_upd);
}

#[test]
fn new_frame_refused_mid_change_and_stale_frame_rejected() {
    let room = RoomId(6);
    let mut org = Org::new(4, 60);
    org.create(room, &ids(0..3), UserId(0)).unwrap();
    // Start a change but deliver nothing: the server has a pending session.
    let members = ids(0..3);
    let view = Roster {
        room,
        members: &members,
    };
    let mut out = Outbox::new();
    let dir = org.directory.clone();
    org.clients[0]
        .change(&view, &Change::Add(&[]), &dir, &mut org.rng, &mut out)
        .unwrap();
    let (_, req) = out.drain().next().unwrap();
    let mut o = Outbox::new();
    org.server
        .handle(&view, UserId(0), req, &mut org.rng, &mut o)
        .unwrap();
    assert!(org
        .server
        .new_time_frame(&mut org.rng, &mut Outbox::new())
        .is_err());
    // A member that is not in the roster cannot start a change.
    let others = ids(1..3);
    let view2 = Roster {
        room,
        members: &others,
    };
    assert!(org.clients[0]
        .change(
            &view2,
            &Change::Create,
            &dir,
            &mut org.rng,
            &mut Outbox::new()
        )
        .is_err());
    // Re-creating an existing room is refused by the server.
    assert!(matches!(
        org.change(room, UserId(1), Change::Create),
        Err(SchemeError::Misuse(_))
    ));
}

#[test]
fn state_len_and_server_blindness() {
    let room = RoomId(7);
    let mut org = Org::new(3, 70);
    assert_eq!(org.clients[0].state_len(room).unwrap(), 0);
    org.create(room, &ids(0..2), UserId(0)).unwrap();
    org.agreed(room);
    // Room: epoch 8 + secret 32 + neighbours 8 + H^l, H^r, r 96 + sid, K_2 64; credentials:
    // 8 + 96 + 32.
    assert_eq!(org.clients[0].state_len(room).unwrap(), 208 + 136);
    assert!(org.server.known_epoch_secret(room).is_none());
    // A two-member ring works (left and right neighbour coincide).
    org.change(room, UserId(1), Change::Add(&[UserId(2)]))
        .unwrap();
    org.agreed(room);
}

#[test]
fn server_checks_pedersen_openings() {
    let room = RoomId(8);
    let mut org = Org::new(5, 80);
    org.create(room, &ids(0..4), UserId(0)).unwrap();
    let before = org.agreed(room);
    // A member whose k_j does not open its commitment c_j (correctly MAC'd) is caught.
    Client::corrupt_next_round2(Corruption::K);
    assert_eq!(
        org.change(room, UserId(0), Change::Add(&[UserId(4)])),
        Err(SchemeError::Crypto)
    );
    org.change(room, UserId(0), Change::Add(&[])).unwrap();
    assert_eq!(org.agreed(room).0, before.0.next().unwrap());
}

#[test]
fn leave_and_join_refresh_only_the_changed_links() {
    let room = RoomId(9);
    let mut org = Org::new(8, 90);
    org.create(room, &ids(0..6), UserId(0)).unwrap();
    // Leave of U_3 (ring 0..5): only U_2 and U_4 do one DH each, for their new link.
    let leave = org.dh_links_of(room, UserId(0), Change::Remove(&[UserId(3)]));
    assert_eq!(leave, [0, 0, 1, 0, 1, 0, 0, 0]);
    // Join of U_6 (ring 0,1,2,4,5): U_5 and U_0 one DH each, the joiner two.
    let join = org.dh_links_of(room, UserId(1), Change::Add(&[UserId(6)]));
    assert_eq!(join, [1, 0, 0, 0, 0, 1, 2, 0]);
}

// The per-time-frame Update (research/mkd.md §1.8), on the conformance harness.

/// Starts a new time frame on a harness's server and returns its outbox, in order.
fn frame_outbox(h: &mut KdHarness<Mkd>, rng: &mut ChaCha20Rng) -> (u64, Vec<(UserId, Message)>) {
    let mut out = Outbox::new();
    let frame = h.server.new_time_frame(rng, &mut out).unwrap();
    let msgs = out
        .drain()
        .map(|(d, m)| match d {
            Dest::User(u) => (u, m),
            _ => panic!("credentials and updates go to one user"),
        })
        .collect();
    (frame, msgs)
}

/// Has `to` handle `msg` from the server: an Update under the current roster of its room;
/// credentials, which belong to no room, under an empty one.
fn from_server(
    clients: &mut [Client],
    rosters: &BTreeMap<RoomId, Vec<UserId>>,
    directory: &[Credential],
    to: UserId,
    msg: &Message,
    rng: &mut ChaCha20Rng,
) -> Result<Handled, SchemeError> {
    let room = match msg {
        Message::Update { room, .. } => *room,
        _ => RoomId(0),
    };
    let members = rosters.get(&room).cloned().unwrap_or_default();
    let roster = Roster {
        room,
        members: &members,
    };
    clients[to.0 as usize].handle(
        &roster,
        Origin::Server,
        msg,
        directory,
        rng,
        &mut Outbox::new(),
    )
}

/// Delivers one server message to `to`, with the roster of the room it names (credentials name
/// none).
fn deliver(
    h: &mut KdHarness<Mkd>,
    to: UserId,
    msg: &Message,
    rng: &mut ChaCha20Rng,
) -> Result<Handled, SchemeError> {
    from_server(&mut h.clients, &h.rosters, &h.directory, to, msg, rng)
}

/// Runs a new time frame on a harness, delivering everything in outbox order.
fn run_frame(h: &mut KdHarness<Mkd>, rng: &mut ChaCha20Rng) -> Vec<(UserId, Message)> {
    let (_, msgs) = frame_outbox(h, rng);
    for (u, m) in &msgs {
        let handled = deliver(h, *u, m, rng).unwrap();
        if let Message::Update { epoch, .. } = m {
            assert_eq!(handled, Handled::NewEpoch(*epoch));
        }
    }
    msgs
}

fn updates_to(msgs: &[(UserId, Message)], room: RoomId) -> Vec<UserId> {
    msgs.iter()
        .filter(|(_, m)| matches!(m, Message::Update { room: r, .. } if *r == room))
        .map(|(u, _)| *u)
        .collect()
}

#[test]
fn update_rekeys_every_room_at_a_new_frame() {
    let mut rng = ChaCha20Rng::seed_from_u64(100);
    let mut h = KdHarness::<Mkd>::new(8, &mut rng);
    let (a, b) = (RoomId(1), RoomId(2));
    h.create(a, &ids(0..4), UserId(0), &mut rng);
    h.change(a, UserId(1), Change::Add(&[UserId(4)]), &mut rng);
    h.change(a, UserId(0), Change::Remove(&[UserId(2)]), &mut rng);
    h.create(b, &ids(4..7), UserId(5), &mut rng);
    let (ea, sa) = h.agreed(a);
    let (eb, sb) = h.agreed(b);
    let removed = h.clients[2].current(a).map(|(e, s)| (e, s.clone()));
    assert!(removed.as_ref().is_some_and(|(e, _)| *e < ea));
    let ops0: Vec<ClientOps> = h.clients.iter().map(Client::ops).collect();
    let server0 = h.server.ops();

    let msgs = run_frame(&mut h, &mut rng);
    // Credentials for all 8 users first, then one Update per ring member of each room; none to
    // the removed member or to non-members.
    let first_update = msgs
        .iter()
        .position(|(_, m)| matches!(m, Message::Update { .. }))
        .unwrap();
    assert_eq!(first_update, 8);
    assert!(msgs[..8]
        .iter()
        .all(|(_, m)| matches!(m, Message::Credentials { .. })));
    let mut to_a = updates_to(&msgs, a);
    to_a.sort_unstable();
    assert_eq!(to_a, [UserId(0), UserId(1), UserId(3), UserId(4)]);
    let mut to_b = updates_to(&msgs, b);
    to_b.sort_unstable();
    assert_eq!(to_b, ids(4..7));
    assert_eq!(msgs.len(), 8 + 4 + 3);
    // Update: room 4 + epoch 8 + frame 8 + IBE ciphertext 96 + tag 32, plus the kind byte.
    assert!(msgs[8..].iter().all(|(_, m)| m.wire_len() == 149));

    // Every member agrees on a fresh secret at the next epoch.
    let (ea1, sa1) = h.agreed(a);
    let (eb1, sb1) = h.agreed(b);
    assert_eq!((ea1, eb1), (ea.next().unwrap(), eb.next().unwrap()));
    assert!(sa1 != sa && sb1 != sb && sa1 != sb1);
    // The removed member got nothing and still holds its old epoch.
    let now = h.clients[2].current(a).map(|(e, s)| (e, s.clone()));
    assert!(now == removed);
    assert!(now.is_some_and(|(_, s)| s != sa1));
    assert!(h.clients[7].current(a).is_none());
    assert!(h.server.known_epoch_secret(a).is_none());
    assert!(h.server.known_epoch_secret(b).is_none());

    // O(1) per member: one IBE decryption per room, no DH, no commitment; O(n) at the server.
    for (u, c) in h.clients.iter().enumerate() {
        let (o, n) = (ops0[u], c.ops());
        let rooms = u64::from(to_a.contains(&UserId(u as u32)))
            + u64::from(to_b.contains(&UserId(u as u32)));
        assert_eq!(n.ibe_decryptions - o.ibe_decryptions, rooms, "user {u}");
        assert_eq!(
            (n.dh_shares, n.dh_links, n.commitments, n.openings_checked),
            (o.dh_shares, o.dh_links, o.commitments, o.openings_checked)
        );
    }
    assert_eq!(h.server.ops().ibe_encryptions - server0.ibe_encryptions, 7);
    assert_eq!(h.server.ops().ibe_extractions - server0.ibe_extractions, 8);

    // A later Leave and Join continue from the updated epoch.
    h.change(a, UserId(3), Change::Remove(&[UserId(1)]), &mut rng);
    let (ea2, sa2) = h.agreed(a);
    assert_eq!(ea2, ea1.next().unwrap());
    assert!(sa2 != sa1 && sa2 != sa);
    assert!(h.clients[1].current(a).is_some_and(|(_, s)| *s == sa1));
    h.change(a, UserId(0), Change::Add(&[UserId(2)]), &mut rng);
    let (ea3, sa3) = h.agreed(a);
    assert_eq!(ea3, ea2.next().unwrap());
    assert!(sa3 != sa2);

    // A second frame updates again; the member removed before it (U_1) gets nothing.
    let msgs = run_frame(&mut h, &mut rng);
    assert!(!updates_to(&msgs, a).contains(&UserId(1)));
    let (ea4, sa4) = h.agreed(a);
    assert_eq!(ea4, ea3.next().unwrap());
    assert!(sa4 != sa3);
    assert!(h.clients[1].current(a).is_some_and(|(_, s)| *s == sa1));
}

#[test]
fn tampered_replayed_or_early_update_is_rejected() {
    let mut rng = ChaCha20Rng::seed_from_u64(101);
    let mut h = KdHarness::<Mkd>::new(6, &mut rng);
    let room = RoomId(3);
    h.create(room, &ids(0..3), UserId(0), &mut rng);
    h.change(room, UserId(2), Change::Add(&[UserId(3)]), &mut rng);
    h.change(room, UserId(2), Change::Remove(&[UserId(1)]), &mut rng);
    let (e0, s0) = h.agreed(room);

    let (_, msgs) = frame_outbox(&mut h, &mut rng);
    let (creds, updates): (Vec<_>, Vec<_>) = msgs
        .into_iter()
        .partition(|(_, m)| matches!(m, Message::Credentials { .. }));
    let (u, upd) = updates[0].clone();
    // Before its credentials, a member cannot verify the Update (old MAC key).
    assert_eq!(deliver(&mut h, u, &upd, &mut rng), Err(SchemeError::Crypto));
    for (v, m) in &creds {
        deliver(&mut h, *v, m, &mut rng).unwrap();
    }
    // Tampered ciphertext, frame or epoch: the MAC fails.
    let mut bad = upd.clone();
    {
        use conclave_schemes::testing::Tamper;
        assert!(bad.tamper());
    }
    assert_eq!(deliver(&mut h, u, &bad, &mut rng), Err(SchemeError::Crypto));
    for f in [0usize, 1] {
        let mut bad = upd.clone();
        if let Message::Update { frame, epoch, .. } = &mut bad {
            if f == 0 {
                *frame += 1;
            } else {
                *epoch = epoch.next().unwrap();
            }
        }
        assert_eq!(deliver(&mut h, u, &bad, &mut rng), Err(SchemeError::Crypto));
    }
    // Another member's Update does not verify under this member's key, and the removed member
    // cannot use one either.
    let (w, other) = updates.iter().find(|(w, _)| *w != u).cloned().unwrap();
    assert_ne!(w, u);
    assert_eq!(
        deliver(&mut h, u, &other, &mut rng),
        Err(SchemeError::Crypto)
    );
    let removed = h.clients[1].current(room).map(|(e, s)| (e, s.clone()));
    let mut members = h.rosters[&room].clone();
    members.push(UserId(1));
    let roster = Roster {
        room,
        members: &members,
    };
    let dir = h.directory.clone();
    assert!(h.clients[1]
        .handle(
            &roster,
            Origin::Server,
            &upd,
            &dir,
            &mut rng,
            &mut Outbox::new()
        )
        .is_err());
    assert!(h.clients[1].current(room).map(|(e, s)| (e, s.clone())) == removed);
    assert!(h.clients[u.0 as usize]
        .current(room)
        .is_some_and(|(e, s)| e == e0 && *s == s0));

    // The genuine Update is accepted once; a replay is stale.
    assert_eq!(
        deliver(&mut h, u, &upd, &mut rng),
        Ok(Handled::NewEpoch(e0.next().unwrap()))
    );
    assert_eq!(deliver(&mut h, u, &upd, &mut rng), Ok(Handled::Stale));
    for (v, m) in &updates[1..] {
        deliver(&mut h, *v, m, &mut rng).unwrap();
    }
    let (e1, s1) = h.agreed(room);
    assert_eq!(e1, e0.next().unwrap());
    assert!(s1 != s0);

    // After the next frame, the old frame's Update is rejected (new MAC key).
    run_frame(&mut h, &mut rng);
    let (e2, _) = h.agreed(room);
    assert_eq!(e2, e1.next().unwrap());
    assert_eq!(deliver(&mut h, u, &upd, &mut rng), Err(SchemeError::Crypto));
    // The harness's tamper suite still passes after a frame change.
    h.tamper = Some(Box::new(|m: &mut Message| {
        use conclave_schemes::testing::Tamper;
        m.tamper()
    }));
    h.change(room, UserId(0), Change::Add(&[UserId(4)]), &mut rng);
    assert!(matches!(h.tamper_outcome.take(), Some(Err(_))));
}

/// research/mkd.md, security: an active key server that substitutes its own share for every
/// relayed one learns the epoch secret of a room it creates, and no member notices.
#[test]
fn interposing_key_server_learns_the_epoch_secret_unnoticed() {
    use conclave_schemes::kd::interpose::interposed_room;
    for n in [2, 3, 5, 8] {
        let mut rng = ChaCha20Rng::seed_from_u64(900 + u64::from(n));
        let room = interposed_room::<Mkd>(n, &mut rng).unwrap().unwrap();
        assert!(room.refused.is_none(), "n = {n}: {:?}", room.refused);
        assert_eq!(room.members.len(), n as usize);
        assert!(
            room.exposed(),
            "n = {n}: the server's claim is not what the members hold"
        );
        // The claim is checked, not trusted: a different secret shows nothing.
        let mut other = room.clone();
        other.server_claim = Some((Epoch(0), EpochSecret::from_bytes([7; 32])));
        assert!(!other.exposed());
    }
}
        }
    };
}

suite!(real, Real);
suite!(model, Ideal);
