//! The back-chain: per-epoch secrets sealed backwards on a server, so that a member who holds a
//! later epoch reaches the earlier ones, and nobody reaches a later one.
//!
//! # Source
//!
//! Key regression without a key owner (Fu, Kamara, Kohno, NDSS 2006; research/pre.md §1.7 item
//! 7) as the server-stored chain `h_e = AEAD(K_e, K_{e-1})` proposed in research/sse.md §(ii).
//! Used by `epoch-keys` (epoch secrets), `client-rewrap` (key-encryption keys), `per-epoch`
//! (search roots) and `mitra` (index keys): each scheme chooses the 32-byte *chain secret*
//! `c_e` of an epoch, derived from the epoch secret, and a domain string that keeps its links
//! apart from every other scheme's.
//!
//! # Construction
//!
//! * **Link** from epoch `f` into epoch `t > f` ([`Link`], 64 bytes: `f`, `t`, 48 sealed):
//!   `ChaCha20-Poly1305(k, 0, c_f, aad = domain ‖ room ‖ f ‖ t)` with
//!   `k = HKDF-SHA-256(c_t, "conclave back-chain link" ‖ domain ‖ room ‖ f ‖ t)`. The key is
//!   bound to both epochs and only ever seals `c_f`, so the fixed nonce never meets a second
//!   plaintext ([`super::aead::seal_once`]); a retransmitted link is the same bytes.
//! * **Changer**: when a change from `f` to `t` shares history, the member who made it uploads
//!   the link into `t` ([`part`] says who does what, [`Part::send`] sends it).
//! * **Joiner** (no previous epoch, history shared, epoch after the room's first): asks the
//!   server for the chain below its epoch ([`Message::Request`]).
//! * **Server** ([`ChainStore`]): keeps the first link into each epoch, from the member the
//!   directory named as that epoch's changer only ([`super::changers`]); refuses a second,
//!   different one; answers a request for epoch `e` with the links from `e` down, following each
//!   link's `from` as far as they connect, at once or as soon as the link into `e` arrives.
//! * **Walk** ([`walk`]): newest link first, each opened with a secret held already or reached
//!   by the link before; what it reaches is remembered.
//!
//! # Costs
//!
//! Changer: one HKDF and one 32-byte AEAD seal per change. Joiner: a 9-byte request and an
//! answer of `1 + varint(n) + 64·n` bytes for `n` links, one HKDF and one AEAD open per link.
//! Server: a map insert per link, a walk per answer.
//!
//! # Security
//!
//! Against a passive server: links are AEAD ciphertexts under keys from chain secrets it never
//! holds, so it learns only which epochs are linked. Links go backwards only: `c_t` opens `c_f`
//! with `f < t`, never the reverse, so a removed member's last secret (even with the server's
//! help) reaches nothing after its removal. Against an active server: it cannot forge a link or
//! move one to another room, scheme or pair of epochs (all bound by the key and the associated
//! data; a forged or moved link fails to open and the walk reports [`SchemeError::Crypto`]); it
//! can withhold, drop or delay links.
//!
//! # Weaknesses
//!
//! A server that withholds links makes a joiner read less history (availability, not
//! confidentiality). Whoever holds any epoch's chain secret reaches every earlier one back to the
//! first change that did not share history. An answer grows with the number of epochs.
//!
//! # Side channels
//!
//! HKDF-SHA-256 and ChaCha20-Poly1305 are constant time (RustCrypto). How far a walk goes and
//! which epochs a client knows are visible to the server, not secret.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::aead::{self, Aad};
use super::changers::Changers;
use super::cipher::SymmetricCipher;
use super::known_epochs::EpochMap;
use crate::rekeying::{EpochChange, Work};
use crate::wire::varint_len;
use crate::{Dest, Epoch, Misuse, Outbox, RoomId, SchemeError, UserId, Wire};

