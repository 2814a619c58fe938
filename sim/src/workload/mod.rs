//! The workload: a deterministic trace of what people do, generated lazily per (scenario, seed)
//! and independent of the schemes under test, so every stack replays exactly the same events.
//!
//! Each user runs three independent processes (sessions, messages, searches), each with its own
//! ChaCha stream; churn and scheduled events have their own streams. The generator keeps the
//! ground truth of membership and presence it needs to pick plausible events, and hashes every
//! event it emits ([`Generator::trace_sha256`]).

mod corpus;
mod org;
pub mod text;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::sync::Arc;

use conclave_schemes::{MsgId, RoomId, UserId};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, Zipf};
use sha2::{Digest, Sha256};

pub use corpus::{Corpus, CorpusError};
pub use org::{Org, RoomInit};

use crate::rng;
use crate::scenario::{ByteDist, KeywordSource, Nanos, Scenario, ScheduledKind};

/// One thing a person does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The user opens the app (a session starts).
    Login {
        /// who
        user: UserId,
    },
    /// The user's session ends.
    Logout {
        /// who
        user: UserId,
    },
    /// The user sends a message.
    Send {
        /// who
        user: UserId,
        /// where
        room: RoomId,
        /// the message's id (increasing in trace order)
        msg: MsgId,
        /// the plaintext
        body: Arc<[u8]>,
        /// its distinct keywords, as the tokeniser gives them
        keywords: Arc<[String]>,
        /// whether the body carries a canary
        canary: bool,
    },
    /// A message the room already held when the run started (`org.rooms[i].preload`): stored
    /// and indexed at time zero, delivered to nobody, not timed.
    Preload {
        /// its sender, an initial member of the room
        user: UserId,
        /// where
        room: RoomId,
        /// the message's id
        msg: MsgId,
        /// the plaintext
        body: Arc<[u8]>,
        /// its distinct keywords
        keywords: Arc<[String]>,
        /// whether the body carries a canary
        canary: bool,
    },
    /// The user searches a room for a keyword.
    Search {
        /// who
        user: UserId,
        /// where
        room: RoomId,
        /// the keyword
        keyword: String,
    },
    /// `by` (an admin, or another member) adds `user` to `room`.
    Join {
        /// who performs the change
        by: UserId,
        /// where
        room: RoomId,
        /// who joins
        user: UserId,
    },
    /// `by` removes `user` from `room`.
    Leave {
        /// who performs the change
        by: UserId,
        /// where
        room: RoomId,
        /// who leaves
        user: UserId,
    },
    /// Key period `period` starts (`policy.key_period` after the previous one; the run starts
    /// in period 0): credentials a KMS issues per period are renewed.
    KeyPeriod {
        /// the period's number
        period: u32,
    },
}

impl Action {
    /// The measured operation this action starts, if any (a logout and a preload start none).
    #[must_use]
    pub fn op(&self) -> Option<crate::metrics::Op> {
        use crate::metrics::Op;
        match self {
            Action::Login { .. } => Some(Op::Login),
            Action::Send { .. } => Some(Op::Send),
            Action::Search { .. } => Some(Op::Search),
            Action::Join { .. } => Some(Op::Join),
            Action::Leave { .. } => Some(Op::Leave),
            Action::Logout { .. } | Action::Preload { .. } | Action::KeyPeriod { .. } => None,
        }
    }
}

/// A timed action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Simulated time, nanoseconds.
    pub at: Nanos,
    /// What happens.
    pub action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Process {
    /// First at a tie: a period's credentials come before anything else that happens then.
    KeyPeriod(u32),
    Join,
    Leave,
    Move,
    Scheduled(u32),
    Session(u32),
    Message(u32),
    Search(u32),
}

/// The lazy trace generator; iterate it for events in time order.
#[derive(Debug)]
pub struct Generator {
    duration: Nanos,
    /// `policy.key_period`, at least one second (validated).
    key_period: Nanos,
    users: u32,
    heap: BinaryHeap<Reverse<(Nanos, Process)>>,
    pending: VecDeque<Event>,
    // presence and membership ground truth
    online: Vec<bool>,
    initially_online: Vec<bool>,
    rooms_of: Vec<BTreeSet<RoomId>>,
    /// Each room's `activity`, by room id; `None` when every room has the same, so that a
    /// message picks among its sender's rooms uniformly (one draw, as before weights existed).
    activity: Option<Vec<f64>>,
    members: Vec<BTreeSet<UserId>>,
    admins: Vec<BTreeSet<UserId>>,
    room_department: Vec<Option<u32>>,
    department: Vec<u32>,
    /// Per room, the users eligible to be members (those of its organisations), ascending, as
    /// contiguous `(first, count)` blocks; `eligible_count` is their total.
    eligible: Vec<Vec<(u32, u32)>>,
    eligible_count: Vec<u32>,
    // processes
    session_rng: Vec<ChaCha8Rng>,
    message_rng: Vec<ChaCha8Rng>,
    search_rng: Vec<ChaCha8Rng>,
    churn_rng: ChaCha8Rng,
    login_gap: Option<Exp<f64>>,
    session_len: Option<Exp<f64>>,
    message_gap: Option<Exp<f64>>,
    search_gap: Option<Exp<f64>>,
    churn_gaps: [Option<Exp<f64>>; 3],
    scheduled: Vec<(Nanos, ScheduledKind)>,
    // content
    size: ByteDist,
    words: WordSource,
    per_message: u32,
    canary_share: f64,
    recent_canaries: Vec<VecDeque<String>>,
    recent_keywords: Vec<VecDeque<Arc<[String]>>>,
    next_msg: u64,
    next_canary: u64,
    // accounting
    skipped_churn: u64,
    hasher: Sha256,
    emitted: u64,
}

