//! `client-rewrap`: ciphertext-dependent key rotation. Every message has its own key, wrapped
//! under the epoch's key-encryption key; on a change a member downloads every stored wrap,
//! re-wraps it under the new epoch and uploads it.
//!
//! # Source
//!
//! The "AE-hybrid" key rotation of deployed key-management systems, as described and analysed by
//! Everspaugh, Paterson, Ristenpart and Scott, "Key Rotation for Authenticated Encryption",
//! CRYPTO 2017 (research/pre.md §1.7 item 1; DESIGN.md §3 history table): `C_dem = Enc(K_d, M)`,
//! `C_kem = Enc(K, K_d)`, and rotation replaces `C_kem` by `Enc(K', Dec(K, C_kem))`, done by a
//! key holder, with `K_d` unchanged.
//!
//! # Construction
//!
//! * **KEK.** `KEK_e = HKDF(secret_e, "conclave/client-rewrap/kek" ‖ room ‖ e)`.
//! * **Record** ([`RewrapRecord`]): a [`Header`] (80 bytes: epoch `e`, random 24-byte nonce,
//!   and `XChaCha20-Poly1305(KEK_e, nonce, K_d, aad = 1 ‖ room ‖ msg ‖ e)`, as every member
//!   wraps under `KEK_e`: [`crate::common::aead::SharedKey`]), a link count (one byte
//!   while below 128) and the body `ChaCha20-Poly1305(K_d, 0, M, aad = room ‖ msg)` (M + 16
//!   bytes). `K_d` is 32 fresh random bytes per message and seals exactly one body, so its nonce
//!   can be fixed ([`crate::common::aead::seal_once`]). A fresh record is 97 bytes plus the body.
//! * **Rotation** (a change that shares history): the changer uploads the new epoch's link (see
//!   below) in [`Message::Rotate`]; the server answers with every stored header of the room under
//!   an older epoch ([`Message::Headers`]); the changer unwraps each with the KEK of the epoch it
//!   is under (it keeps the KEKs of every epoch it held) and re-wraps it under its current KEK
//!   with a fresh nonce ([`Message::Rewrapped`]). The server replaces a header only if the
//!   stored one is under an older epoch than the upload's, so a slow upload never undoes a newer
//!   rotation, and keeps the header it replaced until the change is confirmed (see Security).
//!   Bodies never change.
//! * **Catch-up links.** Nothing orders a sender's store against a rotation, and the server
//!   cannot re-wrap, so a record sealed under epoch `e` may be stored after the room's headers
//!   moved past `e`, for readers who never held `e`. For those, each rotation to epoch `t` also
//!   stores the back-chain link that seals `KEK_{t-1}` under `KEK_t`
//!   ([`crate::common::back_chain`], 64 bytes; its key is derived from `KEK_t`, never `KEK_t`
//!   itself, so a link and a header cannot stand for each other).
//!   `get` attaches to a record the links of every epoch after its header's, so any reader that
//!   holds a later KEK walks down to the one it needs; the next rotation then re-wraps the late
//!   header like any other. Up-to-date records carry no links.
//! * **Provider.** The scheme is written once, generic over the provider of its symmetric
//!   primitives ([`crate::common::cipher`]): [`ClientRewrap`] runs the real ones above. Its
//!   model for the `model` cost mode, [`ClientRewrapWith`] over
//!   [`Ideal`](crate::model::ideal_cipher::Ideal), is this same code with the KEK derivation, the
//!   header and body AEADs and the back-chain's seal replaced by ideal stand-ins of the real
//!   lengths that open only what they sealed ([`crate::model`]); message keys and nonces are
//!   still drawn from the generator, so records, headers, re-wraps and links keep their exact
//!   lengths and every check a client or the server makes is the same.
//!
//! # Costs
//!
//! Flows and costs per change that shares history; N stored records:
//!
//! | who | work | traffic |
//! |---|---|---|
//! | changer | N AEAD opens and N AEAD seals of 32 bytes (plus 1 for the link) | uploads 65 B, downloads and uploads ≈ 88·N B each way |
//! | server | copies N headers out, replaces N headers (keeping the N it replaced, 80 B each) | reported as `"headers"` and `"rewrap"`, units = headers |
//! | other members, joiners | nothing | nothing |
//!
//! Client time and bandwidth grow with the stored history: that is the price of rotating with
//! zero public-key work and no re-encryption on the server.
//!
//! Exact lengths: a record is [`record_len`] of its body and the links attached to it (none
//! when sealed, so [`RECORD_OVERHEAD`] more than the body; as stored, one per later rotation
//! until the next re-wraps it), and so is the form kept until a re-wrap is confirmed. A change
//! sends [`ROTATE_LEN`] up, [`headers_len`] down and [`rewrapped_len`] up;
//! [`change_traffic`] and [`change_work`] give a whole change's messages and server work.
//!
//! # Security
//!
//! * The server sees only ciphertext: wraps and links under KEKs, bodies under message keys.
//! * **Removed member: excluded**, also **with the server's help**: messages after a removal are
//!   wrapped under KEKs derived from secrets it never holds, and a re-wrapped header is a fresh
//!   AEAD encryption under the new KEK (a ciphertext-dependent "token" carries no key relation);
//!   links only go backwards.
//! * **Headers answer a rotation.** The changer re-wraps the headers the server sends it into
//!   the epoch of its latest rotation of the room, even when a later change by another member
//!   has moved it on since: the server takes re-keying traffic for an epoch from that epoch's
//!   named changer only, and the later rotation re-wraps everything again.
//! * **Old wraps are kept until the change is confirmed.** The server cannot check a re-wrap,
//!   and only the named changer of its epoch may send one ([`crate::common::changers`]), so a
//!   garbled upload (cut short, or a hostile changer's) must not destroy the only copy of a
//!   message key. A re-wrap therefore keeps the header it replaced; the changer may send its
//!   re-wrap again while it is unconfirmed (an earlier, garbled one does not get the honest one
//!   refused). The next change confirms it: its changer opens the header to re-wrap it, and the
//!   older copy is dropped. A header that changer cannot open is dropped instead; the kept one,
//!   which the earlier epoch's KEK opens, is restored and sent to it again with the links it
//!   needs. Readers see a garbled header until then (availability, not confidentiality).
//! * **Storage breach with an old key: safe for records re-wrapped twice.** A re-wrapped header
//!   opens only with the new KEK, but the copy kept until the next change opens with the KEK of
//!   the epoch before ([`HistoryServer::stored_forms`] returns both, so a breach experiment
//!   reads both); a secret two or more epochs old opens nothing the server stores, except
//!   headers not re-wrapped yet (records stored late, until the next rotation).
//! * **`from_join`:** no rotation and no link for such a change: a joiner receives nothing that
//!   opens an earlier epoch. Members keep opening old records with the KEKs they kept.
//!
//! # Weaknesses
//!
//! * `K_d` never changes (ES17: no post-compromise security for the body): whoever once learned a
//!   message key, or a server that kept an old header and later learns its old KEK (say from a
//!   removed member), reads that message — history the removed member could read anyway.
//! * Rotation is O(N) client work and traffic per change, by one member, while the room goes on.
//! * The named changer can upload garbage headers; the server cannot check them (availability,
//!   not confidentiality: a garbage header fails to open until the next change restores the
//!   kept copy). Headers the changer cannot open and of which no copy is kept are left as they
//!   are.
//! * Keeping the replaced headers costs the server one more header per re-wrapped record, and
//!   leaves one epoch's worth of older wraps on it (Security).
//! * Under `shared`, a member who holds the current KEK reaches every older KEK through the links
//!   (all of which open only headers already re-wrapped, or late ones).
//!
//! # Side channels
//!
//! Nothing secret-dependent: ChaCha20-Poly1305 and HKDF-SHA-256 (RustCrypto) are constant time.
//! Which headers are re-wrapped, and which epochs a client knows, is visible to the server.