/// Bytes of a sealed chain secret: 32 and the tag.
const SEALED_LEN: usize = 32 + aead::TAG_LEN;
/// Bytes of an encoded [`Link`]: both epochs and the sealed secret.
pub const LINK_LEN: usize = 8 + 8 + SEALED_LEN;
/// Bytes of an encoded [`Message::Request`]: the kind and the epoch.
pub const REQUEST_LEN: usize = 1 + 8;

/// A chain secret: 32 bytes, zeroised on drop.
pub type ChainSecret = Zeroizing<[u8; 32]>;

/// One link: the chain secret of epoch `from` sealed under that of epoch `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    from: Epoch,
    to: Epoch,
    sealed: [u8; SEALED_LEN],
}

/// The single-use key of the link from `from` into `to`, and its associated data.
fn link_key<C: SymmetricCipher>(
    domain: &'static str,
    room: RoomId,
    from: Epoch,
    to: Epoch,
    to_secret: &[u8; 32],
) -> (ChainSecret, Aad) {
    let aad = Aad::new(domain).room(room).epoch(from).epoch(to);
    let info: [&[u8]; 2] = [b"conclave back-chain link", aad.as_ref()];
    (Zeroizing::new(C::hkdf(to_secret, &info)), aad)
}

impl Link {
    /// Seals `from_secret` (epoch `from`'s) under `to_secret` (epoch `to`'s), with the
    /// primitives of provider `C` ([`Real`](crate::common::cipher::Real) for the schemes).
    ///
    /// # Errors
    /// [`Misuse::StaleEpoch`] unless `from < to`: links only go back.
    pub fn seal<C: SymmetricCipher>(
        domain: &'static str,
        room: RoomId,
        (from, from_secret): (Epoch, &[u8; 32]),
        (to, to_secret): (Epoch, &[u8; 32]),
    ) -> Result<Self, SchemeError> {
        if from >= to {
            return Err(Misuse::StaleEpoch {
                have: from,
                got: to,
            }
            .into());
        }
        let (key, aad) = link_key::<C>(domain, room, from, to, to_secret);
        let sealed = C::seal_once(&key, aad.as_ref(), from_secret)?
            .try_into()
            .map_err(|_| SchemeError::Internal("sealed chain secret of unexpected length"))?;
        Ok(Self { from, to, sealed })
    }

    /// Opens this link with epoch `to`'s chain secret, giving epoch `from`'s, with the
    /// primitives of provider `C`.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if the secret, the domain, the room or either epoch is not the
    /// one the link was sealed with, or the link was altered.
    pub fn open<C: SymmetricCipher>(
        &self,
        domain: &'static str,
        room: RoomId,
        to_secret: &[u8; 32],
    ) -> Result<ChainSecret, SchemeError> {
        let (key, aad) = link_key::<C>(domain, room, self.from, self.to, to_secret);
        let opened = Zeroizing::new(C::open_once(&key, aad.as_ref(), &self.sealed)?);
        let secret: [u8; 32] = opened
            .as_slice()
            .try_into()
            .map_err(|_| SchemeError::Crypto)?;
        Ok(Zeroizing::new(secret))
    }

    /// The epoch whose secret this link carries.
    #[must_use]
    pub fn from(&self) -> Epoch {
        self.from
    }

    /// The epoch whose secret opens this link.
    #[must_use]
    pub fn to(&self) -> Epoch {
        self.to
    }

    /// This link's bytes relabelled as a link from `from` into `to`: what a server that moves
    /// links would send (for adversarial tests).
    #[cfg(any(test, feature = "testing"))]
    #[must_use]
    pub fn relabelled(&self, from: Epoch, to: Epoch) -> Self {
        Self {
            from,
            to,
            ..self.clone()
        }
    }
}

impl Wire for Link {
    fn wire_len(&self) -> usize {
        LINK_LEN
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.sealed);
    }
}

#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for Link {
    fn tamper(&mut self) -> bool {
        self.sealed[0] ^= 1;
        true
    }
}

/// Back-chain traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Changer to server: the link into the new epoch.
    Link(Link),
    /// Joiner to server: the chain below this epoch (the joiner's first), please.
    Request {
        /// The joiner's epoch.
        epoch: Epoch,
    },
    /// Server to joiner: the links from the requested epoch down, newest first.
    Chain(Vec<Link>),
}

