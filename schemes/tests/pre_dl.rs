//! The discrete-log hybrid per-epoch history schemes, `bbs98` and `keyhom`: round trips across
//! epochs, joiners under both policies, removal, late stores, tampering and malformed input,
//! the server + removed member collusion both admit, the re-encryption algebra, and exact wire
//! lengths. Every generic test runs once per scheme (see `per_scheme!` at the end).
#![allow(clippy::unwrap_used)]

use conclave_schemes::rekeying::{RekeyingClient, RekeyingServer};
use std::collections::{BTreeMap, BTreeSet};

use conclave_schemes::common::router::{route, Arrival};
use conclave_schemes::pre::bbs98::{self, Bbs98, Bbs98In, Capsule};
use conclave_schemes::pre::dl_group::Exponents;
use conclave_schemes::pre::dl_hybrid::{
    open_with_epoch_key, wrap_context, DlScheme, EpochKey, KeyId, ReKey, Record,
};
use conclave_schemes::pre::keyhom::{self, HomWrap, KeyHom, KeyHomIn};
use conclave_schemes::pre::{
    EpochChange, HistoryClient, HistoryProtection, HistoryServer, KeyView, Work,
};
use conclave_schemes::testing::{readable, Tamper};
use conclave_schemes::Misuse;
use conclave_schemes::{
    Dest, Epoch, EpochSecret, MsgId, Opened, Origin, Outbox, RoomId, SchemeError, UserId, Wire,
};
use curve25519_dalek::Scalar;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// A room of one scheme with its clients and message server, messages routed synchronously.
struct Chat<H: DlScheme> {
    room: RoomId,
    server: H::Server,
    clients: Vec<H::Client>,
    /// The epoch secret of every epoch so far, by epoch.
    secrets: Vec<EpochSecret>,
    members: BTreeSet<u32>,
    /// The last epoch each user held (removed members keep theirs).
    held: BTreeMap<u32, u64>,
    /// Every stored message: id, plaintext and the epoch it was sealed in.
    stored: Vec<(MsgId, Vec<u8>, u64)>,
    /// Members must open every message sealed from this epoch on.
    history_from: u64,
    next_msg: u64,
    /// Copies of every re-key the server received, and the work each caused.
    rekeys: Vec<ReKey>,
    works: Vec<Work>,
    rng: ChaCha20Rng,
}

impl<H: DlScheme> Chat<H> {
    /// Users `0..users`; the room is created at epoch 0 by `initial[0]`.
    fn new(users: u32, initial: &[u32], seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let secret = EpochSecret::random(&mut rng);
        let mut chat = Self {
            room: RoomId(9),
            server: H::Server::default(),
            clients: (0..users).map(|u| H::new_client(UserId(u))).collect(),
            secrets: vec![secret],
            members: initial.iter().copied().collect(),
            held: BTreeMap::new(),
            stored: Vec::new(),
            history_from: 0,
            next_msg: 0,
            rekeys: Vec::new(),
            works: Vec::new(),
            rng,
        };
        for &u in initial {
            chat.held.insert(u, 0);
            let change = EpochChange {
                prev: None,
                next: key_view(chat.room, &chat.secrets, 0),
                changer: u == initial[0],
                shares_history: true,
            };
            let mut out = Outbox::new();
            chat.clients[u as usize]
                .epoch_changed(change, &mut chat.rng.clone(), &mut out)
                .unwrap();
            assert!(out.is_empty(), "the creator has nothing to re-key");
        }
        chat
    }

