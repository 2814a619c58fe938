//! Every history-protection scheme's wire-size formulas against the scheme itself: a seeded
//! random run of creations, joins of one to three, removals, re-keys, sends, late stores and
//! reads, under both history policies, in which every sealed record, every stored form of every
//! stored record (after every step), every control message and every server work report must
//! be exactly what the scheme's formulas give. The formulas' inputs come from this file's own
//! bookkeeping of the run (epochs, what is stored when, which member sends under which message
//! key), never from the scheme's state. The schemes that have a model on the ideal cipher
//! provider are checked as models too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use conclave_schemes::common::cipher::SymmetricCipher;
use conclave_schemes::model::ideal_cipher::Ideal;
use conclave_schemes::pre::afgh::{wire as afgh_wire, Afgh, AfghHybrid};
use conclave_schemes::pre::bbs98::{self, Bbs98};
use conclave_schemes::pre::client_rewrap::{self, ClientRewrap, ClientRewrapWith};
use conclave_schemes::pre::dl_hybrid;
use conclave_schemes::pre::epoch_keys::{self, EpochKeys};
use conclave_schemes::pre::keyhom::{self, KeyHom};
use conclave_schemes::pre::none::{self, NoProtection};
use conclave_schemes::pre::{HistoryProtection, HistoryServer, Traffic, Work};
use conclave_schemes::testing::HistoryHarness;
use conclave_schemes::{Epoch, MsgId, Opened, RoomId, UserId, Wire};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

const ROOM: RoomId = RoomId(11);
const USERS: u32 = 10;
const STEPS: usize = 90;

/// A message key as the run's bookkeeping names it: (epoch, creator, the creator's count).
type KeyName = (u64, u32, u32);

/// What the run knows of one sealed message.
#[derive(Debug, Clone)]
struct Msg {
    id: MsgId,
    plaintext: usize,
    sealed_in: u64,
    /// The room's epoch when the server took it.
    stored_at: Option<u64>,
    /// The message key it is sealed under (schemes with per-epoch message keys).
    key: KeyName,
    /// Whether it is the first record of its message key, which carries the key's wrap.
    first_of_key: bool,
}

/// The run's own account of the room.
#[derive(Debug)]
struct Model {
    shares_history: bool,
    epoch: u64,
    msgs: Vec<Msg>,
    /// Each member's latest sending key: made by its first send of an epoch, or adopted from a
    /// record of the current epoch it opened before sending.
    sending: BTreeMap<UserId, KeyName>,
    made: BTreeMap<UserId, u32>,
}

impl Model {
    fn seal(&mut self, by: UserId, id: MsgId, plaintext: usize) -> Msg {
        let current = self.sending.get(&by).filter(|k| k.0 == self.epoch).copied();
        let (key, first_of_key) = match current {
            Some(key) => (key, false),
            None => {
                let n = self.made.entry(by).or_default();
                let key = (self.epoch, by.0, *n);
                *n += 1;
                self.sending.insert(by, key);
                (key, true)
            }
        };
        let msg = Msg {
            id,
            plaintext,
            sealed_in: self.epoch,
            stored_at: None,
            key,
            first_of_key,
        };
        self.msgs.push(msg.clone());
        msg
    }

    fn stored(&mut self, id: MsgId) {
        let epoch = self.epoch;
        self.msgs.iter_mut().find(|m| m.id == id).unwrap().stored_at = Some(epoch);
    }

    /// `by` opened `msg`: a key of the current epoch becomes its sending key if it has none.
    /// Whether it did.
    fn opened(&mut self, by: UserId, msg: &Msg) -> bool {
        let has_current = self.sending.get(&by).is_some_and(|k| k.0 == self.epoch);
        let adopts = msg.key.0 == self.epoch && !has_current;
        if adopts {
            self.sending.insert(by, msg.key);
        }
        adopts
    }

    fn stored_msgs(&self) -> impl Iterator<Item = &Msg> {
        self.msgs.iter().filter(|m| m.stored_at.is_some())
    }

    /// The message keys whose wrap the server holds (their first record is stored).
    fn stored_wraps(&self) -> BTreeSet<KeyName> {
        self.stored_msgs()
            .filter(|m| m.first_of_key)
            .map(|m| m.key)
            .collect()
    }

    /// Whether the server holds a re-encryption out of `origin` (the change out of it shared
    /// history).
    fn reencrypted(&self, origin: u64) -> bool {
        self.shares_history && origin < self.epoch
    }
}

