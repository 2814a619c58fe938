//! Key periods, for schemes whose authority issues credentials per period (an identity-based
//! KMS): when a period starts, every online terminal fetches its credentials for it from its
//! organisation's KMS; an offline one does at its next login, before it restores anything.
//! Until they are installed, key-distribution messages wait: one may need the new period's
//! keys. A terminal that missed periods fetches every one of them, so that a message sent in a
//! period it was offline for still opens.

use conclave_schemes::kd::Period;
use conclave_schemes::{RoomId, UserId};

use super::ops::{OpData, OpState};
use super::{scheme_err, Body, Engine, EngineError, Envelope, Node, OpId};
use crate::cost::OpKey;
use crate::scenario::Nanos;

impl Engine<'_> {
    /// Period `period` starts at `at`: online terminals fetch their credentials for it.
    pub(super) fn period_starts(&mut self, at: Nanos, period: Period) -> Result<(), EngineError> {
        self.period = self.period.max(period);
        if !self.stack.kd.issues_per_period() {
            return Ok(());
        }
        for u in 0..self.users.len() {
            let user = UserId(u as u32);
            if self.online[u] && self.users[u].keys_pending.is_none() {
                self.renew(user, at)?;
            }
        }
        Ok(())
    }

    /// Starts a `renew` op: `user` fetches the credentials it lacks at `at`.
    fn renew(&mut self, user: UserId, at: Nanos) -> Result<(), EngineError> {
        let data = OpData::Renew { then_login: false };
        let op = self.ops.insert(OpState::new(data, user, None, at));
        self.fetch_keys(user, at, op)
    }

    /// Whether `user`'s terminal lacks credentials of the period the run is in.
    pub(super) fn needs_keys(&self, user: UserId) -> bool {
        self.stack.kd.issues_per_period() && self.users[user.0 as usize].period < self.period
    }

    /// `user` asks its organisation's KMS for its credentials of every period after the newest
    /// it holds, up to the current one (newest first: the newest is the one it will act in).
    pub(super) fn fetch_keys(
        &mut self,
        user: UserId,
        at: Nanos,
        op: OpId,
    ) -> Result<(), EngineError> {
        let u = user.0 as usize;
        let periods: Vec<Period> = (self.users[u].period.0 + 1..=self.period.0)
            .rev()
            .map(Period)
            .collect();
        self.users[u].keys_pending = Some(self.period);
        let kms = Node::Kms(self.org_of[u]);
        let outputs = vec![(kms, RoomId(0), Some(op), Body::KeyRequest { periods })];
        self.emit(Node::User(user), at, 0, false, Some(op), outputs)?;
        Ok(())
    }

    /// A KMS issues the credentials a terminal asked for.
    pub(super) fn kms_receives(&mut self, env: Envelope) -> Result<(), EngineError> {
        let (Node::User(user), Body::KeyRequest { periods }) = (env.from, &env.body) else {
            return Ok(());
        };
        let periods = periods.clone();
        let now = self.now;
        let org = self.org_of[user.0 as usize];
        let mut ns = self.receive_cost(&env)?;
        let key = OpKey {
            scheme: self.stack.kd.name(),
            op: "kms.issue",
        };
        let mut issued = Vec::with_capacity(periods.len());
        for period in periods {
            let (r, spent) = self.charge(key, 1, |e| {
                e.stack
                    .kd
                    .issue(user, period, &mut e.kms_rng[usize::from(org)])
            })?;
            issued.push(r.map_err(scheme_err(&self.spec.kd, now, || {
                format!(
                    "the KMS of organisation {org} issuing {user}'s keys of period {}",
                    period.0
                )
            }))?);
            ns += spent;
        }
        let outputs = vec![(
            Node::User(user),
            RoomId(0),
            env.op,
            Body::KeysIssued { issued },
        )];
        self.emit(Node::Kms(org), now, ns, false, env.op, outputs)?;
        Ok(())
    }

    /// A terminal validates and installs the credentials its KMS sent, then handles the
    /// key-distribution messages that waited for them, and goes on with its login if the fetch
    /// was its first step.
    pub(super) fn keys_at_user(&mut self, user: UserId, env: Envelope) -> Result<(), EngineError> {
        let Body::KeysIssued { issued } = &env.body else {
            return Ok(());
        };
        let issued = issued.clone();
        let u = user.0 as usize;
        let now = self.now;
        let mut ns = self.receive_cost(&env)?;
        let key = OpKey {
            scheme: self.stack.kd.name(),
            op: "client.renew",
        };
        for packet in &issued {
            let (r, spent) = self.charge(key, 1, |e| {
                e.stack.kd.renew(user, packet, &mut e.user_rng[u])
            })?;
            r.map_err(scheme_err(&self.spec.kd, now, || {
                format!("{user} installing the credentials its KMS issued")
            }))?;
            ns += spent;
        }
        let done = self.emit(Node::User(user), now, ns, false, env.op, Vec::new())?;
        if let Some(target) = self.users[u].keys_pending.take() {
            self.users[u].period = self.users[u].period.max(target);
        }
        for (op, mail) in std::mem::take(&mut self.users[u].key_wait) {
            self.kd_process(user, op, &mail, done, 0)?;
        }
        let then_login = env
            .op
            .and_then(|id| self.ops.get_mut(id))
            .map(|s| match s.data {
                OpData::Renew { then_login } => {
                    if then_login {
                        s.data = OpData::Login;
                    }
                    then_login
                }
                _ => false,
            });
        match (env.op, then_login) {
            (Some(op), Some(true)) => {
                let outputs = vec![(Node::MessageServer, RoomId(0), Some(op), Body::LoginRequest)];
                self.emit(Node::User(user), done, 0, false, Some(op), outputs)?;
            }
            (Some(op), _) => self.finish_op(op, done)?,
            (None, _) => {}
        }
        // A period that started while these were on their way.
        if self.online[u] && self.needs_keys(user) && self.users[u].keys_pending.is_none() {
            self.renew(user, done)?;
        }
        Ok(())
    }
}