impl Wire for Message {
    fn wire_len(&self) -> usize {
        match self {
            Self::Link(_) => 1 + LINK_LEN,
            Self::Request { .. } => REQUEST_LEN,
            Self::Chain(links) => 1 + varint_len(links.len()) + links.len() * LINK_LEN,
        }
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        match self {
            Self::Link(link) => link.visit_bytes(f),
            Self::Request { .. } => {}
            Self::Chain(links) => links.iter().for_each(|l| l.visit_bytes(f)),
        }
    }
}

#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for Message {
    fn tamper(&mut self) -> bool {
        match self {
            Self::Link(link) => link.tamper(),
            Self::Chain(links) => links.first_mut().is_some_and(|l| l.tamper()),
            Self::Request { .. } => false,
        }
    }
}

/// A client's part in the back-chain at an epoch change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Upload the link from `from` into `to` (the changer of a change that shares history).
    Link {
        /// The epoch the changer held before.
        from: Epoch,
        /// The new epoch.
        to: Epoch,
    },
    /// Ask for the chain below `epoch` (a joiner of a room that shares history).
    Join {
        /// The joiner's first epoch.
        epoch: Epoch,
    },
    /// Nothing to do.
    None,
}

/// What `change` asks of this client's back-chain.
///
/// # Errors
/// [`Misuse::StaleEpoch`] if a changer's previous epoch is of another room or not before the
/// new one.
pub fn part(change: &EpochChange<'_>) -> Result<Part, SchemeError> {
    let next = change.next;
    if let Some(prev) = change.prev {
        if prev.room != next.room || prev.epoch >= next.epoch {
            return Err(Misuse::StaleEpoch {
                have: prev.epoch,
                got: next.epoch,
            }
            .into());
        }
    }
    if !change.shares_history {
        return Ok(Part::None);
    }
    Ok(match change.prev {
        Some(prev) if change.changer => Part::Link {
            from: prev.epoch,
            to: next.epoch,
        },
        // Epoch 0 is the room's creation: nothing before it.
        None if next.epoch > Epoch(0) => Part::Join { epoch: next.epoch },
        _ => Part::None,
    })
}

impl Part {
    /// Sends this client's part to the server: as the changer, the link from `from` into `to`,
    /// sealed (with the primitives of provider `C`) with the chain secrets `chain_secret` gives for the two epochs; as a joiner, the
    /// request for the chain below its epoch, which is returned for the client to await.
    ///
    /// # Errors
    /// An error of `chain_secret` or of [`Link::seal`].
    pub fn send<'a, C: SymmetricCipher>(
        self,
        domain: &'static str,
        room: RoomId,
        chain_secret: impl Fn(Epoch) -> Result<&'a [u8; 32], SchemeError>,
        out: &mut Outbox<Message>,
    ) -> Result<Option<Epoch>, SchemeError> {
        match self {
            Part::Link { from, to } => {
                let from_secret = chain_secret(from)?;
                let link =
                    Link::seal::<C>(domain, room, (from, from_secret), (to, chain_secret(to)?))?;
                out.send(Dest::Server, Message::Link(link));
                Ok(None)
            }
            Part::Join { epoch } => {
                out.send(Dest::Server, Message::Request { epoch });
                Ok(Some(epoch))
            }
            Part::None => Ok(None),
        }
    }
}

/// Whether `links` answer a request for the chain below `epoch` (they hold the link into it).
#[must_use]
pub fn answers(links: &[Link], epoch: Epoch) -> bool {
    links.iter().any(|l| l.to == epoch)
}