/// A scheme's formulas, fed with the run's bookkeeping.
trait Formulas: HistoryProtection {
    /// The sealed record of `msg`.
    fn sealed(m: &Model, msg: &Msg) -> usize;
    /// Every stored form of `msg`, the one `get` serves first. By default the one the sender
    /// sealed, stored as it came.
    fn forms(m: &Model, msg: &Msg) -> Vec<usize> {
        vec![Self::sealed(m, msg)]
    }
    /// The messages and server work of the change out of `m.epoch` with `joiners` joiners.
    fn change(m: &Model, joiners: usize) -> (Traffic, Vec<(usize, Work)>);
}

fn next_epoch(m: &Model) -> Epoch {
    Epoch(m.epoch + 1)
}

impl Formulas for NoProtection {
    fn sealed(_: &Model, msg: &Msg) -> usize {
        none::record_len(msg.plaintext)
    }
    fn change(_: &Model, _: usize) -> (Traffic, Vec<(usize, Work)>) {
        (none::change_traffic(), Vec::new())
    }
}

impl Formulas for EpochKeys {
    fn sealed(_: &Model, msg: &Msg) -> usize {
        epoch_keys::record_len(msg.plaintext)
    }
    fn change(m: &Model, joiners: usize) -> (Traffic, Vec<(usize, Work)>) {
        let to = next_epoch(m);
        (
            epoch_keys::change_traffic(m.shares_history, to, joiners),
            epoch_keys::change_work(m.shares_history, to, joiners),
        )
    }
}

/// The epoch of `msg`'s current header and of the header kept until its re-wrap is confirmed:
/// every change that shares history re-wraps every stored header into its epoch.
fn rewrap_epochs(m: &Model, msg: &Msg) -> (u64, Option<u64>) {
    let rotations = if m.shares_history {
        m.epoch - msg.stored_at.unwrap()
    } else {
        0
    };
    match rotations {
        0 => (msg.sealed_in, None),
        1 => (m.epoch, Some(msg.sealed_in)),
        _ => (m.epoch, Some(m.epoch - 1)),
    }
}

impl<C: SymmetricCipher> Formulas for ClientRewrapWith<C> {
    fn sealed(_: &Model, msg: &Msg) -> usize {
        client_rewrap::record_len(msg.plaintext, 0)
    }
    fn forms(m: &Model, msg: &Msg) -> Vec<usize> {
        // The server attaches the link into every epoch after the header's (one per change,
        // when every change shares history; none otherwise).
        let links = |header: u64| {
            if m.shares_history {
                (m.epoch - header) as usize
            } else {
                0
            }
        };
        let (header, kept) = rewrap_epochs(m, msg);
        std::iter::once(header)
            .chain(kept)
            .map(|e| client_rewrap::record_len(msg.plaintext, links(e)))
            .collect()
    }
    fn change(m: &Model, _: usize) -> (Traffic, Vec<(usize, Work)>) {
        let headers: Vec<u64> = m.stored_msgs().map(|s| rewrap_epochs(m, s).0).collect();
        let links = headers
            .iter()
            .min()
            .map_or(0, |&oldest| (m.epoch - oldest) as usize);
        (
            client_rewrap::change_traffic(m.shares_history, headers.len(), links),
            client_rewrap::change_work(m.shares_history, headers.len()),
        )
    }
}

/// The formulas of a scheme built on `dl_hybrid`.
fn dl_forms<W: dl_hybrid::EpochWrap>(m: &Model, msg: &Msg) -> Vec<usize> {
    let wrap = m.stored_wraps().contains(&msg.key);
    vec![dl_hybrid::record_len::<W>(msg.plaintext, wrap)]
}

fn dl_change(m: &Model) -> (Traffic, Vec<(usize, Work)>) {
    let to = next_epoch(m);
    (
        dl_hybrid::change_traffic(m.shares_history, to),
        dl_hybrid::change_work(m.shares_history, to, m.stored_wraps().len()),
    )
}

/// The formulas of the schemes built on `dl_hybrid`, each `scheme => module`: the record length
/// of the scheme's own module, the stored forms and the change of `dl_hybrid`.
macro_rules! dl_formulas {
    ($($scheme:ty => $module:ident),*) => {$(
        impl Formulas for $scheme {
            fn sealed(_: &Model, msg: &Msg) -> usize {
                $module::record_len(msg.plaintext, msg.first_of_key)
            }
            fn forms(m: &Model, msg: &Msg) -> Vec<usize> {
                dl_forms::<Self>(m, msg)
            }
            fn change(m: &Model, _: usize) -> (Traffic, Vec<(usize, Work)>) {
                dl_change(m)
            }
        }
    )*};
}