#[derive(Debug)]
enum WordSource {
    Synthetic { zipf: Zipf<f64> },
    Corpus(Corpus),
}

/// Why a workload could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The keyword corpus could not be read.
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    /// A distribution parameter is out of range (the validator should have caught it).
    #[error("invalid workload parameter: {0}")]
    Parameter(&'static str),
}

fn exp_gap(rate_per_second: f64) -> Result<Option<Exp<f64>>, WorkloadError> {
    if rate_per_second <= 0.0 {
        return Ok(None);
    }
    // Rates are per second; gaps are drawn in nanoseconds.
    Exp::new(rate_per_second / 1e9)
        .map(Some)
        .map_err(|_| WorkloadError::Parameter("rate"))
}

fn draw(gap: &Option<Exp<f64>>, rng: &mut ChaCha8Rng) -> Option<Nanos> {
    gap.as_ref()
        .map(|g| (g.sample(rng).min(1e18) as Nanos).max(1))
}

impl Generator {
    /// A generator for `scenario` with `seed`, starting from the organisation `org`.
    ///
    /// # Errors
    /// [`WorkloadError`] if the corpus cannot be read.
    pub fn new(scenario: &Scenario, seed: u64, org: &Org) -> Result<Self, WorkloadError> {
        let users = scenario.org.users;
        let w = &scenario.workload;
        let n_rooms = org.rooms.len();
        let mut rooms_of = vec![BTreeSet::new(); users as usize];
        let mut members = Vec::with_capacity(n_rooms);
        let mut admins = Vec::with_capacity(n_rooms);
        for r in &org.rooms {
            for u in &r.members {
                rooms_of[u.0 as usize].insert(r.id);
            }
            members.push(r.members.iter().copied().collect::<BTreeSet<_>>());
            admins.push(r.admins.iter().copied().collect::<BTreeSet<_>>());
        }
        let words = match &w.keywords.source {
            KeywordSource::Synthetic { vocabulary, zipf } => WordSource::Synthetic {
                zipf: Zipf::new(u64::from(*vocabulary).max(1), *zipf)
                    .map_err(|_| WorkloadError::Parameter("keywords.zipf"))?,
            },
            KeywordSource::Corpus(path) => WordSource::Corpus(Corpus::load(path)?),
        };
        let mut g = Self {
            duration: scenario.duration,
            key_period: scenario.policy.key_period.max(1),
            users,
            heap: BinaryHeap::new(),
            pending: VecDeque::new(),
            online: vec![false; users as usize],
            initially_online: vec![false; users as usize],
            rooms_of,
            activity: {
                let weights: Vec<f64> = org.rooms.iter().map(|r| r.activity).collect();
                let uniform = weights.windows(2).all(|w| w[0] == w[1]);
                (!uniform).then_some(weights)
            },
            members,
            admins,
            room_department: org.rooms.iter().map(|r| r.department).collect(),
            department: org.department.clone(),
            eligible: org
                .rooms
                .iter()
                .map(|r| eligible_blocks(scenario, &r.orgs))
                .collect(),
            eligible_count: Vec::new(),
            session_rng: (0..users)
                .map(|u| rng::workload(seed, "session", u64::from(u)))
                .collect(),
            message_rng: (0..users)
                .map(|u| rng::workload(seed, "message", u64::from(u)))
                .collect(),
            search_rng: (0..users)
                .map(|u| rng::workload(seed, "search", u64::from(u)))
                .collect(),
            churn_rng: rng::workload(seed, "churn", 0),
            login_gap: exp_gap(w.login.rate_per_user)?,
            session_len: if w.login.session == 0 {
                None
            } else {
                Some(
                    Exp::new(1.0 / w.login.session as f64)
                        .map_err(|_| WorkloadError::Parameter("login.session"))?,
                )
            },
            message_gap: exp_gap(w.messages.rate_per_user)?,
            search_gap: exp_gap(w.search.rate_per_user)?,
            churn_gaps: [
                exp_gap(w.churn.join_rate)?,
                exp_gap(w.churn.leave_rate)?,
                exp_gap(w.churn.move_rate)?,
            ],
            scheduled: w
                .churn
                .events
                .iter()
                .map(|e| (e.at, e.kind.clone()))
                .collect(),
            size: w.messages.size.clone(),
            words,
            per_message: w.keywords.per_message,
            canary_share: w.canaries,
            recent_canaries: vec![VecDeque::new(); n_rooms],
            recent_keywords: vec![VecDeque::new(); n_rooms],
            next_msg: 0,
            next_canary: 0,
            skipped_churn: 0,
            hasher: Sha256::new(),
            emitted: 0,
        };
        g.eligible_count = g
            .eligible
            .iter()
            .map(|b| b.iter().map(|(_, n)| n).sum())
            .collect();
        g.hasher.update(b"conclave trace v1\0");
        let preload: Vec<(RoomId, u32)> = org
            .rooms
            .iter()
            .filter(|r| r.preload > 0)
            .map(|r| (r.id, r.preload))
            .collect();
        g.preload(&preload, seed);
        g.start(w.login.online_at_start);
        Ok(g)
    }