    fn view(&self, epoch: u64) -> KeyView<'_> {
        key_view(self.room, &self.secrets, epoch)
    }

    fn epoch(&self) -> u64 {
        self.secrets.len() as u64 - 1
    }

    /// A membership change by `changer` to a new epoch, delivered to every member.
    fn change(&mut self, changer: u32, add: &[u32], remove: &[u32], shares_history: bool) {
        let secret = EpochSecret::random(&mut self.rng);
        self.secrets.push(secret);
        let next = self.epoch();
        self.server
            .name_changer(self.room, Epoch(next), UserId(changer))
            .unwrap();
        for u in remove {
            self.members.remove(u);
        }
        let before = self.members.clone();
        self.members.extend(add.iter().copied());
        // The changer first, as a key-distribution layer would.
        let order =
            std::iter::once(changer).chain(self.members.iter().copied().filter(|&u| u != changer));
        for u in order.collect::<Vec<_>>() {
            let prev = before.contains(&u).then(|| self.held[&u]);
            let mut out = Outbox::new();
            let mut rng = ChaCha20Rng::seed_from_u64(self.rng.next_u64());
            let change = EpochChange {
                prev: prev.map(|p| key_view(self.room, &self.secrets, p)),
                next: key_view(self.room, &self.secrets, next),
                changer: u == changer,
                shares_history,
            };
            self.clients[u as usize]
                .epoch_changed(change, &mut rng, &mut out)
                .unwrap();
            if u != changer {
                assert!(out.is_empty(), "only the changer sends re-keys");
            }
            self.route(u, out);
            self.held.insert(u, next);
        }
    }

    /// Delivers `out` from `from` and everything it causes.
    fn route(&mut self, from: u32, out: Outbox<ReKey>) {
        route(Origin::User(UserId(from)), out, |arrival| {
            let mut answers = Outbox::new();
            match arrival {
                Arrival::AtServer { from, msg } => {
                    self.rekeys.push(msg.clone());
                    let work =
                        self.server
                            .handle(self.room, from, msg, &mut self.rng, &mut answers)?;
                    self.works.push(work);
                }
                Arrival::AtUser { to, msg, .. } => {
                    let epoch = self.held[&to.0];
                    let key = KeyView {
                        room: self.room,
                        epoch: Epoch(epoch),
                        secret: &self.secrets[epoch as usize],
                    };
                    self.clients[to.0 as usize].handle(key, msg, &mut self.rng, &mut answers)?;
                }
            }
            Ok::<_, SchemeError>(answers)
        })
        .unwrap();
    }

    /// Seals a fresh random message as `sender` under its current key, without storing it.
    fn seal(&mut self, sender: u32) -> (MsgId, Vec<u8>, Record<H::Wrap>) {
        let id = MsgId(self.next_msg);
        self.next_msg += 1;
        let len = (self.rng.next_u32() % 200) as usize;
        let mut text = vec![0u8; len];
        self.rng.fill_bytes(&mut text);
        let epoch = self.held[&sender];
        let key = KeyView {
            room: self.room,
            epoch: Epoch(epoch),
            secret: &self.secrets[epoch as usize],
        };
        let sealed = self.clients[sender as usize]
            .seal(key, id, &text, &mut self.rng)
            .unwrap();
        (id, text, sealed)
    }

    fn store(&mut self, id: MsgId, text: Vec<u8>, sealed: Record<H::Wrap>) {
        let epoch = sealed.key_id.epoch.0;
        self.server.store(self.room, id, sealed).unwrap();
        self.stored.push((id, text, epoch));
    }

    /// Seals and stores a message; returns its record as sealed.
    fn send(&mut self, sender: u32) -> Record<H::Wrap> {
        let (id, text, sealed) = self.seal(sender);
        self.store(id, text, sealed.clone());
        sealed
    }

    /// `reader` opens stored message `id` with its client and its current key.
    fn open(&mut self, reader: u32, id: MsgId) -> Result<Vec<u8>, SchemeError> {
        let record = self.server.get(self.room, id).unwrap();
        let epoch = self.held[&reader];
        let key = KeyView {
            room: self.room,
            epoch: Epoch(epoch),
            secret: &self.secrets[epoch as usize],
        };
        readable(self.clients[reader as usize].open(key, id, &record))
    }

    /// A fresh client holding only the key of `epoch` opens stored message `id`.
    fn open_fresh(&self, epoch: u64, id: MsgId) -> Result<Vec<u8>, SchemeError> {
        let record = self.server.get(self.room, id).unwrap();
        readable(H::new_client(UserId(999)).open(self.view(epoch), id, &record))
    }

    /// Neither `reader`'s client nor a fresh client holding only the key of `epoch` opens any
    /// of `ids` (`what` names the reader in the failure message).
    fn locked_out(&mut self, reader: u32, epoch: u64, ids: &[MsgId], what: &str) {
        for &id in ids {
            assert_eq!(
                self.open(reader, id),
                Err(SchemeError::Crypto),
                "{what} read {id}"
            );
            assert_eq!(self.open_fresh(epoch, id), Err(SchemeError::Crypto));
        }
    }

    /// Every current member opens every stored message sealed from `history_from` on.
    fn all_open(&mut self) {
        let from_epoch = self.history_from;
        let members: Vec<u32> = self.members.iter().copied().collect();
        for (id, text, epoch) in self.stored.clone() {
            if epoch < from_epoch {
                continue;
            }
            for &u in &members {
                let opened = self.open(u, id).unwrap_or_else(|e| {
                    panic!(
                        "{}: user {u} cannot open {id} of epoch {epoch}: {e}",
                        H::NAME
                    )
                });
                assert_eq!(opened, text, "{}: user {u} opened {id} wrong", H::NAME);
            }
        }
    }

    /// The stored messages sealed in `epoch`.
    fn sealed_in(&self, epoch: u64) -> Vec<MsgId> {
        self.stored
            .iter()
            .filter(|(_, _, e)| *e == epoch)
            .map(|(id, _, _)| *id)
            .collect()
    }
}

fn key_view(room: RoomId, secrets: &[EpochSecret], epoch: u64) -> KeyView<'_> {
    KeyView {
        room,
        epoch: Epoch(epoch),
        secret: &secrets[epoch as usize],
    }
}

