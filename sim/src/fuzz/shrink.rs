//! Shrinking: greedy delta debugging over a list of reduction passes.
//!
//! Each pass proposes smaller variants of a scenario (fewer users, fewer rooms, fewer stacks, no
//! events, shorter duration, fixed values instead of distributions, defaults instead of explicit
//! keys...). A variant is kept when it is still a valid scenario and the caller's predicate says
//! the failure persists; then the passes start over from the smaller scenario. Shrinking ends
//! when no pass yields a kept variant, or when the time budget or the evaluation budget is spent.

use std::time::{Duration, Instant};

use super::generate::{
    FuzzScenario, GenByteSize, GenEventKind, GenKeywords, GenRoomKind, GenRoomSize,
};

/// How shrinking went.
#[derive(Debug, Clone)]
pub struct ShrinkOutcome {
    /// The smallest scenario found that still fails.
    pub scenario: FuzzScenario,
    /// Variants tried (valid ones, each costing one predicate call).
    pub tried: usize,
    /// Variants kept.
    pub kept: usize,
    /// Whether shrinking stopped because the time budget ran out (the result may not be minimal).
    pub out_of_time: bool,
}

/// Shrinks `start` while `still_fails` holds, for at most `budget` of wall time. `is_valid`
/// filters variants that the scenario language rejects (they are not passed to `still_fails`).
pub fn shrink(
    start: FuzzScenario,
    budget: Duration,
    mut is_valid: impl FnMut(&FuzzScenario) -> bool,
    mut still_fails: impl FnMut(&FuzzScenario) -> bool,
) -> ShrinkOutcome {
    let deadline = Instant::now() + budget;
    let mut current = start;
    let mut tried = 0;
    let mut kept = 0;
    // Rounds over all passes; within a pass, a kept variant is shrunk again by the same pass
    // before moving on, so failing candidates are not retried after every success.
    loop {
        let kept_before = kept;
        for pass in PASSES {
            'pass: loop {
                for mut candidate in pass(&current) {
                    normalise(&mut candidate);
                    if candidate == current || !is_valid(&candidate) {
                        continue;
                    }
                    if Instant::now() >= deadline {
                        return ShrinkOutcome {
                            scenario: current,
                            tried,
                            kept,
                            out_of_time: true,
                        };
                    }
                    tried += 1;
                    if still_fails(&candidate) {
                        kept += 1;
                        current = candidate;
                        continue 'pass;
                    }
                }
                break;
            }
        }
        if kept == kept_before {
            return ShrinkOutcome {
                scenario: current,
                tried,
                kept,
                out_of_time: false,
            };
        }
    }
}

/// A reduction pass: smaller variants of a scenario, most aggressive first.
type Pass = fn(&FuzzScenario) -> Vec<FuzzScenario>;

/// The passes, in the order they are tried: the ones that cut the most work first, so that
/// later candidates are cheap to run.
const PASSES: &[Pass] = &[
    fewer_stacks,
    fewer_replicates,
    shorter_duration,
    fewer_organisations,
    fewer_users,
    fewer_room_groups,
    fewer_events,
    less_churn,
    fewer_rooms_per_group,
    smaller_rooms,
    simpler_room_keys,
    fewer_departments,
    fewer_messages,
    simpler_message_size,
    simpler_keywords,
    less_search,
    simpler_login,
    simpler_history_and_canaries,
    simpler_network,
    simpler_servers_and_report,
];

