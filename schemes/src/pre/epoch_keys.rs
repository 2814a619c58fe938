//! `epoch-keys`: end-to-end encrypted history without re-encryption. One message key per epoch;
//! joiners read older history through an encrypted back-chain of epoch secrets on the server.
//!
//! # Source
//!
//! The end-to-end baseline of DESIGN.md §3 (history table): stored history is never touched on
//! an epoch change. It is key regression / lazy revocation (Fu, Kamara, Kohno, NDSS 2006;
//! research/pre.md §1.7 item 7) without a key owner: the back-chain is the server-stored
//! `h_e = AEAD(K_e, K_{e-1})` proposed in research/sse.md §(ii).
//!
//! # Construction
//!
//! * **Message key.** `MK_e = HKDF(secret_e, "conclave/epoch-keys/message" ‖ room ‖ e)`, the
//!   same for every message of epoch `e`.
//! * **Record** ([`EpochRecord`], 48 bytes plus the body): the epoch `e` (8), a random nonce (24)
//!   and `XChaCha20-Poly1305(MK_e, nonce, body, aad = room ‖ msg ‖ e)` (body + 16-byte tag;
//!   [`crate::common::aead::SharedKey`]: every member seals under `MK_e`).
//!   Binding the message id and room stops the server from moving a record to another message.
//! * **Back-chain** ([`crate::common::back_chain`], chain secret: the epoch secret itself).
//!   When a change shares history, the changer uploads the link that seals `secret_{e-1}` under
//!   `secret_e` (64 bytes). A joiner (no previous epoch, history shared) asks the server for the
//!   chain below its epoch; the server answers with the links (at once, or as soon as the link
//!   of the joiner's epoch arrives) and the joiner walks back, link by link, remembering every
//!   secret it recovers.
//! * **Clients** remember the secrets of every epoch they held or walked to, with the message
//!   key derived from each, and open a record of any of those epochs.
//!
//! # Costs
//!
//! Flows and costs per change; N stored records, E epochs:
//!
//! | who | work | traffic |
//! |---|---|---|
//! | changer (history shared) | 1 HKDF + 1 AEAD of 32 bytes | uploads one 65-byte [`Message::Link`] |
//! | joiner (history shared) | one AEAD open per link walked | 9-byte request, answer of `2 + 64·E` bytes (E < 128) |
//! | server | stores the link; answers a joiner with the chain | none per record |
//!
//! Server work is reported as `"chain"` (units: links stored or sent), never per record.
//!
//! Exact lengths: a record is [`record_len`] (the body plus [`RECORD_OVERHEAD`]), as sealed and
//! as stored, and never changes. The changer's upload is [`LINK_MESSAGE_LEN`], a joiner's
//! request [`REQUEST_LEN`] and the answer [`chain_len`] of the links below the joiner's epoch;
//! [`change_traffic`] and [`change_work`] give a whole change's messages and server work.
//!
//! # Security
//!
//! * The server sees only ciphertext: bodies under message keys it never holds, links under
//!   chain keys derived from epoch secrets it never holds.
//! * **Removed member: excluded.** Links only go backwards (`secret_e` opens `secret_{e-1}`), so a
//!   removed member's last secret opens nothing sealed after its removal. **Server + removed
//!   member: still excluded**, for the same reason: the server holds no forward material.
//! * **`from_join`:** no link is uploaded for such a change, so the chain is broken at the
//!   joiner's epoch and a joiner reaches no earlier secret.
//!
//! An active server can move no record to another message (the associated data binds it) and
//! forge no link ([`crate::common::back_chain`]); what it can do is listed below.
//!
//! # Weaknesses
//!
//! * **Storage breach with an old key: exposed.** Stored history is never re-keyed: whoever
//!   holds an old epoch secret (a removed member, a leaked device) opens every stored record of
//!   that epoch forever, and by walking the back-chain every record of every earlier epoch.
//! * One key per epoch: compromise of `MK_e` exposes the whole epoch. Nonces are random 192-bit
//!   values under that key (XChaCha20-Poly1305): a collision after q messages has probability
//!   about q²/2^193, so no usage cap is needed.
//! * The server can withhold or drop links (availability, not confidentiality); a joiner then
//!   reads less history. It cannot forge them.
//! * A joiner's chain answer grows with the number of epochs (O(E) bytes and AEAD opens).
//!
//! # Side channels
//!
//! Nothing secret-dependent: ChaCha20-Poly1305 and HKDF-SHA-256 (RustCrypto) are constant time.
//! Which epochs a client knows, and so how far a walk goes, is not secret from the server.