use crate::rekeying::{RekeyingClient, RekeyingServer};
use core::marker::PhantomData;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::common::aead::{self, Aad};
use zeroize::Zeroizing;

use super::{
    EpochChange, HistoryClient, HistoryProperties, HistoryProtection, HistoryServer, KeyView,
    Rotation, Traffic, Work,
};
use crate::common::back_chain::{self, ChainSecret, ChainStore, Link};
use crate::common::changers::Changers;
use crate::common::cipher::{Real, SharedAead, SymmetricCipher};
use crate::common::known_epochs::{EpochEntry, KnownEpochs};
use crate::wire::varint_len;
use crate::{
    CryptoRngCore, Dest, Epoch, EpochSecret, Label, Misuse, MsgId, Opened, Outbox, RoomId,
    SchemeError, UserId, Wire,
};

const KEK: Label = Label::Custom("conclave/client-rewrap/kek");
/// The back-chain's domain.
const CHAIN: &str = "conclave/client-rewrap/kek-link";

/// AEAD tag bytes.
const TAG: usize = aead::TAG_LEN;
/// AEAD nonce bytes.
const NONCE: usize = aead::SHARED_NONCE_LEN;
/// Bytes of a header: epoch, nonce, wrapped 32-byte message key.
pub const HEADER_LEN: usize = 8 + NONCE + 32 + TAG;
/// Bytes of a link.
pub const LINK_LEN: usize = back_chain::LINK_LEN;
/// Bytes a fresh record adds to its body: header, empty link count, body tag.
pub const RECORD_OVERHEAD: usize = HEADER_LEN + 1 + TAG;
/// Bytes of one (message id, header) entry in [`Message::Headers`] and [`Message::Rewrapped`].
pub const ENTRY_LEN: usize = 8 + HEADER_LEN;

/// Bytes of the changer's [`Message::Rotate`]: the kind and the new epoch's link.
pub const ROTATE_LEN: usize = 1 + LINK_LEN;

/// Bytes of a record of a `plaintext`-byte body carrying `links` links: the header, the link
/// count (LEB128), the links and the body with its tag. A sealed record carries none; the
/// server attaches to each form it sends the links into every epoch after its header's.
#[must_use]
pub fn record_len(plaintext: usize, links: usize) -> usize {
    HEADER_LEN + varint_len(links) + links * LINK_LEN + plaintext + TAG
}

/// Bytes of the server's [`Message::Headers`] with `headers` headers to re-wrap and the `links`
/// links the changer needs to reach the oldest of their epochs: the kind, then each list with
/// its count (LEB128).
#[must_use]
pub fn headers_len(headers: usize, links: usize) -> usize {
    1 + varint_len(headers) + headers * ENTRY_LEN + varint_len(links) + links * LINK_LEN
}

/// Bytes of the changer's [`Message::Rewrapped`] of `headers` headers.
#[must_use]
pub fn rewrapped_len(headers: usize) -> usize {
    1 + varint_len(headers) + headers * ENTRY_LEN
}

/// The control messages of a change (not the creation) in a room whose policy is
/// `shares_history`, with `headers` records stored and `links` the number of epochs between the
/// oldest header's and the changer's previous one (the links sent with the headers: nonzero
/// only for records stored late). Sharing history, the changer sends its [`ROTATE_LEN`] link;
/// if anything is stored, the server answers with the headers and the changer uploads them
/// re-wrapped. Not sharing, nothing is sent.
#[must_use]
pub fn change_traffic(shares_history: bool, headers: usize, links: usize) -> Traffic {
    if !shares_history {
        return Traffic::default();
    }
    let any = usize::from(headers > 0);
    Traffic {
        up: vec![(1, ROTATE_LEN), (any, rewrapped_len(headers))],
        down: vec![(any, headers_len(headers, links))],
    }
}

/// The server work of the change [`change_traffic`] describes: the headers copied out for the
/// changer (`"headers"`) and taken back re-wrapped (`"rewrap"`), one unit per header each, on
/// one worker.
#[must_use]
pub fn change_work(shares_history: bool, headers: usize) -> Vec<(usize, Work)> {
    if !shares_history {
        return Vec::new();
    }
    let work = |op| Work {
        op,
        units: headers as u64,
        parallel: false,
    };
    vec![
        (1, work("headers")),
        (usize::from(headers > 0), work("rewrap")),
    ]
}

/// The client-rewrap scheme with the primitives of provider `C`: [`ClientRewrap`] with the real
/// ones, the scheme's model with [`crate::model::ideal_cipher::Ideal`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientRewrapWith<C>(PhantomData<C>);

/// The client-rewrap scheme.
pub type ClientRewrap = ClientRewrapWith<Real>;

/// A message key wrapped under the KEK of `epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    epoch: Epoch,
    nonce: [u8; NONCE],
    wrapped: [u8; 32 + TAG],
}

impl Header {
    /// The epoch whose KEK wraps the message key.
    #[must_use]
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }
}

/// A stored message: its current header, the links a reader may need to reach the header's
/// KEK (attached by the server, empty when sealed), and the body. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrapRecord {
    header: Header,
    links: Arc<[Link]>,
    body: Arc<[u8]>,
}

impl RewrapRecord {
    /// The header.
    #[must_use]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The links attached.
    #[must_use]
    pub fn links(&self) -> &[Link] {
        &self.links
    }
}

