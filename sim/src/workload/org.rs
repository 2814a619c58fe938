//! The organisation at time zero: departments, client classes and rooms with their members.

use conclave_schemes::{RoomId, UserId};
use rand::seq::index::sample;
use rand::Rng;
use rand_distr::{Distribution, Zipf};

use crate::rng;
use crate::scenario::{HistoryPolicy, RoomKind, Scenario, SizeDist};

/// A room at time zero.
#[derive(Debug, Clone, PartialEq)]
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
    /// Its group's `activity`: its weight among a member's rooms when a message picks one.
    pub activity: f64,
    /// The organisations whose users may be members, ascending: its group's `orgs`, except for a
    /// department room, whose members all come from its department's organisation (`[k]`).
    pub orgs: Vec<u16>,
}

/// The organisation at time zero.
#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    /// Department of each user (global department index).
    pub department: Vec<u32>,
    /// Organisation of each user (index into the scenario's `org.organisations`).
    pub organisation: Vec<u16>,
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
        let organisations = &scenario.org.organisations;
        // Per organisation, its users split into its departments (for one organisation:
        // user u is in department u * departments / users).
        let mut department: Vec<u32> = Vec::with_capacity(users as usize);
        let mut organisation: Vec<u16> = Vec::with_capacity(users as usize);
        for (k, o) in organisations.iter().enumerate() {
            for u in o.first_user..o.first_user + o.users {
                department.push(o.department_of(u));
                organisation.push(k as u16);
            }
        }
        // A model not laid out by the validator: users past the organisations join the last.
        while department.len() < users as usize {
            department.push(scenario.org.departments.saturating_sub(1));
            organisation.push(organisations.len().saturating_sub(1) as u16);
        }
        department.truncate(users as usize);
        organisation.truncate(users as usize);

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

        let every: Vec<u16> = (0..organisations.len().max(1)).map(|k| k as u16).collect();
        let mut rooms = Vec::new();
        let mut room_rng = rng::workload(seed, "rooms", 0);
        for group in &scenario.org.rooms {
            let history = group.history.unwrap_or(scenario.policy.history);
            // A group naming no organisation (a model built by hand) takes every one.
            let group_orgs: &Vec<u16> = if group.orgs.is_empty() {
                &every
            } else {
                &group.orgs
            };
            // The users the group's rooms draw their members from, ascending.
            let pool: Vec<u32> = (0..users)
                .filter(|&u| group_orgs.contains(&organisation[u as usize]))
                .collect();
            let mut push = |members: Vec<UserId>, department: Option<u32>, orgs: Vec<u16>| {
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
                    activity: group.activity,
                    orgs,
                });
            };
            match &group.kind {
                RoomKind::Department => {
                    // A department room holds users of its department's organisation only.
                    for (k, o) in group_orgs
                        .iter()
                        .filter_map(|&k| organisations.get(usize::from(k)).map(|o| (k, o)))
                    {
                        let mine = o.first_user..(o.first_user + o.users).min(users);
                        for d in o.first_department..o.first_department + o.departments {
                            let members: Vec<UserId> = mine
                                .clone()
                                .filter(|&u| department[u as usize] == d)
                                .map(UserId)
                                .collect();
                            if members.len() >= 2 {
                                push(members, Some(d), vec![k]);
                            }
                        }
                    }
                }
                RoomKind::Org => push(
                    pool.iter().copied().map(UserId).collect(),
                    None,
                    group_orgs.clone(),
                ),
                RoomKind::Project { count, size } => {
                    let n_pool = pool.len() as u32;
                    if n_pool < 2 {
                        continue;
                    }
                    for _ in 0..*count {
                        let n = draw_size(size, n_pool, &mut room_rng);
                        // The first drawn members become admins: a uniformly random choice.
                        let members = sample(&mut room_rng, pool.len(), n as usize)
                            .into_iter()
                            .map(|k| UserId(pool[k]))
                            .collect();
                        push(members, None, group_orgs.clone());
                    }
                }
            }
        }
        Self {
            department,
            organisation,
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