/// Smaller values to try for a count, most aggressive first: `floor`, half, three quarters,
/// one less.
fn smaller(v: u32, floor: u32) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for c in [floor, v / 2, v - v / 4, v.saturating_sub(1)] {
        if c >= floor && c < v && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// As [`smaller`] for seconds.
fn smaller_u64(v: u64, floor: u64) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for c in [floor, v / 2, v - v / 4, v.saturating_sub(60)] {
        if c >= floor && c < v && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

fn variants(
    s: &FuzzScenario,
    n: usize,
    f: impl Fn(&mut FuzzScenario, usize) -> bool,
) -> Vec<FuzzScenario> {
    let mut out = Vec::new();
    for i in 0..n {
        let mut c = s.clone();
        if f(&mut c, i) {
            out.push(c);
        }
    }
    out
}

fn fewer_stacks(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let mut out = Vec::new();
    if s.stacks.len() > 1 {
        // Each stack alone first, then each one removed.
        for st in &s.stacks {
            let mut c = s.clone();
            c.stacks = vec![st.clone()];
            out.push(c);
        }
    }
    if s.first_stack_as_mapping {
        let mut c = s.clone();
        c.first_stack_as_mapping = false;
        out.push(c);
    }
    out
}

fn fewer_replicates(s: &FuzzScenario) -> Vec<FuzzScenario> {
    variants(s, usize::from(s.replicates.is_some()), |c, _| {
        c.replicates = None;
        true
    })
}

fn fewer_room_groups(s: &FuzzScenario) -> Vec<FuzzScenario> {
    if s.rooms.len() < 2 {
        return Vec::new();
    }
    variants(s, s.rooms.len(), |c, i| {
        c.rooms.remove(i);
        true
    })
}

fn fewer_users(s: &FuzzScenario) -> Vec<FuzzScenario> {
    smaller(s.users, 2)
        .into_iter()
        .map(|u| {
            let mut c = s.clone();
            c.users = u;
            c
        })
        .collect()
}

fn shorter_duration(s: &FuzzScenario) -> Vec<FuzzScenario> {
    smaller_u64(s.duration_s, 60)
        .into_iter()
        .map(|d| {
            let mut c = s.clone();
            c.duration_s = d;
            c
        })
        .collect()
}

fn fewer_events(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let n = s.churn.as_ref().map_or(0, |c| c.events.len());
    let mut out = variants(s, n, |c, i| {
        if let Some(ch) = c.churn.as_mut() {
            ch.events.remove(i);
        }
        true
    });
    // A reorganisation moving fewer people.
    out.extend(variants(s, n, |c, i| {
        let Some(GenEventKind::Reorg { share_tenths, .. }) = c
            .churn
            .as_mut()
            .and_then(|ch| ch.events.get_mut(i))
            .map(|e| &mut e.kind)
        else {
            return false;
        };
        if *share_tenths <= 1 {
            return false;
        }
        *share_tenths = 1;
        true
    }));
    out
}

fn less_churn(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let Some(ch) = &s.churn else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut none = s.clone();
    none.churn = None;
    out.push(none);
    type Field = fn(&mut super::generate::GenChurn) -> &mut Option<u32>;
    let fields: [Field; 3] = [
        |c| &mut c.join_per_hour,
        |c| &mut c.leave_per_hour,
        |c| &mut c.move_per_hour,
    ];
    for field in fields {
        let mut probe = ch.clone();
        let Some(v) = *field(&mut probe) else {
            continue;
        };
        let mut off = s.clone();
        if let Some(c) = off.churn.as_mut() {
            *field(c) = None;
        }
        out.push(off);
        for smaller_rate in smaller(v, 1) {
            let mut c = s.clone();
            if let Some(ch) = c.churn.as_mut() {
                *field(ch) = Some(smaller_rate);
            }
            out.push(c);
        }
    }
    out
}

fn fewer_rooms_per_group(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let mut out = Vec::new();
    for (i, room) in s.rooms.iter().enumerate() {
        if let GenRoomKind::Project { count, .. } = room.kind {
            for n in smaller(count, 1) {
                let mut c = s.clone();
                if let Some(GenRoomKind::Project { count, .. }) =
                    c.rooms.get_mut(i).map(|r| &mut r.kind)
                {
                    *count = n;
                }
                out.push(c);
            }
        }
    }
    out
}

fn smaller_rooms(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let mut out = Vec::new();
    for (i, room) in s.rooms.iter().enumerate() {
        let GenRoomKind::Project { size, .. } = &room.kind else {
            // An organisation-wide or department room becomes one small project room.
            let mut c = s.clone();
            if let Some(r) = c.rooms.get_mut(i) {
                r.kind = GenRoomKind::Project {
                    count: 1,
                    size: GenRoomSize::Fixed(2),
                };
            }
            out.push(c);
            continue;
        };
        let replace = |new: GenRoomSize| {
            let mut c = s.clone();
            if let Some(GenRoomKind::Project { size, .. }) = c.rooms.get_mut(i).map(|r| &mut r.kind)
            {
                *size = new;
            }
            c
        };
        match size {
            GenRoomSize::Fixed(n) => {
                for m in smaller(*n, 2) {
                    out.push(replace(GenRoomSize::Fixed(m)));
                }
            }
            GenRoomSize::Uniform { min, max } => {
                out.push(replace(GenRoomSize::Fixed(*min)));
                out.push(replace(GenRoomSize::Fixed(*max)));
            }
            GenRoomSize::Zipf { min, max, .. } => {
                out.push(replace(GenRoomSize::Fixed(min.unwrap_or(2))));
                out.push(replace(GenRoomSize::Fixed(*max)));
            }
        }
    }
    out
}

fn simpler_room_keys(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let mut out = Vec::new();
    for (i, room) in s.rooms.iter().enumerate() {
        let mut edit = |f: &dyn Fn(&mut super::generate::GenRoom)| {
            let mut c = s.clone();
            if let Some(r) = c.rooms.get_mut(i) {
                f(r);
            }
            out.push(c);
        };
        if room.preload.is_some() {
            edit(&|r| r.preload = None);
        }
        if room.activity_tenths.is_some() {
            edit(&|r| r.activity_tenths = None);
        }
        if let Some(p) = room.preload.filter(|p| *p > 1) {
            edit(&|r| r.preload = Some(p / 2));
        }
        if room.admins.is_some() {
            edit(&|r| r.admins = None);
        }
        if room.history.is_some() {
            edit(&|r| r.history = None);
        }
    }
    out
}

fn fewer_departments(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let Some(d) = s.departments else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut c = s.clone();
    c.departments = None;
    out.push(c);
    for n in smaller(d, 1) {
        let mut c = s.clone();
        c.departments = Some(n);
        out.push(c);
    }
    out
}

fn fewer_messages(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let mut out = Vec::new();
    match s.message_rate_per_hour {
        // The default is 10/h/user: going explicit at 0 or below 10 is smaller.
        None => {
            for r in [0, 1, 5] {
                let mut c = s.clone();
                c.message_rate_per_hour = Some(r);
                out.push(c);
            }
        }
        Some(r) => {
            for n in smaller(r, 0) {
                let mut c = s.clone();
                c.message_rate_per_hour = Some(n);
                out.push(c);
            }
        }
    }
    out
}

fn simpler_message_size(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let fixed = |n: u64| {
        let mut c = s.clone();
        c.message_size = Some(GenByteSize::Fixed(n));
        c
    };
    match &s.message_size {
        None | Some(GenByteSize::LogNormal { .. }) => vec![fixed(160)],
        Some(GenByteSize::Uniform { min, .. }) => vec![fixed(*min)],
        Some(GenByteSize::Fixed(n)) if *n > 16 => vec![fixed(16)],
        Some(GenByteSize::Fixed(_)) => Vec::new(),
    }
}

fn simpler_keywords(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let mut out = Vec::new();
    let synthetic = |vocabulary: u32, per_message: u32| {
        let mut c = s.clone();
        c.keywords = Some(GenKeywords::Synthetic {
            vocabulary: Some(vocabulary),
            zipf_tenths: None,
            per_message: Some(per_message),
        });
        c
    };
    match &s.keywords {
        None | Some(GenKeywords::Corpus { .. }) => out.push(synthetic(100, 1)),
        Some(GenKeywords::Synthetic {
            vocabulary,
            zipf_tenths,
            per_message,
        }) => {
            if zipf_tenths.is_some() {
                let mut c = s.clone();
                if let Some(GenKeywords::Synthetic { zipf_tenths, .. }) = c.keywords.as_mut() {
                    *zipf_tenths = None;
                }
                out.push(c);
            }
            let v = vocabulary.unwrap_or(20_000);
            let p = per_message.unwrap_or(8);
            for (nv, np) in [(v.min(100), p.min(1)), (v.min(100), p), (v, p.min(1))] {
                if (nv, np) != (v, p) || vocabulary.is_none() || per_message.is_none() {
                    out.push(synthetic(nv, np));
                }
            }
        }
    }
    out
}

fn less_search(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let mut out = Vec::new();
    let search = s.search.clone().unwrap_or(super::generate::GenSearch {
        rate_per_hour: None,
        fetch: None,
    });
    let rate = search.rate_per_hour.unwrap_or(1);
    for r in smaller(rate, 0)
        .into_iter()
        .chain(if search.rate_per_hour.is_none() {
            Some(1)
        } else {
            None
        })
    {
        let mut c = s.clone();
        c.search = Some(super::generate::GenSearch {
            rate_per_hour: Some(r),
            ..search.clone()
        });
        out.push(c);
    }
    if let Some(f) = search.fetch {
        for n in smaller(f, 0) {
            let mut c = s.clone();
            c.search = Some(super::generate::GenSearch {
                fetch: Some(n),
                ..search.clone()
            });
            out.push(c);
        }
    }
    out
}

fn simpler_login(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let Some(login) = &s.login else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut edit = |f: &dyn Fn(&mut super::generate::GenLogin)| {
        let mut c = s.clone();
        if let Some(l) = c.login.as_mut() {
            f(l);
        }
        out.push(c);
    };
    if login.recent.is_some_and(|r| r > 0) {
        edit(&|l| l.recent = Some(0));
    }
    if login.rate_per_hour.is_some() {
        edit(&|l| l.rate_per_hour = None);
    }
    if login.session_min.is_some() {
        edit(&|l| l.session_min = None);
    }
    if login.online_tenths != Some(10) {
        edit(&|l| l.online_tenths = Some(10));
    }
    out
}

fn simpler_history_and_canaries(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let mut out = Vec::new();
    if s.history_read != Some(0) {
        let mut c = s.clone();
        c.history_read = Some(0);
        out.push(c);
    }
    if s.canaries_hundredths.is_some() {
        let mut c = s.clone();
        c.canaries_hundredths = None;
        out.push(c);
    }
    if s.policy_history.is_some() {
        let mut c = s.clone();
        c.policy_history = None;
        out.push(c);
    }
    if s.key_period_s.is_some() {
        let mut c = s.clone();
        c.key_period_s = None;
        out.push(c);
    }
    out
}

fn simpler_network(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let Some(clients) = &s.clients else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut c = s.clone();
    c.clients = None;
    out.push(c);
    if clients.len() > 1 {
        for class in clients {
            let mut c = s.clone();
            let mut one = class.clone();
            one.share_twentieths = None;
            c.clients = Some(vec![one]);
            out.push(c);
        }
    }
    out
}

fn simpler_servers_and_report(s: &FuzzScenario) -> Vec<FuzzScenario> {
    let mut out = Vec::new();
    if s.workers.is_some() {
        let mut c = s.clone();
        c.workers = None;
        out.push(c);
    }
    if s.key_retention_min.is_some() {
        let mut c = s.clone();
        c.key_retention_min = None;
        out.push(c);
    }
    if s.report.is_some() {
        let mut c = s.clone();
        c.report = None;
        out.push(c);
    }
    if s.cost_model_key {
        let mut c = s.clone();
        c.cost_model_key = false;
        out.push(c);
    }
    out
}

/// Brings the keys that depend on others back inside their ranges after a reduction: room
/// sizes within the organisation, departments within the users, admins within the smallest
/// room, events within the duration and the departments.
pub fn normalise(s: &mut FuzzScenario) {
    normalise_organisations(s);
    let users = s.users;
    if let Some(d) = s.departments.as_mut() {
        *d = (*d).clamp(1, users);
    }
    let blocks = s.department_blocks();
    let departments: u32 = blocks.iter().map(|(_, d)| d).sum();
    for g in 0..s.rooms.len() {
        let users = s.pool(&s.rooms[g]);
        let room = &mut s.rooms[g];
        if let GenRoomKind::Project { size, .. } = &mut room.kind {
            match size {
                GenRoomSize::Fixed(n) => *n = (*n).min(users),
                GenRoomSize::Uniform { min, max } => {
                    *max = (*max).min(users);
                    *min = (*min).min(*max);
                }
                GenRoomSize::Zipf { min, max, .. } => {
                    *max = (*max).min(users);
                    if let Some(m) = min.as_mut() {
                        *m = (*m).min(*max);
                    }
                }
            }
        }
        let smallest = s.smallest_of(&s.rooms[g]).max(1);
        if let Some(a) = s.rooms[g].admins.as_mut() {
            *a = (*a).min(smallest);
        }
    }
    let duration = s.duration_s;
    // Which organisation (block) a global department index belongs to.
    let block_of = |d: u32| blocks.iter().position(|&(f, n)| d >= f && d - f < n);
    if let Some(ch) = s.churn.as_mut() {
        ch.events.retain(|e| match e.kind {
            GenEventKind::Reorg { from, to, .. } => {
                from < departments && to < departments && block_of(from) == block_of(to)
            }
            _ => true,
        });
        for e in &mut ch.events {
            e.at_s = e.at_s.min(duration);
        }
    }
}

/// With `organisations`: users and departments of each within range, `users` their sum, no
/// `departments`, trust and room `orgs` indices that exist (a group left with none takes every
/// organisation).
fn normalise_organisations(s: &mut FuzzScenario) {
    if s.organisations.is_empty() {
        for room in &mut s.rooms {
            room.orgs = None;
        }
        return;
    }
    let n = s.organisations.len();
    for (i, o) in s.organisations.iter_mut().enumerate() {
        o.users = o.users.max(1);
        if let Some(d) = o.departments.as_mut() {
            *d = (*d).clamp(1, o.users);
        }
        o.trusts.retain(|&t| t < n && t != i);
        o.trusts.sort_unstable();
        o.trusts.dedup();
    }
    s.users = s.organisations.iter().map(|o| o.users).sum();
    s.departments = None;
    for room in &mut s.rooms {
        if let Some(orgs) = room.orgs.as_mut() {
            orgs.retain(|&k| k < n);
            let mut seen: Vec<usize> = Vec::with_capacity(orgs.len());
            orgs.retain(|k| {
                let new = !seen.contains(k);
                seen.push(*k);
                new
            });
            if orgs.is_empty() {
                room.orgs = None;
            }
        }
    }
}

/// One organisation instead of several (the same users and departments, so reorganisations keep
/// their meaning), one organisation fewer, fewer users in one, no departments or trust lines
/// that are not needed.
fn fewer_organisations(s: &FuzzScenario) -> Vec<FuzzScenario> {
    if s.organisations.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut one = s.clone();
    let departments: u32 = s.department_blocks().iter().map(|(_, d)| d).sum();
    one.organisations.clear();
    one.departments = (departments > 1).then_some(departments);
    for room in &mut one.rooms {
        room.orgs = None;
    }
    out.push(one);
    if s.organisations.len() > 2 {
        for gone in 0..s.organisations.len() {
            let mut c = s.clone();
            c.organisations.remove(gone);
            let shift = |k: usize| if k > gone { k - 1 } else { k };
            for o in &mut c.organisations {
                o.trusts = o
                    .trusts
                    .iter()
                    .filter(|&&t| t != gone)
                    .map(|&t| shift(t))
                    .collect();
            }
            for room in &mut c.rooms {
                if let Some(orgs) = room.orgs.as_mut() {
                    *orgs = orgs
                        .iter()
                        .filter(|&&k| k != gone)
                        .map(|&k| shift(k))
                        .collect();
                }
            }
            out.push(c);
        }
    }
    for (i, o) in s.organisations.iter().enumerate() {
        for u in smaller(o.users, 1) {
            let mut c = s.clone();
            c.organisations[i].users = u;
            out.push(c);
        }
        if o.departments.is_some() {
            let mut c = s.clone();
            c.organisations[i].departments = None;
            out.push(c);
        }
    }
    for (g, room) in s.rooms.iter().enumerate() {
        if room.orgs.is_some() {
            let mut c = s.clone();
            c.rooms[g].orgs = None;
            out.push(c);
        }
    }
    out
}
