//! Conformance suite of the searchable-encryption family.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::collections::BTreeSet;

use crate::pre::KeyView;
use crate::sse::{tokenize, Access, Resolution, SearchableEncryption, SseClient, SseServer};
use crate::{CryptoRngCore, Epoch, EpochSecret, MsgId, RoomId, UserId};

/// Searchable encryption: search results equal a brute-force scan of the messages, and the
/// access bound is honoured.
pub fn sse_matches_scan<S: SearchableEncryption>(rng: &mut dyn CryptoRngCore) {
    let room = RoomId(3);
    let secret = EpochSecret::random(rng);
    let key = KeyView {
        room,
        epoch: Epoch(0),
        secret: &secret,
    };
    let mut server = S::new_server();
    let mut client = S::new_client(UserId(0));
    let words = [
        "budget", "launch", "hiring", "q3", "review", "offsite", "roadmap",
    ];
    let mut texts = Vec::new();
    for i in 0..60u64 {
        let mut text = String::from("the");
        for (j, w) in words.iter().enumerate() {
            if (i * 7 + j as u64 * 3) % (j as u64 + 2) == 0 {
                text.push(' ');
                text.push_str(w);
            }
        }
        let kws = tokenize(&text);
        let refs: Vec<&str> = kws.iter().map(String::as_str).collect();
        let upd = client.index(key, MsgId(i), &refs, rng).unwrap();
        server.apply(room, upd).unwrap();
        texts.push(kws);
    }
    for from in [0u64, 25] {
        for w in words.iter().chain(&["absent"]) {
            let expected: BTreeSet<MsgId> = texts
                .iter()
                .enumerate()
                .filter(|(i, kws)| *i as u64 >= from && kws.iter().any(|k| k == w))
                .map(|(i, _)| MsgId(i as u64))
                .collect();
            let mut q = client.query(key, w, rng).unwrap();
            let found = loop {
                let reply = server
                    .search(
                        room,
                        Access {
                            readable_from: MsgId(from),
                        },
                        &q,
                    )
                    .unwrap();
                match client.resolve(key, w, &reply, rng).unwrap() {
                    Resolution::Done(ids) => break ids,
                    Resolution::Next(next) => q = next,
                }
            };
            let found: BTreeSet<MsgId> = found.into_iter().collect();
            assert_eq!(found, expected, "search for {w:?} from {from}");
        }
    }
}