use crate::rekeying::{RekeyingClient, RekeyingServer};
use core::marker::PhantomData;
use std::collections::BTreeMap;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{
    EpochChange, HistoryClient, HistoryProperties, HistoryProtection, HistoryServer, KeyView,
    Rotation, Traffic, Work,
};
use crate::common::aead::{Aad, SHARED_NONCE_LEN, TAG_LEN as TAG};
use crate::common::back_chain::{self, ChainSecret, ChainStore};
use crate::common::changers::Changers;
use crate::common::cipher::{Real, SharedAead, SymmetricCipher};
use crate::common::known_epochs::{EpochEntry, KnownEpochs};
use crate::wire::varint_len;
use crate::{
    CryptoRngCore, Epoch, EpochSecret, Label, Misuse, MsgId, Opened, Outbox, RoomId, SchemeError,
    UserId, Wire,
};

const MESSAGE_KEY: Label = Label::Custom("conclave/epoch-keys/message");
/// The back-chain's domain.
const CHAIN: &str = "conclave/epoch-keys/chain";

/// AEAD nonce bytes.
const NONCE: usize = SHARED_NONCE_LEN;
/// Bytes a record adds to its body: epoch, nonce and tag.
pub const RECORD_OVERHEAD: usize = 8 + NONCE + TAG;
/// Bytes of a back-chain link.
pub const LINK_LEN: usize = back_chain::LINK_LEN;

/// Bytes of the changer's [`Message::Link`]: the kind and the link.
pub const LINK_MESSAGE_LEN: usize = 1 + LINK_LEN;
/// Bytes of a joiner's [`Message::Request`] for the chain below its epoch.
pub const REQUEST_LEN: usize = back_chain::REQUEST_LEN;

/// Bytes of a record of a `plaintext`-byte body, as sealed, stored and sent to a reader.
#[must_use]
pub const fn record_len(plaintext: usize) -> usize {
    plaintext + RECORD_OVERHEAD
}

/// Bytes of the server's [`Message::Chain`] answer of `links` links: the kind, the link count
/// (LEB128) and the links.
#[must_use]
pub fn chain_len(links: usize) -> usize {
    1 + varint_len(links) + links * LINK_LEN
}

/// Links in a joiner's answer at a change into `to` of a room whose every change shared
/// history: the chain reaches back to the creation, one link per change.
fn chain_links(to: Epoch) -> usize {
    usize::try_from(to.0).unwrap_or(usize::MAX)
}

/// The control messages of a change into epoch `to` with `joiners` joiners, in a room whose
/// policy is `shares_history` for every change. Sharing history, the changer uploads the new
/// link and each joiner asks for the chain below its epoch, answered with `to` links; a
/// creation (epoch 0) or a change that does not share history sends nothing.
#[must_use]
pub fn change_traffic(shares_history: bool, to: Epoch, joiners: usize) -> Traffic {
    if !shares_history || to == Epoch(0) {
        return Traffic::default();
    }
    Traffic {
        up: vec![(1, LINK_MESSAGE_LEN), (joiners, REQUEST_LEN)],
        down: vec![(joiners, chain_len(chain_links(to)))],
    }
}

/// The server work of the change [`change_traffic`] describes, as `(count, work)` pairs: the
/// link stored (one unit) and each joiner's answer (one unit per link sent). A request that
/// reaches the server before its link is answered when the link arrives, its units then
/// reported with the link's; the total is the same.
#[must_use]
pub fn change_work(shares_history: bool, to: Epoch, joiners: usize) -> Vec<(usize, Work)> {
    if !shares_history || to == Epoch(0) {
        return Vec::new();
    }
    let chain = |units: usize| Work {
        op: "chain",
        units: units as u64,
        parallel: false,
    };
    vec![(1, chain(1)), (joiners, chain(chain_links(to)))]
}