/// One epoch's traffic: `first` sends, everyone reads, then `others` send under the key they
/// have seen (no new wrap), and everyone reads again.
fn epoch_traffic<H: DlScheme>(chat: &mut Chat<H>, first: u32, others: &[u32]) {
    let opener = chat.send(first);
    assert!(
        opener.wrap.is_some(),
        "a new message key travels with its wrap"
    );
    chat.all_open();
    for &u in others {
        let sealed = chat.send(u);
        assert_eq!(
            sealed.key_id, opener.key_id,
            "members reuse the epoch's key"
        );
        assert!(sealed.wrap.is_none(), "a reused key is not wrapped again");
    }
    chat.all_open();
}

fn round_trip_five_epochs<H: DlScheme>() {
    let mut chat = Chat::<H>::new(8, &[0, 1, 2, 3], 1);
    epoch_traffic(&mut chat, 0, &[1, 2]);
    let changes: [(u32, &[u32], &[u32]); 4] = [
        (0, &[4], &[]),
        (2, &[], &[1]),
        (3, &[5, 6], &[]),
        (4, &[], &[0]),
    ];
    for (i, (changer, add, remove)) in changes.into_iter().enumerate() {
        let wraps_before = chat.server.wrap_epochs(chat.room).len();
        chat.change(changer, add, remove, true);
        assert_eq!(chat.rekeys.len(), i + 1, "one re-key per change");
        let work = *chat.works.last().unwrap();
        assert_eq!(
            work,
            Work {
                op: "reencrypt",
                units: wraps_before as u64,
                parallel: true
            },
            "every wrap is re-encrypted once"
        );
        let now = Epoch(chat.epoch());
        assert!(
            chat.server
                .wrap_epochs(chat.room)
                .iter()
                .all(|(_, e)| *e == now),
            "every wrap is under the new epoch"
        );
        // Joiners read the whole history; everyone reads everything.
        chat.all_open();
        let speakers: Vec<u32> = chat.members.iter().copied().collect();
        epoch_traffic(&mut chat, speakers[i % speakers.len()], &speakers[..2]);
    }
    assert_eq!(chat.epoch(), 4);
    assert_eq!(
        chat.server.wrap_epochs(chat.room).len(),
        5,
        "one key per epoch"
    );
}

fn joiners<H: DlScheme>() {
    let mut chat = Chat::<H>::new(6, &[0, 1, 2], 2);
    epoch_traffic(&mut chat, 0, &[1]);
    let before_join = chat.sealed_in(0);

    // from_join: no re-key, the joiner opens nothing from before, old members still do.
    chat.change(0, &[3], &[], false);
    chat.history_from = 1;
    assert!(chat.rekeys.is_empty(), "no re-key under from_join");
    chat.locked_out(3, 1, &before_join, "joiner");
    for &id in &before_join {
        assert!(
            chat.open_fresh(0, id).is_ok(),
            "old wraps stay under their epoch"
        );
    }
    chat.all_open();
    for u in [0, 1, 2] {
        for &id in &before_join {
            assert!(chat.open(u, id).is_ok(), "an old member lost old history");
        }
    }
    epoch_traffic(&mut chat, 3, &[0, 2]);

    // A shared join afterwards carries epoch 1 over, but not epoch 0.
    chat.change(1, &[4], &[], true);
    assert_eq!(
        chat.works.last().unwrap().units,
        1,
        "only epoch 1's wrap moves"
    );
    epoch_traffic(&mut chat, 4, &[1]);
    chat.all_open();
    for &id in &before_join {
        for u in [3, 4] {
            assert_eq!(
                chat.open(u, id),
                Err(SchemeError::Crypto),
                "user {u} read epoch 0"
            );
        }
        for u in [0, 1, 2] {
            assert!(chat.open(u, id).is_ok());
        }
    }
    let epochs: Vec<Epoch> = chat
        .server
        .wrap_epochs(chat.room)
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(epochs, vec![Epoch(0), Epoch(2), Epoch(2)]);
}

fn removed_member<H: DlScheme>() {
    let mut chat = Chat::<H>::new(6, &[0, 1, 2, 3], 3);
    epoch_traffic(&mut chat, 1, &[3]);
    let before = chat.sealed_in(0);
    chat.change(0, &[], &[3], true);
    epoch_traffic(&mut chat, 2, &[0]);
    chat.change(1, &[5], &[], true);
    epoch_traffic(&mut chat, 5, &[2]);
    let after: Vec<MsgId> = chat
        .sealed_in(1)
        .into_iter()
        .chain(chat.sealed_in(2))
        .collect();
    // Its client (with its last key, epoch 0) and a fresh client with that key.
    chat.locked_out(3, 0, &after, "removed member");
    for &id in &before {
        // Expected: its client cached the message key of what it read as a member.
        assert!(
            chat.open(3, id).is_ok(),
            "the cached message key opens old bodies"
        );
        // A breach of storage with the old key: the re-keyed wrap no longer opens.
        assert_eq!(chat.open_fresh(0, id), Err(SchemeError::Crypto));
        assert_eq!(chat.open_fresh(1, id), Err(SchemeError::Crypto));
        assert!(
            chat.open_fresh(2, id).is_ok(),
            "the current key opens all history"
        );
    }
}

