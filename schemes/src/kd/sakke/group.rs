//! `sakke`: MIKEY-SAKKE group keys. The member making a change draws a fresh group master key,
//! SAKKE-encapsulates it to each other member's identity and signs one I_MESSAGE per recipient
//! with its ECCSI key; the key server relays them.
//!
//! This step models one organisation whose Key Management Server (KMS) lives inside the
//! scheme's key server value, and one key period for the whole run. A separate KMS server
//! role, key-period roll-over at login and several organisations (cross-KMS trust) are not yet
//! modelled: they are a later step.
//!
//! # Source
//!
//! * RFC 6509 (MIKEY-SAKKE): identifiers (§3.2), the I_MESSAGE of data type 26 with a SAKKE
//!   payload and an ECCSI SIGN payload (§4).
//! * 3GPP TS 33.180 §5.7 and TS 33.179 Annex E: a Group Management Server distributes a
//!   16-octet Group Master Key (GMK) to each member in its own I_MESSAGE, SAKKE-encapsulated
//!   to the member and ECCSI-signed by the distributor (research/groupkeys.md §2.4). Here the
//!   distributor is the member making the change.
//! * The primitives are this directory's: ECCSI (RFC 6507) and SAKKE (RFC 6508, parameter set 1
//!   of RFC 6509), with their RFC known answers ([`super`]).
//!
//! # Construction
//!
//! **Identifiers.** A user's identifier for key period T is the RFC 6509 §3.2 form
//! `T ‖ 0x00 ‖ URI ‖ 0x00`, T the period as `YYYY-MM` ([`KeyPeriod`]) and URI the user's URI from
//! the directory, `conclave:user/<id>` for user `<id>` ([`user_uri`]): for example
//! `"2027-01\0conclave:user/12\0"` (25 octets). The same identifier names the user's SAKKE
//! receiver key and its ECCSI signing key ([`identifier`]).
//!
//! **KMS and enrolment.** [`KeyDistribution::new_server`] draws the KMS's SAKKE master secret z
//! (public Z) and ECCSI KSAK (public KPAK) and starts at [`KeyPeriod::MODEL_START`] (the model
//! has no calendar). [`KeyDistribution::enroll`] issues the user's RSK and (SSK, PVT) for the
//! current period's identifier; the client validates both (RSK: one pairing, RFC 6508 §6.1.2;
//! SSK: RFC 6507 §5.1.2) before keeping them, with Z, KPAK and the period (provisioning, as a
//! 3GPP KMS does). The directory [`Credential`] is the user's URI: with the period and the
//! organisation's Z and KPAK it is all a peer needs.
//!
//! **A change** (creation, add, remove). The changer draws a fresh 16-octet GMK from the `rng`
//! argument, encapsulates it as the SSV to each member of the new roster other than itself
//! (joiners included, removed members excluded), and sends each one an I_MESSAGE signed with its
//! SSK (one I_MESSAGE per recipient, as the 3GPP GMS does). The epoch secret is
//! HKDF-SHA-256(GMK, info = `"conclave sakke epoch secret" ‖ room ‖ epoch`), 32 bytes carrying the
//! GMK's 128 bits (parameter set 1 carries a 128-bit SSV; it offers about 112 bits anyway).
//! The changer holds the new epoch as soon as [`KdClient::change`] returns; a recipient:
//!
//! 1. takes it only from a member of the room (through the relay), not from itself;
//! 2. parses it strictly ([`Message`] holds the encoding; anything else is `Malformed`);
//! 3. checks the room and the epoch (the next one; a joiner any epoch after what it holds;
//!    an epoch it holds or passed is [`Handled::Stale`]);
//! 4. checks that the responder identity is its own and the initiator identity is the
//!    relaying member's identifier for the period;
//! 5. verifies the ECCSI signature over everything before the signature, under KPAK and the
//!    sender's identifier, so room, epoch, joining flag, both identities and the SED are bound;
//! 6. decapsulates with its RSK (SAKKE's re-encryption test rejects every SED not made for
//!    its identifier) and derives the epoch secret.
//!
//! The key server only relays: its [`KdServer::handle`] rejects anything addressed to it.
//!
//! **I_MESSAGE encoding** (all integers big-endian):
//!
//! | field | octets |
//! |---|---|
//! | HDR: version 1, data type 26 ("SAKKE msg"), flags (bit 0: the recipient is joining) | 3 |
//! | room id, epoch (in place of MIKEY's CSB ID and GMK-ID) | 4 + 8 |
//! | IDRi: length, sender identifier | 2 + \|IDi\| |
//! | IDRr: length, recipient identifier | 2 + \|IDr\| |
//! | SAKKE: params 1, ID scheme 1 (RFC 6509 identifiers, monthly periods), SED length 273, SED | 4 + 273 |
//! | SIGN: type 2 (ECCSI) in the top 4 bits and length 129 in the low 12, signature | 2 + 129 |
//!
//! [`FIXED_OCTETS`] = 427 plus the two identifiers: 475 octets per recipient for users 0–9,
//! 477 for users 10–99 ([`message_len`]). The 561-octet 3GPP GMK I_MESSAGE of
//! research/groupkeys.md §2.4 also carries a MIKEY timestamp and RAND (the epoch counter binds
//! freshness here), the CS ID map of GMK-ID and GUK-ID, and the KMS identity payloads IDRkmsi and
//! IDRkmsr (one KMS here).
//!
//! # Costs
//!
//! n = members after the change; one I_MESSAGE per recipient:
//!
//! | role | work per change |
//! |---|---|
//! | changer | n − 1 SAKKE encapsulations and n − 1 ECCSI signatures; n − 1 uploads of [`message_len`] octets (≈ 476 each, ≈ 476·(n − 1) per change) |
//! | each other member | one ECCSI verification and one SAKKE decapsulation with the precomputed receiver (Miller loop from stored lines and a table-driven re-encryption test) |
//! | key server | relays n − 1 I_MESSAGEs |
//! | enrolment (provisioning, not a measured operation) | KMS: one RSK (an inversion mod q, one multiplication) and one (SSK, PVT); client: one pairing (RSK validation), one ECCSI validation and the receiver's precomputation |
//!
//! Memory: each client keeps its precomputed SAKKE receiver, ≈ 1.4 MiB (390 KiB of Miller-loop
//! lines, as secret as the RSK, and a 1 MiB public table of multiples of \[b\]P + Z), plus its
//! SSK, PVT, Z and KPAK.
//!
//! ## State of a stateless terminal
//!
//! Per room: the epoch and its secret (8 + 32 bytes, [`KdClient::state_len`]). The RSK and
//! (SSK, PVT) are the user's long-term credential for the period, held at login (DESIGN.md §2);
//! the receiver's precomputation is rebuilt from the RSK.
//!
//! # Security
//!
//! * **Escrow by design.** The KMS holds z and KSAK: it can compute every member's RSK and so
//!   open every SED, and it can issue a signing key for any identity and so forge any member's
//!   I_MESSAGE. In this model the KMS sits with the key server that relays the I_MESSAGEs, so
//!   [`KdProperties::server_knows_epoch_secret`] is true (an escrowing KMS, as that flag says):
//!   the server keeps no epoch secret ([`KdServer::known_epoch_secret`] is `None`), but from
//!   any I_MESSAGE it relayed it recomputes the recipient's RSK and opens the SED
//!   ([`KdServer::escrow`]), and the simulator's oracle runs exactly that on the traffic and
//!   checks the result against the members' secret. Anyone who operates or breaches the KMS
//!   reads and forges every room's keys.
//! * `removal_excludes`: a later GMK is encapsulated only to the identifiers of the new roster;
//!   a removed member's RSK opens only SEDs made for its own identifier, and its kept epoch
//!   secrets are independent of the fresh GMK.
//! * `join_excludes_past`: a joiner receives only the new, fresh GMK, never an earlier one.
//! * `layer_hides_history_from_joiners`: false; the scheme only distributes epoch secrets.
//! * Against an active relay (not the KMS): an I_MESSAGE is bound by ECCSI to its sender's
//!   identifier and to room, epoch, joining flag and recipient, so the relay can neither forge,
//!   alter, redirect to another member or room, nor replay one into a later epoch (a replay of
//!   an epoch the member holds or passed is dropped as stale). Nothing about the sender is
//!   confidential.
//!
//! # Weaknesses
//!
//! * No forward secrecy within a key period: whoever obtains a member's RSK (or the KMS's z)
//!   opens every SED sent to that member's identifier in the period, past and future, hence every
//!   epoch secret the member received in it.
//! * Revocation is only by key period: a leaked RSK or SSK stays usable until the period ends
//!   (roll-over is not modelled yet, so here it never ends).
//! * O(n) pairing-group work at the changer per change: each encapsulation costs milliseconds.
//! * Membership is the chat server's roster, not authenticated end to end: a malicious server
//!   can add a member and the changer will encapsulate the next GMK to it.
//! * One I_MESSAGE per member repeats the sender's identifier and a signature n − 1 times
//!   (≈ 150 octets each); one message carrying every SED would save them but is not what
//!   TS 33.180 sends.
//! * No active attack by the key server is implemented ([`KeyDistribution::new_interposing_server`]
//!   is `None`), so the simulator's key-distribution-substitution experiment tries replays only.
//!   A key server that is the KMS needs no cleverness: it issues an SSK for the changer's
//!   identity, signs I_MESSAGEs of its own and members accept them.
//!
//! # Side channels
//!
//! As the primitives ([`super`]): SAKKE's encapsulation (scalar multiplication by r, g^r) and
//! decapsulation (pairing on the RSK's stored lines, re-encryption test) use ark-ff and ark-ec
//! arithmetic that is variable time, on secret values; ECCSI uses `p256`, which is constant
//! time. HKDF-SHA-256 is constant time. Which members receive an I_MESSAGE, and the identifiers
//! in it, are visible to the relay, not secret.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroize;