dl_formulas!(Bbs98 => bbs98, KeyHom => keyhom);

/// The AFGH change, with the origin epoch of each stored capsule.
fn afgh_change(m: &Model, origins: impl Iterator<Item = u64>) -> (Traffic, Vec<(usize, Work)>) {
    let to = next_epoch(m);
    let (mut of_prev, mut older) = (0, 0);
    for origin in origins {
        if origin == m.epoch {
            of_prev += 1;
        } else {
            older += 1;
        }
    }
    (
        afgh_wire::change_traffic(m.shares_history, to),
        afgh_wire::change_work(m.shares_history, to, of_prev, older),
    )
}

impl Formulas for Afgh {
    fn sealed(_: &Model, msg: &Msg) -> usize {
        afgh_wire::record_len(msg.plaintext, false)
    }
    fn forms(m: &Model, msg: &Msg) -> Vec<usize> {
        vec![afgh_wire::record_len(
            msg.plaintext,
            m.reencrypted(msg.sealed_in),
        )]
    }
    fn change(m: &Model, _: usize) -> (Traffic, Vec<(usize, Work)>) {
        afgh_change(m, m.stored_msgs().map(|s| s.sealed_in))
    }
}

impl Formulas for AfghHybrid {
    fn sealed(_: &Model, msg: &Msg) -> usize {
        afgh_wire::hybrid_record_len(msg.plaintext, msg.first_of_key, false)
    }
    fn forms(m: &Model, msg: &Msg) -> Vec<usize> {
        vec![afgh_wire::hybrid_record_len(
            msg.plaintext,
            true,
            m.reencrypted(msg.key.0),
        )]
    }
    fn change(m: &Model, _: usize) -> (Traffic, Vec<(usize, Work)>) {
        afgh_change(m, m.stored_wraps().into_iter().map(|k| k.0))
    }
}

/// What a run exercised, so that a run that skipped a case does not pass unnoticed.
#[derive(Debug, Default)]
struct Seen {
    late_stores: usize,
    joins_of_several: usize,
    removals: usize,
    rekeys: usize,
    reused_keys: usize,
    adopted_keys: usize,
    changes_with_traffic: usize,
    forms_checked: usize,
}

struct Run<H: HistoryProtection> {
    h: HistoryHarness<H>,
    m: Model,
    rng: ChaCha20Rng,
    /// Records sealed and not stored yet, with the step from which they may be stored.
    held: Vec<(Msg, H::Sealed, usize)>,
    seen: Seen,
}