    fn start(&mut self, online_at_start: f64) {
        for u in 0..self.users {
            let i = u as usize;
            let online = self.session_rng[i].gen::<f64>() < online_at_start;
            self.online[i] = online;
            self.initially_online[i] = online;
            let first = if online {
                draw(&self.session_len, &mut self.session_rng[i])
            } else {
                draw(&self.login_gap, &mut self.session_rng[i])
            };
            self.schedule(first, Process::Session(u));
            let m = draw(&self.message_gap, &mut self.message_rng[i]);
            self.schedule(m, Process::Message(u));
            let s = draw(&self.search_gap, &mut self.search_rng[i]);
            self.schedule(s, Process::Search(u));
        }
        for k in 0..3 {
            let t = draw(&self.churn_gaps[k], &mut self.churn_rng);
            self.schedule(t, [Process::Join, Process::Leave, Process::Move][k]);
        }
        for (i, (at, _)) in self.scheduled.iter().enumerate() {
            self.heap.push(Reverse((*at, Process::Scheduled(i as u32))));
        }
        let mut start = self.key_period;
        for k in 1.. {
            if start >= self.duration {
                break;
            }
            self.heap.push(Reverse((start, Process::KeyPeriod(k))));
            start = start.saturating_add(self.key_period);
        }
    }

    fn schedule(&mut self, at: Option<Nanos>, p: Process) {
        if let Some(at) = at {
            if at <= self.duration {
                self.heap.push(Reverse((at, p)));
            }
        }
    }

    fn after(&self, now: Nanos, gap: Option<Nanos>) -> Option<Nanos> {
        gap.map(|g| now.saturating_add(g))
    }

    /// Users online at time zero (their sessions start without a measured login).
    #[must_use]
    pub fn initially_online(&self) -> &[bool] {
        &self.initially_online
    }

    /// Churn events skipped so far because nobody in the room was online to perform them.
    #[must_use]
    pub fn skipped_churn(&self) -> u64 {
        self.skipped_churn
    }

    /// Hex SHA-256 of the events emitted so far.
    #[must_use]
    pub fn trace_sha256(&self) -> String {
        let digest = self.hasher.clone().finalize();
        crate::persist::hex(&digest)
    }

    /// Events emitted so far.
    #[must_use]
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    fn hash(&mut self, e: &Event) {
        let h = &mut self.hasher;
        h.update(e.at.to_le_bytes());
        match &e.action {
            Action::Login { user } => {
                h.update([0]);
                h.update(user.0.to_le_bytes());
            }
            Action::Logout { user } => {
                h.update([1]);
                h.update(user.0.to_le_bytes());
            }
            Action::Send {
                user,
                room,
                msg,
                body,
                keywords,
                canary,
            }
            | Action::Preload {
                user,
                room,
                msg,
                body,
                keywords,
                canary,
            } => {
                h.update([if matches!(e.action, Action::Send { .. }) {
                    2
                } else {
                    6
                }]);
                h.update(user.0.to_le_bytes());
                h.update(room.0.to_le_bytes());
                h.update(msg.0.to_le_bytes());
                h.update((body.len() as u64).to_le_bytes());
                h.update(body);
                h.update((keywords.len() as u64).to_le_bytes());
                for k in keywords.iter() {
                    h.update(k.as_bytes());
                    h.update([0]);
                }
                h.update([u8::from(*canary)]);
            }
            Action::Search {
                user,
                room,
                keyword,
            } => {
                h.update([3]);
                h.update(user.0.to_le_bytes());
                h.update(room.0.to_le_bytes());
                h.update(keyword.as_bytes());
                h.update([0]);
            }
            Action::KeyPeriod { period } => {
                h.update([7]);
                h.update(period.to_le_bytes());
            }
            Action::Join { by, room, user } | Action::Leave { by, room, user } => {
                h.update([if matches!(e.action, Action::Join { .. }) {
                    4
                } else {
                    5
                }]);
                h.update(by.0.to_le_bytes());
                h.update(room.0.to_le_bytes());
                h.update(user.0.to_le_bytes());
            }
        }
    }