use super::eccsi::{self, Kpak, Ksak, Signature, SigningKey, SIGNATURE_OCTETS};
use super::kem::{self, KmsMasterKey, KmsPublicKey, Receiver, Sed, Ssv, SED_OCTETS, SSV_OCTETS};
use crate::kd::held::{member_sender, planned_change, HeldSecrets};
use crate::kd::{
    Change, Directory, Handled, KdClient, KdProperties, KdServer, KeyDistribution, Origin, Roster,
    ServerHandled,
};
use crate::{
    CryptoRngCore, Dest, Epoch, EpochSecret, Misuse, Outbox, RoomId, SchemeError, UserId, Wire,
};

/// The sakke scheme (MIKEY-SAKKE group keys: the changer encapsulates a fresh GMK to each
/// member and signs each I_MESSAGE with ECCSI).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sakke;

/// A KMS key period: a calendar month, written `YYYY-MM` in identifiers (RFC 6509 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyPeriod {
    year: u16,
    month: u8,
}

impl KeyPeriod {
    /// The period every KMS of the model starts in and stays in (the model has no calendar and
    /// does not roll periods over yet).
    pub const MODEL_START: Self = Self {
        year: 2027,
        month: 1,
    };

    /// The period of `month` (1 to 12) of `year` (0 to 9999).
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] outside those ranges.
    pub fn new(year: u16, month: u8) -> Result<Self, SchemeError> {
        if year > 9999 || !(1..=12).contains(&month) {
            return Err(SchemeError::Malformed("key period out of range"));
        }
        Ok(Self { year, month })
    }
}

