//! The model of `sender-keys`: the real scheme's protocol and message layer with ideal boxes,
//! ratchet, AEAD and signatures.
//!
//! # Source
//!
//! [`crate::kd::sender_keys`], which it stands for in the `model` cost mode (see
//! [`crate::model`]).
//!
//! # Construction
//!
//! [`SenderKeysModel`] is [`SenderKeysWith`] over the [`Ideal`] provider: the very client, relay
//! and checks of the real scheme, with its objects ideal ([`super::ideal_kd`]). Kicks and sender key
//! distribution messages travel in ideal boxes bound to what the real boxes are bound to (kind,
//! room, epoch, sender, recipient, static keys); a chain key is a random root and an iteration;
//! a protected message is the body in the clear under a tag naming its message key and a
//! signature carrying its signer and header (room, sender, key id, iteration). The message
//! layer is the real one's code: an application message whose sender key has not arrived is
//! [`Opened::Pending`](crate::Opened::Pending), one whose key is held verifies and decrypts only
//! under that key. Every message, kick, sender key and protected message has the real one's
//! exact length.
//!
//! # Costs
//!
//! The real scheme's messages: the boxes of
//! [`change_boxes`](crate::kd::sender_keys::change_boxes) per change and
//! [`PROTECT_OVERHEAD`](crate::kd::sender_keys::PROTECT_OVERHEAD) bytes per protected message;
//! its state lengths. No cryptography runs: a run charges the real scheme's operations from the
//! calibration table, under the real scheme's name.
//!
//! # Security
//!
//! None of its own: keys and bodies are in the clear in memory. The recipients' checks of
//! roster, sender, epoch and key conflicts, the distribution of sender keys and who holds which
//! epoch and key are the real scheme's code and stay checked by the oracle, as does which
//! messages a member can read (a removed member lacks the rotated keys, a joiner the chain keys
//! before its join). What a model run does **not** check: that the boxes and protected messages
//! hide anything from the servers or from removed members, that a tampered box or message is
//! refused, and that a member cannot sign as another; all rest on cryptography that did not
//! run. [`Wire::visit_bytes`](crate::Wire::visit_bytes) of a box visits nothing, and a protected
//! message carries its body in the clear.
//!
//! # Weaknesses
//!
//! Those of [`super::ideal_kd`]: an ideal signature binds a protected message's header and length
//! but not every byte of its body.
//!
//! # Side channels
//!
//! Not applicable: nothing secret is computed.

use super::ideal_kd::Ideal;
use crate::kd::sender_keys::SenderKeysWith;

