//! Charging and emitting: turning a node's compute and the bytes it sends into virtual time,
//! op tallies and samples.

use std::sync::Arc;

use conclave_schemes::channel::{self, RecordChannel};
use conclave_schemes::RoomId;

use super::{pool, scheme_err, Body, Engine, EngineError, Envelope, Node, OpId};
use crate::cost::{CostModel, OpKey};
use crate::metrics::{Op, Party, Sample, SkipReason};
use crate::net::INTERNAL_DELAY;
use crate::scenario::Nanos;
use crate::workload::Action;

impl Engine<'_> {
    pub(super) fn schedule(&mut self, at: Nanos, to: Node, env: Envelope) {
        self.queue.push(at, to, env);
    }

    /// Charges `ns` of work on `node` starting no earlier than `now`; returns its completion.
    pub(super) fn occupy(&mut self, node: Node, now: Nanos, ns: u64, parallel: bool) -> Nanos {
        match node {
            Node::User(u) => pool::queue_on(&mut self.terminal_free_at[u.0 as usize], now, ns),
            Node::KeyServer => self.key_server.run(now, ns, parallel),
            Node::Kms(o) => self.kms[usize::from(o)].run(now, ns, parallel),
            Node::MessageServer => self.message_server.run(now, ns, parallel),
            Node::SearchServer => self.search_server.run(now, ns, parallel),
        }
    }

    /// Charges an operation's cost, running `f` for real.
    pub(super) fn charge<T>(
        &mut self,
        key: OpKey,
        units: usize,
        f: impl FnOnce(&mut Self) -> T,
    ) -> Result<(T, u64), EngineError> {
        let mut cost = std::mem::replace(&mut self.cost, CostModel::Measured { samples: None });
        let r = cost.charge(key, units as u64, || f(self));
        self.cost = cost;
        Ok(r?)
    }

    /// Charges a server job whose size is known only after it ran (`f` returns its result, the
    /// operation's name and its units). Under the measured model the job runs on the engine's
    /// one-thread pool, so work a scheme parallelises with rayon costs one worker's time (the
    /// server model spreads `parallel` work over its workers itself), and it is timed on that
    /// pool's thread: a rayon worker waiting in `install` may run other stacks meanwhile, which
    /// is not this job's cost.
    pub(super) fn charge_server_job<T: Send>(
        &mut self,
        scheme: &'static str,
        f: impl FnOnce(&mut Self) -> (T, &'static str, u64) + Send,
    ) -> Result<(T, u64), EngineError> {
        let ((out, op, units), spent) = if self.cost.is_measured() {
            let one_thread = Arc::clone(&self.one_thread);
            one_thread.install(|| {
                let start = std::time::Instant::now();
                let out = f(self);
                (out, start.elapsed())
            })
        } else {
            // Charged from the table: where the job runs does not matter, and handing every
            // store and search to another thread would cost more than the engine's own work.
            (f(self), std::time::Duration::ZERO)
        };
        if op.is_empty() {
            // No operation to charge: `Work::default()` (the message changed nothing, a
            // repeat), or a failure the caller reports as the scheme's error.
            return Ok((out, 0));
        }
        let mut cost = std::mem::replace(&mut self.cost, CostModel::Measured { samples: None });
        let charged = cost.charge_timed(scheme, || (out, op, units, spent));
        self.cost = cost;
        Ok(charged?)
    }

    /// TLS record cost of `bytes` (sealing on one side, opening on the other). Records really
    /// run under the measured cost model; the calibrated model charges the table without
    /// running them (the channel protects against the network only, so no check depends on it).
    pub(super) fn tls(&mut self, op: &'static str, bytes: usize) -> Result<u64, EngineError> {
        self.record_cost(OpKey { scheme: "tls", op }, bytes)
    }

    /// The cost of sealing (`key.op == "seal"`) or opening records of `bytes` with the
    /// channel's AEAD; run for real only under the measured cost model.
    pub(super) fn record_cost(&mut self, key: OpKey, bytes: usize) -> Result<u64, EngineError> {
        let op = key.op;
        if !self.cost.is_measured() {
            return Ok(self.charge(key, bytes, |_| ())?.1);
        }
        let payload = vec![0u8; bytes];
        let fresh = || RecordChannel::new(&[7; 32], [1; 12]);
        let mut wire = Vec::with_capacity(channel::wire_len(bytes));
        if op == "open" {
            fresh()
                .seal(&payload, &mut wire)
                .map_err(scheme_err("tls", self.now, || {
                    "sealing a record".to_owned()
                }))?;
            let (r, ns) = self.charge(key, bytes, |_| fresh().open(&wire))?;
            r.map_err(scheme_err("tls", self.now, || {
                "opening a record".to_owned()
            }))?;
            Ok(ns)
        } else {
            let (r, ns) = self.charge(key, bytes, |_| fresh().seal(&payload, &mut wire))?;
            r.map_err(scheme_err("tls", self.now, || {
                "sealing a record".to_owned()
            }))?;
            Ok(ns)
        }
    }

    /// Runs a job on `node`: `work_ns` of computation arriving at `now`, after which every
    /// output leaves (each paying its TLS record sealing on `node`). Charges the CPU time to
    /// `op` and returns when the job completes.
    pub(super) fn emit(
        &mut self,
        node: Node,
        now: Nanos,
        work_ns: u64,
        parallel: bool,
        op: Option<OpId>,
        outputs: Vec<(Node, RoomId, Option<OpId>, Body)>,
    ) -> Result<Nanos, EngineError> {
        let mut ns = work_ns;
        // From a table a record's charge depends on its length alone, so a fan-out's copies of
        // one record share one lookup; measured, each is sealed and timed.
        let mut last: Option<(usize, u64)> = None;
        for (_, _, _, body) in &outputs {
            let len = body.wire_len();
            let seal_ns = match last {
                Some((l, seal_ns)) if l == len && !self.cost.is_measured() => seal_ns,
                _ => self.tls("seal", len)?,
            };
            last = Some((len, seal_ns));
            ns += seal_ns;
        }
        let done = self.occupy(node, now, ns, parallel);
        self.account(op, node, ns);
        for (to, room, out_op, body) in outputs {
            self.transmit(done, node, to, room, out_op, body);
        }
        Ok(done)
    }

    /// Puts `body` on the wire from `from` to `to` at `depart`, metering the op's bytes.
    pub(super) fn transmit(
        &mut self,
        depart: Nanos,
        from: Node,
        to: Node,
        room: RoomId,
        op: Option<OpId>,
        body: Body,
    ) {
        let wire = channel::wire_len(body.wire_len());
        let arrival = match (from, to) {
            (Node::User(u), _) => {
                if let Some(s) = op.and_then(|id| self.ops.get_mut(id)) {
                    s.bytes_up += wire as u64;
                    if s.user == u {
                        s.rounds += 1;
                    }
                }
                self.net.uplink(u.0, depart, wire)
            }
            (_, Node::User(v)) => {
                if let Some(s) = op.and_then(|id| self.ops.get_mut(id)) {
                    s.bytes_down += wire as u64;
                }
                self.net.downlink(v.0, depart, wire)
            }
            _ => depart + INTERNAL_DELAY,
        };
        self.schedule(
            arrival,
            to,
            Envelope {
                op,
                from,
                room,
                body,
            },
        );
    }

    /// The receiving side's TLS cost of an envelope.
    pub(super) fn receive_cost(&mut self, env: &Envelope) -> Result<u64, EngineError> {
        self.tls("open", env.body.wire_len())
    }

    /// Adds CPU time to an op's tally.
    pub(super) fn account(&mut self, op: Option<OpId>, node: Node, ns: u64) {
        let party = node.party();
        if let Some(s) = op.and_then(|id| self.ops.get_mut(id)) {
            s.cpu_ns[party.index()] += ns;
            if node == Node::User(s.user) {
                s.cpu_ns[Party::Initiator.index()] += ns;
            }
        }
    }

    pub(super) fn record(&mut self, op: Op, sample: Sample) {
        self.result.record(op, &sample);
    }

    /// Counts a workload action this stack dropped.
    pub(super) fn skip(&mut self, action: &Action, reason: SkipReason) {
        if let Some(op) = action.op() {
            self.result.ops.entry(op).or_default().skip(reason);
        }
    }
}