/// The epoch-keys scheme with the primitives of provider `C`: [`EpochKeys`] with the real ones,
/// the scheme's model with [`crate::model::ideal_cipher::Ideal`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EpochKeysWith<C>(PhantomData<C>);

/// The epoch-keys scheme.
pub type EpochKeys = EpochKeysWith<Real>;

/// A stored message: its epoch, nonce and body ciphertext (with tag). Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochRecord {
    epoch: Epoch,
    nonce: [u8; NONCE],
    ciphertext: Arc<[u8]>,
}

impl EpochRecord {
    /// The epoch whose message key seals the body.
    #[must_use]
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }
}

impl Wire for EpochRecord {
    fn wire_len(&self) -> usize {
        8 + NONCE + self.ciphertext.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.nonce);
        f(&self.ciphertext);
    }
}

#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for EpochRecord {
    fn tamper(&mut self) -> bool {
        crate::testing::Tamper::tamper(&mut self.ciphertext)
    }
}

/// Control traffic of epoch-keys: the back-chain of epoch secrets.
pub type Message = back_chain::Message;

/// An epoch a client can open: its secret and the message key derived from it.
struct Known<C: SymmetricCipher> {
    secret: EpochSecret,
    message_key: C::SharedKey,
}

impl<C: SymmetricCipher> Known<C> {
    fn new(secret: EpochSecret, room: RoomId, epoch: Epoch) -> Self {
        let bytes = Zeroizing::new(C::derive(&secret, MESSAGE_KEY, room, epoch));
        Self {
            secret,
            message_key: C::shared_key(&bytes),
        }
    }
}

impl<C: SymmetricCipher> EpochEntry for Known<C> {
    // The chain secret is the epoch secret itself.
    const CHAIN: &'static str = CHAIN;
    type Cipher = C;

    fn held(key: KeyView<'_>) -> Self {
        Self::new(key.secret.clone(), key.room, key.epoch)
    }

    fn reached(room: RoomId, epoch: Epoch, chain: ChainSecret) -> Result<Self, SchemeError> {
        Ok(Self::new(EpochSecret::from_bytes(*chain), room, epoch))
    }

    fn made_from(&self, secret: &EpochSecret) -> bool {
        self.secret == *secret
    }

    fn chain_secret(&self) -> &[u8; 32] {
        self.secret.as_bytes()
    }
}

/// A user's state: per room, every epoch it can open.
#[derive(Debug, Default)]
pub struct ClientWith<C: SymmetricCipher> {
    known: KnownEpochs<Known<C>>,
}

/// A user's state under the real primitives.
pub type Client = ClientWith<Real>;

/// The message server: records and the back-chain of each room. It computes nothing secret;
/// `C` only ties it to its scheme.
#[derive(Debug, Default)]
pub struct ServerWith<C> {
    records: BTreeMap<(RoomId, MsgId), EpochRecord>,
    chains: ChainStore,
    bytes: usize,
    changers: Changers,
    cipher: PhantomData<C>,
}

/// The message server of [`EpochKeys`].
pub type Server = ServerWith<Real>;

impl<C: SymmetricCipher> HistoryProtection for EpochKeysWith<C> {
    const NAME: &'static str = "epoch-keys";
    const SUMMARY: &'static str =
        "per-epoch message keys, no re-encryption; joiners walk an encrypted back-chain";
    const PROPERTIES: HistoryProperties = HistoryProperties {
        server_reads_bodies: false,
        removal_excludes: true,
        rotates_stored_history: Rotation::Never,
    };
    type Sealed = EpochRecord;
    type Message = Message;
    type Client = ClientWith<C>;
    type Server = ServerWith<C>;

    fn new_client(_user: UserId) -> ClientWith<C> {
        ClientWith::default()
    }
}

