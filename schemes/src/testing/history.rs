//! Conformance suite of the history-protection family.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use crate::pre::{EpochChange, HistoryClient, HistoryProtection, HistoryServer, KeyView};
use crate::{CryptoRngCore, Epoch, EpochSecret, MsgId, Outbox, RoomId, UserId};

/// History protection: members open what other members seal, across epoch changes.
pub fn history_round_trip<H: HistoryProtection>(rng: &mut dyn CryptoRngCore) {
    let room = RoomId(1);
    let mut server = H::new_server();
    let mut alice = H::new_client(UserId(0));
    let mut bob = H::new_client(UserId(1));
    let secrets: Vec<EpochSecret> = (0..5).map(|_| EpochSecret::random(rng)).collect();
    let mut prev: Option<usize> = None;
    for (e, secret) in secrets.iter().enumerate() {
        let key = KeyView {
            room,
            epoch: Epoch(e as u64),
            secret,
        };
        let prev_key = prev.map(|p| KeyView {
            room,
            epoch: Epoch(p as u64),
            secret: &secrets[p],
        });
        let mut out = Outbox::new();
        let change = EpochChange {
            prev: prev_key,
            next: key,
            changer: true,
            shares_history: true,
        };
        alice.epoch_changed(change, rng, &mut out).unwrap();
        for (_, msg) in out.drain() {
            server
                .handle(room, UserId(0), msg, rng, &mut Outbox::new())
                .unwrap();
        }
        let change = EpochChange {
            changer: false,
            ..change
        };
        bob.epoch_changed(change, rng, &mut Outbox::new()).unwrap();
        let id = MsgId(e as u64);
        let text = format!("message number {e}");
        let sealed = alice.seal(key, id, text.as_bytes(), rng).unwrap();
        server.store(room, id, sealed).unwrap();
        let stored = server.get(room, id).unwrap();
        assert_eq!(
            bob.open(key, id, &stored).unwrap(),
            text.as_bytes(),
            "round trip"
        );
        prev = Some(e);
    }
}