impl fmt::Display for KeyPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The URI the directory publishes for `user`: `conclave:user/<id>`.
#[must_use]
pub fn user_uri(user: UserId) -> String {
    format!("conclave:user/{}", user.0)
}

/// The RFC 6509 §3.2 identifier of `uri` in `period`: `YYYY-MM ‖ 0x00 ‖ URI ‖ 0x00`.
///
/// # Errors
/// [`SchemeError::Malformed`] if the URI is empty or holds a NUL (it would make two
/// identifiers ambiguous).
pub fn identifier(period: KeyPeriod, uri: &str) -> Result<Vec<u8>, SchemeError> {
    if uri.is_empty() || uri.bytes().any(|b| b == 0) {
        return Err(SchemeError::Malformed("URI empty or holding a NUL"));
    }
    let mut id = period.to_string().into_bytes();
    id.push(0);
    id.extend_from_slice(uri.as_bytes());
    id.push(0);
    Ok(id)
}

/// A user's public credential: its URI. With the key period and the organisation's KMS public
/// keys (Z, KPAK) it gives the user's identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    uri: String,
}

impl Credential {
    /// A credential for `uri`.
    ///
    /// # Errors
    /// As [`identifier`], for a URI that cannot name anyone.
    pub fn new(uri: String) -> Result<Self, SchemeError> {
        identifier(KeyPeriod::MODEL_START, &uri)?;
        Ok(Self { uri })
    }

    /// The URI.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }
}

impl Wire for Credential {
    /// A 2-octet length and the URI.
    fn wire_len(&self) -> usize {
        2 + self.uri.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(self.uri.as_bytes());
    }
}

/// MIKEY version.
const VERSION: u8 = 1;
/// MIKEY data type of an I_MESSAGE carrying SAKKE (RFC 6509 §4).
const DATA_TYPE_SAKKE: u8 = 26;
/// Flag bit: the recipient is joining (or the room is being created).
const FLAG_JOINING: u8 = 1;
/// "SAKKE Params" 1: parameter set 1 of RFC 6509.
const SAKKE_PARAMS: u8 = 1;
/// ID scheme 1: RFC 6509 identifiers with monthly key periods.
const ID_SCHEME: u8 = 1;
/// The SIGN payload's first two octets: type 2 (ECCSI) and the signature's length.
const SIGN_HEADER: u16 = (2 << 12) | SIGNATURE_OCTETS as u16;
/// Octets of the header: version, data type, flags, room, epoch.
const HEADER_OCTETS: usize = 3 + 4 + 8;

/// Octets of an I_MESSAGE besides its two identifiers: header, two identifier lengths, SAKKE
/// payload and SIGN payload.
pub const FIXED_OCTETS: usize = HEADER_OCTETS + 2 + 2 + 4 + SED_OCTETS + 2 + SIGNATURE_OCTETS;

/// Octets of an I_MESSAGE between identifiers of these lengths.
#[must_use]
pub const fn message_len(sender_id: usize, recipient_id: usize) -> usize {
    FIXED_OCTETS + sender_id + recipient_id
}

/// HKDF `info` prefix of the epoch secret.
const EPOCH_SECRET_INFO: &[u8] = b"conclave sakke epoch secret";

/// The message of sakke: one encoded I_MESSAGE, from the changer to one member. It is kept
/// encoded: a recipient parses it as the hostile input it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    bytes: Vec<u8>,
}

impl Message {
    /// An I_MESSAGE as received (parsed and checked only when handled).
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// The encoding.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Wire for Message {
    fn wire_len(&self) -> usize {
        self.bytes.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.bytes);
    }
}

#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for Message {
    /// Flips a bit of the SED's masked SSV (covered by the signature).
    fn tamper(&mut self) -> bool {
        let at = self.bytes.len().checked_sub(2 + SIGNATURE_OCTETS + 1);
        match at.and_then(|i| self.bytes.get_mut(i)) {
            Some(b) => {
                *b ^= 1;
                true
            }
            None => false,
        }
    }
}

