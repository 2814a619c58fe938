//! The organisation at time zero: departments, client classes and rooms with their members.

use conclave_schemes::{RoomId, UserId};
use rand::seq::index::sample;
use rand::Rng;
use rand_distr::{Distribution, Zipf};

use crate::rng;
use crate::scenario::{HistoryPolicy, RoomKind, Scenario, SizeDist};

/// A room at time zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInit {
    /// Its id (index in [`Org::rooms`]).
    pub id: RoomId,
    /// Members, ascending.
    pub members: Vec<UserId>,
    /// Admins, ascending (a subset of the initial members).
    pub admins: Vec<UserId>,
    /// History policy.
    pub history: HistoryPolicy,
    /// The department, for department rooms.
    pub department: Option<u32>,
    /// Messages the room already holds when the run starts.
    pub preload: u32,
}

/// The organisation at time zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// Department of each user.
    pub department: Vec<u32>,
    /// Network client class of each user.
    pub class: Vec<u8>,
    /// Rooms.
    pub rooms: Vec<RoomInit>,
}

impl Org {
    /// Builds the organisation of `scenario` for `seed`.
    #[must_use]
    pub fn build(scenario: &Scenario, seed: u64) -> Self {
        let users = scenario.org.users;
        let depts = scenario.org.departments.max(1);
        let department: Vec<u32> = (0..users)
            .map(|u| (u64::from(u) * u64::from(depts) / u64::from(users)) as u32)
            .collect();

        let mut class_rng = rng::workload(seed, "client-class", 0);
        let class = (0..users)
            .map(|_| {
                let x: f64 = class_rng.gen();
                let mut acc = 0.0;
                for (i, c) in scenario.network.clients.iter().enumerate() {
                    acc += c.share;
                    if x < acc {
                        return i as u8;
                    }
                }
                (scenario.network.clients.len().saturating_sub(1)) as u8
            })
            .collect();

        let mut rooms = Vec::new();
        let mut room_rng = rng::workload(seed, "rooms", 0);
        for group in &scenario.org.rooms {
            let history = group.history.unwrap_or(scenario.policy.history);
            let mut push = |members: Vec<UserId>, department: Option<u32>| {
                let admins = members
                    .iter()
                    .take(group.admins.max(1) as usize)
                    .copied()
                    .collect::<Vec<_>>();
                let mut admins = admins;
                admins.sort_unstable();
                let mut members = members;
                members.sort_unstable();
                rooms.push(RoomInit {
                    id: RoomId(rooms.len() as u32),
                    members,
                    admins,
                    history,
                    department,
                    preload: group.preload,
                });
            };
            match &group.kind {
                RoomKind::Department => {
                    for d in 0..depts {
                        let members: Vec<UserId> = (0..users)
                            .filter(|&u| department[u as usize] == d)
                            .map(UserId)
                            .collect();
                        if members.len() >= 2 {
                            push(members, Some(d));
                        }
                    }
                }
                RoomKind::Org => push((0..users).map(UserId).collect(), None),
                RoomKind::Project { count, size } => {
                    for _ in 0..*count {
                        let n = draw_size(size, users, &mut room_rng);
                        // The first drawn members become admins: a uniformly random choice.
                        let members = sample(&mut room_rng, users as usize, n as usize)
                            .into_iter()
                            .map(|u| UserId(u as u32))
                            .collect();
                        push(members, None);
                    }
                }
            }
        }
        Self {
            department,
            class,
            rooms,
        }
    }
}

fn draw_size(size: &SizeDist, users: u32, rng: &mut impl Rng) -> u32 {
    let n = match *size {
        SizeDist::Fixed(n) => n,
        SizeDist::Uniform { min, max } => rng.gen_range(min..=max.max(min)),
        SizeDist::Zipf { min, max, s } => {
            let span = u64::from(max.saturating_sub(min)) + 1;
            match Zipf::new(span, s) {
                Ok(z) => min + (z.sample(rng) as u32).saturating_sub(1),
                Err(_) => min,
            }
        }
    };
    n.clamp(2, users)
}