    fn step(&mut self, now: Nanos, p: Process) {
        match p {
            Process::KeyPeriod(period) => self.emit(now, Action::KeyPeriod { period }),
            Process::Session(u) => {
                let i = u as usize;
                if self.online[i] {
                    self.online[i] = false;
                    self.emit(now, Action::Logout { user: UserId(u) });
                    let next = draw(&self.login_gap, &mut self.session_rng[i]);
                    let at = self.after(now, next);
                    self.schedule(at, p);
                } else {
                    self.online[i] = true;
                    self.emit(now, Action::Login { user: UserId(u) });
                    let next = draw(&self.session_len, &mut self.session_rng[i]);
                    let at = self.after(now, next);
                    self.schedule(at, p);
                }
            }
            Process::Message(u) => {
                let i = u as usize;
                if self.online[i] && !self.rooms_of[i].is_empty() {
                    let action = self.message(u);
                    self.emit(now, action);
                }
                let next = draw(&self.message_gap, &mut self.message_rng[i]);
                let at = self.after(now, next);
                self.schedule(at, p);
            }
            Process::Search(u) => {
                let i = u as usize;
                if self.online[i] && !self.rooms_of[i].is_empty() {
                    let action = self.search(u);
                    self.emit(now, action);
                }
                let next = draw(&self.search_gap, &mut self.search_rng[i]);
                let at = self.after(now, next);
                self.schedule(at, p);
            }
            Process::Join | Process::Leave | Process::Move => {
                match p {
                    Process::Join => self.churn_join(now),
                    Process::Leave => self.churn_leave(now),
                    _ => self.churn_move(now),
                }
                let k = match p {
                    Process::Join => 0,
                    Process::Leave => 1,
                    _ => 2,
                };
                let next = draw(&self.churn_gaps[k], &mut self.churn_rng);
                let at = self.after(now, next);
                self.schedule(at, p);
            }
            Process::Scheduled(i) => {
                if let Some((_, kind)) = self.scheduled.get(i as usize).cloned() {
                    match kind {
                        ScheduledKind::Reorg { from, to, share } => {
                            self.reorg(now, from, to, share)
                        }
                        ScheduledKind::LeaveEach => self.change_each(now, false),
                        ScheduledKind::JoinEach => self.change_each(now, true),
                    }
                }
            }
        }
    }

    fn emit(&mut self, at: Nanos, action: Action) {
        self.pending.push_back(Event { at, action });
    }

    fn pick_room(rooms: &BTreeSet<RoomId>, rng: &mut ChaCha8Rng) -> Option<RoomId> {
        if rooms.is_empty() {
            return None;
        }
        let k = rng.gen_range(0..rooms.len());
        rooms.iter().nth(k).copied()
    }

    /// The room a message of a member of `rooms` goes to: one of them in proportion to their
    /// `activity`.
    fn pick_busy_room(
        rooms: &BTreeSet<RoomId>,
        activity: &[f64],
        rng: &mut ChaCha8Rng,
    ) -> Option<RoomId> {
        let weight = |r: &RoomId| activity.get(r.0 as usize).copied().unwrap_or(1.0);
        let total: f64 = rooms.iter().map(weight).sum();
        let mut x = rng.gen::<f64>() * total;
        let mut last = None;
        for r in rooms {
            x -= weight(r);
            if x < 0.0 {
                return Some(*r);
            }
            last = Some(*r);
        }
        // Rounding left a sliver past the end: the last room's.
        last
    }

    fn message(&mut self, u: u32) -> Action {
        let i = u as usize;
        let mut rng = self.message_rng[i].clone();
        let room = match &self.activity {
            None => Self::pick_room(&self.rooms_of[i], &mut rng),
            Some(activity) => Self::pick_busy_room(&self.rooms_of[i], activity, &mut rng),
        }
        .unwrap_or(RoomId(0));
        let (msg, body, keywords, canary) = self.compose(room, &mut rng);
        self.message_rng[i] = rng;
        Action::Send {
            user: UserId(u),
            room,
            msg,
            body,
            keywords,
            canary,
        }
    }