/// The fields of an I_MESSAGE, as the sender sets them.
struct Fields<'a> {
    joining: bool,
    room: RoomId,
    epoch: Epoch,
    sender_id: &'a [u8],
    recipient_id: &'a [u8],
}

/// Everything an I_MESSAGE signs: all of it but the signature itself.
fn signed_part(fields: &Fields<'_>, sed: &Sed) -> Result<Vec<u8>, SchemeError> {
    let id_len = |id: &[u8]| {
        u16::try_from(id.len()).map_err(|_| SchemeError::Malformed("identifier too long"))
    };
    let sender_len = id_len(fields.sender_id)?;
    let recipient_len = id_len(fields.recipient_id)?;
    let mut out = Vec::with_capacity(message_len(
        fields.sender_id.len(),
        fields.recipient_id.len(),
    ));
    out.extend_from_slice(&[
        VERSION,
        DATA_TYPE_SAKKE,
        if fields.joining { FLAG_JOINING } else { 0 },
    ]);
    out.extend_from_slice(&fields.room.0.to_be_bytes());
    out.extend_from_slice(&fields.epoch.0.to_be_bytes());
    out.extend_from_slice(&sender_len.to_be_bytes());
    out.extend_from_slice(fields.sender_id);
    out.extend_from_slice(&recipient_len.to_be_bytes());
    out.extend_from_slice(fields.recipient_id);
    out.extend_from_slice(&[SAKKE_PARAMS, ID_SCHEME]);
    // SED_OCTETS = 273 fits two octets.
    out.extend_from_slice(&(SED_OCTETS as u16).to_be_bytes());
    out.extend_from_slice(&sed.to_bytes());
    out.extend_from_slice(&SIGN_HEADER.to_be_bytes());
    Ok(out)
}

/// A parsed I_MESSAGE.
struct Parsed<'a> {
    fields: Fields<'a>,
    sed: Sed,
    signature: Signature,
    /// The octets the signature covers.
    signed: &'a [u8],
}

/// A cursor over an encoding; every read fails with `Malformed` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SchemeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(SchemeError::Malformed("I_MESSAGE truncated"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SchemeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16, SchemeError> {
        self.array().map(u16::from_be_bytes)
    }

    /// A 2-octet length and that many octets.
    fn prefixed(&mut self) -> Result<&'a [u8], SchemeError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// Parses an I_MESSAGE strictly: known constants, exact lengths, nothing after the signature.
fn parse(bytes: &[u8]) -> Result<Parsed<'_>, SchemeError> {
    let mut r = Reader { bytes, at: 0 };
    let [version, data_type, flags] = r.array()?;
    if version != VERSION || data_type != DATA_TYPE_SAKKE {
        return Err(SchemeError::Malformed("not a MIKEY-SAKKE I_MESSAGE"));
    }
    if flags & !FLAG_JOINING != 0 {
        return Err(SchemeError::Malformed("unknown I_MESSAGE flags"));
    }
    let room = RoomId(u32::from_be_bytes(r.array()?));
    let epoch = Epoch(u64::from_be_bytes(r.array()?));
    let sender_id = r.prefixed()?;
    let recipient_id = r.prefixed()?;
    let [params, id_scheme] = r.array()?;
    if params != SAKKE_PARAMS || id_scheme != ID_SCHEME {
        return Err(SchemeError::Malformed(
            "unsupported SAKKE parameters or ID scheme",
        ));
    }
    let sed = Sed::from_bytes(r.prefixed()?)?;
    if r.u16()? != SIGN_HEADER {
        return Err(SchemeError::Malformed(
            "SIGN payload not ECCSI of 129 octets",
        ));
    }
    let signed = &bytes[..r.at];
    let signature = Signature::from_bytes(r.take(SIGNATURE_OCTETS)?)?;
    if r.at != bytes.len() {
        return Err(SchemeError::Malformed("octets after the I_MESSAGE"));
    }
    Ok(Parsed {
        fields: Fields {
            joining: flags & FLAG_JOINING != 0,
            room,
            epoch,
            sender_id,
            recipient_id,
        },
        sed,
        signature,
        signed,
    })
}

/// The epoch secret a GMK gives for `room` at `epoch`.
fn epoch_secret(gmk: &Ssv, room: RoomId, epoch: Epoch) -> EpochSecret {
    let hk = Hkdf::<Sha256>::new(None, gmk.as_bytes());
    let mut out = [0u8; 32];
    let info: [&[u8]; 3] = [
        EPOCH_SECRET_INFO,
        &room.0.to_be_bytes(),
        &epoch.0.to_be_bytes(),
    ];
    // 32 octets is far below HKDF-SHA-256's limit of 8160, so expand cannot fail.
    if hk.expand_multi_info(&info, &mut out).is_err() {
        unreachable!("HKDF output length 32 is always valid");
    }
    EpochSecret::from_bytes(out)
}

/// A user's sakke state: its validated keys for the period, the KMS's public keys, and the
/// current epoch of each of its rooms.
#[derive(Debug)]
pub struct Client {
    me: UserId,
    period: KeyPeriod,
    kpak: Kpak,
    kms: KmsPublicKey,
    signer: SigningKey,
    receiver: Receiver,
    rooms: HeldSecrets,
}