fn late_store<H: DlScheme>() {
    let mut chat = Chat::<H>::new(6, &[0, 1, 2], 4);
    // User 1 seals first under a key of its own, wrapped under epoch 0; it reaches the server
    // only after two changes.
    let (late_wrapped, text_wrapped, sealed_wrapped) = chat.seal(1);
    assert!(sealed_wrapped.wrap.is_some());
    epoch_traffic(&mut chat, 0, &[]);
    // User 0 reuses its key: no wrap.
    let (late_plain, text_plain, sealed_plain) = chat.seal(0);
    assert!(sealed_plain.wrap.is_none());

    chat.change(0, &[3], &[], true);
    chat.change(2, &[], &[1], true);
    epoch_traffic(&mut chat, 3, &[0]);
    chat.store(late_wrapped, text_wrapped, sealed_wrapped.clone());
    chat.store(late_plain, text_plain, sealed_plain);
    let table = chat.server.wrap_epochs(chat.room);
    assert!(
        table.contains(&(sealed_wrapped.key_id, Epoch(2))),
        "the late wrap was brought forward two hops"
    );
    chat.all_open();
    for id in [late_wrapped, late_plain] {
        assert!(chat.open_fresh(2, id).is_ok());
        assert_eq!(chat.open_fresh(0, id), Err(SchemeError::Crypto));
        assert_eq!(chat.open_fresh(1, id), Err(SchemeError::Crypto));
    }
}

/// Scheme-specific corruption of a wrap.
trait WrapFixture {
    /// Flips a bit the unwrap depends on.
    fn flip(&mut self);
    /// Replaces the wrap's point by a non-canonical encoding.
    fn break_point(&mut self);
}

/// 2^255 − 1: above the field modulus, so never a canonical Ristretto encoding.
const NON_CANONICAL: [u8; 32] = {
    let mut b = [0xff; 32];
    b[31] = 0x7f;
    b
};

impl WrapFixture for Capsule {
    fn flip(&mut self) {
        self.sealed_key[3] ^= 0x10;
    }
    fn break_point(&mut self) {
        self.c = NON_CANONICAL;
    }
}

impl WrapFixture for HomWrap {
    fn flip(&mut self) {
        self.nonce[0] ^= 1;
    }
    fn break_point(&mut self) {
        self.masked = NON_CANONICAL;
    }
}