impl Wire for RewrapRecord {
    fn wire_len(&self) -> usize {
        HEADER_LEN + varint_len(self.links.len()) + self.links.len() * LINK_LEN + self.body.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.header.nonce);
        f(&self.header.wrapped);
        for link in self.links.iter() {
            link.visit_bytes(f);
        }
        f(&self.body);
    }
}

#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for RewrapRecord {
    /// Flips a bit of the wrapped message key, the part rotation rewrites.
    fn tamper(&mut self) -> bool {
        self.header.wrapped[0] ^= 1;
        true
    }
}

/// Control traffic of client-rewrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Changer to server: the new epoch's link; asks for the headers to re-wrap.
    Rotate(Link),
    /// Server to changer: stored headers under epochs older than the rotation's, and the links
    /// below the changer's previous epoch that late headers may need.
    Headers {
        /// Headers to re-wrap, by message.
        headers: Vec<(MsgId, Header)>,
        /// Links the changer may need to reach the KEK of a header.
        links: Vec<Link>,
    },
    /// Changer to server: re-wrapped headers.
    Rewrapped(Vec<(MsgId, Header)>),
}

impl Wire for Message {
    fn wire_len(&self) -> usize {
        // One byte of message kind, then the fields.
        1 + match self {
            Self::Rotate(_) => LINK_LEN,
            Self::Headers { headers, links } => {
                varint_len(headers.len())
                    + headers.len() * ENTRY_LEN
                    + varint_len(links.len())
                    + links.len() * LINK_LEN
            }
            Self::Rewrapped(headers) => varint_len(headers.len()) + headers.len() * ENTRY_LEN,
        }
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        match self {
            Self::Rotate(l) => l.visit_bytes(f),
            Self::Headers { headers, links } => {
                links.iter().for_each(|l| l.visit_bytes(f));
                for (_, h) in headers {
                    f(&h.nonce);
                    f(&h.wrapped);
                }
            }
            Self::Rewrapped(headers) => {
                for (_, h) in headers {
                    f(&h.nonce);
                    f(&h.wrapped);
                }
            }
        }
    }
}

#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for Message {
    fn tamper(&mut self) -> bool {
        let wrapped = match self {
            Self::Rotate(link) => return link.tamper(),
            Self::Headers { headers, .. } | Self::Rewrapped(headers) => match headers.first_mut() {
                Some((_, h)) => &mut h.wrapped,
                None => return false,
            },
        };
        wrapped[0] ^= 1;
        true
    }
}

type Kek = Zeroizing<[u8; 32]>;

/// What a client knows of one epoch: its KEK, and the secret it came from if the client held
/// the epoch (a KEK learned from a link has none).
struct Known<C> {
    secret: Option<EpochSecret>,
    kek: Kek,
    cipher: PhantomData<C>,
}

impl<C: SymmetricCipher> EpochEntry for Known<C> {
    const CHAIN: &'static str = CHAIN;
    type Cipher = C;

    fn held(key: KeyView<'_>) -> Self {
        Self {
            secret: Some(key.secret.clone()),
            kek: Zeroizing::new(C::derive(key.secret, KEK, key.room, key.epoch)),
            cipher: PhantomData,
        }
    }

    fn reached(_: RoomId, _: Epoch, kek: ChainSecret) -> Result<Self, SchemeError> {
        Ok(Self {
            secret: None,
            kek,
            cipher: PhantomData,
        })
    }

    fn made_from(&self, secret: &EpochSecret) -> bool {
        self.secret.as_ref() == Some(secret)
    }

    fn chain_secret(&self) -> &[u8; 32] {
        &self.kek
    }
}

/// A user's state: per room, the KEK of every epoch it held or reached through links.
#[derive(Debug, Default)]
pub struct ClientWith<C: SymmetricCipher> {
    known: KnownEpochs<Known<C>>,
    /// The latest rotation this client made in each room (the epoch it rotated into): the
    /// server's headers answer a rotation, and are re-wrapped into that epoch, whose changer
    /// the server takes them from, even when a later change by another member has moved the
    /// client on since.
    rotated: BTreeMap<RoomId, Epoch>,
}

/// A user's state under the real primitives.
pub type Client = ClientWith<Real>;

/// A record as the server keeps it (links are per room, attached at `get`).
#[derive(Debug, Clone)]
struct Stored {
    header: Header,
    /// The header the latest re-wrap replaced, kept until the next change confirms that re-wrap
    /// (see the module doc): a garbage re-wrap then never holds the only copy of the key.
    kept: Option<Header>,
    body: Arc<[u8]>,
}

/// The message server: records, and each room's links. It computes nothing secret; `C` only
/// ties it to its scheme.
#[derive(Debug, Default)]
pub struct ServerWith<C> {
    records: BTreeMap<(RoomId, MsgId), Stored>,
    links: ChainStore,
    bytes: usize,
    changers: Changers,
    cipher: PhantomData<C>,
}

/// The message server of [`ClientRewrap`].
pub type Server = ServerWith<Real>;

impl<C: SymmetricCipher> HistoryProtection for ClientRewrapWith<C> {
    const NAME: &'static str = "client-rewrap";
    const SUMMARY: &'static str =
        "per-message keys; on a change a member re-wraps every stored key header (AE-hybrid)";
    const PROPERTIES: HistoryProperties = HistoryProperties {
        server_reads_bodies: false,
        removal_excludes: true,
        // Under `from_join` a change leaves stored history under its old key.
        rotates_stored_history: Rotation::WhenSharingHistory,
    };
    type Sealed = RewrapRecord;
    type Message = Message;
    type Client = ClientWith<C>;
    type Server = ServerWith<C>;

    fn new_client(_user: UserId) -> ClientWith<C> {
        ClientWith::default()
    }
}

fn header_aad(room: RoomId, msg: MsgId, epoch: Epoch) -> Aad {
    Aad::new("conclave/client-rewrap/header")
        .room(room)
        .msg(msg)
        .epoch(epoch)
}

fn body_aad(room: RoomId, msg: MsgId) -> Aad {
    Aad::new("conclave/client-rewrap/body").room(room).msg(msg)
}

/// Seals 32 bytes under `kek` with a fresh nonce.
fn wrap<C: SymmetricCipher>(
    kek: &[u8; 32],
    plain: &[u8; 32],
    aad: &[u8],
    rng: &mut dyn CryptoRngCore,
) -> Result<([u8; NONCE], [u8; 32 + TAG]), SchemeError> {
    let (nonce, sealed) = C::shared_key(kek).seal(aad, plain, rng)?;
    let sealed = sealed
        .try_into()
        .map_err(|_| SchemeError::Internal("wrap length"))?;
    Ok((nonce, sealed))
}