    /// Messages rooms hold when the run starts (`org.rooms[i].preload`), each from a random
    /// initial member, all at time zero.
    fn preload(&mut self, rooms: &[(RoomId, u32)], seed: u64) {
        for &(room, count) in rooms {
            let members: Vec<UserId> = self.members[room.0 as usize].iter().copied().collect();
            if members.is_empty() {
                continue;
            }
            let mut rng = crate::rng::workload(seed, "preload", u64::from(room.0));
            for _ in 0..count {
                let user = members[rng.gen_range(0..members.len())];
                let (msg, body, keywords, canary) = self.compose(room, &mut rng);
                self.emit(
                    0,
                    Action::Preload {
                        user,
                        room,
                        msg,
                        body,
                        keywords,
                        canary,
                    },
                );
            }
        }
    }

    /// A new message for `room`: its id, body, keywords and whether it carries a canary.
    fn compose(
        &mut self,
        room: RoomId,
        rng: &mut ChaCha8Rng,
    ) -> (MsgId, Arc<[u8]>, Arc<[String]>, bool) {
        let canary = rng.gen::<f64>() < self.canary_share;
        let (mut text, mut keywords) = match &self.words {
            WordSource::Synthetic { zipf } => {
                let size = match self.size {
                    ByteDist::Fixed(n) => n,
                    ByteDist::Uniform { min, max } => rng.gen_range(min..=max.max(min)),
                    ByteDist::LogNormal { median, sigma } => {
                        LogNormal::new((median.max(1) as f64).ln(), sigma)
                            .map(|d| d.sample(rng).min(1e9) as u64)
                            .unwrap_or(median)
                    }
                } as usize;
                let mut ranks: Vec<u32> = Vec::with_capacity(self.per_message as usize);
                let mut tries = 0;
                while ranks.len() < self.per_message as usize
                    && tries < 16 * self.per_message.max(1)
                {
                    tries += 1;
                    let r = (zipf.sample(rng) as u32).saturating_sub(1);
                    if !ranks.contains(&r) {
                        ranks.push(r);
                    }
                }
                let mut words: Vec<String> = ranks.into_iter().map(text::synthetic_word).collect();
                if canary {
                    words.push(text::canary_keyword(self.next_canary));
                }
                let refs: Vec<&str> = words.iter().map(String::as_str).collect();
                (text::body(&refs, size), words)
            }
            WordSource::Corpus(c) => {
                let mut t = c.text(rng.gen_range(0..c.len())).to_owned();
                if canary {
                    t.push(' ');
                    t.push_str(&text::canary_keyword(self.next_canary));
                }
                let kws = text::keywords(&t);
                (t, kws)
            }
        };
        if canary {
            self.recent_canaries[room.0 as usize].push_back(text::canary_keyword(self.next_canary));
            if self.recent_canaries[room.0 as usize].len() > 16 {
                self.recent_canaries[room.0 as usize].pop_front();
            }
            text.push(' ');
            text.push_str(&text::canary_message(self.next_canary));
            self.next_canary += 1;
        }
        keywords.dedup();
        let keywords: Arc<[String]> = keywords.into();
        let recent = &mut self.recent_keywords[room.0 as usize];
        recent.push_back(keywords.clone());
        if recent.len() > 64 {
            recent.pop_front();
        }
        let msg = MsgId(self.next_msg);
        self.next_msg += 1;
        (msg, text.into_bytes().into(), keywords, canary)
    }

    fn search(&mut self, u: u32) -> Action {
        let i = u as usize;
        let rng = &mut self.search_rng[i];
        let room = Self::pick_room(&self.rooms_of[i], rng).unwrap_or(RoomId(0));
        let canaries = &self.recent_canaries[room.0 as usize];
        let keyword = if !canaries.is_empty() && rng.gen::<f64>() < self.canary_share {
            canaries[rng.gen_range(0..canaries.len())].clone()
        } else {
            match &self.words {
                WordSource::Synthetic { zipf } => {
                    text::synthetic_word((zipf.sample(rng) as u32).saturating_sub(1))
                }
                WordSource::Corpus(c) => {
                    let recent = &self.recent_keywords[room.0 as usize];
                    let from_room = if recent.is_empty() {
                        None
                    } else {
                        let kws = &recent[rng.gen_range(0..recent.len())];
                        (!kws.is_empty()).then(|| kws[rng.gen_range(0..kws.len())].clone())
                    };
                    from_room.unwrap_or_else(|| c.random_word(rng))
                }
            }
        };
        Action::Search {
            user: UserId(u),
            room,
            keyword,
        }
    }