fn record_aad(room: RoomId, msg: MsgId, epoch: Epoch) -> Aad {
    Aad::new("conclave/epoch-keys/record")
        .room(room)
        .msg(msg)
        .epoch(epoch)
}

impl<C: SymmetricCipher> HistoryClient for ClientWith<C> {
    type Scheme = EpochKeysWith<C>;

    fn seal(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<EpochRecord, SchemeError> {
        // The regression gate's own test: work that does nothing, for the gate to catch.
        #[cfg(feature = "gate-slowdown")]
        core::hint::black_box(<sha2::Sha256 as sha2::Digest>::digest(plaintext));
        let known = self.known.learn(key);
        let (nonce, ciphertext) = known.message_key.seal(
            record_aad(key.room, msg, key.epoch).as_ref(),
            plaintext,
            rng,
        )?;
        Ok(EpochRecord {
            epoch: key.epoch,
            nonce,
            ciphertext: ciphertext.into(),
        })
    }

    fn open(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &EpochRecord,
    ) -> Result<Opened, SchemeError> {
        self.known.learn(key);
        let Some(known) = self.known.get_mut(key.room, sealed.epoch) else {
            return Ok(Opened::Pending {
                waiting_for: sealed.epoch,
            });
        };
        known
            .message_key
            .open(
                &sealed.nonce,
                record_aad(key.room, msg, sealed.epoch).as_ref(),
                &sealed.ciphertext,
            )
            .map(Opened::Plaintext)
    }
}

impl<C: SymmetricCipher> RekeyingClient for ClientWith<C> {
    type Message = Message;

    fn epoch_changed(
        &mut self,
        change: EpochChange<'_>,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<(), SchemeError> {
        let part = back_chain::part(&change)?;
        let next = change.next;
        if let Some(prev) = change.prev {
            self.known.learn(prev);
        }
        self.known.learn(next);
        let known = &self.known;
        part.send::<C>(
            CHAIN,
            next.room,
            |epoch| {
                known
                    .get(next.room, epoch)
                    .map(Known::<C>::chain_secret)
                    .ok_or(SchemeError::Internal(
                        "a changer without its epochs' secrets",
                    ))
            },
            out,
        )?;
        Ok(())
    }

    fn handle(
        &mut self,
        key: KeyView<'_>,
        msg: &Message,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<Message>,
    ) -> Result<(), SchemeError> {
        let Message::Chain(links) = msg else {
            return Err(Misuse::UnexpectedMessage("epoch-keys clients take only chains").into());
        };
        self.known.learn(key);
        self.known.walk(key.room, links)
    }
}

impl<C: SymmetricCipher> HistoryServer for ServerWith<C> {
    type Scheme = EpochKeysWith<C>;

    fn store(&mut self, room: RoomId, msg: MsgId, sealed: EpochRecord) -> Result<(), SchemeError> {
        super::not_stored_yet(&self.records, &(room, msg))?;
        self.bytes += sealed.wire_len();
        self.records.insert((room, msg), sealed);
        Ok(())
    }

    fn get(&self, room: RoomId, msg: MsgId) -> Option<EpochRecord> {
        self.records.get(&(room, msg)).cloned()
    }
}

impl<C: SymmetricCipher> RekeyingServer for ServerWith<C> {
    type Message = Message;

    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: Message,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<Work, SchemeError> {
        let stored = self.chains.handle(room, from, msg, &self.changers, out)?;
        Ok(stored.work("chain"))
    }

    fn changers(&mut self) -> Option<&mut Changers> {
        Some(&mut self.changers)
    }

    fn stored_len(&self) -> usize {
        self.bytes + self.chains.stored_len()
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::testing::{server_changed_by, HistoryHarness, Tamper};
    use crate::Dest;

    fn rng(seed: u64) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(seed)
    }

    fn key(room: RoomId, epoch: u64, secret: &EpochSecret) -> KeyView<'_> {
        KeyView {
            room,
            epoch: Epoch(epoch),
            secret,
        }
    }