/// Opens 32 bytes wrapped under `kek`.
fn unwrap<C: SymmetricCipher>(
    kek: &[u8; 32],
    nonce: &[u8; NONCE],
    wrapped: &[u8; 32 + TAG],
    aad: &[u8],
) -> Result<Zeroizing<[u8; 32]>, SchemeError> {
    let plain = Zeroizing::new(C::shared_key(kek).open(nonce, aad, wrapped)?);
    let bytes: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| SchemeError::Crypto)?;
    Ok(Zeroizing::new(bytes))
}

fn wrap_header<C: SymmetricCipher>(
    kek: &[u8; 32],
    room: RoomId,
    msg: MsgId,
    epoch: Epoch,
    message_key: &[u8; 32],
    rng: &mut dyn CryptoRngCore,
) -> Result<Header, SchemeError> {
    let (nonce, wrapped) = wrap::<C>(kek, message_key, header_aad(room, msg, epoch).as_ref(), rng)?;
    Ok(Header {
        epoch,
        nonce,
        wrapped,
    })
}

fn unwrap_header<C: SymmetricCipher>(
    kek: &[u8; 32],
    room: RoomId,
    msg: MsgId,
    header: &Header,
) -> Result<Zeroizing<[u8; 32]>, SchemeError> {
    unwrap::<C>(
        kek,
        &header.nonce,
        &header.wrapped,
        header_aad(room, msg, header.epoch).as_ref(),
    )
}

impl<C: SymmetricCipher> ClientWith<C> {
    /// Remembers `key`'s KEK and returns it.
    fn learn(&mut self, key: KeyView<'_>) -> &Kek {
        &self.known.learn(key).kek
    }

    fn kek(&self, room: RoomId, epoch: Epoch) -> Option<&Kek> {
        self.known.get(room, epoch).map(|k| &k.kek)
    }
}

impl<C: SymmetricCipher> HistoryClient for ClientWith<C> {
    type Scheme = ClientRewrapWith<C>;

    fn seal(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<RewrapRecord, SchemeError> {
        let mut message_key = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(message_key.as_mut_slice());
        let kek = self.learn(key);
        let header = wrap_header::<C>(kek, key.room, msg, key.epoch, &message_key, rng)?;
        // The message key is fresh and seals this one body: a fixed nonce is never reused.
        let body = C::seal_once(&message_key, body_aad(key.room, msg).as_ref(), plaintext)?;
        Ok(RewrapRecord {
            header,
            links: Arc::new([]),
            body: body.into(),
        })
    }

    fn open(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &RewrapRecord,
    ) -> Result<Opened, SchemeError> {
        self.learn(key);
        let epoch = sealed.header.epoch;
        if self.kek(key.room, epoch).is_none() {
            self.known.walk(key.room, &sealed.links)?;
        }
        let Some(kek) = self.kek(key.room, epoch) else {
            return Ok(Opened::Pending { waiting_for: epoch });
        };
        let message_key = unwrap_header::<C>(kek, key.room, msg, &sealed.header)?;
        C::open_once(&message_key, body_aad(key.room, msg).as_ref(), &sealed.body)
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
        let next = change.next;
        let next_kek = self.learn(next).clone();
        let Some(prev) = change.prev else {
            return Ok(());
        };
        if prev.room != next.room || prev.epoch >= next.epoch {
            return Err(Misuse::StaleEpoch {
                have: prev.epoch,
                got: next.epoch,
            }
            .into());
        }
        let prev_kek = self.learn(prev).clone();
        if change.changer && change.shares_history {
            let link = Link::seal::<C>(
                CHAIN,
                next.room,
                (prev.epoch, &prev_kek),
                (next.epoch, &next_kek),
            )?;
            out.send(Dest::Server, Message::Rotate(link));
            let latest = self.rotated.entry(next.room).or_insert(next.epoch);
            *latest = (*latest).max(next.epoch);
        }
        Ok(())
    }

    fn handle(
        &mut self,
        key: KeyView<'_>,
        msg: &Message,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<(), SchemeError> {
        let Message::Headers { headers, links } = msg else {
            return Err(
                Misuse::UnexpectedMessage("client-rewrap clients take only headers").into(),
            );
        };
        self.learn(key);
        self.known.walk(key.room, links)?;
        // Headers come only to a member that rotated the room (an unsolicited batch is left
        // alone); they go into the epoch of its latest rotation there.
        let Some(rotation) = self.rotated.get(&key.room).copied() else {
            return Ok(());
        };
        let Some(target) = self.kek(key.room, rotation).cloned() else {
            return Ok(());
        };
        let mut rewrapped = Vec::with_capacity(headers.len());
        let mut unopened = false;
        for (msg, header) in headers {
            if header.epoch >= rotation {
                continue;
            }
            // A header this client cannot open stays as it is (see the module doc).
            let Some(kek) = self.kek(key.room, header.epoch) else {
                continue;
            };
            let Ok(message_key) = unwrap_header::<C>(kek, key.room, *msg, header) else {
                unopened = true;
                continue;
            };
            let fresh = wrap_header::<C>(&target, key.room, *msg, rotation, &message_key, rng)?;
            rewrapped.push((*msg, fresh));
        }
        // Even with nothing re-wrapped, the answer tells the server which headers did not
        // open, so it can restore the ones it kept.
        if !rewrapped.is_empty() || unopened {
            out.send(Dest::Server, Message::Rewrapped(rewrapped));
        }
        Ok(())
    }
}

impl Stored {
    /// Takes a re-wrapped header and returns the bytes this adds to storage.
    fn rewrap(&mut self, header: Header) -> usize {
        if self.header.epoch < header.epoch {
            // The changer opened the header it replaces, which confirms the re-wrap that made
            // it; that header is kept in turn until the next change confirms this one.
            let added = if self.kept.is_none() { HEADER_LEN } else { 0 };
            self.kept = Some(core::mem::replace(&mut self.header, header));
            added
        } else {
            // A re-wrap not confirmed yet may be replaced by its changer's next upload (one
            // that failed or was garbled, sent again); never let a slow upload undo a newer
            // rotation, nor replace the header a record was sealed with.
            if self.header.epoch == header.epoch && self.kept.is_some() {
                self.header = header;
            }
            0
        }
    }
}

impl<C> ServerWith<C> {
    /// A [`Message::Headers`] with `headers` for a changer that holds the KEK of `held`: late
    /// headers under older epochs come with the links down from it.
    fn headers_for(&self, room: RoomId, headers: Vec<(MsgId, Header)>, held: Epoch) -> Message {
        let links = match headers.iter().map(|(_, h)| h.epoch).min() {
            Some(oldest) if oldest < held => self.links.links_between(room, oldest, held.next()),
            _ => Vec::new(),
        };
        Message::Headers { headers, links }
    }

    /// After the changer of `rotation` answered it: records it left under an older epoch
    /// although their last re-wrap is unconfirmed did not open for it, so that re-wrap is
    /// dropped, the header it replaced restored, and the changer asked to re-wrap that one.
    fn restore_unconfirmed(
        &mut self,
        room: RoomId,
        changer: UserId,
        rotation: Epoch,
        out: &mut Outbox<Message>,
    ) {
        let mut restored = Vec::new();
        for ((_, msg), stored) in self.room_records(room) {
            if stored.header.epoch < rotation {
                if let Some(kept) = stored.kept.take() {
                    stored.header = kept;
                    restored.push((*msg, stored.header.clone()));
                }
            }
        }
        if !restored.is_empty() {
            self.bytes -= restored.len() * HEADER_LEN;
            out.send(
                Dest::User(changer),
                self.headers_for(room, restored, rotation),
            );
        }
    }

    fn room_records(
        &mut self,
        room: RoomId,
    ) -> std::collections::btree_map::RangeMut<'_, (RoomId, MsgId), Stored> {
        self.records
            .range_mut((room, MsgId(0))..=(room, MsgId(u64::MAX)))
    }
}

impl<C: SymmetricCipher> HistoryServer for ServerWith<C> {
    type Scheme = ClientRewrapWith<C>;