    /// An online admin of `room` other than `not`, else an online member, else `None`.
    fn actor(&mut self, room: RoomId, not: UserId) -> Option<UserId> {
        let r = room.0 as usize;
        let online = |u: &&UserId| **u != not && self.online[u.0 as usize];
        let admins: Vec<UserId> = self.admins[r].iter().filter(online).copied().collect();
        let pool: Vec<UserId> = if admins.is_empty() {
            self.members[r].iter().filter(online).copied().collect()
        } else {
            admins
        };
        if pool.is_empty() {
            return None;
        }
        Some(pool[self.churn_rng.gen_range(0..pool.len())])
    }

    fn apply_join(&mut self, at: Nanos, by: UserId, room: RoomId, user: UserId) {
        self.members[room.0 as usize].insert(user);
        self.rooms_of[user.0 as usize].insert(room);
        self.emit(at, Action::Join { by, room, user });
    }

    fn apply_leave(&mut self, at: Nanos, by: UserId, room: RoomId, user: UserId) {
        self.members[room.0 as usize].remove(&user);
        self.admins[room.0 as usize].remove(&user);
        self.rooms_of[user.0 as usize].remove(&room);
        self.emit(at, Action::Leave { by, room, user });
    }

    fn random_room(&mut self, ok: impl Fn(&Self, usize) -> bool) -> Option<RoomId> {
        let n = self.members.len();
        if n == 0 {
            return None;
        }
        for _ in 0..32 {
            let r = self.churn_rng.gen_range(0..n);
            if ok(self, r) {
                return Some(RoomId(r as u32));
            }
        }
        None
    }

    /// Whether some user eligible for room `r` (of one of its organisations) is not a member.
    fn joinable(&self, r: usize) -> bool {
        // Members are always eligible: joins, moves and reorganisations add only eligible users.
        let eligible = self.eligible_count.get(r).copied().unwrap_or(self.users);
        self.members[r].len() < eligible as usize
    }

    /// Whether `user` belongs to one of the organisations of room `r`.
    fn may_join(&self, r: usize, user: UserId) -> bool {
        self.eligible.get(r).is_none_or(|blocks| {
            blocks
                .iter()
                .any(|&(first, n)| user.0 >= first && user.0 - first < n)
        })
    }

    fn leavable(&self, r: usize) -> bool {
        self.members[r].len() > 2 && self.members[r].iter().any(|u| !self.admins[r].contains(u))
    }

    /// A random user eligible for `room` (of one of its organisations) who is not a member.
    fn random_non_member(&mut self, room: RoomId) -> Option<UserId> {
        let r = room.0 as usize;
        let eligible = self.eligible_count.get(r).copied().unwrap_or(self.users);
        if eligible == 0 {
            return None;
        }
        for _ in 0..64 {
            // The k-th eligible user: with one organisation, user k.
            let mut k = self.churn_rng.gen_range(0..eligible);
            let mut u = None;
            for &(first, n) in self.eligible.get(r).map_or(&[][..], Vec::as_slice) {
                if k < n {
                    u = Some(UserId(first + k));
                    break;
                }
                k -= n;
            }
            let u = u.unwrap_or(UserId(k));
            if !self.members[r].contains(&u) {
                return Some(u);
            }
        }
        None
    }

    fn random_leaver(&mut self, room: RoomId) -> Option<UserId> {
        let r = room.0 as usize;
        let pool: Vec<UserId> = self.members[r]
            .iter()
            .filter(|u| !self.admins[r].contains(u))
            .copied()
            .collect();
        (!pool.is_empty()).then(|| pool[self.churn_rng.gen_range(0..pool.len())])
    }

    /// A random user joins (`join`) or a random non-admin member leaves `room`, performed by
    /// an online admin or member; skipped and counted when nobody can perform it.
    fn change_room(&mut self, now: Nanos, room: RoomId, join: bool) {
        let user = if join {
            self.random_non_member(room)
        } else {
            self.random_leaver(room)
        };
        let Some(user) = user else { return };
        match (self.actor(room, user), join) {
            (Some(by), true) => self.apply_join(now, by, room, user),
            (Some(by), false) => self.apply_leave(now, by, room, user),
            (None, _) => self.skipped_churn += 1,
        }
    }

    fn churn_join(&mut self, now: Nanos) {
        if let Some(room) = self.random_room(Self::joinable) {
            self.change_room(now, room, true);
        }
    }

    fn churn_leave(&mut self, now: Nanos) {
        if let Some(room) = self.random_room(Self::leavable) {
            self.change_room(now, room, false);
        }
    }

    /// `join: all` and `leave: all`: one join into, or one leave from, every room that allows it.
    fn change_each(&mut self, now: Nanos, join: bool) {
        for r in 0..self.members.len() {
            let possible = if join {
                self.joinable(r)
            } else {
                self.leavable(r)
            };
            if possible {
                self.change_room(now, RoomId(r as u32), join);
            }
        }
    }