/// The sakke key server: a relay that computes nothing, with (in this step) the organisation's
/// KMS beside it, used only at enrolment.
pub struct Server {
    period: KeyPeriod,
    master: KmsMasterKey,
    ksak: Ksak,
    kms: KmsPublicKey,
    kpak: Kpak,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The current key period.
    #[must_use]
    pub fn period(&self) -> KeyPeriod {
        self.period
    }

    /// The KMS's SAKKE public key Z.
    #[must_use]
    pub fn kms_public_key(&self) -> &KmsPublicKey {
        &self.kms
    }

    /// The KMS's ECCSI public authentication key KPAK.
    #[must_use]
    pub fn kpak(&self) -> &Kpak {
        &self.kpak
    }
}

impl KeyDistribution for Sakke {
    const NAME: &'static str = "sakke";
    const SUMMARY: &'static str =
        "MIKEY-SAKKE: a fresh group key SAKKE-encapsulated to each member, ECCSI-signed; the KMS can derive every key";
    const PROPERTIES: KdProperties = KdProperties {
        // The KMS, with the key server in this model, derives every epoch secret (escrow).
        server_knows_epoch_secret: true,
        removal_excludes: true,
        join_excludes_past: true,
        layer_hides_history_from_joiners: false,
    };
    type Credential = Credential;
    type Message = Message;
    type Client = Client;
    type Server = Server;

    fn new_server(rng: &mut dyn CryptoRngCore) -> Result<Server, SchemeError> {
        let master = KmsMasterKey::generate(rng);
        let ksak = Ksak::generate(rng);
        Ok(Server {
            period: KeyPeriod::MODEL_START,
            kms: master.public_key(),
            kpak: ksak.kpak(),
            master,
            ksak,
        })
    }

    fn enroll(
        server: &mut Server,
        user: UserId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(Client, Credential), SchemeError> {
        let cred = Credential::new(user_uri(user))?;
        let id = identifier(server.period, cred.uri())?;
        // The KMS issues; the user validates both keys before keeping them.
        let rsk = server.master.issue_rsk(&id)?;
        let (ssk, pvt) = server.ksak.issue(rng, &id);
        let signer = SigningKey::new(&server.kpak, &id, ssk, pvt)?;
        let receiver = Receiver::with_precomputation(&server.kms, &id, rsk)?;
        Ok((
            Client {
                me: user,
                period: server.period,
                kpak: server.kpak,
                kms: server.kms,
                signer,
                receiver,
                rooms: HeldSecrets::default(),
            },
            cred,
        ))
    }
}

/// The credential of `user` in the directory.
fn lookup(directory: &[Credential], user: UserId) -> Result<&Credential, SchemeError> {
    usize::try_from(user.0)
        .ok()
        .and_then(|i| directory.get(i))
        .ok_or(SchemeError::Malformed("user missing from the directory"))
}

impl Client {
    /// This client's user.
    #[must_use]
    pub fn user(&self) -> UserId {
        self.me
    }

    /// This client's identifier for the current key period.
    #[must_use]
    pub fn identifier(&self) -> &[u8] {
        self.receiver.id()
    }

    /// The identifier of `user` in this client's key period.
    fn identifier_of(
        &self,
        directory: &[Credential],
        user: UserId,
    ) -> Result<Vec<u8>, SchemeError> {
        identifier(self.period, lookup(directory, user)?.uri())
    }

    /// The I_MESSAGE carrying `gmk` to `recipient`, signed by this client.
    fn i_message(
        &self,
        fields: &Fields<'_>,
        gmk: &Ssv,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Message, SchemeError> {
        let sed = kem::encapsulate_ssv(&self.kms, fields.recipient_id, gmk)?;
        let mut bytes = signed_part(fields, &sed)?;
        let signature = self.signer.sign(rng, &bytes);
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(Message { bytes })
    }
}

impl KdClient for Client {
    type Kd = Sakke;