    fn store(&mut self, room: RoomId, msg: MsgId, sealed: RewrapRecord) -> Result<(), SchemeError> {
        super::not_stored_yet(&self.records, &(room, msg))?;
        self.bytes += HEADER_LEN + sealed.body.len();
        self.records.insert(
            (room, msg),
            Stored {
                header: sealed.header,
                kept: None,
                body: sealed.body,
            },
        );
        Ok(())
    }

    fn get(&self, room: RoomId, msg: MsgId) -> Option<RewrapRecord> {
        let stored = self.records.get(&(room, msg))?;
        Some(RewrapRecord {
            header: stored.header.clone(),
            links: self
                .links
                .links_between(room, stored.header.epoch, None)
                .into(),
            body: stored.body.clone(),
        })
    }

    fn stored_forms(&self, room: RoomId, msg: MsgId) -> Vec<RewrapRecord> {
        let Some(current) = self.get(room, msg) else {
            return Vec::new();
        };
        let kept = self.records[&(room, msg)]
            .kept
            .clone()
            .map(|header| RewrapRecord {
                links: self.links.links_between(room, header.epoch, None).into(),
                header,
                body: current.body.clone(),
            });
        core::iter::once(current).chain(kept).collect()
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
        match msg {
            Message::Rotate(link) => {
                let rotation = link.to();
                let changer_held = link.from();
                self.links.insert(room, from, link, &self.changers)?;
                let headers: Vec<(MsgId, Header)> = self
                    .room_records(room)
                    .filter(|(_, s)| s.header.epoch < rotation)
                    .map(|((_, m), s)| (*m, s.header.clone()))
                    .collect();
                let units = headers.len() as u64;
                if !headers.is_empty() {
                    out.send(
                        Dest::User(from),
                        self.headers_for(room, headers, changer_held),
                    );
                }
                Ok(Work {
                    op: "headers",
                    units,
                    parallel: false,
                })
            }
            Message::Rewrapped(headers) => {
                // Every header under an epoch whose changer sent it, or none is taken.
                for (_, header) in &headers {
                    self.changers.check(room, header.epoch, from)?;
                }
                let units = headers.len() as u64;
                let rotation = self.links.newest(room);
                let completes_rotation =
                    rotation.is_some_and(|r| headers.iter().all(|(_, h)| h.epoch == r));
                for (msg, header) in headers {
                    if let Some(stored) = self.records.get_mut(&(room, msg)) {
                        self.bytes += stored.rewrap(header);
                    }
                }
                // The upload answers the room's newest rotation (or says that nothing opened):
                // what its changer did not re-wrap, it could not open.
                if let Some(rotation) = rotation.filter(|_| completes_rotation) {
                    if self.changers.check(room, rotation, from).is_ok() {
                        self.restore_unconfirmed(room, from, rotation, out);
                    }
                }
                Ok(Work {
                    op: "rewrap",
                    units,
                    parallel: false,
                })
            }
            Message::Headers { .. } => {
                Err(Misuse::UnexpectedMessage("headers go from the server to the changer").into())
            }
        }
    }

    fn changers(&mut self) -> Option<&mut Changers> {
        Some(&mut self.changers)
    }