fn tampering<H: DlScheme>()
where
    H::Wrap: WrapFixture,
{
    let mut chat = Chat::<H>::new(4, &[0, 1], 5);
    let sealed = chat.send(0);
    let id = chat.stored[0].0;
    let record = chat.server.get(chat.room, id).unwrap();
    let key = key_view(chat.room, &chat.secrets, 0);
    let fresh = || H::new_client(UserId(77));

    let mut bad = record.clone();
    assert!(bad.tamper());
    assert_eq!(fresh().open(key, id, &bad), Err(SchemeError::Crypto));
    // The sender has the message key cached: the tag still catches it.
    assert_eq!(
        chat.clients[0].open(key, id, &bad),
        Err(SchemeError::Crypto)
    );

    let mut bad = record.clone();
    bad.nonce[0] ^= 1;
    assert_eq!(fresh().open(key, id, &bad), Err(SchemeError::Crypto));

    assert_eq!(
        fresh().open(key, MsgId(id.0 + 1), &record),
        Err(SchemeError::Crypto)
    );
    let other_room = KeyView {
        room: RoomId(chat.room.0 + 1),
        ..key
    };
    assert_eq!(
        fresh().open(other_room, id, &record),
        Err(SchemeError::Crypto)
    );

    let mut bad = record.clone();
    bad.key_id.counter ^= 1;
    assert_eq!(fresh().open(key, id, &bad), Err(SchemeError::Crypto));
    assert_eq!(
        chat.clients[0].open(key, id, &bad),
        Err(SchemeError::Crypto)
    );

    let mut bad = record.clone();
    bad.wrap.as_mut().unwrap().wrap.flip();
    assert_eq!(fresh().open(key, id, &bad), Err(SchemeError::Crypto));
    // A forged wrap must not poison a client's cache: the genuine record still opens.
    let mut reader = fresh();
    assert!(reader.open(key, id, &bad).is_err());
    assert!(reader.open(key, id, &record).is_ok());

    let mut bad = record.clone();
    bad.wrap = None;
    // Without a wrap the reader waits for one (the server attaches it once a re-key lands).
    assert_eq!(
        fresh().open(key, id, &bad),
        Ok(Opened::Pending {
            waiting_for: record.key_id.epoch
        })
    );

    // Malformed points: at open, and at store.
    let mut bad = record.clone();
    bad.wrap.as_mut().unwrap().wrap.break_point();
    assert!(matches!(
        fresh().open(key, id, &bad),
        Err(SchemeError::Malformed(_))
    ));
    let mut bad = sealed.clone();
    bad.wrap.as_mut().unwrap().wrap.break_point();
    bad.key_id.counter += 100;
    assert!(matches!(
        chat.server.store(chat.room, MsgId(500), bad),
        Err(SchemeError::Malformed(_))
    ));
    assert!(
        chat.server.get(chat.room, MsgId(500)).is_none(),
        "a refused record is not kept"
    );
    assert!(matches!(
        chat.server.store(chat.room, id, sealed.clone()),
        Err(SchemeError::Misuse(_))
    ));
    assert!(
        matches!(
            chat.server.store(chat.room, MsgId(501), sealed),
            Err(SchemeError::Misuse(_))
        ),
        "a second wrap of one key"
    );

    // Re-keys: non-canonical scalar, backwards, repeated.
    let mut out = Outbox::new();
    let mut rng = ChaCha20Rng::seed_from_u64(50);
    let room = chat.room;
    let mut handle_from = |server: &mut H::Server, from: u32, rekey: ReKey| {
        server.handle(room, UserId(from), rekey, &mut rng, &mut out)
    };
    let bad_scalar = ReKey {
        from: Epoch(0),
        to: Epoch(1),
        key: [0xff; 32],
    };
    let backwards = ReKey {
        from: Epoch(1),
        to: Epoch(1),
        key: Scalar::ONE.to_bytes(),
    };
    for malformed in [bad_scalar, backwards] {
        assert!(matches!(
            handle_from(&mut chat.server, 0, malformed),
            Err(SchemeError::Malformed(_))
        ));
    }
    let good = ReKey {
        from: Epoch(0),
        to: Epoch(1),
        key: Scalar::from(3u8).to_bytes(),
    };
    // Nobody was named changer of epoch 1 yet: refused, whoever sends it.
    assert!(matches!(
        handle_from(&mut chat.server, 0, good.clone()),
        Err(SchemeError::Misuse(Misuse::NotTheChanger { .. }))
    ));
    chat.server
        .name_changer(chat.room, Epoch(1), UserId(0))
        .unwrap();
    // Another member's garbage re-key is refused and does not block the changer's.
    let garbage = ReKey {
        key: Scalar::from(5u8).to_bytes(),
        ..good.clone()
    };
    assert!(matches!(
        handle_from(&mut chat.server, 1, garbage),
        Err(SchemeError::Misuse(Misuse::NotTheChanger { .. }))
    ));
    // A jump past the next epoch is refused.
    let far = ReKey {
        from: Epoch(0),
        to: Epoch(1 << 40),
        key: Scalar::from(3u8).to_bytes(),
    };
    assert!(matches!(
        handle_from(&mut chat.server, 0, far),
        Err(SchemeError::Malformed(_))
    ));
    assert!(handle_from(&mut chat.server, 0, good.clone()).is_ok());
    assert!(matches!(
        handle_from(&mut chat.server, 0, good.clone()),
        Err(SchemeError::Misuse(_))
    ));

    // Clients take no control traffic.
    assert!(matches!(
        chat.clients[1].handle(
            key,
            &good,
            &mut ChaCha20Rng::seed_from_u64(1),
            &mut Outbox::new()
        ),
        Err(SchemeError::Misuse(_))
    ));
}

#[test]
fn bbs98_rejects_zero_rekey() {
    let mut server = <Bbs98 as HistoryProtection>::Server::default();
    let zero = ReKey {
        from: Epoch(0),
        to: Epoch(1),
        key: Scalar::ZERO.to_bytes(),
    };
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    assert!(matches!(
        server.handle(RoomId(1), UserId(0), zero, &mut rng, &mut Outbox::new()),
        Err(SchemeError::Malformed(_))
    ));
}