    /// `rng(seed)`, `epochs` random epoch secrets drawn from it, and a server of `room` whose
    /// changer is user 0.
    fn changed_by_user_0(
        seed: u64,
        room: RoomId,
        epochs: usize,
    ) -> (ChaCha20Rng, Vec<EpochSecret>, Server) {
        let mut rng = rng(seed);
        let secrets = (0..epochs).map(|_| EpochSecret::random(&mut rng)).collect();
        (rng, secrets, server_changed_by(room, UserId(0)))
    }

    #[test]
    fn wire_lengths_are_exact() {
        let mut rng = rng(1);
        let u = UserId;
        let mut h = HistoryHarness::<EpochKeys>::with_pair(4, RoomId(1), true, &mut rng);
        assert_eq!(h.control_messages, 0, "creating a room sends nothing");
        for len in [0, 1, 160, 4096] {
            let (_, record) = h.seal(u(0), &vec![7; len], &mut rng);
            assert_eq!(record.wire_len(), len + RECORD_OVERHEAD);
            assert_eq!(RECORD_OVERHEAD, 8 + 24 + 16);
        }
        // A re-key uploads one link.
        h.rekey(u(1), &mut rng);
        assert_eq!((h.control_messages, h.control_bytes), (1, 1 + LINK_LEN));
        assert_eq!(LINK_LEN, 64);
        h.rekey(u(0), &mut rng);
        // A join: the changer's link (65), the joiner's request (9), the chain of 3 links.
        let before = h.control_bytes;
        h.join(&[u(2)], u(1), &mut rng);
        assert_eq!(h.control_messages, 2 + 3);
        assert_eq!(h.control_bytes - before, 65 + 9 + (2 + 3 * 64));
        // Sealed records were not stored: the server holds the three links only.
        assert_eq!(h.server.stored_len(), 3 * LINK_LEN);
        h.send(u(2), &[1; 100], &mut rng);
        assert_eq!(h.server.stored_len(), 3 * LINK_LEN + 100 + RECORD_OVERHEAD);
        let chain = Message::Chain(vec![
            h.server.chains.chain(RoomId(1), Epoch(1))[0].clone();
            200
        ]);
        assert_eq!(
            chain.wire_len(),
            1 + 2 + 200 * 64,
            "two-byte count from 128 links"
        );
        assert_eq!(Message::Request { epoch: Epoch(9) }.wire_len(), 9);
    }

    /// A joiner walks the chain back over many epochs, in one answer, and keeps what it learned.
    #[test]
    fn joiner_walks_the_back_chain() {
        let mut rng = rng(2);
        let u = UserId;
        let mut h = HistoryHarness::<EpochKeys>::with_pair(3, RoomId(2), true, &mut rng);
        let mut ids = Vec::new();
        for e in 0..6 {
            ids.push(h.send(u(e % 2), format!("epoch {e}").as_bytes(), &mut rng));
            h.rekey(u((e + 1) % 2), &mut rng);
        }
        let messages_before = h.control_messages;
        h.join(&[u(2)], u(0), &mut rng);
        // Link, request, chain: one round trip, however long the history.
        assert_eq!(h.control_messages - messages_before, 3);
        // The joiner knows every epoch.
        let known = &h.clients[2].known;
        for (e, secret) in h.secrets.iter().enumerate() {
            let entry = known.get(RoomId(2), Epoch(e as u64));
            assert!(entry.is_some_and(|k| k.secret == *secret), "epoch {e}");
        }
        for id in ids {
            h.assert_reads(u(2), id, "back-chain walk");
        }
        // No record was touched by any change.
        assert!(h.work.iter().all(|w| w.op == "chain" && !w.parallel));
    }