impl<H: Formulas> Run<H> {
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[(self.rng.next_u32() as usize) % from.len()]
    }

    fn members(&self) -> Vec<UserId> {
        self.h.members.iter().copied().collect()
    }

    /// Members that may send now: not one whose held record of this epoch carries the wrap its
    /// later records need stored first (an `afgh-hybrid` server refuses them until then).
    fn senders(&self) -> Vec<UserId> {
        let blocked: BTreeSet<u32> = self
            .held
            .iter()
            .filter(|(msg, ..)| msg.sealed_in == self.m.epoch)
            .map(|(msg, ..)| msg.key.1)
            .collect();
        self.members()
            .into_iter()
            .filter(|u| !blocked.contains(&u.0))
            .collect()
    }

    fn seal(&mut self, by: UserId, step: usize) -> (Msg, H::Sealed) {
        let len = match self.rng.next_u32() % 8 {
            0 => 0,
            1 => 1 + (self.rng.next_u32() % 16) as usize,
            _ => (self.rng.next_u32() % 3000) as usize,
        };
        let text = vec![step as u8; len];
        let (id, record) = self.h.seal(by, &text, &mut self.rng);
        let msg = self.m.seal(by, id, len);
        if !msg.first_of_key {
            self.seen.reused_keys += 1;
        }
        assert_eq!(
            record.wire_len(),
            H::sealed(&self.m, &msg),
            "{}: step {step}: sealed record of {len} bytes by {by} in epoch {}",
            H::NAME,
            self.m.epoch
        );
        (msg, record)
    }

    fn store(&mut self, msg: &Msg, record: H::Sealed) {
        self.h.store(msg.id, record);
        self.m.stored(msg.id);
    }

    /// A change by `by`: its control messages and server work against the formulas.
    fn change(&mut self, add: &[UserId], remove: &[UserId], by: UserId, step: usize) {
        let (traffic, work) = H::change(&self.m, add.len());
        let (log, done) = (self.h.control_log.len(), self.h.work.len());
        self.h.change(add, remove, by, &mut self.rng);
        self.m.epoch += 1;
        let sent = &self.h.control_log[log..];
        let mut up: Vec<usize> = sent.iter().filter(|c| c.to_server).map(|c| c.len).collect();
        let mut down: Vec<usize> = sent
            .iter()
            .filter(|c| !c.to_server)
            .map(|c| c.len)
            .collect();
        up.sort_unstable();
        down.sort_unstable();
        assert_eq!(
            (up, down),
            traffic.lengths(),
            "{}: step {step}: control messages of the change into {} (+{}, -{})",
            H::NAME,
            self.m.epoch,
            add.len(),
            remove.len()
        );
        let ((up, down), (up_bytes, down_bytes)) = (traffic.messages(), traffic.bytes());
        assert_eq!(sent.len(), up + down);
        assert_eq!(
            sent.iter().map(|c| c.len).sum::<usize>(),
            up_bytes + down_bytes
        );
        if !sent.is_empty() {
            self.seen.changes_with_traffic += 1;
        }
        let key = |w: &Work| (w.op, w.units, w.parallel);
        let mut reported: Vec<_> = self.h.work[done..].iter().map(key).collect();
        let mut expected: Vec<_> = work
            .iter()
            .flat_map(|(count, w)| std::iter::repeat_n(key(w), *count))
            .collect();
        reported.sort_unstable();
        expected.sort_unstable();
        assert_eq!(
            reported,
            expected,
            "{}: step {step}: server work of the change into {}",
            H::NAME,
            self.m.epoch
        );
    }

    /// Every stored record's forms, and the one `get` serves, against the formulas.
    fn check_stored(&mut self, step: usize) {
        let stored: Vec<Msg> = self.m.stored_msgs().cloned().collect();
        for msg in stored {
            let expected = H::forms(&self.m, &msg);
            let forms: Vec<usize> = self
                .h
                .server
                .stored_forms(ROOM, msg.id)
                .iter()
                .map(Wire::wire_len)
                .collect();
            assert_eq!(
                forms,
                expected,
                "{}: step {step}: stored forms of {} ({} bytes, sealed in {}, stored in {}; room at {})",
                H::NAME,
                msg.id,
                msg.plaintext,
                msg.sealed_in,
                msg.stored_at.unwrap(),
                self.m.epoch
            );
            assert_eq!(self.h.get(msg.id).wire_len(), expected[0]);
            self.seen.forms_checked += 1;
        }
    }

    fn step(&mut self, step: usize) {
        let members = self.members();
        let outsiders: Vec<UserId> = (0..USERS)
            .map(UserId)
            .filter(|u| !self.h.members.contains(u))
            .collect();
        match self.rng.next_u32() % 20 {
            0..=7 | 17.. => {
                let senders = self.senders();
                if senders.is_empty() {
                    return;
                }
                let by = self.pick(&senders);
                let (msg, record) = self.seal(by, step);
                self.store(&msg, record);
            }
            8 => {
                let senders = self.senders();
                if senders.is_empty() {
                    return;
                }
                let by = self.pick(&senders);
                let (msg, record) = self.seal(by, step);
                let wait = 1 + (self.rng.next_u32() % 12) as usize;
                self.held.push((msg, record, step + wait));
            }
            9 => {
                let Some(i) = self.held.iter().position(|(.., from)| *from <= step) else {
                    return;
                };
                let (msg, record, _) = self.held.remove(i);
                if msg.sealed_in < self.m.epoch {
                    self.seen.late_stores += 1;
                }
                self.store(&msg, record);
            }
            10 | 11 => {
                // Half the reads are of the current epoch: a member that opens one before
                // sending in the epoch sends under that record's message key.
                let current = self.rng.next_u32() % 2 == 0;
                let stored: Vec<Msg> = self
                    .m
                    .stored_msgs()
                    .filter(|m| !current || m.sealed_in == self.m.epoch)
                    .cloned()
                    .collect();
                if stored.is_empty() {
                    return;
                }
                let reader = self.pick(&members);
                let msg = stored[(self.rng.next_u32() as usize) % stored.len()].clone();
                if let Ok(Opened::Plaintext(_)) = self.h.read(reader, msg.id) {
                    if self.m.opened(reader, &msg) {
                        self.seen.adopted_keys += 1;
                    }
                }
            }
            12 | 13 if !outsiders.is_empty() => {
                let k = 1 + (self.rng.next_u32() as usize) % 3.min(outsiders.len());
                let start = (self.rng.next_u32() as usize) % (outsiders.len() - k + 1);
                let joiners = outsiders[start..start + k].to_vec();
                let by = self.pick(&members);
                if k > 1 {
                    self.seen.joins_of_several += 1;
                }
                self.change(&joiners, &[], by, step);
            }
            14 | 15 if members.len() > 2 => {
                let by = self.pick(&members);
                let others: Vec<UserId> = members.iter().copied().filter(|u| *u != by).collect();
                // At least two members stay.
                let k = 1 + (self.rng.next_u32() as usize) % 2.min(others.len() - 1);
                let start = (self.rng.next_u32() as usize) % (others.len() - k + 1);
                let leaving = others[start..start + k].to_vec();
                self.seen.removals += 1;
                self.change(&[], &leaving, by, step);
            }
            _ => {
                let by = self.pick(&members);
                self.seen.rekeys += 1;
                self.change(&[], &[], by, step);
            }
        }
    }
}