/// Server + removed member: the member's last epoch key and the re-key the server received
/// give the next epoch key, which opens what was sealed after the removal. `formula` is the
/// scheme's a_K from (a_{K-1}, rk), written out independently of the scheme's code.
fn collusion<H: DlScheme>(formula: fn(&Scalar, &Scalar) -> Scalar) {
    let mut chat = Chat::<H>::new(6, &[0, 1, 2, 3], 7);
    epoch_traffic(&mut chat, 0, &[3]);
    chat.change(0, &[], &[3], true);
    let rekey = chat.rekeys[0].clone();
    epoch_traffic(&mut chat, 1, &[2]);
    chat.change(2, &[4], &[], true);
    epoch_traffic(&mut chat, 4, &[0]);
    let late_rekey = chat.rekeys[1].clone();

    let kept = EpochKey::derive::<H>(chat.view(0)).unwrap();
    let a1 = EpochKey::derive::<H>(chat.view(1)).unwrap();
    assert_eq!(
        &formula(
            kept.scalar(),
            &Scalar::from_canonical_bytes(rekey.key).unwrap()
        ),
        a1.scalar()
    );
    let colluded = kept.collude::<H>(&rekey).unwrap();
    assert_eq!(
        colluded.scalar(),
        a1.scalar(),
        "a_1 from a_0 and the re-key"
    );
    let colluded_later = colluded.collude::<H>(&late_rekey).unwrap();
    let a2 = EpochKey::derive::<H>(chat.view(2)).unwrap();
    assert_eq!(
        colluded_later.scalar(),
        a2.scalar(),
        "and every later epoch key"
    );

    for (id, text, epoch) in chat.stored.clone() {
        let record = chat.server.get(chat.room, id).unwrap();
        // Without the server's help the removed member reads nothing after its removal...
        if epoch >= 1 {
            assert_eq!(chat.open(3, id), Err(SchemeError::Crypto));
        }
        assert_eq!(
            open_with_epoch_key::<H>(&kept, id, &record),
            Err(SchemeError::Crypto)
        );
        // ...with it, everything: every wrap is under epoch 2 now.
        assert_eq!(
            open_with_epoch_key::<H>(&colluded_later, id, &record).unwrap(),
            text
        );
    }
    assert!(
        kept.collude::<H>(&late_rekey).is_err(),
        "a re-key from another epoch"
    );
}

/// Random keys and messages: a wrap re-encrypted through k hops (one by one, or by the
/// composed re-key) unwraps with the last key to the original message key; the keys before
/// it do not; and through the server, a stored record opens after k re-keys.
fn algebra<H: DlScheme>() {
    for seed in 0..40u64 {
        let mut rng = ChaCha20Rng::seed_from_u64(1000 + seed);
        let hops = 1 + (seed % 6) as usize;
        let room = RoomId(rng.next_u32());
        let secrets: Vec<EpochSecret> = (0..=hops).map(|_| EpochSecret::random(&mut rng)).collect();
        let view = |e: usize| KeyView {
            room,
            epoch: Epoch(e as u64),
            secret: &secrets[e],
        };
        let keys: Vec<EpochKey> = (0..=hops)
            .map(|e| EpochKey::derive::<H>(view(e)).unwrap())
            .collect();
        let key_id = KeyId {
            epoch: Epoch(0),
            creator: UserId(rng.next_u32()),
            counter: rng.next_u32(),
        };
        let context = wrap_context(room, key_id);
        let (mk, wrap) = H::wrap(&keys[0], &context, &mut rng).unwrap();
        assert_eq!(
            H::unwrap(&keys[0], &context, &wrap).unwrap().as_bytes(),
            mk.as_bytes()
        );

        let mut stepwise = H::decode(&wrap).unwrap();
        let mut composed_key = H::rekey(&keys[0], &keys[1]);
        H::reencrypt(&composed_key, &mut stepwise);
        for e in 1..hops {
            let rk = H::rekey(&keys[e], &keys[e + 1]);
            H::reencrypt(&rk, &mut stepwise);
            composed_key = H::compose(&composed_key, &rk);
        }
        let mut composed = H::decode(&wrap).unwrap();
        H::reencrypt(&composed_key, &mut composed);
        let stepwise = H::encode(&stepwise);
        assert_eq!(stepwise, H::encode(&composed), "composition is one hop");
        assert_ne!(stepwise, wrap, "re-encryption changes the wrap");
        assert_eq!(
            H::unwrap(&keys[hops], &context, &stepwise)
                .unwrap()
                .as_bytes(),
            mk.as_bytes(),
            "seed {seed}: {hops} hops"
        );
        for old in &keys[..hops] {
            // An old key either fails (bbs98's tag) or yields another key (keyhom).
            if let Ok(wrong) = H::unwrap(old, &context, &stepwise) {
                assert_ne!(
                    wrong.as_bytes(),
                    mk.as_bytes(),
                    "seed {seed}: an old key opened"
                );
            }
        }
        let other = wrap_context(RoomId(room.0 ^ 1), key_id);
        if let Ok(wrong) = H::unwrap(&keys[hops], &other, &stepwise) {
            assert_ne!(wrong.as_bytes(), mk.as_bytes(), "the context is bound");
        }

        // Through the server, with the ReKey messages a changer would send.
        let mut server = H::Server::default();
        let mut sender = H::new_client(UserId(0));
        let len = (rng.next_u32() % 300) as usize;
        let mut text = vec![0u8; len];
        rng.fill_bytes(&mut text);
        let id = MsgId(rng.next_u64());
        let sealed = sender.seal(view(0), id, &text, &mut rng).unwrap();
        server.store(room, id, sealed).unwrap();
        for e in 0..hops {
            server
                .name_changer(room, Epoch(e as u64 + 1), UserId(0))
                .unwrap();
            let mut out = Outbox::new();
            let change = EpochChange {
                prev: Some(view(e)),
                next: view(e + 1),
                changer: true,
                shares_history: true,
            };
            sender.epoch_changed(change, &mut rng, &mut out).unwrap();
            for (dest, rekey) in out.drain() {
                assert_eq!(dest, Dest::Server, "re-keys go to the server only");
                server
                    .handle(room, UserId(0), rekey, &mut rng, &mut Outbox::new())
                    .unwrap();
            }
        }
        let record = server.get(room, id).unwrap();
        let mut reader = H::new_client(UserId(1));
        assert_eq!(
            reader
                .open(view(hops), id, &record)
                .unwrap()
                .plaintext()
                .unwrap(),
            text,
            "seed {seed}"
        );
        for e in 0..hops {
            // The wrap is under the last epoch now: an older key does not reach it.
            assert_eq!(
                H::new_client(UserId(2)).open(view(e), id, &record),
                Ok(Opened::Pending {
                    waiting_for: Epoch(hops as u64)
                }),
                "seed {seed}: epoch {e} opened after re-keying"
            );
        }
    }
}