    fn change(
        &mut self,
        roster: &Roster<'_>,
        change: &Change<'_>,
        directory: Directory<'_, Sakke>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        let planned = planned_change(roster, self.me, change, self.rooms.epoch(room))?;
        let epoch = planned.epoch;
        let mut drawn = [0u8; SSV_OCTETS];
        rng.fill_bytes(&mut drawn);
        let gmk = Ssv::new(drawn);
        drawn.zeroize();
        // Build every I_MESSAGE before touching state or the outbox, so a failure leaves
        // neither changed.
        let mut messages = Vec::with_capacity(roster.members.len().saturating_sub(1));
        for &member in roster.members.iter().filter(|m| **m != self.me) {
            let recipient_id = self.identifier_of(directory, member)?;
            let fields = Fields {
                joining: planned.joins(member),
                room,
                epoch,
                sender_id: self.receiver.id(),
                recipient_id: &recipient_id,
            };
            messages.push((member, self.i_message(&fields, &gmk, rng)?));
        }
        for (member, msg) in messages {
            out.send(Dest::User(member), msg);
        }
        self.rooms
            .hold(room, epoch, epoch_secret(&gmk, room, epoch));
        Ok(Handled::NewEpoch(epoch))
    }

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: Origin,
        msg: &Message,
        directory: Directory<'_, Sakke>,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        let Some(sender) = member_sender(roster, from, self.me)? else {
            // Removed before this change reached it.
            return Ok(Handled::Stale);
        };
        let parsed = parse(&msg.bytes)?;
        let fields = &parsed.fields;
        if fields.room != room {
            return Err(Misuse::UnexpectedMessage("an I_MESSAGE for another room").into());
        }
        let epoch = fields.epoch;
        if !self.rooms.takes(room, epoch, fields.joining)? {
            return Ok(Handled::Stale);
        }
        if fields.recipient_id != self.receiver.id() {
            return Err(Misuse::UnexpectedMessage("an I_MESSAGE for another identity").into());
        }
        let sender_id = self.identifier_of(directory, sender)?;
        if fields.sender_id != sender_id.as_slice() {
            return Err(
                Misuse::UnexpectedMessage("an I_MESSAGE signed as another identity").into(),
            );
        }
        eccsi::verify(&self.kpak, &sender_id, parsed.signed, &parsed.signature)?;
        let gmk = self.receiver.decapsulate(&parsed.sed)?;
        self.rooms
            .hold(room, epoch, epoch_secret(&gmk, room, epoch));
        Ok(Handled::NewEpoch(epoch))
    }

    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.rooms.current(room)
    }

    /// Epoch and secret, if the client holds the room (the RSK and signing key are the user's
    /// long-term credential for the period and not counted per room).
    fn state_len(&self, room: RoomId) -> usize {
        self.rooms.state_len(room)
    }
}

impl KdServer for Server {
    type Kd = Sakke;

    fn handle(
        &mut self,
        _roster: &Roster<'_>,
        _from: UserId,
        _msg: Message,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<Message>,
    ) -> Result<ServerHandled, SchemeError> {
        Err(Misuse::UnexpectedMessage("the sakke key server only relays").into())
    }

    fn known_epoch_secret(&self, _room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        None
    }

    /// The KMS's escrow: it issues the recipient's RSK again from its master secret and opens
    /// the I_MESSAGE's SED, as the members do (the signature is not needed to read it).
    fn escrow(
        &self,
        room: RoomId,
        relayed: &Message,
    ) -> Option<Result<(Epoch, EpochSecret), SchemeError>> {
        Some((|| {
            let parsed = parse(&relayed.bytes)?;
            let fields = &parsed.fields;
            if fields.room != room {
                return Err(Misuse::UnexpectedMessage("an I_MESSAGE for another room").into());
            }
            let epoch = fields.epoch.bounded()?;
            let rsk = self.master.issue_rsk(fields.recipient_id)?;
            let receiver = Receiver::new(&self.kms, fields.recipient_id, rsk)?;
            let gmk = receiver.decapsulate(&parsed.sed)?;
            Ok((epoch, epoch_secret(&gmk, room, epoch)))
        })())
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    const ROOM: RoomId = RoomId(1);
    const MEMBERS: [UserId; 3] = [UserId(0), UserId(1), UserId(2)];

    struct Org {
        clients: Vec<Client>,
        dir: Vec<Credential>,
        rng: ChaCha20Rng,
    }

    /// Users 0 to 3 enrolled; users 0, 1 and 2 in `ROOM` at epoch 0 (user 3 is not a member).
    /// Also returns the creation's I_MESSAGE to user 1.
    fn org(seed: u64) -> (Org, Message) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut server = Sakke::new_server(&mut rng).unwrap();
        let (clients, dir) = (0..4)
            .map(|u| Sakke::enroll(&mut server, UserId(u), &mut rng).unwrap())
            .unzip();
        let mut org = Org { clients, dir, rng };
        let sent = org.change(Change::Create);
        for (to, m) in &sent {
            let got = org.handle(*to, UserId(0), m);
            assert_eq!(got, Ok(Handled::NewEpoch(Epoch(0))));
        }
        (org, sent[0].1.clone())
    }

    impl Org {
        fn roster(&self) -> Roster<'static> {
            Roster {
                room: ROOM,
                members: &MEMBERS,
            }
        }

        /// User 0 changes `ROOM`; what it sends, by recipient.
        fn change(&mut self, change: Change<'_>) -> Vec<(UserId, Message)> {
            let mut out = Outbox::new();
            let roster = self.roster();
            let got = self.clients[0].change(&roster, &change, &self.dir, &mut self.rng, &mut out);
            assert!(matches!(got, Ok(Handled::NewEpoch(_))));
            out.drain()
                .map(|(d, m)| match d {
                    Dest::User(u) => (u, m),
                    other => panic!("sent to {other:?}"),
                })
                .collect()
        }

        fn handle_from(
            &mut self,
            to: UserId,
            from: Origin,
            msg: &Message,
        ) -> Result<Handled, SchemeError> {
            let roster = self.roster();
            self.clients[to.0 as usize].handle(
                &roster,
                from,
                msg,
                &self.dir,
                &mut self.rng,
                &mut Outbox::new(),
            )
        }

        fn handle(
            &mut self,
            to: UserId,
            from: UserId,
            msg: &Message,
        ) -> Result<Handled, SchemeError> {
            self.handle_from(to, Origin::User(from), msg)
        }