/// Follows `links` down from the epochs in `known`, newest first, and adds every epoch it
/// reaches with what `learn` makes of its chain secret; `secret_of` gives the chain secret of
/// what is known; links open with the primitives of provider `C`. Links out of an epoch not known (even after the links before) or into one
/// known already are skipped. Returns how many epochs were learned.
///
/// # Errors
/// [`SchemeError::Malformed`] for a link that does not go back; [`SchemeError::Crypto`] if a
/// link out of a known epoch does not open (forged, moved or corrupted): every other link is
/// still followed first, and nothing is learned from the bad one. An error of `learn` is
/// returned as it is.
pub fn walk<C: SymmetricCipher, T>(
    domain: &'static str,
    room: RoomId,
    links: &[Link],
    known: &mut EpochMap<T>,
    secret_of: impl Fn(&T) -> &[u8; 32],
    mut learn: impl FnMut(Epoch, ChainSecret) -> Result<T, SchemeError>,
) -> Result<usize, SchemeError> {
    if links.iter().any(|l| l.from >= l.to) {
        return Err(SchemeError::Malformed(
            "a back-chain link that does not go back",
        ));
    }
    let mut sorted: Vec<&Link> = links.iter().collect();
    // Newest first: each link opens under a secret held already or reached by one before it.
    sorted.sort_by_key(|l| core::cmp::Reverse(l.to));
    let mut learned = 0;
    let mut forged = false;
    for link in sorted {
        if known.contains_key(&link.from) {
            continue;
        }
        let Some(holder) = known.get(&link.to) else {
            continue;
        };
        match link.open::<C>(domain, room, secret_of(holder)) {
            Ok(secret) => {
                let value = learn(link.from, secret)?;
                known.insert(link.from, value);
                learned += 1;
            }
            Err(_) => forged = true,
        }
    }
    if forged {
        Err(SchemeError::Crypto)
    } else {
        Ok(learned)
    }
}

/// What a [`ChainStore`] did with a message, for the caller's cost model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A link was stored (or repeated); `links_sent` went out to joiners waiting for it.
    Link {
        /// Links sent in answers.
        links_sent: u64,
    },
    /// A request was answered with `links_sent` links, or held (0) until its link arrives.
    Request {
        /// Links sent in the answer.
        links_sent: u64,
    },
}

impl Stored {
    /// Links stored or sent: the unit schemes charge the server's back-chain work in.
    #[must_use]
    pub fn units(self) -> u64 {
        match self {
            Self::Link { links_sent } => 1 + links_sent,
            Self::Request { links_sent } => links_sent,
        }
    }

    /// The server work this was, charged as `op` in [`units`](Self::units), on one worker.
    #[must_use]
    pub fn work(self, op: &'static str) -> Work {
        Work {
            op,
            units: self.units(),
            parallel: false,
        }
    }
}

/// One room's links and the joiners waiting for one.
#[derive(Debug, Default)]
struct RoomChain {
    /// Links by the epoch they lead into.
    links: BTreeMap<Epoch, Link>,
    /// Joiners who asked for a chain whose newest link has not arrived yet.
    waiting: BTreeMap<Epoch, Vec<UserId>>,
}

impl RoomChain {
    /// The links from `epoch` down as far as they connect, newest first.
    fn chain(&self, epoch: Epoch) -> Vec<Link> {
        let mut links = Vec::new();
        let mut to = epoch;
        // `from < to` holds for every stored link, so this walk ends.
        while let Some(link) = self.links.get(&to) {
            links.push(link.clone());
            to = link.from;
        }
        links
    }
}

/// The server's side of the back-chain, for every room.
#[derive(Debug, Default)]
pub struct ChainStore {
    rooms: BTreeMap<RoomId, RoomChain>,
    stored: usize,
}