    fn churn_move(&mut self, now: Nanos) {
        let Some(from) = self.random_room(Self::leavable) else {
            return;
        };
        let Some(user) = self.random_leaver(from) else {
            return;
        };
        let to = self.random_room(|g, r| {
            g.joinable(r) && !g.members[r].contains(&user) && g.may_join(r, user)
        });
        let Some(to) = to else { return };
        match (self.actor(from, user), self.actor(to, user)) {
            (Some(a), Some(b)) => {
                self.apply_leave(now, a, from, user);
                self.apply_join(now, b, to, user);
            }
            _ => self.skipped_churn += 1,
        }
    }

    fn reorg(&mut self, now: Nanos, from: u32, to: u32, share: f64) {
        let room_of = |d: u32| {
            self.room_department
                .iter()
                .position(|x| *x == Some(d))
                .map(|r| RoomId(r as u32))
        };
        let (from_room, to_room) = (room_of(from), room_of(to));
        let movers: Vec<UserId> = (0..self.users)
            .filter(|&u| self.department[u as usize] == from)
            .map(UserId)
            .filter(|u| from_room.is_none_or(|r| !self.admins[r.0 as usize].contains(u)))
            .collect();
        let count = ((movers.len() as f64) * share).ceil() as usize;
        let chosen: Vec<UserId> =
            rand::seq::index::sample(&mut self.churn_rng, movers.len(), count.min(movers.len()))
                .into_iter()
                .map(|k| movers[k])
                .collect();
        for user in chosen {
            self.department[user.0 as usize] = to;
            if let Some(fr) = from_room {
                if self.members[fr.0 as usize].contains(&user)
                    && self.members[fr.0 as usize].len() > 2
                {
                    match self.actor(fr, user) {
                        Some(by) => self.apply_leave(now, by, fr, user),
                        None => self.skipped_churn += 1,
                    }
                }
            }
            if let Some(tr) = to_room {
                if !self.members[tr.0 as usize].contains(&user) {
                    match self.actor(tr, user) {
                        Some(by) => self.apply_join(now, by, tr, user),
                        None => self.skipped_churn += 1,
                    }
                }
            }
        }
    }
}

/// The users of the organisations `orgs`, as contiguous `(first, count)` blocks in ascending
/// order; every user when `orgs` names none (a model built by hand without organisations).
fn eligible_blocks(scenario: &Scenario, orgs: &[u16]) -> Vec<(u32, u32)> {
    let mut blocks: Vec<(u32, u32)> = Vec::with_capacity(orgs.len());
    let mut sorted = orgs.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for o in sorted
        .iter()
        .filter_map(|&k| scenario.org.organisations.get(usize::from(k)))
    {
        let first = o.first_user.min(scenario.org.users);
        let n = o.users.min(scenario.org.users - first);
        match blocks.last_mut() {
            Some((f, c)) if *f + *c == first => *c += n,
            _ if n > 0 => blocks.push((first, n)),
            _ => {}
        }
    }
    if blocks.is_empty() {
        blocks.push((0, scenario.org.users));
    }
    blocks
}