    /// The joiner's request may reach the server before the changer's link: the server answers
    /// when the link arrives.
    #[test]
    fn chain_request_waits_for_its_link() {
        let room = RoomId(3);
        let (mut rng, secrets, mut server) = changed_by_user_0(3, room, 3);
        let mut alice = Client::default();
        let mut joiner = Client::default();
        let mut out = Outbox::new();
        alice
            .epoch_changed(
                EpochChange {
                    prev: None,
                    next: key(room, 0, &secrets[0]),
                    changer: true,
                    shares_history: true,
                },
                &mut rng,
                &mut out,
            )
            .unwrap();
        assert!(out.is_empty());
        let old = alice
            .seal(key(room, 0, &secrets[0]), MsgId(1), b"old", &mut rng)
            .unwrap();
        server.store(room, MsgId(1), old).unwrap();
        let change = EpochChange {
            prev: Some(key(room, 0, &secrets[0])),
            next: key(room, 1, &secrets[1]),
            changer: true,
            shares_history: true,
        };
        alice.epoch_changed(change, &mut rng, &mut out).unwrap();
        let (_, link) = out.drain().next().unwrap();
        let mut request = Outbox::new();
        let join = EpochChange {
            prev: None,
            changer: false,
            ..change
        };
        joiner.epoch_changed(join, &mut rng, &mut request).unwrap();
        let (dest, request) = request.drain().next().unwrap();
        assert_eq!(dest, Dest::Server);
        assert_eq!(request, Message::Request { epoch: Epoch(1) });
        let mut answer = Outbox::new();
        let work = server
            .handle(room, UserId(5), request, &mut rng, &mut answer)
            .unwrap();
        assert!(answer.is_empty(), "no link yet, so no answer yet");
        assert_eq!(work.units, 0);
        server
            .handle(room, UserId(0), link, &mut rng, &mut answer)
            .unwrap();
        let (dest, chain) = answer.drain().next().unwrap();
        assert_eq!(dest, Dest::User(UserId(5)));
        joiner
            .handle(
                key(room, 1, &secrets[1]),
                &chain,
                &mut rng,
                &mut Outbox::new(),
            )
            .unwrap();
        let record = server.get(room, MsgId(1)).unwrap();
        assert_eq!(
            joiner
                .open(key(room, 1, &secrets[1]), MsgId(1), &record)
                .unwrap()
                .plaintext()
                .unwrap(),
            b"old"
        );
    }

    fn make_link(prev: KeyView<'_>, next: KeyView<'_>) -> back_chain::Link {
        back_chain::Link::seal::<crate::common::cipher::Real>(
            CHAIN,
            next.room,
            (prev.epoch, prev.secret.as_bytes()),
            (next.epoch, next.secret.as_bytes()),
        )
        .unwrap()
    }

    /// A joiner learns the epoch a link opens; a corrupted link, or one made for another room,
    /// is refused and teaches nothing.
    #[test]
    fn tampered_links_are_rejected() {
        let mut rng = rng(4);
        let room = RoomId(4);
        let (s0, s1) = (EpochSecret::random(&mut rng), EpochSecret::random(&mut rng));
        let link = make_link(key(room, 0, &s0), key(room, 1, &s1));
        let mut elsewhere = make_link(key(RoomId(5), 0, &s0), key(RoomId(5), 1, &s1));
        let mut corrupted = Message::Chain(vec![link.clone()]);
        assert!(corrupted.tamper());
        for bad in [corrupted, Message::Chain(vec![elsewhere.clone()])] {
            let mut joiner = Client::default();
            assert_eq!(
                joiner.handle(key(room, 1, &s1), &bad, &mut rng, &mut Outbox::new()),
                Err(SchemeError::Crypto)
            );
            assert!(
                joiner.known.get(room, Epoch(0)).is_none(),
                "nothing learned from a bad link"
            );
        }
        assert!(elsewhere.tamper());
        let mut joiner = Client::default();
        joiner
            .handle(
                key(room, 1, &s1),
                &Message::Chain(vec![link]),
                &mut rng,
                &mut Outbox::new(),
            )
            .unwrap();
        assert!(joiner.known.get(room, Epoch(0)).unwrap().secret == s0);
    }