impl ChainStore {
    /// Handles back-chain traffic from `from`: stores a link from its epoch's changer (and
    /// answers the joiners waiting for it), answers or holds a request.
    ///
    /// # Errors
    /// [`Misuse::NotTheChanger`] for a link from anyone but its epoch's named changer;
    /// [`Misuse::UnexpectedMessage`] for a second, different link into an epoch, or a chain sent
    /// to the server.
    pub fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: Message,
        changers: &Changers,
        out: &mut Outbox<Message>,
    ) -> Result<Stored, SchemeError> {
        match msg {
            Message::Link(link) => {
                let to = link.to;
                let joiners = self.insert(room, from, link, changers)?;
                let mut links_sent = 0;
                if !joiners.is_empty() {
                    let chain = self.chain(room, to);
                    for joiner in joiners {
                        links_sent += chain.len() as u64;
                        out.send(Dest::User(joiner), Message::Chain(chain.clone()));
                    }
                }
                Ok(Stored::Link { links_sent })
            }
            Message::Request { epoch } => {
                let chain = self.rooms.entry(room).or_default();
                if chain.links.contains_key(&epoch) {
                    let links = chain.chain(epoch);
                    let links_sent = links.len() as u64;
                    out.send(Dest::User(from), Message::Chain(links));
                    Ok(Stored::Request { links_sent })
                } else {
                    let waiting = chain.waiting.entry(epoch).or_default();
                    if !waiting.contains(&from) {
                        waiting.push(from);
                    }
                    Ok(Stored::Request { links_sent: 0 })
                }
            }
            Message::Chain(_) => Err(Misuse::UnexpectedMessage(
                "a back-chain goes from the server to joiners",
            )
            .into()),
        }
    }

    /// Stores `link` from `from`, its epoch's changer, and returns the joiners that waited for
    /// it. A repeat of the stored link changes nothing.
    ///
    /// # Errors
    /// As [`ChainStore::handle`].
    pub fn insert(
        &mut self,
        room: RoomId,
        from: UserId,
        link: Link,
        changers: &Changers,
    ) -> Result<Vec<UserId>, SchemeError> {
        changers.check(room, link.to, from)?;
        if link.from >= link.to {
            return Err(SchemeError::Malformed(
                "a back-chain link that does not go back",
            ));
        }
        let chain = self.rooms.entry(room).or_default();
        match chain.links.get(&link.to) {
            Some(stored) if *stored == link => {}
            Some(_) => {
                return Err(
                    Misuse::UnexpectedMessage("a second, different link into an epoch").into(),
                )
            }
            None => {
                self.stored += LINK_LEN;
                let to = link.to;
                chain.links.insert(to, link);
                return Ok(chain.waiting.remove(&to).unwrap_or_default());
            }
        }
        Ok(Vec::new())
    }

    /// The links of `room` from `epoch` down, as far as they connect, newest first.
    #[must_use]
    pub fn chain(&self, room: RoomId, epoch: Epoch) -> Vec<Link> {
        self.rooms
            .get(&room)
            .map(|c| c.chain(epoch))
            .unwrap_or_default()
    }

    /// The links of `room` into the epochs after `after` and before `before` (if given), oldest
    /// first, whether or not they connect.
    #[must_use]
    pub fn links_between(&self, room: RoomId, after: Epoch, before: Option<Epoch>) -> Vec<Link> {
        use core::ops::Bound::{Excluded, Unbounded};
        let Some(chain) = self.rooms.get(&room) else {
            return Vec::new();
        };
        chain
            .links
            .range((Excluded(after), before.map_or(Unbounded, Excluded)))
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// The newest epoch of `room` a link leads into.
    #[must_use]
    pub fn newest(&self, room: RoomId) -> Option<Epoch> {
        self.rooms.get(&room)?.links.keys().next_back().copied()
    }

    /// Whether the link into `epoch` of `room` is stored.
    #[must_use]
    pub fn has_link(&self, room: RoomId, epoch: Epoch) -> bool {
        self.rooms
            .get(&room)
            .is_some_and(|c| c.links.contains_key(&epoch))
    }

    /// Whether a joiner of `room` waits for the link into `epoch`.
    #[must_use]
    pub fn awaited(&self, room: RoomId, epoch: Epoch) -> bool {
        self.rooms
            .get(&room)
            .and_then(|c| c.waiting.get(&epoch))
            .is_some_and(|w| !w.is_empty())
    }

    /// Bytes of links stored.
    #[must_use]
    pub fn stored_len(&self) -> usize {
        self.stored
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::common::cipher::Real;
    use crate::pre::KeyView;
    use crate::testing::Tamper;
    use crate::EpochSecret;

    const DOMAIN: &str = "conclave/test";

    fn secrets(n: usize) -> Vec<[u8; 32]> {
        let mut rng = ChaCha20Rng::seed_from_u64(n as u64);
        (0..n)
            .map(|_| *EpochSecret::random(&mut rng).as_bytes())
            .collect()
    }

    fn link(room: RoomId, s: &[[u8; 32]], from: u64, to: u64) -> Link {
        Link::seal::<Real>(
            DOMAIN,
            room,
            (Epoch(from), &s[from as usize]),
            (Epoch(to), &s[to as usize]),
        )
        .unwrap()
    }

    fn changers(room: RoomId, epochs: u64) -> Changers {
        let mut c = Changers::default();
        for e in 1..=epochs {
            c.name(room, Epoch(e), UserId(0)).unwrap();
        }
        c
    }

    #[test]
    fn a_link_opens_only_with_its_binding() {
        let s = secrets(3);
        let room = RoomId(1);
        let l = link(room, &s, 0, 1);
        assert_eq!(*l.open::<Real>(DOMAIN, room, &s[1]).unwrap(), s[0]);
        assert_eq!(l.wire_len(), 64);
        assert_eq!(l, link(room, &s, 0, 1), "a link is deterministic");
        for wrong in [
            l.open::<Real>(DOMAIN, room, &s[0]),
            l.open::<Real>(DOMAIN, RoomId(2), &s[1]),
            l.open::<Real>("conclave/other", room, &s[1]),
        ] {
            assert_eq!(wrong.unwrap_err(), SchemeError::Crypto);
        }
        let mut moved = l.clone();
        moved.from = Epoch(0);
        moved.to = Epoch(2);
        assert_eq!(
            moved.open::<Real>(DOMAIN, room, &s[1]).unwrap_err(),
            SchemeError::Crypto
        );
        let mut bad = l;
        assert!(bad.tamper());
        assert_eq!(
            bad.open::<Real>(DOMAIN, room, &s[1]).unwrap_err(),
            SchemeError::Crypto
        );
        assert!(matches!(
            Link::seal::<Real>(DOMAIN, room, (Epoch(1), &s[1]), (Epoch(1), &s[1])),
            Err(SchemeError::Misuse(Misuse::StaleEpoch { .. }))
        ));
    }

    #[test]
    fn a_walk_reaches_every_connected_epoch_and_reports_a_forgery() {
        let s = secrets(6);
        let room = RoomId(3);
        let links: Vec<Link> = (1..6).map(|t| link(room, &s, t - 1, t)).collect();
        let mut known: EpochMap<[u8; 32]> = EpochMap::from_iter([(Epoch(5), s[5])]);
        let learned =
            walk::<Real, _>(DOMAIN, room, &links, &mut known, |k| k, |_, c| Ok(*c)).unwrap();
        assert_eq!(learned, 5);
        for (e, secret) in s.iter().enumerate() {
            assert_eq!(known[&Epoch(e as u64)], *secret);
        }
        // A bad link in the middle: what is above it is still learned, nothing below.
        let mut bad = links.clone();
        assert!(bad[2].tamper());
        let mut known: EpochMap<[u8; 32]> = EpochMap::from_iter([(Epoch(5), s[5])]);
        assert_eq!(
            walk::<Real, _>(DOMAIN, room, &bad, &mut known, |k| k, |_, c| Ok(*c)),
            Err(SchemeError::Crypto)
        );
        assert_eq!(
            known.keys().copied().collect::<Vec<_>>(),
            vec![Epoch(3), Epoch(4), Epoch(5)]
        );
        let mut backwards = links[0].clone();
        backwards.from = Epoch(4);
        assert_eq!(
            walk::<Real, _>(DOMAIN, room, &[backwards], &mut known, |k| k, |_, c| Ok(*c)),
            Err(SchemeError::Malformed(
                "a back-chain link that does not go back"
            ))
        );
    }

    #[test]
    fn the_store_holds_requests_until_their_link_and_takes_links_from_changers_only() {
        let s = secrets(4);
        let room = RoomId(4);
        let changers = changers(room, 3);
        let mut store = ChainStore::default();
        let mut out = Outbox::new();
        for (t, msg) in [(1, link(room, &s, 0, 1)), (2, link(room, &s, 1, 2))] {
            let stored = store
                .handle(room, UserId(0), Message::Link(msg), &changers, &mut out)
                .unwrap();
            assert_eq!(stored.units(), 1, "epoch {t}");
        }
        // A joiner of epoch 3 asks before the link into 3 is there.
        let held = store
            .handle(
                room,
                UserId(7),
                Message::Request { epoch: Epoch(3) },
                &changers,
                &mut out,
            )
            .unwrap();
        assert_eq!(held, Stored::Request { links_sent: 0 });
        assert!(out.is_empty() && store.awaited(room, Epoch(3)));
        // Only the named changer's link is taken; a stranger's is refused and blocks nothing.
        let third = link(room, &s, 2, 3);
        assert!(matches!(
            store.handle(
                room,
                UserId(9),
                Message::Link(third.clone()),
                &changers,
                &mut out
            ),
            Err(SchemeError::Misuse(Misuse::NotTheChanger { .. }))
        ));
        let stored = store
            .handle(room, UserId(0), Message::Link(third), &changers, &mut out)
            .unwrap();
        assert_eq!(stored, Stored::Link { links_sent: 3 });
        assert!(!store.awaited(room, Epoch(3)));
        let (dest, chain) = out.drain().next().unwrap();
        assert_eq!(dest, Dest::User(UserId(7)));
        let Message::Chain(links) = chain else {
            panic!("not a chain")
        };
        assert_eq!(
            links.iter().map(Link::to).collect::<Vec<_>>(),
            vec![Epoch(3), Epoch(2), Epoch(1)]
        );
        assert!(answers(&links, Epoch(3)));
        // A different link into a stored epoch is refused; the same one again is harmless.
        let other = Link::seal::<Real>(DOMAIN, room, (Epoch(0), &s[3]), (Epoch(1), &s[1])).unwrap();
        assert!(matches!(
            store.handle(room, UserId(0), Message::Link(other), &changers, &mut out),
            Err(SchemeError::Misuse(Misuse::UnexpectedMessage(_)))
        ));
        store
            .handle(
                room,
                UserId(0),
                Message::Link(link(room, &s, 0, 1)),
                &changers,
                &mut out,
            )
            .unwrap();
        assert_eq!(store.stored_len(), 3 * LINK_LEN);
        assert!(matches!(
            store.handle(room, UserId(0), Message::Chain(links), &changers, &mut out),
            Err(SchemeError::Misuse(Misuse::UnexpectedMessage(_)))
        ));
        assert_eq!(store.links_between(room, Epoch(1), Some(Epoch(3))).len(), 1);
    }

    #[test]
    fn parts_at_a_change() {
        let s = EpochSecret::from_bytes([1; 32]);
        let view = |e| KeyView {
            room: RoomId(1),
            epoch: Epoch(e),
            secret: &s,
        };
        let change = |prev: Option<u64>, next, changer, shares_history| EpochChange {
            prev: prev.map(view),
            next: view(next),
            changer,
            shares_history,
        };
        assert_eq!(
            part(&change(Some(2), 3, true, true)).unwrap(),
            Part::Link {
                from: Epoch(2),
                to: Epoch(3)
            }
        );
        assert_eq!(part(&change(Some(2), 3, false, true)).unwrap(), Part::None);
        assert_eq!(part(&change(Some(2), 3, true, false)).unwrap(), Part::None);
        assert_eq!(
            part(&change(None, 3, false, true)).unwrap(),
            Part::Join { epoch: Epoch(3) }
        );
        assert_eq!(part(&change(None, 0, true, true)).unwrap(), Part::None);
        assert_eq!(part(&change(None, 3, false, false)).unwrap(), Part::None);
        assert!(matches!(
            part(&change(Some(3), 3, true, true)),
            Err(SchemeError::Misuse(Misuse::StaleEpoch { .. }))
        ));
    }
}
