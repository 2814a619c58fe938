//! Setup: provisioning before time zero (enrolling every user, creating every room), delivered
//! instantly and not measured.

use conclave_schemes::common::router::{Arrival, Misrouted, Router};
use conclave_schemes::erased::Packet;
use conclave_schemes::kd::{Change, Handled, OrgId, Origin, Roster};
use conclave_schemes::{Epoch, MsgId, Outbox, RoomId, SchemeError, UserId};
use rand_chacha::ChaCha20Rng;

use super::{scheme_err, Engine, EngineError, RoomState};
use crate::workload::Org;

impl Engine<'_> {
    pub(super) fn setup(&mut self, org: &Org, rng: &mut ChaCha20Rng) -> Result<(), EngineError> {
        let n = self.scenario.org.users;
        for o in &self.scenario.org.organisations {
            self.stack
                .kd
                .add_organisation(rng)
                .map_err(scheme_err(&self.spec.kd, 0, || {
                    format!("setting up the authority of organisation {}", o.name)
                }))?;
        }
        for u in 0..n {
            let user = UserId(u);
            let org = OrgId(self.org_of[u as usize]);
            let fail = || scheme_err(&self.spec.kd, 0, || format!("enrolling user {u}"));
            self.stack.kd.enroll(user, org, rng).map_err(fail())?;
            for &trusted in &self.scenario.org.organisations[usize::from(org.0)].trusts {
                self.stack
                    .kd
                    .trust(user, OrgId(trusted))
                    .map_err(scheme_err(&self.spec.kd, 0, || {
                        format!("user {u} trusting organisation {trusted}")
                    }))?;
            }
            self.stack
                .pre
                .add_user(user)
                .map_err(scheme_err(&self.spec.pre, 0, || "adding a user".to_owned()))?;
            self.stack
                .sse
                .add_user(user)
                .map_err(scheme_err(&self.spec.sse, 0, || "adding a user".to_owned()))?;
        }
        // One more client of each data family for the adversary experiments.
        self.stack
            .pre
            .add_user(self.adversary)
            .map_err(scheme_err(&self.spec.pre, 0, || {
                "adding the adversary".to_owned()
            }))?;
        self.stack
            .sse
            .add_user(self.adversary)
            .map_err(scheme_err(&self.spec.sse, 0, || {
                "adding the adversary".to_owned()
            }))?;

        for r in &org.rooms {
            let id = RoomId(self.rooms.len() as u32);
            for u in &r.members {
                self.users[u.0 as usize].rooms.insert(id);
            }
            self.rooms.push(RoomState {
                members: r.members.clone(),
                roster: r.members.clone().into(),
                history: Some(r.history),
                readable_from: r.members.iter().map(|u| (*u, MsgId(0))).collect(),
                ..RoomState::default()
            });
        }
        for r in &org.rooms {
            let creator = r.admins.first().copied().unwrap_or(r.members[0]);
            self.setup_room(r.id, creator, rng)?;
        }
        Ok(())
    }

    fn setup_room(
        &mut self,
        room: RoomId,
        creator: UserId,
        rng: &mut ChaCha20Rng,
    ) -> Result<(), EngineError> {
        let members = self.rooms[room.0 as usize].members.clone();
        let roster = Roster {
            room,
            members: &members,
        };
        let kd_name = self.spec.kd.clone();
        let mut out = Outbox::new();
        let h = self
            .stack
            .kd
            .change(creator, &roster, &Change::Create, rng, &mut out)
            .map_err(scheme_err(&kd_name, 0, || {
                format!("creating {room} (creator)")
            }))?;
        if let Handled::NewEpoch(e) = h {
            self.setup_epoch(creator, room, e, creator, rng)?;
        }
        let mut router = Router::new();
        router.send(Origin::User(creator), out);
        router
            .run(|arrival| match arrival {
                Arrival::AtServer { from, msg } => {
                    let mut o = Outbox::new();
                    self.stack
                        .kd
                        .server_handle(&roster, from, msg, rng, &mut o)
                        .map_err(scheme_err(&kd_name, 0, || {
                            format!("creating {room} (key server)")
                        }))?;
                    Ok(o)
                }
                Arrival::AtUser { from, to, msg } => {
                    Ok(self.setup_deliver(&roster, from, to, msg, creator, rng)?)
                }
            })
            .map_err(|stop| match stop {
                Stop::Engine(e) => e,
                Stop::Misrouted(m) => {
                    scheme_err(&kd_name, 0, || format!("creating {room}"))(m.into())
                }
            })?;
        for &m in &members {
            if !self.ready(m, room) {
                return Err(scheme_err(&self.spec.kd, 0, || format!("creating {room}"))(
                    SchemeError::Internal(
                        "a founding member holds no key after the room was created",
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Hands `packet` to `to` at set-up and returns what it sends in answer.
    fn setup_deliver(
        &mut self,
        roster: &Roster<'_>,
        origin: Origin,
        to: UserId,
        packet: &Packet,
        creator: UserId,
        rng: &mut ChaCha20Rng,
    ) -> Result<Outbox<Packet>, EngineError> {
        let mut o = Outbox::new();
        let h = self
            .stack
            .kd
            .client_handle(to, roster, origin, packet, rng, &mut o)
            .map_err(scheme_err(&self.spec.kd, 0, || {
                format!("{to} joining {} at setup", roster.room)
            }))?;
        if let Handled::NewEpoch(e) = h {
            self.setup_epoch(to, roster.room, e, creator, rng)?;
        }
        Ok(o)
    }

    fn setup_epoch(
        &mut self,
        user: UserId,
        room: RoomId,
        epoch: Epoch,
        creator: UserId,
        rng: &mut ChaCha20Rng,
    ) -> Result<(), EngineError> {
        let (mut pre_out, mut sse_out) = (Outbox::new(), Outbox::new());
        self.hold_epoch(
            user,
            room,
            epoch,
            user == creator,
            &mut pre_out,
            &mut sse_out,
        )?;
        for (_, p) in pre_out.drain() {
            self.stack
                .pre
                .server_handle(room, user, p, rng, &mut Outbox::new())
                .map_err(scheme_err(&self.spec.pre, 0, || "setup".to_owned()))?;
        }
        for (_, p) in sse_out.drain() {
            self.stack
                .sse
                .server_handle(room, user, p, rng, &mut Outbox::new())
                .map_err(scheme_err(&self.spec.sse, 0, || "setup".to_owned()))?;
        }
        Ok(())
    }
}

/// Why set-up delivery stopped.
enum Stop {
    Engine(EngineError),
    Misrouted(Misrouted),
}

impl From<EngineError> for Stop {
    fn from(e: EngineError) -> Self {
        Self::Engine(e)
    }
}

impl From<Misrouted> for Stop {
    fn from(e: Misrouted) -> Self {
        Self::Misrouted(e)
    }
}