    fn stored_len(&self) -> usize {
        self.bytes + self.links.stored_len()
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::testing::{server_changed_by, HistoryHarness, Tamper};

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

    /// `rng(seed)`, and a harness of `users` users with room `seed` created by users 0 and 1.
    fn with_pair(
        seed: u32,
        users: u32,
        shares_history: bool,
    ) -> (ChaCha20Rng, HistoryHarness<ClientRewrap>) {
        let mut rng = rng(seed.into());
        let h = HistoryHarness::with_pair(users, RoomId(seed), shares_history, &mut rng);
        (rng, h)
    }

    /// `rng(seed)`, three epoch secrets of room `seed` drawn from it, and an empty server.
    fn three_epochs(seed: u32) -> (ChaCha20Rng, RoomId, Vec<EpochSecret>, Server) {
        let mut rng = rng(seed.into());
        let s = (0..3).map(|_| EpochSecret::random(&mut rng)).collect();
        (rng, RoomId(seed), s, Server::default())
    }

    fn header_epochs(server: &Server) -> Vec<Epoch> {
        server.records.values().map(|s| s.header.epoch).collect()
    }

    #[test]
    fn wire_lengths_are_exact() {
        let u = UserId;
        assert_eq!(
            (HEADER_LEN, LINK_LEN, ENTRY_LEN, RECORD_OVERHEAD),
            (80, 64, 88, 97)
        );
        let (mut rng, mut h) = with_pair(1, 3, true);
        for len in [0, 1, 160, 4096] {
            let (_, record) = h.seal(u(1), &vec![3; len], &mut rng);
            assert_eq!(record.wire_len(), len + RECORD_OVERHEAD);
        }
        // Nothing stored: a rotation is the link alone (the server has no headers to send).
        h.rekey(u(0), &mut rng);
        assert_eq!((h.control_messages, h.control_bytes), (1, 1 + LINK_LEN));
        for i in 0..5 {
            h.send(u(i % 2), b"hello", &mut rng);
        }
        let before = h.control_bytes;
        h.join(&[u(2)], u(1), &mut rng);
        // Rotate, 5 headers down, 5 re-wrapped headers up.
        assert_eq!(h.control_messages, 1 + 3);
        assert_eq!(
            h.control_bytes - before,
            (1 + LINK_LEN) + (1 + 1 + 5 * ENTRY_LEN + 1) + (1 + 1 + 5 * ENTRY_LEN)
        );
        // Each record keeps the header its re-wrap replaced until the next change.
        assert_eq!(
            h.server.stored_len(),
            2 * LINK_LEN + 5 * (2 * HEADER_LEN + 5 + TAG)
        );
        let big = Message::Rewrapped(vec![(MsgId(1), h.get(MsgId(4)).header.clone()); 130]);
        assert_eq!(big.wire_len(), 1 + 2 + 130 * ENTRY_LEN);
    }

    /// After every rotation, every header is under the current epoch, the old keys open
    /// nothing, and the server reports one unit per header each way.
    #[test]
    fn rewrap_leaves_no_header_under_an_old_epoch() {
        let mut rng = rng(2);
        let u = UserId;
        let mut h = HistoryHarness::<ClientRewrap>::new(5, RoomId(2), true);
        h.create(&[u(0), u(1), u(2)], u(0), &mut rng);
        let changes: [(&[UserId], &[UserId], UserId); 4] = [
            (&[u(3)], &[], u(0)),
            (&[], &[u(1)], u(2)),
            (&[u(4)], &[], u(3)),
            (&[], &[], u(4)),
        ];
        for (add, remove, by) in changes {
            for i in 0..3 {
                let sender = *h.members.iter().nth(i % h.members.len()).unwrap();
                h.send(sender, b"some history", &mut rng);
            }
            let stored = h.sent.len() as u64;
            h.work.clear();
            h.change(add, remove, by, &mut rng);
            let now = h.epoch();
            assert!(header_epochs(&h.server).iter().all(|e| *e == now), "{now}");
            assert_eq!(
                h.work,
                vec![
                    Work {
                        op: "headers",
                        units: stored,
                        parallel: false
                    },
                    Work {
                        op: "rewrap",
                        units: stored,
                        parallel: false
                    },
                ]
            );
            for old in 0..now.0 {
                for s in &h.sent {
                    let record = h.get(s.id);
                    assert!(
                        record.links().is_empty(),
                        "up-to-date records carry no links"
                    );
                    assert_eq!(
                        h.open_fresh(Epoch(old), s.id, &record),
                        Ok(Opened::Pending { waiting_for: now }),
                        "old key of epoch {old}"
                    );
                }
            }
            h.assert_members_read_all("rewrap");
        }
    }

    /// A late record carries the links down to its epoch until the next rotation re-wraps it.
    #[test]
    fn late_records_carry_links_until_the_next_rotation() {
        let u = UserId;
        let (mut rng, mut h) = with_pair(3, 5, true);
        let (late, record) = h.seal(u(1), b"late", &mut rng);
        h.join(&[u(2)], u(0), &mut rng);
        h.join(&[u(3)], u(2), &mut rng);
        h.store(late, record);
        let fetched = h.get(late);
        assert_eq!(fetched.header().epoch(), Epoch(0));
        let link_epochs: Vec<Epoch> = fetched.links().iter().map(Link::to).collect();
        assert_eq!(link_epochs, vec![Epoch(1), Epoch(2)]);
        assert_eq!(fetched.wire_len(), HEADER_LEN + 1 + 2 * LINK_LEN + 4 + TAG);
        // User 3 never held epochs 0 or 1; it reads through both links.
        h.assert_reads(u(3), late, "late record through links");
        // The next rotation is by user 3: it needs the links to re-wrap the late header too.
        h.work.clear();
        h.rekey(u(3), &mut rng);
        assert_eq!(h.work[0].units, 1, "only the late header was stale");
        let fetched = h.get(late);
        assert_eq!(fetched.header().epoch(), Epoch(3));
        assert!(fetched.links().is_empty());
        assert_eq!(
            h.open_fresh(Epoch(0), late, &fetched),
            Ok(Opened::Pending {
                waiting_for: Epoch(3)
            })
        );
        h.join(&[u(4)], u(1), &mut rng);
        h.assert_members_read_all("late record after re-wrap");
    }

    /// The server never lets an upload under an older epoch overwrite a newer header.
    #[test]
    fn slow_uploads_do_not_undo_newer_rotations() {
        let (mut rng, room, s, _) = three_epochs(4);
        let mut alice = Client::default();
        let mut server: Server = server_changed_by(room, UserId(0));
        let record = alice
            .seal(key(room, 0, &s[0]), MsgId(9), b"body", &mut rng)
            .unwrap();
        server.store(room, MsgId(9), record.clone()).unwrap();
        let k = |e: usize, rng: &mut ChaCha20Rng| {
            wrap_header::<Real>(
                &s[e].derive(KEK, room, Epoch(e as u64)),
                room,
                MsgId(9),
                Epoch(e as u64),
                &[0; 32],
                rng,
            )
            .unwrap()
        };
        let (h1, h2) = (k(1, &mut rng), k(2, &mut rng));
        let mut out = Outbox::new();
        // The newer upload first, then the slow one, then one for a message never stored.
        for upload in [
            (MsgId(9), h2.clone()),
            (MsgId(9), h1),
            (MsgId(10), h2.clone()),
        ] {
            let upload = Message::Rewrapped(vec![upload]);
            server
                .handle(room, UserId(0), upload, &mut rng, &mut out)
                .unwrap();
        }
        assert_eq!(server.records[&(room, MsgId(9))].header, h2);
        // Unknown messages in an upload are ignored.
        assert!(server.get(room, MsgId(10)).is_none());
        assert!(out.is_empty());
    }

    /// A header the changer cannot open stays where it is; the others move on.
    #[test]
    fn unopenable_headers_are_left_behind() {
        let u = UserId;
        let (mut rng, mut h) = with_pair(5, 3, true);
        let good = h.send(u(0), b"good", &mut rng);
        let bad = h.send(u(1), b"bad", &mut rng);
        h.server
            .records
            .get_mut(&(RoomId(5), bad))
            .unwrap()
            .header
            .wrapped[5] ^= 4;
        h.join(&[u(2)], u(1), &mut rng);
        assert_eq!(h.get(good).header().epoch(), Epoch(1));
        assert_eq!(h.get(bad).header().epoch(), Epoch(0));
        h.assert_reads(u(2), good, "re-wrapped");
        assert_eq!(h.read(u(2), bad), Err(SchemeError::Crypto));
        assert_eq!(h.read(u(0), bad), Err(SchemeError::Crypto));
    }

    /// The one message `out` holds, and to whom.
    fn only(out: &mut Outbox<Message>) -> (Dest, Message) {
        let mut all: Vec<(Dest, Message)> = out.drain().collect();
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    /// The headers the server sends `changer` for its rotation of `room` into epoch `to`, and
    /// the re-wrap its client answers with (not delivered). `s` holds the epochs' secrets.
    fn rotate(
        server: &mut Server,
        changer: (UserId, &mut Client),
        (room, to): (RoomId, u64),
        s: &[EpochSecret],
        rng: &mut ChaCha20Rng,
    ) -> Message {
        let (id, client) = changer;
        let (prev, next) = (
            key(room, to - 1, &s[to as usize - 1]),
            key(room, to, &s[to as usize]),
        );
        server.name_changer(room, next.epoch, id).unwrap();
        let change = EpochChange {
            prev: Some(prev),
            next,
            changer: true,
            shares_history: true,
        };
        let mut out = Outbox::new();
        client.epoch_changed(change, rng, &mut out).unwrap();
        let (_, rotation) = only(&mut out);
        server
            .handle(next.room, id, rotation, rng, &mut out)
            .unwrap();
        let (_, headers) = only(&mut out);
        client.handle(next, &headers, rng, &mut out).unwrap();
        only(&mut out).1
    }

    fn reads(client: &mut Client, server: &Server, key: KeyView<'_>, msg: MsgId) -> bool {
        let record = server.get(key.room, msg).unwrap();
        matches!(client.open(key, msg, &record), Ok(Opened::Plaintext(p)) if p == b"history")
    }

    /// The server's headers reach the changer of epoch 1 after another member's change moved
    /// it on to epoch 2: it re-wraps them into epoch 1, whose re-keying the server takes from it
    /// (into epoch 2 the server would take them only from epoch 2's changer), and the record
    /// then opens with epoch 1's secret.
    #[test]
    fn headers_answered_after_a_later_change_go_into_the_rotated_epoch() {
        let (mut rng, room, s, mut server) = three_epochs(10);
        let (alice, bob) = (UserId(0), UserId(1));
        let mut a = Client::default();
        let id = MsgId(1);
        let record = a
            .seal(key(room, 0, &s[0]), id, b"history", &mut rng)
            .unwrap();
        server.store(room, id, record).unwrap();
        server.name_changer(room, Epoch(1), alice).unwrap();
        let mut out = Outbox::new();
        let rotate_into = |e: usize, changer: bool| EpochChange {
            prev: Some(key(room, e as u64 - 1, &s[e - 1])),
            next: key(room, e as u64, &s[e]),
            changer,
            shares_history: true,
        };
        a.epoch_changed(rotate_into(1, true), &mut rng, &mut out)
            .unwrap();
        let (_, rotation) = only(&mut out);
        server
            .handle(room, alice, rotation, &mut rng, &mut out)
            .unwrap();
        let (_, headers) = only(&mut out);
        // Bob's change into epoch 2 reaches Alice before the headers do.
        server.name_changer(room, Epoch(2), bob).unwrap();
        a.epoch_changed(rotate_into(2, false), &mut rng, &mut out)
            .unwrap();
        assert!(out.is_empty(), "only the changer sends re-keying traffic");
        a.handle(key(room, 2, &s[2]), &headers, &mut rng, &mut out)
            .unwrap();
        let (_, rewrapped) = only(&mut out);
        server
            .handle(room, alice, rewrapped, &mut rng, &mut out)
            .unwrap();
        assert_eq!(header_epochs(&server), [Epoch(1)]);
        assert!(reads(
            &mut Client::default(),
            &server,
            key(room, 1, &s[1]),
            id
        ));
    }

    /// What a storage breach reads: the current form of a record and, until the next change
    /// confirms a re-wrap, the form it replaced, which the previous epoch's secret opens; a
    /// secret two epochs old opens neither once the next change is confirmed.
    #[test]
    fn stored_forms_include_the_kept_header() {
        let (mut rng, room, s, mut server) = three_epochs(9);
        let (alice, bob) = (UserId(0), UserId(1));
        let (mut a, mut b) = (Client::default(), Client::default());
        let id = MsgId(1);
        let record = a
            .seal(key(room, 0, &s[0]), id, b"history", &mut rng)
            .unwrap();
        server.store(room, id, record).unwrap();
        assert_eq!(server.stored_forms(room, id).len(), 1);
        b.learn(key(room, 0, &s[0]));
        let opens_with = |server: &Server, e: usize| {
            server.stored_forms(room, id).iter().any(|form| {
                matches!(
                    Client::default().open(key(room, e as u64, &s[e]), id, form),
                    Ok(Opened::Plaintext(p)) if p == b"history"
                )
            })
        };
        let mut out = Outbox::new();
        let upload = rotate(&mut server, (alice, &mut a), (room, 1), &s, &mut rng);
        server
            .handle(room, alice, upload, &mut rng, &mut out)
            .unwrap();
        assert_eq!(server.stored_forms(room, id).len(), 2);
        assert!(
            opens_with(&server, 0),
            "the kept form opens with epoch 0's secret"
        );
        let upload = rotate(&mut server, (bob, &mut b), (room, 2), &s, &mut rng);
        server
            .handle(room, bob, upload, &mut rng, &mut out)
            .unwrap();
        assert!(
            !opens_with(&server, 0),
            "epoch 0's secret opens no stored form"
        );
        assert!(
            opens_with(&server, 1),
            "the form kept until the next change"
        );
        assert!(opens_with(&server, 2));
    }

    /// A garbled re-wrap (cut short in transit, or a hostile changer's) replaces no header for
    /// good: the changer's honest re-wrap sent after it is still taken, and without one the next
    /// change restores the headers the garbled one replaced, which the previous epoch's key
    /// opens, and re-wraps them.
    #[test]
    fn a_garbled_rewrap_destroys_no_history() {
        let (mut rng, room, s, mut server) = three_epochs(8);
        let (alice, bob) = (UserId(0), UserId(1));
        let (mut a, mut b) = (Client::default(), Client::default());
        let ids = [MsgId(1), MsgId(2), MsgId(3)];
        for id in ids {
            let record = a
                .seal(key(room, 0, &s[0]), id, b"history", &mut rng)
                .unwrap();
            server.store(room, id, record).unwrap();
        }
        let before = server.stored_len();
        b.learn(key(room, 0, &s[0]));
        let garble = |upload: &Message| {
            let Message::Rewrapped(headers) = upload else {
                panic!("not a re-wrap: {upload:?}");
            };
            let mut headers = headers.clone();
            for (_, h) in &mut headers {
                h.wrapped[7] ^= 0x20;
            }
            Message::Rewrapped(headers)
        };
        let mut out = Outbox::new();

        // Epoch 1, by alice: the garbled upload arrives before her honest one.
        let honest = rotate(&mut server, (alice, &mut a), (room, 1), &s, &mut rng);
        server
            .handle(room, alice, garble(&honest), &mut rng, &mut out)
            .unwrap();
        assert!(out.is_empty());
        for id in ids {
            assert!(!reads(&mut b, &server, key(room, 1, &s[1]), id));
            let kept = server.records[&(room, id)].kept.clone().unwrap();
            assert_eq!(
                kept.epoch(),
                Epoch(0),
                "the previous epoch's header is kept"
            );
        }
        server
            .handle(room, alice, honest.clone(), &mut rng, &mut out)
            .unwrap();
        for id in ids {
            assert!(reads(&mut b, &server, key(room, 1, &s[1]), id), "{id}");
        }
        assert_eq!(
            server.stored_len(),
            before + LINK_LEN + ids.len() * HEADER_LEN
        );

        // Alice garbles her re-wrap again and sends nothing better: the next change, by bob,
        // finds headers it cannot open, and re-wraps the ones kept from epoch 0 instead.
        server
            .handle(room, alice, garble(&honest), &mut rng, &mut out)
            .unwrap();
        let answer = rotate(&mut server, (bob, &mut b), (room, 2), &s, &mut rng);
        assert_eq!(answer, Message::Rewrapped(Vec::new()), "nothing opened");
        server
            .handle(room, bob, answer, &mut rng, &mut out)
            .unwrap();
        let (to, restored) = only(&mut out);
        assert_eq!(to, Dest::User(bob));
        let Message::Headers { headers, .. } = &restored else {
            panic!("not headers: {restored:?}");
        };
        assert!(headers.iter().all(|(_, h)| h.epoch() == Epoch(0)));
        b.handle(key(room, 2, &s[2]), &restored, &mut rng, &mut out)
            .unwrap();
        let (_, upload) = only(&mut out);
        server
            .handle(room, bob, upload, &mut rng, &mut out)
            .unwrap();
        assert!(out.is_empty(), "everything re-wrapped");
        let mut carol = Client::default();
        for id in ids {
            assert_eq!(server.get(room, id).unwrap().header().epoch(), Epoch(2));
            assert!(reads(&mut carol, &server, key(room, 2, &s[2]), id), "{id}");
        }
    }

    /// Under `from_join` nothing is rotated: members keep reading with the KEKs they held.
    #[test]
    fn from_join_rotates_nothing() {
        let u = UserId;
        let (mut rng, mut h) = with_pair(6, 3, false);
        let id = h.send(u(0), b"before", &mut rng);
        h.join(&[u(2)], u(1), &mut rng);
        h.rekey(u(2), &mut rng);
        assert_eq!(h.control_messages, 0);
        assert_eq!(h.server.links.stored_len(), 0);
        assert_eq!(h.get(id).header().epoch(), Epoch(0));
        h.assert_reads(u(0), id, "from_join");
    }

    /// What a client holding only `key` reads of `record`.
    fn fresh_read(key: KeyView<'_>, msg: MsgId, record: &RewrapRecord) -> Option<Vec<u8>> {
        Client::default()
            .open(key, msg, record)
            .unwrap()
            .plaintext()
    }

    /// Seeded random cases: records open under their epoch's KEK only, bound to room and
    /// message; every authenticated field of header, body and links matters.
    #[test]
    fn records_open_only_with_their_binding() {
        let mut rng = rng(7);
        for case in 0..48 {
            let room = RoomId(rng.next_u32());
            let epoch = rng.next_u64() >> 2;
            let msg = MsgId(rng.next_u64());
            let secret = EpochSecret::random(&mut rng);
            let next = EpochSecret::random(&mut rng);
            let mut text = vec![0u8; (rng.next_u32() % 300) as usize];
            rng.fill_bytes(&mut text);
            let k = key(room, epoch, &secret);
            let k_next = key(room, epoch + 1, &next);
            let record = Client::default().seal(k, msg, &text, &mut rng).unwrap();
            assert_eq!(
                fresh_read(k, msg, &record),
                Some(text.clone()),
                "case {case}"
            );
            for (what, outcome) in [
                (
                    "other secret",
                    Client::default().open(key(room, epoch, &next), msg, &record),
                ),
                (
                    "other room",
                    Client::default().open(key(RoomId(room.0 ^ 1), epoch, &secret), msg, &record),
                ),
                (
                    "other message",
                    Client::default().open(k, MsgId(msg.0 ^ 1), &record),
                ),
            ] {
                assert_eq!(outcome, Err(SchemeError::Crypto), "case {case}: {what}");
            }
            // A later key without the link down to the record's epoch lacks that epoch's key.
            assert_eq!(
                Client::default().open(k_next, msg, &record),
                Ok(Opened::Pending {
                    waiting_for: Epoch(epoch)
                }),
                "case {case}: later key, no link"
            );
            // With the link of the next epoch attached, the next key reaches the record.
            let mut out = Outbox::new();
            Client::default()
                .epoch_changed(
                    EpochChange {
                        prev: Some(k),
                        next: k_next,
                        changer: true,
                        shares_history: true,
                    },
                    &mut rng,
                    &mut out,
                )
                .unwrap();
            let Some((_, Message::Rotate(link))) = out.drain().next() else {
                panic!("the changer sends its link");
            };
            let with_link = |link: Link| RewrapRecord {
                links: vec![link].into(),
                ..record.clone()
            };
            let linked = with_link(link.clone());
            assert_eq!(fresh_read(k_next, msg, &linked), Some(text.clone()));
            let mut bad_link = link.clone();
            assert!(bad_link.tamper());
            let shifted_link = link.relabelled(Epoch(epoch.wrapping_sub(1)), link.to());
            let mut bad_header = record.clone();
            assert!(bad_header.tamper());
            let mut bad_nonce = record.clone();
            bad_nonce.header.nonce[(case % NONCE as u64) as usize] ^= 2;
            let mut bad_epoch = record.clone();
            bad_epoch.header.epoch = Epoch(epoch + 1);
            let mut bad_body = record.clone();
            let mut body = bad_body.body.to_vec();
            let at = (case as usize) % body.len();
            body[at] ^= 1;
            bad_body.body = body.into();
            for (what, reader, bad) in [
                ("header", k, bad_header),
                ("nonce", k, bad_nonce),
                ("epoch", k_next, bad_epoch),
                ("body", k, bad_body),
                ("link", k_next, with_link(bad_link)),
                ("link epochs", k_next, with_link(shifted_link)),
            ] {
                let outcome = Client::default().open(reader, msg, &bad);
                // A tampered header may name an epoch the reader does not hold: it cannot
                // tell that from a key still on its way, and it does not open.
                if what == "header" && matches!(outcome, Ok(Opened::Pending { .. })) {
                    continue;
                }
                assert_eq!(
                    outcome,
                    Err(SchemeError::Crypto),
                    "case {case}: tampered {what}"
                );
            }
        }
    }
}