fn visited_len(w: &impl Wire) -> usize {
    let mut n = 0;
    w.visit_bytes(&mut |b| n += b.len());
    n
}

fn wire_lengths<H: DlScheme>(wrap_len: usize) {
    let mut chat = Chat::<H>::new(3, &[0, 1], 8);
    let (id, text, first) = chat.seal(0);
    let n = text.len();
    assert_eq!(first.wrap.as_ref().unwrap().wrap.wire_len(), wrap_len);
    assert_eq!(first.wire_len(), 16 + 8 + wrap_len + 24 + n + 16);
    assert_eq!(
        visited_len(&first),
        first.wire_len(),
        "every byte is visited"
    );
    chat.store(id, text, first);
    let stored_one = chat.server.stored_len();
    assert_eq!(stored_one, (16 + 24 + n + 16) + (16 + 8 + H::STORED_LEN));

    let (id, text, second) = chat.seal(0);
    let n = text.len();
    assert!(second.wrap.is_none());
    assert_eq!(second.wire_len(), 16 + 24 + n + 16);
    assert_eq!(visited_len(&second), second.wire_len());
    chat.store(id, text, second);
    assert_eq!(chat.server.stored_len(), stored_one + 16 + 24 + n + 16);
    let got = chat.server.get(chat.room, id).unwrap();
    assert_eq!(
        got.wire_len(),
        16 + 8 + wrap_len + 24 + n + 16,
        "get attaches the wrap"
    );

    let before = chat.server.stored_len();
    chat.change(1, &[2], &[], true);
    let rekey = &chat.rekeys[0];
    assert_eq!(rekey.wire_len(), 48);
    assert_eq!(visited_len(rekey), 48);
    assert_eq!(
        chat.server.stored_len(),
        before + 48,
        "the server keeps the re-key"
    );
}

/// A module `$module` of tests of `$scheme`, one per check above, each named as its check.
macro_rules! per_scheme {
    ($module:ident, $scheme:ty, $wrap_len:expr, $formula:expr) => {
        checks!($module, $scheme: round_trip_five_epochs(), joiners(), removed_member(),
            late_store(), tampering(), collusion($formula), algebra(), wire_lengths($wrap_len),
            wrap_under_an_older_epoch_is_not_adopted());
    };
}

macro_rules! checks {
    ($module:ident, $scheme:ty: $($check:ident($($arg:expr)?)),*) => {
        mod $module {
            use super::*;
            $(
                #[test]
                fn $check() {
                    super::$check::<$scheme>($($arg)?);
                }
            )*
        }
    };
}

per_scheme!(bbs98_scheme, Bbs98, bbs98::CAPSULE_LEN, |a, rk| rk * a);
per_scheme!(keyhom_scheme, KeyHom, keyhom::WRAP_LEN, |a, delta| a
    + delta);
// The models ([`conclave_schemes::model`]): the same constructions in the exponent group pass
// the same checks, so a model run keeps the schemes' outcomes.
per_scheme!(
    bbs98_model,
    Bbs98In<Exponents>,
    bbs98::CAPSULE_LEN,
    |a, rk| rk * a
);
per_scheme!(
    keyhom_model,
    KeyHomIn<Exponents>,
    keyhom::WRAP_LEN,
    |a, delta| a + delta
);

#[test]
fn declared_lengths() {
    assert_eq!(bbs98::CAPSULE_LEN, 32 + 32 + 16);
    assert_eq!(keyhom::WRAP_LEN, 16 + 32);
    assert_eq!(<Bbs98 as HistoryProtection>::NAME, "bbs98");
    assert_eq!(<KeyHom as HistoryProtection>::NAME, "keyhom");
}