/// The random run of scheme `H` from `seed` under the policy `shares_history`.
fn run<H: Formulas>(seed: u64, shares_history: bool) -> Seen {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let founders: Vec<UserId> = (0..2 + rng.next_u32() % 3).map(UserId).collect();
    let mut run = Run::<H> {
        h: HistoryHarness::new(USERS, ROOM, shares_history),
        m: Model {
            shares_history,
            epoch: 0,
            msgs: Vec::new(),
            sending: BTreeMap::new(),
            made: BTreeMap::new(),
        },
        rng,
        held: Vec::new(),
        seen: Seen::default(),
    };
    run.h.record_control();
    run.h.create(&founders, UserId(0), &mut run.rng);
    assert!(
        run.h.control_log.is_empty() && run.h.work.is_empty(),
        "{}: a creation sends nothing",
        H::NAME
    );
    for step in 0..STEPS {
        run.step(step);
        run.check_stored(step);
    }
    // Whatever is still held is stored at the end, late.
    for (msg, record, _) in std::mem::take(&mut run.held) {
        if msg.sealed_in < run.m.epoch {
            run.seen.late_stores += 1;
        }
        run.store(&msg, record);
    }
    run.check_stored(STEPS);
    run.seen
}

/// Both policies, three seeds each; the runs of each policy together must have exercised every
/// kind of step.
fn check<H: Formulas>() {
    for shares_history in [true, false] {
        let mut all = Seen::default();
        for seed in [1, 2, 3] {
            let seen = run::<H>(seed, shares_history);
            all.late_stores += seen.late_stores;
            all.joins_of_several += seen.joins_of_several;
            all.removals += seen.removals;
            all.rekeys += seen.rekeys;
            all.reused_keys += seen.reused_keys;
            all.adopted_keys += seen.adopted_keys;
            all.changes_with_traffic += seen.changes_with_traffic;
            all.forms_checked += seen.forms_checked;
        }
        assert!(
            all.late_stores > 0
                && all.joins_of_several > 0
                && all.removals > 0
                && all.rekeys > 0
                && all.reused_keys > 0
                && all.adopted_keys > 0
                && all.forms_checked > 0,
            "{}: sharing {shares_history}: the runs skipped a case: {all:?}",
            H::NAME
        );
        assert_eq!(
            all.changes_with_traffic > 0,
            shares_history && H::NAME != "none",
            "{}: sharing {shares_history}: changes with control traffic: {all:?}",
            H::NAME
        );
    }
}

/// A test for each scheme, named first: [`check`] of its formulas.
macro_rules! lengths_tests {
    ($($test:ident: $scheme:ty;)*) => {$(
        #[test]
        fn $test() {
            check::<$scheme>();
        }
    )*};
}

lengths_tests! {
    none_lengths: NoProtection;
    epoch_keys_lengths: EpochKeys;
    client_rewrap_lengths: ClientRewrap;
    client_rewrap_model_lengths: ClientRewrapWith<Ideal>;
    bbs98_lengths: Bbs98;
    keyhom_lengths: KeyHom;
    afgh_lengths: Afgh;
    afgh_hybrid_lengths: AfghHybrid;
}