        fn id(&self, user: UserId) -> Vec<u8> {
            self.clients[user.0 as usize].identifier().to_vec()
        }

        /// An I_MESSAGE with the given fields, its SED made for `sed_to`, signed by `signer`'s
        /// key (whatever sender identifier the fields claim).
        fn forge(&mut self, signer: UserId, fields: &Fields<'_>, sed_to: &[u8]) -> Message {
            let client = &self.clients[signer.0 as usize];
            let gmk = Ssv::new([9; SSV_OCTETS]);
            let sed = kem::encapsulate_ssv(&client.kms, sed_to, &gmk).unwrap();
            let mut bytes = signed_part(fields, &sed).unwrap();
            bytes.extend_from_slice(&client.signer.sign(&mut self.rng, &bytes).to_bytes());
            Message { bytes }
        }

        /// A well-formed I_MESSAGE from user 0 to user 1 for `room` at `epoch`.
        fn honest(&mut self, room: RoomId, epoch: Epoch, joining: bool) -> Message {
            let (sender_id, recipient_id) = (self.id(UserId(0)), self.id(UserId(1)));
            let fields = Fields {
                joining,
                room,
                epoch,
                sender_id: &sender_id,
                recipient_id: &recipient_id,
            };
            self.forge(UserId(0), &fields, &recipient_id)
        }