/// The model of [`SenderKeys`](crate::kd::sender_keys::SenderKeys).
pub type SenderKeysModel = SenderKeysWith<Ideal>;

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::kd::provider::{Real, SenderKeyCrypto};
    use crate::kd::sender_keys::{Client, Message, SenderKeys};
    use crate::kd::{Change, Handled, KdClient, KeyDistribution, Origin, Roster};
    use crate::testing::{enroll_all, kd_conformance};
    use crate::{Dest, Epoch, Opened, Outbox, RoomId, SchemeError, UserId, Wire};

    const ROOM: RoomId = RoomId(3);
    const USERS: u32 = 7;

    /// Where a member ends: its epoch, its own sender key and the newest it holds of each user.
    type End = (Option<Epoch>, Option<Epoch>, Vec<Option<Epoch>>);

    /// One room of Sender Keys over provider `P`, with a first-in first-out network whose
    /// every message is logged.
    struct Flow<P: SenderKeyCrypto> {
        clients: Vec<Client<P>>,
        directory: Vec<<SenderKeysWith<P> as KeyDistribution>::Credential>,
        members: Vec<UserId>,
        queue: VecDeque<(UserId, UserId, Message<P>)>,
        rng: ChaCha20Rng,
        /// (from, to, wire length) of every message sent, in order.
        sent: Vec<(UserId, UserId, usize)>,
        /// What each delivery, change and message-layer call returned, in order.
        outcomes: Vec<String>,
    }

    impl<P: SenderKeyCrypto> Flow<P> {
        fn new() -> Self {
            let mut rng = ChaCha20Rng::seed_from_u64(41);
            let (_, _, clients, directory) = enroll_all::<SenderKeysWith<P>>(USERS, &mut rng);
            Self {
                clients,
                directory,
                members: Vec::new(),
                queue: VecDeque::new(),
                rng,
                sent: Vec::new(),
                outcomes: Vec::new(),
            }
        }

        fn post(&mut self, from: UserId, mut out: Outbox<Message<P>>) {
            for (dest, msg) in out.drain() {
                let Dest::User(to) = dest else {
                    panic!("a message to {dest:?}")
                };
                self.sent.push((from, to, msg.wire_len()));
                self.queue.push_back((from, to, msg));
            }
        }

        fn change(&mut self, by: UserId, change: Change<'_>, members: &[UserId]) {
            self.members = members.to_vec();
            let roster = Roster {
                room: ROOM,
                members: &self.members,
            };
            let mut out = Outbox::new();
            let got = self.clients[by.0 as usize].change(
                &roster,
                &change,
                &self.directory,
                &mut self.rng,
                &mut out,
            );
            self.outcomes.push(format!("change by {by}: {got:?}"));
            self.post(by, out);
        }

        /// Delivers the next `n` messages of the queue (all of it, and what they cause, if
        /// `None`).
        fn deliver(&mut self, n: Option<usize>) {
            let mut left = n;
            while left != Some(0) {
                let Some((from, to, msg)) = self.queue.pop_front() else {
                    break;
                };
                left = left.map(|l| l - 1);
                let got = self.handle(from, to, &msg);
                self.outcomes.push(format!("{from} to {to}: {got:?}"));
            }
        }

        fn handle(
            &mut self,
            from: UserId,
            to: UserId,
            msg: &Message<P>,
        ) -> Result<Handled, SchemeError> {
            let roster = Roster {
                room: ROOM,
                members: &self.members,
            };
            let mut out = Outbox::new();
            let got = self.clients[to.0 as usize].handle(
                &roster,
                Origin::User(from),
                msg,
                &self.directory,
                &mut self.rng,
                &mut out,
            );
            self.post(to, out);
            got
        }

        /// `by` protects a message; each of `readers` unprotects it as from `claimed`.
        fn say(&mut self, by: UserId, claimed: UserId, readers: &[UserId]) {
            let body = format!("message {} from {by}", self.outcomes.len()).into_bytes();
            let layer = self.clients[by.0 as usize].message_layer().unwrap();
            let protected = layer.protect(ROOM, &body, &mut self.rng);
            self.outcomes.push(format!(
                "{by} protects {} bytes: {:?}",
                body.len(),
                protected.as_ref().map(Vec::len)
            ));
            let Ok(protected) = protected else { return };
            for reader in readers {
                let layer = self.clients[reader.0 as usize].message_layer().unwrap();
                let got = match layer.unprotect(ROOM, claimed, &protected) {
                    Ok(Opened::Plaintext(pt)) => format!("read {}", pt == body),
                    other => format!("{other:?}"),
                };
                self.outcomes
                    .push(format!("{reader} reads {by} as {claimed}: {got}"));
            }
        }

        /// Each member's epoch, own sender key and the newest sender key it holds of each user.
        fn ends(&self) -> Vec<End> {
            self.clients
                .iter()
                .map(|c| {
                    (
                        c.current(ROOM).map(|(e, _)| e),
                        c.own_sender_key(ROOM),
                        (0..USERS)
                            .map(|u| c.latest_sender_key(ROOM, UserId(u)))
                            .collect(),
                    )
                })
                .collect()
        }
    }

    /// A creation, messages, a join with a message that overtakes its sender key, a removal,
    /// a box redirected to another member and messages claimed by another sender.
    fn scripted<P: SenderKeyCrypto>() -> Flow<P> {
        let u = UserId;
        let mut f = Flow::<P>::new();
        f.change(u(0), Change::Create, &[u(0), u(1), u(2), u(3)]);
        f.deliver(None);
        f.say(u(1), u(1), &[u(0), u(2), u(3)]);
        f.say(u(2), u(1), &[u(0), u(3)]);
        // A join: the joiner gets its kick, then reads member 3's message before 3's sender key.
        f.change(u(0), Change::Add(&[u(4)]), &[u(0), u(1), u(2), u(3), u(4)]);
        f.deliver(Some(1));
        f.say(u(3), u(3), &[u(4), u(0)]);
        // A box of the queue handed to a member it was not sealed for.
        if let Some((from, to, msg)) = f.queue.front().cloned() {
            let wrong = if to == u(1) { u(2) } else { u(1) };
            let got = f.handle(from, wrong, &msg);
            f.outcomes
                .push(format!("redirected {from} to {wrong}: {got:?}"));
        }
        f.deliver(None);
        f.say(u(3), u(3), &[u(4)]);
        // A removal: everyone rotates; the removed member cannot read what follows.
        f.change(u(2), Change::Remove(&[u(1)]), &[u(0), u(2), u(3), u(4)]);
        f.deliver(None);
        f.say(u(4), u(4), &[u(0), u(1), u(2), u(3)]);
        f.change(u(5), Change::Remove(&[]), &[u(0), u(2)]);
        f.deliver(None);
        f
    }

    #[test]
    fn the_model_sends_what_the_real_scheme_sends_and_ends_in_the_same_epochs() {
        let real = scripted::<Real>();
        let model = scripted::<Ideal>();
        assert_eq!(real.sent, model.sent);
        assert_eq!(real.outcomes, model.outcomes);
        assert_eq!(real.ends(), model.ends());
        // The flow did reach what it is meant to compare.
        let all = real.outcomes.join("\n");
        for expected in ["Pending", "read true", "Err(Crypto)", "NewEpoch(Epoch(2))"] {
            assert!(all.contains(expected), "no {expected} in\n{all}");
        }
        // Boxes per the module's table: creation of 4 (4 · 3), one joiner to 5 (3 · 5 − 4), a
        // removal leaving 4 (4 · 3); the last change, by a non-member, sends nothing.
        assert_eq!(real.sent.len(), 12 + 11 + 12);
    }

    #[test]
    fn the_model_state_lengths_are_the_real_ones() {
        let (mut real, mut model) = (scripted::<Real>(), scripted::<Ideal>());
        for (r, m) in real.clients.iter_mut().zip(&mut model.clients) {
            assert_eq!(r.state_len(ROOM), m.state_len(ROOM));
        }
    }

    #[test]
    fn the_models_pass_the_conformance_suite() {
        let mut rng = ChaCha20Rng::seed_from_u64(42);
        kd_conformance::<SenderKeysModel>(&mut rng);
        kd_conformance::<super::super::pairwise_dh::PairwiseDhModel>(&mut rng);
        assert_eq!(SenderKeysModel::NAME, SenderKeys::NAME);
        assert_eq!(SenderKeysModel::PROPERTIES, SenderKeys::PROPERTIES);
        const { assert!(SenderKeysModel::MESSAGE_LAYER) };
    }
}