impl Iterator for Generator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                self.hash(&e);
                self.emitted += 1;
                return Some(e);
            }
            let Reverse((at, p)) = self.heap.pop()?;
            self.step(at, p);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;
    use std::path::Path;

    use super::{Action, Generator, Org};
    use crate::scenario::{parse, KnownSchemes, ModelledSchemes, Scenario};

    const KNOWN: KnownSchemes<'static> = KnownSchemes {
        kd: &["conventional"],
        pre: &["none"],
        sse: &["plaintext"],
        kd_rejoining: &["mls"],
        modelled: ModelledSchemes::NONE,
    };

    /// acme (40 users, 4 departments) and supplier (20 users, 2 departments), trusting each
    /// other; acme-only project rooms, a supplier-only org room, cross-organisation project rooms
    /// and department rooms of both; heavy churn, `join: all`, `leave: all` and a reorganisation
    /// in each organisation.
    fn two_organisations() -> Scenario {
        let text = "name: two-orgs
duration: 6h
organisations:
  - { name: acme, users: 40, departments: 4, trusts: [supplier] }
  - { name: supplier, users: 20, departments: 2, trusts: [acme] }
org:
  rooms:
    - { kind: department }
    - { kind: project, count: 6, size: { uniform: { min: 2, max: 8 } }, orgs: [acme] }
    - { kind: org, orgs: [supplier] }
    - { kind: project, count: 3, size: 6, orgs: [supplier, acme] }
workload:
  login: { rate: 4/h/user, session: 1h, online_at_start: 0.7 }
  churn:
    join: 120/h
    leave: 60/h
    move: 60/h
    events:
      - { at: 1h, join: all }
      - { at: 2h, reorg: { from: 1, to: 3, share: 0.5 } }
      - { at: 3h, reorg: { from: 5, to: 4, share: 1 } }
      - { at: 4h, leave: all }
      - { at: 5h, join: all }
stacks: [conventional+none+plaintext]
";
        parse(text, Path::new("two-orgs.yaml"), &KNOWN).unwrap()
    }

    #[test]
    fn rooms_and_departments_stay_within_their_organisations() {
        let s = two_organisations();
        let org = Org::build(&s, 7);
        assert_eq!(org.organisation.len(), 60);
        for u in 0..60u32 {
            let k = s.org.organisation_of(u);
            assert_eq!(org.organisation[u as usize], k);
            assert!(
                s.org.organisations[usize::from(k)].holds_department(org.department[u as usize])
            );
        }
        // 4 + 2 department rooms, 6 acme rooms, 1 supplier room, 3 cross-organisation rooms.
        assert_eq!(org.rooms.len(), 16);
        for room in &org.rooms {
            for m in &room.members {
                assert!(
                    room.orgs.contains(&org.organisation[m.0 as usize]),
                    "{room:?}"
                );
                if let Some(d) = room.department {
                    assert_eq!(org.department[m.0 as usize], d);
                }
            }
        }
        let supplier_room = &org.rooms[12];
        assert_eq!(supplier_room.orgs, vec![1]);
        assert_eq!(supplier_room.members.len(), 20);
        assert!(supplier_room.members.iter().all(|m| m.0 >= 40));
        let mixed: BTreeSet<u16> = org.rooms[13..]
            .iter()
            .flat_map(|r| r.members.iter().map(|m| org.organisation[m.0 as usize]))
            .collect();
        assert_eq!(mixed, BTreeSet::from([0, 1]));
    }

    #[test]
    fn churn_adds_only_users_of_a_room_s_organisations() {
        let s = two_organisations();
        for seed in 0..4 {
            let org = Org::build(&s, seed);
            let mut gen = Generator::new(&s, seed, &org).unwrap();
            let (mut joins, mut dept_joins) = (0, 0);
            for e in gen.by_ref() {
                let Action::Join { room, user, .. } = e.action else {
                    continue;
                };
                joins += 1;
                let r = &org.rooms[room.0 as usize];
                let k = s.org.organisation_of(user.0);
                assert!(
                    r.orgs.contains(&k),
                    "seed {seed}: user {user:?} of organisation {k} joined {r:?}"
                );
                if let Some(d) = r.department {
                    // A department room takes users of its department's organisation only.
                    dept_joins += 1;
                    assert_eq!(r.orgs, vec![k], "seed {seed}: {r:?}");
                    assert!(s.org.organisations[usize::from(k)].holds_department(d));
                }
            }
            assert!(joins > 50, "seed {seed}: only {joins} joins");
            assert!(dept_joins > 0, "seed {seed}: no department room joins");
            // Reorganisations moved users between departments of their own organisation.
            assert_ne!(
                gen.department, org.department,
                "seed {seed}: no reorganisation"
            );
            for (u, d) in gen.department.iter().enumerate() {
                let k = s.org.organisation_of(u as u32);
                assert!(s.org.organisations[usize::from(k)].holds_department(*d));
            }
        }
    }

    #[test]
    fn a_full_one_organisation_room_is_not_joinable() {
        // The supplier room holds every supplier user: `join: all` adds nobody to it, although
        // 40 acme users are not members.
        let s = two_organisations();
        let org = Org::build(&s, 3);
        let gen = Generator::new(&s, 3, &org).unwrap();
        assert!(gen.eligible_count[12] == 20 && !gen.joinable(12));
        assert!(gen.joinable(13));
    }

    #[test]
    fn messages_go_to_rooms_in_proportion_to_their_activity() {
        // Every user is in its department room and the org room; the org room is 9 times as
        // busy, so about 90 % of messages go there (a uniform pick would send half).
        let text = "name: activity
duration: 24h
org:
  users: 40
  departments: 4
  rooms:
    - { kind: department }
    - { kind: org, activity: 9 }
workload:
  messages: { rate: 20/h/user }
  churn: { join: 0/h, leave: 0/h, move: 0/h }
stacks: [conventional+none+plaintext]
";
        let s = parse(text, Path::new("activity.yaml"), &KNOWN).unwrap();
        let org = Org::build(&s, 5);
        let org_room = org.rooms.len() - 1;
        let (mut sent, mut to_org) = (0u32, 0u32);
        for e in Generator::new(&s, 5, &org).unwrap() {
            if let Action::Send { room, .. } = e.action {
                sent += 1;
                to_org += u32::from(room.0 as usize == org_room);
            }
        }
        let share = f64::from(to_org) / f64::from(sent);
        assert!(sent > 1000, "{sent} messages");
        assert!(
            (0.87..0.93).contains(&share),
            "{share} of {sent} to the org room"
        );
    }
}