        fn held(&self, user: UserId) -> Option<(Epoch, EpochSecret)> {
            self.clients[user.0 as usize]
                .current(ROOM)
                .map(|(e, s)| (e, s.clone()))
        }
    }

    fn misuse(got: &Result<Handled, SchemeError>) -> bool {
        matches!(got, Err(SchemeError::Misuse(_)))
    }

    /// The forging helper makes messages a member accepts, so the refusals below are due to
    /// the one field each test changes.
    #[test]
    fn a_forged_but_honest_message_is_accepted() {
        let (mut org, _) = org(1);
        let msg = org.honest(ROOM, Epoch(1), false);
        assert_eq!(
            org.handle(UserId(1), UserId(0), &msg),
            Ok(Handled::NewEpoch(Epoch(1)))
        );
        assert!(format!("{:?}", org.clients[1].receiver).contains("precomputed: true"));
    }

    #[test]
    fn an_i_message_for_another_room_is_refused() {
        let (mut org, _) = org(2);
        let before = org.held(UserId(1));
        let msg = org.honest(RoomId(2), Epoch(1), false);
        let got = org.handle(UserId(1), UserId(0), &msg);
        assert!(misuse(&got), "{got:?}");
        assert!(org.held(UserId(1)) == before);
    }

    /// A replay of an earlier epoch's I_MESSAGE (the creation's, which a joiner would take at
    /// any later epoch) is dropped as stale and changes nothing.
    #[test]
    fn a_replayed_earlier_epoch_is_stale() {
        let (mut org, creation) = org(3);
        let sent = org.change(Change::Remove(&[]));
        let to_1 = &sent.iter().find(|(u, _)| *u == UserId(1)).unwrap().1;
        assert_eq!(
            org.handle(UserId(1), UserId(0), to_1),
            Ok(Handled::NewEpoch(Epoch(1)))
        );
        let before = org.held(UserId(1));
        assert_eq!(
            org.handle(UserId(1), UserId(0), &creation),
            Ok(Handled::Stale)
        );
        assert_eq!(org.handle(UserId(1), UserId(0), to_1), Ok(Handled::Stale));
        assert!(org.held(UserId(1)) == before);
    }

    /// An epoch beyond the next one, for a member (not joining), is a gap: refused.
    #[test]
    fn an_epoch_other_than_the_next_is_refused() {
        let (mut org, _) = org(4);
        let msg = org.honest(ROOM, Epoch(2), false);
        let got = org.handle(UserId(1), UserId(0), &msg);
        assert!(
            matches!(got, Err(SchemeError::Misuse(Misuse::StaleEpoch { .. }))),
            "{got:?}"
        );
        let far = org.honest(ROOM, Epoch::LIMIT, true);
        let got = org.handle(UserId(1), UserId(0), &far);
        assert!(matches!(got, Err(SchemeError::Malformed(_))), "{got:?}");
        assert_eq!(org.held(UserId(1)).map(|(e, _)| e), Some(Epoch(0)));
    }

    /// User 2's I_MESSAGE handed to user 1: refused by identity, before any pairing.
    #[test]
    fn an_i_message_for_another_identity_is_refused() {
        let (mut org, _) = org(5);
        let sent = org.change(Change::Remove(&[]));
        let to_2 = sent
            .iter()
            .find(|(u, _)| *u == UserId(2))
            .unwrap()
            .1
            .clone();
        let got = org.handle(UserId(1), UserId(0), &to_2);
        assert!(
            matches!(got, Err(SchemeError::Misuse(Misuse::UnexpectedMessage(_)))),
            "{got:?}"
        );
    }

    /// A signed I_MESSAGE addressed to user 1 whose SED was made for user 2: decapsulation's
    /// re-encryption test refuses it.
    #[test]
    fn a_sed_for_another_identity_is_refused() {
        let (mut org, _) = org(6);
        let (sender_id, recipient_id, other) =
            (org.id(UserId(0)), org.id(UserId(1)), org.id(UserId(2)));
        let fields = Fields {
            joining: false,
            room: ROOM,
            epoch: Epoch(1),
            sender_id: &sender_id,
            recipient_id: &recipient_id,
        };
        let msg = org.forge(UserId(0), &fields, &other);
        assert_eq!(
            org.handle(UserId(1), UserId(0), &msg),
            Err(SchemeError::Crypto)
        );
        assert_eq!(org.held(UserId(1)).map(|(e, _)| e), Some(Epoch(0)));
    }

    /// User 3 is enrolled with the same KMS but not a member of the room.
    #[test]
    fn a_non_member_signer_is_refused() {
        let (mut org, _) = org(7);
        let (member_id, recipient_id, outsider_id) =
            (org.id(UserId(0)), org.id(UserId(1)), org.id(UserId(3)));
        let as_itself = Fields {
            joining: false,
            room: ROOM,
            epoch: Epoch(1),
            sender_id: &outsider_id,
            recipient_id: &recipient_id,
        };
        let own = org.forge(UserId(3), &as_itself, &recipient_id);
        // Relayed as from the outsider: not a member.
        let got = org.handle(UserId(1), UserId(3), &own);
        assert!(
            matches!(got, Err(SchemeError::Misuse(Misuse::NotAMember { .. }))),
            "{got:?}"
        );
        // Relayed as from member 0, still naming the outsider as its initiator.
        let got = org.handle(UserId(1), UserId(0), &own);
        assert!(
            matches!(got, Err(SchemeError::Misuse(Misuse::UnexpectedMessage(_)))),
            "{got:?}"
        );
        // Naming member 0 as its initiator, signed with the outsider's key.
        let as_member = Fields {
            sender_id: &member_id,
            ..as_itself
        };
        let impostor = org.forge(UserId(3), &as_member, &recipient_id);
        assert_eq!(
            org.handle(UserId(1), UserId(0), &impostor),
            Err(SchemeError::Crypto)
        );
        // From the server itself.
        let got = org.handle_from(UserId(1), Origin::Server, &impostor);
        assert!(misuse(&got), "{got:?}");
        assert_eq!(org.held(UserId(1)).map(|(e, _)| e), Some(Epoch(0)));
    }

    /// Every truncation, an extra octet, each constant changed, and a flipped bit in every
    /// octet: each is refused with an error (a flip that makes the epoch one the member holds is
    /// stale, which the trait allows before authentication), never a panic, never accepted.
    #[test]
    fn malformed_encodings_are_refused() {
        let (mut org, _) = org(8);
        let good = org.honest(ROOM, Epoch(1), false);
        let bytes = good.as_bytes().to_vec();
        for n in 0..bytes.len() {
            let cut = Message::from_bytes(bytes[..n].to_vec());
            let got = org.handle(UserId(1), UserId(0), &cut);
            assert!(
                matches!(got, Err(SchemeError::Malformed(_))),
                "{n}: {got:?}"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        let got = org.handle(UserId(1), UserId(0), &Message::from_bytes(long));
        assert!(matches!(got, Err(SchemeError::Malformed(_))), "{got:?}");
        let sign_at = bytes.len() - SIGNATURE_OCTETS - 2;
        let sed_len_at = sign_at - SED_OCTETS - 2;
        // version, data type, flags, SAKKE params, ID scheme, SED length, SIGN header.
        for (at, value) in [
            (0, 2),
            (1, 27),
            (2, 2),
            (sed_len_at - 2, 2),
            (sed_len_at - 1, 2),
            (sed_len_at + 1, 0x12),
            (sign_at, 0x10),
        ] {
            let mut bad = bytes.clone();
            bad[at] = value;
            let got = org.handle(UserId(1), UserId(0), &Message::from_bytes(bad));
            assert!(
                matches!(got, Err(SchemeError::Malformed(_))),
                "{at}: {got:?}"
            );
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            let got = org.handle(UserId(1), UserId(0), &Message::from_bytes(bad));
            let stale_epoch = (HEADER_OCTETS - 8..HEADER_OCTETS).contains(&at);
            let refused = got.is_err() || (stale_epoch && got == Ok(Handled::Stale));
            assert!(refused, "bit flipped at {at} accepted: {got:?}");
        }
        assert_eq!(org.held(UserId(1)).map(|(e, _)| e), Some(Epoch(0)));
        assert_eq!(
            org.handle(UserId(1), UserId(0), &good),
            Ok(Handled::NewEpoch(Epoch(1)))
        );
    }

    /// The relay computes nothing and holds nothing.
    #[test]
    fn the_server_only_relays() {
        let (org, msg) = org(9);
        let mut rng = org.rng;
        let mut server = Sakke::new_server(&mut rng).unwrap();
        let got = server.handle(&org_roster(), UserId(0), msg, &mut rng, &mut Outbox::new());
        assert!(matches!(got, Err(SchemeError::Misuse(_))), "{got:?}");
        assert!(server.known_epoch_secret(ROOM).is_none());
    }

    fn org_roster() -> Roster<'static> {
        Roster {
            room: ROOM,
            members: &MEMBERS,
        }
    }
}