/// The body of message `msg` sealed under `mk`, as anyone who knows the message key (here the
/// attacker) builds it: ChaCha20-Poly1305, associated data `label/body ‖ room ‖ msg ‖ key id`.
fn forge_body(label: &str, room: RoomId, msg: MsgId, key_id: KeyId, mk: &[u8; 32]) -> Record<()> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
    let mut aad = Vec::new();
    aad.extend_from_slice(label.as_bytes());
    aad.extend_from_slice(b"/body");
    aad.extend_from_slice(&room.0.to_be_bytes());
    aad.extend_from_slice(&msg.0.to_be_bytes());
    aad.extend_from_slice(&key_id.to_bytes());
    let body = ChaCha20Poly1305::new(Key::from_slice(mk))
        .encrypt(
            Nonce::from_slice(&[3; 12]),
            Payload {
                msg: b"forged",
                aad: &aad,
            },
        )
        .unwrap();
    Record {
        key_id,
        wrap: None,
        nonce: [3; conclave_schemes::pre::dl_hybrid::NONCE_LEN],
        body: body.into(),
    }
}

/// The message server forges a capsule with `c` the identity: `g^r` is then the identity for
/// every epoch key, so the DEM key is public and the server chooses the message key. The
/// capsule must be refused, and no member may end up sending under a key the server knows.
#[test]
fn bbs98_refuses_an_identity_capsule_forged_by_the_server() {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{ChaCha20Poly1305, Nonce};
    use curve25519_dalek::RistrettoPoint;
    use hkdf::Hkdf;
    use sha2::Sha256;

    let mut chat = Chat::<Bbs98>::new(3, &[0, 1], 61);
    let (room, msg) = (chat.room, MsgId(900));
    let key_id = KeyId {
        epoch: Epoch(0),
        creator: UserId(2),
        counter: 0,
    };
    let server_mk = [0x5a; 32];
    let context = wrap_context(room, key_id);
    let identity = RistrettoPoint::default().compress().to_bytes();
    let hk = Hkdf::<Sha256>::new(None, &identity);
    let mut dem = [0u8; 32];
    hk.expand_multi_info(&[b"conclave/bbs98".as_slice(), b"/dem", &context], &mut dem)
        .unwrap();
    let sealed = ChaCha20Poly1305::new((&dem).into())
        .encrypt(
            Nonce::from_slice(&[0; 12]),
            Payload {
                msg: &server_mk,
                aad: &context,
            },
        )
        .unwrap();
    let capsule = Capsule {
        c: identity,
        sealed_key: sealed.try_into().unwrap(),
    };
    assert_eq!(
        <Bbs98 as conclave_schemes::pre::dl_hybrid::EpochWrap>::decode(&capsule).err(),
        Some(SchemeError::Malformed(bbs98::IDENTITY_CAPSULE))
    );
    let body = forge_body("conclave/bbs98", room, msg, key_id, &server_mk);
    let forged = Record {
        key_id,
        wrap: Some(conclave_schemes::pre::dl_hybrid::AttachedWrap {
            epoch: Epoch(0),
            wrap: capsule,
        }),
        nonce: body.nonce,
        body: body.body,
    };
    let key = key_view(room, &chat.secrets, 0);
    let opened = chat.clients[1].open(key, msg, &forged);
    assert_eq!(opened, Err(SchemeError::Malformed(bbs98::IDENTITY_CAPSULE)));
    let next = chat.clients[1]
        .seal(
            key,
            MsgId(901),
            b"later",
            &mut ChaCha20Rng::seed_from_u64(2),
        )
        .unwrap();
    assert_ne!(next.key_id, key_id, "member 1 sends under the server's key");
}

/// A removed member (who kept the old epoch's key) and the server forge a record whose key id
/// names the current epoch but whose wrap is under the old one. Current members still hold the
/// old key and would open it; they must not, or must at least never send under that key.
fn wrap_under_an_older_epoch_is_not_adopted<H: DlScheme>() {
    let mut chat = Chat::<H>::new(3, &[0, 1, 2], 62);
    chat.change(0, &[], &[2], true);
    let (room, msg) = (chat.room, MsgId(900));
    let key_id = KeyId {
        epoch: Epoch(1),
        creator: UserId(0),
        counter: 77,
    };
    // What user 2 knows: the epoch-0 key.
    let old = EpochKey::derive::<H>(chat.view(0)).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let (mk, wrap) = H::wrap(&old, &wrap_context(room, key_id), &mut rng).unwrap();
    let body = forge_body(H::LABEL, room, msg, key_id, mk.as_bytes());
    let forged = Record {
        key_id,
        wrap: Some(conclave_schemes::pre::dl_hybrid::AttachedWrap {
            epoch: Epoch(0),
            wrap,
        }),
        nonce: body.nonce,
        body: body.body,
    };
    let key = key_view(room, &chat.secrets, 1);
    let opened = chat.clients[1].open(key, msg, &forged);
    assert!(
        matches!(opened, Err(SchemeError::Malformed(_))),
        "a wrap older than its key id opened: {opened:?}"
    );
    let next = chat.clients[1]
        .seal(key, MsgId(901), b"later", &mut rng)
        .unwrap();
    assert_ne!(
        next.key_id, key_id,
        "member 1 sends under a key user 2 knows"
    );
}