    #[test]
    fn server_rejects_misuse() {
        let room = RoomId(6);
        let (mut rng, s, mut server) = changed_by_user_0(5, room, 2);
        let link = make_link(key(room, 0, &s[0]), key(room, 1, &s[1]));
        let mut out = Outbox::new();
        // The same link again (a retransmission) is fine; a different one is not.
        for _ in 0..2 {
            let upload = Message::Link(link.clone());
            server
                .handle(room, UserId(0), upload, &mut rng, &mut out)
                .unwrap();
        }
        let other = make_link(key(room, 0, &s[1]), key(room, 1, &s[1]));
        assert!(matches!(
            server.handle(room, UserId(1), Message::Link(other), &mut rng, &mut out),
            Err(SchemeError::Misuse(_))
        ));
        assert!(matches!(
            server.handle(
                room,
                UserId(1),
                Message::Chain(vec![link]),
                &mut rng,
                &mut out
            ),
            Err(SchemeError::Misuse(_))
        ));
        let record = Client::default()
            .seal(key(room, 1, &s[1]), MsgId(3), b"x", &mut rng)
            .unwrap();
        server.store(room, MsgId(3), record.clone()).unwrap();
        assert!(matches!(
            server.store(room, MsgId(3), record),
            Err(SchemeError::Misuse(_))
        ));
        assert!(out.is_empty());
    }

    /// Under `from_join` no link is uploaded and no joiner asks for one.
    #[test]
    fn from_join_sends_nothing() {
        let mut rng = rng(6);
        let u = UserId;
        let mut h = HistoryHarness::<EpochKeys>::with_pair(4, RoomId(7), false, &mut rng);
        h.send(u(0), b"before", &mut rng);
        h.join(&[u(2)], u(1), &mut rng);
        h.remove(&[u(0)], u(1), &mut rng);
        h.join(&[u(3)], u(2), &mut rng);
        assert_eq!(h.control_messages, 0);
        assert_eq!(h.server.chains.stored_len(), 0);
    }

    /// Seeded random cases: records open under their own epoch key only, bound to room,
    /// message and epoch; every authenticated field matters.
    #[test]
    fn records_open_only_with_their_binding() {
        let mut rng = rng(7);
        for case in 0..48 {
            let room = RoomId(rng.next_u32());
            let epoch = rng.next_u64() >> 1;
            let msg = MsgId(rng.next_u64());
            let secret = EpochSecret::random(&mut rng);
            let other = EpochSecret::random(&mut rng);
            let mut text = vec![0u8; (rng.next_u32() % 300) as usize];
            rng.fill_bytes(&mut text);
            let k = key(room, epoch, &secret);
            let record = Client::default().seal(k, msg, &text, &mut rng).unwrap();
            assert_eq!(record.epoch(), Epoch(epoch));
            assert_eq!(
                Client::default()
                    .open(k, msg, &record)
                    .unwrap()
                    .plaintext()
                    .unwrap(),
                text,
                "case {case}"
            );
            let wrong_secret = key(room, epoch, &other);
            let wrong_room = key(RoomId(room.0 ^ 1), epoch, &secret);
            let cases = [
                Client::default().open(wrong_secret, msg, &record),
                Client::default().open(wrong_room, msg, &record),
                Client::default().open(k, MsgId(msg.0 ^ 1), &record),
            ];
            // A fresh client with the next epoch's key cannot reach this epoch.
            assert_eq!(
                Client::default().open(key(room, epoch + 1, &secret), msg, &record),
                Ok(Opened::Pending {
                    waiting_for: Epoch(epoch)
                }),
                "case {case}"
            );
            for (i, outcome) in cases.into_iter().enumerate() {
                assert_eq!(
                    outcome,
                    Err(SchemeError::Crypto),
                    "case {case}, variant {i}"
                );
            }
            let mut bad_nonce = record.clone();
            bad_nonce.nonce[(case % NONCE as u64) as usize] ^= 0x80;
            let mut bad_body = record.clone();
            assert!(bad_body.tamper());
            for bad in [bad_nonce, bad_body] {
                assert_eq!(
                    Client::default().open(k, msg, &bad),
                    Err(SchemeError::Crypto)
                );
            }
            // A record relabelled to another epoch the reader holds under the same secret.
            let mut client = Client::default();
            client.known.learn(key(room, epoch + 1, &secret));
            let mut relabelled = record.clone();
            relabelled.epoch = Epoch(epoch + 1);
            assert_eq!(client.open(k, msg, &relabelled), Err(SchemeError::Crypto));
        }
    }
}
