//! `sakke`: MIKEY-SAKKE group keys. Each organisation runs a Key Management Server (KMS) that
//! issues its users' identity keys for one key period at a time; the member making a change
//! draws a fresh group master key, SAKKE-encapsulates it to each other member's identity under
//! that member's KMS and signs one I_MESSAGE per recipient with its own ECCSI key; the key
//! server relays them. Users of different organisations talk when each organisation trusts
//! the other's KMS.
//!
//! # Source
//!
//! * RFC 6509 (MIKEY-SAKKE): identifiers and key periods (§3.2), the I_MESSAGE of data type 26
//!   with a SAKKE payload, the KMS identity payloads IDRkmsi and IDRkmsr and an ECCSI SIGN
//!   payload (§4).
//! * 3GPP TS 33.180 §5.7 and TS 33.179 Annex E: a Group Management Server distributes a
//!   16-octet Group Master Key (GMK) to each member in its own I_MESSAGE, SAKKE-encapsulated
//!   to the member and ECCSI-signed by the distributor (research/groupkeys.md §2.4); a user
//!   fetches its keys for the next period from its KMS, and users of several KMSs interoperate
//!   when their domains trust each other's KMS (Secure Chorus's interoperable model). Here the
//!   distributor is the member making the change.
//! * The primitives are this directory's: ECCSI (RFC 6507) and SAKKE (RFC 6508, parameter set 1
//!   of RFC 6509), with their RFC known answers ([`super`]).
//!
//! # Construction
//!
//! **Primitives.** The scheme is written once, generic over the provider of its SAKKE and ECCSI
//! ([`SakkeCrypto`]: [`IdentityKem`](crate::kd::provider::IdentityKem) and
//! [`IdentitySignatures`](crate::kd::provider::IdentitySignatures)): [`Sakke`] is [`SakkeWith`]
//! over [`Real`], which calls this directory's [`kem`](super::kem) and [`eccsi`](super::eccsi),
//! and its model ([`crate::model::sakke`]) the same code over ideal objects. Nothing below
//! depends on which.
//!
//! **Identifiers.** A user's identifier for key period T is the RFC 6509 §3.2 form
//! `T ‖ 0x00 ‖ URI ‖ 0x00`, T the period as `YYYY-MM` ([`KeyPeriod`]) and URI the user's URI from
//! the directory, `conclave:user/<id>` for user `<id>` ([`user_uri`]): for example
//! `"2027-01\0conclave:user/12\0"` (25 octets). The same identifier names the user's SAKKE
//! receiver key and its ECCSI signing key ([`identifier`]). The run's [`Period`] k is the k-th
//! month after 2027-01 ([`KeyPeriod::of`]) whatever the scenario's period length: the label
//! only has to be distinct per period.
//!
//! **KMS** ([`Kms`], the scheme's [`KdAuthority`]): one per organisation, identified by the URI
//! `kms.org<k>.conclave` ([`kms_uri`]). It draws its SAKKE master secret z (public Z) and ECCSI
//! KSAK (public KPAK). For each user and period it issues ([`KdAuthority::issue`]) the RSK and
//! (SSK, PVT) of the user's identifier for that period ([`IssuedKeys`], 362 octets on the
//! wire). [`KeyDistribution::enroll`] issues the first period's keys; the client validates both
//! (RSK: one pairing, RFC 6508 §6.1.2; SSK: RFC 6507 §5.1.2) before keeping them, and then
//! precomputes its SAKKE receiver. At each later period the caller delivers the new keys
//! ([`KdClient::renew`]), validated the same way; the client keeps the earlier periods' RSKs,
//! without precomputation, for I_MESSAGEs sent in those periods that reach it late.
//! [`KmsPublic`] (the organisation, the KMS URI, Z and KPAK) is what a client installs, for its
//! own organisation at enrolment and for each organisation its organisation trusts
//! ([`KdClient::trust`]). The directory [`Credential`] is the user's URI and organisation.
//!
//! **A change** (creation, add, remove). The changer draws a fresh 16-octet GMK from the `rng`
//! argument, encapsulates it as the SSV under each recipient's KMS Z to the recipient's
//! identifier for the changer's current period, for each member of the new roster other than
//! itself (joiners included, removed members excluded), and sends each one an I_MESSAGE signed
//! with its SSK (one I_MESSAGE per recipient, as the 3GPP GMS does). A recipient whose
//! organisation's KMS the changer does not trust makes the change fail with
//! [`Misuse`]: the changer cannot address it. The epoch secret is
//! HKDF-SHA-256(GMK, info = `"conclave sakke epoch secret" ‖ room ‖ epoch`), 32 bytes carrying the
//! GMK's 128 bits (parameter set 1 carries a 128-bit SSV; it offers about 112 bits anyway).
//! The changer holds the new epoch as soon as [`KdClient::change`] returns; a recipient:
//!
//! 1. takes it only from a member of the room (through the relay), not from itself;
//! 2. parses it strictly ([`Message`] holds the encoding; anything else is `Malformed`);
//! 3. checks the room and the epoch (the next one; a joiner any epoch after what it holds;
//!    an epoch it holds or passed is [`Handled::Stale`]);
//! 4. checks that the responder identity is its own for one of its periods and IDRkmsr its
//!    KMS; that the sender's organisation is its own or one it trusts, IDRkmsi that
//!    organisation's KMS, and the initiator identity the relaying member's identifier for the
//!    same period;
//! 5. verifies the ECCSI signature over everything before the signature, under the sender's
//!    KMS's KPAK and the sender's identifier, so room, epoch, joining flag, both identities,
//!    both KMSs and the SED are bound;
//! 6. decapsulates with its RSK of that period (SAKKE's re-encryption test rejects every SED
//!    not made for its identifier) and derives the epoch secret.
//!
//! The key server only relays: its [`KdServer::handle`](crate::kd::KdServer::handle) rejects anything addressed to it.
//!
//! **I_MESSAGE encoding** (all integers big-endian):
//!
//! | field | octets |
//! |---|---|
//! | HDR: version 1, data type 26 ("SAKKE msg"), flags (bit 0: the recipient is joining) | 3 |
//! | room id, epoch (in place of MIKEY's CSB ID and GMK-ID) | 4 + 8 |
//! | IDRi: length, sender identifier | 2 + \|IDi\| |
//! | IDRr: length, recipient identifier | 2 + \|IDr\| |
//! | IDRkmsi, IDRkmsr: length and URI of the sender's and the recipient's KMS | 2 + \|KMSi\| + 2 + \|KMSr\| |
//! | SAKKE: params 1, ID scheme 1 (RFC 6509 identifiers, monthly periods), SED length 273, SED | 4 + 273 |
//! | SIGN: type 2 (ECCSI) in the top 4 bits and length 129 in the low 12, signature | 2 + 129 |
//!
//! [`FIXED_OCTETS`] = 431 plus the identifiers and KMS URIs ([`message_len`]): 513 octets
//! between users 0–9 of organisations 0–9, one more for each user id of two digits. The 561-octet 3GPP GMK I_MESSAGE of
//! research/groupkeys.md §2.4 also carries a MIKEY timestamp and RAND (the epoch counter binds
//! freshness here) and the CS ID map of GMK-ID and GUK-ID.
//!
//! # Costs
//!
//! n = members after the change; one I_MESSAGE per recipient:
//!
//! | role | work |
//! |---|---|
//! | changer, per change | n − 1 SAKKE encapsulations and n − 1 ECCSI signatures; n − 1 uploads of [`message_len`] octets (≈ 515 each) |
//! | each other member, per change | one ECCSI verification and one SAKKE decapsulation with the precomputed receiver (Miller loop from stored lines and a table-driven re-encryption test) |
//! | key server, per change | relays n − 1 I_MESSAGEs |
//! | KMS, per user and period | one RSK (an inversion mod q and a scalar multiplication on the 1024-bit curve) and one (SSK, PVT) (two P-256 multiplications); 362 octets to the user |
//! | client, per period | one pairing (RSK validation), one ECCSI validation and the receiver's precomputation |
//!
//! On the wire: a change sends one I_MESSAGE of [`i_message_len`] octets from the changer to
//! each other member, whatever the change ([`change_traffic`] gives them per direction). Its
//! length depends on who sends it to whom, not on the room: each identifier is
//! [`identifier_len`] (24 octets plus one per digit of the user's id beyond the first) and each
//! KMS URI [`kms_uri_len`] (17 plus one per digit of the organisation's number beyond the first).
//! Each user's keys for a period, from its KMS, are [`ISSUED_OCTETS`] (362). There is no rejoin
//! and no per-message layer.
//!
//! Memory: each client keeps its precomputed SAKKE receiver for the current period, ≈ 1.4 MiB
//! (390 KiB of Miller-loop lines, as secret as the RSK, and a 1 MiB public table of multiples
//! of \[b\]P + Z), plus its SSK, PVT, each trusted KMS's Z and KPAK and the bare RSK of every
//! earlier period.
//!
//! ## State of a stateless terminal
//!
//! Per room: the epoch and its secret (8 + 32 bytes, [`KdClient::state_len`]). The RSKs and
//! (SSK, PVT) are the user's long-term credential for the period, held at login (DESIGN.md §2);
//! the receiver's precomputation is rebuilt from the RSK.
//!
//! # Security
//!
//! * **Escrow by design.** A KMS holds z and KSAK: it can compute every RSK it issues and so
//!   open every SED sent to its users, and it can issue a signing key for any identity under
//!   its KPAK and so forge any of its users' I_MESSAGEs. [`KdProperties::authority_can_derive`]
//!   is true: from any I_MESSAGE to one of its users, relayed by the key server, the KMS
//!   recomputes the recipient's RSK and opens the SED ([`KdAuthority::escrow`]), and the
//!   simulator's oracle runs exactly that and checks the result against the members' secret.
//!   Anyone who operates or breaches a KMS reads every room with one of its users and can
//!   impersonate them. The key server, which only relays, holds no key
//!   ([`KdProperties::server_knows_epoch_secret`] is false).
//! * **Trust between organisations.** A recipient verifies a sender's signature only under the
//!   KPAK of the sender's own organisation's KMS, and only if its organisation trusts that
//!   KMS. A KMS that is not trusted cannot impersonate a user of another organisation: its
//!   I_MESSAGE names a KMS the recipient does not accept, or fails the signature under the
//!   right KPAK ([`super::super::impersonate`] runs this).
//! * `removal_excludes`: a later GMK is encapsulated only to the identifiers of the new roster;
//!   a removed member's RSK, of any period, opens only SEDs made for its own identifier, and its
//!   kept epoch secrets are independent of the fresh GMK.
//! * `join_excludes_past`: a joiner receives only the new, fresh GMK, never an earlier one.
//! * `layer_hides_history_from_joiners`: false; the scheme only distributes epoch secrets.
//! * Against an active relay (not a KMS): an I_MESSAGE is bound by ECCSI to its sender's
//!   identifier and to room, epoch, joining flag, recipient and both KMSs, so the relay can
//!   neither forge, alter, redirect to another member or room, nor replay one into a later
//!   epoch (a replay of an epoch the member holds or passed is dropped as stale). Nothing about
//!   the sender is confidential.
//!
//! # Weaknesses
//!
//! * No forward secrecy within a key period: whoever obtains a member's RSK (or its KMS's z)
//!   opens every SED sent to that member's identifier in the period, past and future, hence
//!   every epoch secret the member received in it. Clients keep earlier periods' RSKs (for late
//!   I_MESSAGEs), so a compromised terminal gives those periods too.
//! * Revocation is only by key period: a leaked RSK or SSK stays usable until the period ends.
//! * The issued keys travel from the KMS to the user; 3GPP protects them with a transport key
//!   shared with the KMS. The model charges their octets but does not model that protection.
//! * O(n) pairing-group work at the changer per change: each encapsulation costs milliseconds.
//! * Membership is the chat server's roster, not authenticated end to end: a malicious server
//!   can add a member and the changer will encapsulate the next GMK to it.
//! * One I_MESSAGE per member repeats the sender's identifier and a signature n − 1 times
//!   (≈ 150 octets each); one message carrying every SED would save them but is not what
//!   TS 33.180 sends.
//! * No active attack by the key server is implemented ([`KeyDistribution::new_interposing_server`]
//!   is `None`): the relay holds no key. A KMS needs no cleverness: it issues an SSK for any of
//!   its users' identities and signs I_MESSAGEs of its own, which members accept.
//!
//! # Side channels
//!
//! As the primitives ([`super`]): SAKKE's encapsulation (scalar multiplication by r, g^r),
//! decapsulation (pairing on the RSK's stored lines, re-encryption test) and the KMS's RSK issue
//! use ark-ff and ark-ec arithmetic that is variable time, on secret values; ECCSI uses `p256`,
//! which is constant time. HKDF-SHA-256 is constant time. Which members receive an I_MESSAGE,
//! the identifiers and KMSs in it, and when a user fetches its keys, are visible to the relay,
//! not secret.

use std::collections::BTreeMap;
use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroize;

use core::marker::PhantomData;

use super::curve::POINT_OCTETS as RSK_OCTETS;
use super::eccsi::{POINT_OCTETS as PVT_OCTETS, SCALAR_OCTETS, SIGNATURE_OCTETS};
use super::kem::{Ssv, SED_OCTETS, SSV_OCTETS};
use crate::kd::held::{member_sender, planned_change, HeldSecrets};
use crate::kd::provider::{Real, SakkeCrypto};
use crate::kd::relay::{RelayOnly, RelayServer};
use crate::kd::{
    Change, Directory, Handled, KdAuthority, KdClient, KdProperties, KeyDistribution, OrgId,
    Origin, Period, Roster, Traffic,
};
use crate::{CryptoRngCore, Epoch, EpochSecret, Misuse, Outbox, RoomId, SchemeError, UserId, Wire};

/// The sakke scheme over crypto provider `C`: [`Sakke`] with real SAKKE and ECCSI, its model
/// ([`crate::model::sakke`]) with ideal objects.
#[derive(Debug, Clone, Copy, Default)]
pub struct SakkeWith<C>(PhantomData<C>);

/// The sakke scheme (MIKEY-SAKKE group keys: the changer encapsulates a fresh GMK to each
/// member and signs each I_MESSAGE with ECCSI).
pub type Sakke = SakkeWith<Real>;

/// A KMS key period: a calendar month, written `YYYY-MM` in identifiers (RFC 6509 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyPeriod {
    year: u16,
    month: u8,
}

impl KeyPeriod {
    /// Octets of a period's label in an identifier, `YYYY-MM`: the year is written with four
    /// digits (it is at most 9999) and the month with two, so every label has the same length.
    pub const LABEL_OCTETS: usize = 4 + 1 + 2;

    /// The month of the run's first period (the model has no calendar).
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

    /// The label of the run's period `period`: the `period.0`-th month after
    /// [`MODEL_START`](Self::MODEL_START).
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] past the year 9999.
    pub fn of(period: Period) -> Result<Self, SchemeError> {
        let start = u32::from(Self::MODEL_START.year) * 12 + u32::from(Self::MODEL_START.month) - 1;
        let months = start
            .checked_add(period.0)
            .ok_or(SchemeError::Malformed("key period out of range"))?;
        let year = u16::try_from(months / 12)
            .map_err(|_| SchemeError::Malformed("key period out of range"))?;
        // months % 12 < 12, so the month fits.
        Self::new(year, (months % 12) as u8 + 1)
    }
}

impl fmt::Display for KeyPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// What a user's URI starts with, before its id.
const USER_URI_PREFIX: &str = "conclave:user/";
/// What a KMS's URI starts with, before its organisation's number.
const KMS_URI_PREFIX: &str = "kms.org";
/// What a KMS's URI ends with.
const KMS_URI_SUFFIX: &str = ".conclave";

/// The URI the directory publishes for `user`: `conclave:user/<id>`.
#[must_use]
pub fn user_uri(user: UserId) -> String {
    format!("{USER_URI_PREFIX}{}", user.0)
}

/// The URI of organisation `org`'s KMS: `kms.org<k>.conclave`.
#[must_use]
pub fn kms_uri(org: OrgId) -> String {
    format!("{KMS_URI_PREFIX}{}{KMS_URI_SUFFIX}", org.0)
}

/// Octets of `n` written in decimal.
const fn decimal_digits(n: u32) -> usize {
    match n.checked_ilog10() {
        Some(d) => d as usize + 1,
        None => 1,
    }
}

/// Octets of `user`'s identifier in any key period ([`identifier`] of [`user_uri`]): the
/// period's label, its URI and two NULs. It grows with the number of digits of the user's id.
#[must_use]
pub const fn identifier_len(user: UserId) -> usize {
    KeyPeriod::LABEL_OCTETS + 1 + USER_URI_PREFIX.len() + decimal_digits(user.0) + 1
}

/// Octets of the URI of organisation `org`'s KMS ([`kms_uri`]).
#[must_use]
pub const fn kms_uri_len(org: OrgId) -> usize {
    KMS_URI_PREFIX.len() + decimal_digits(org.0 as u32) + KMS_URI_SUFFIX.len()
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

/// A user's public credential: its URI and organisation. With the key period and the
/// organisation's KMS public keys (Z, KPAK) it gives the user's identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    uri: String,
    org: OrgId,
}

impl Credential {
    /// A credential for `uri` in `org`.
    ///
    /// # Errors
    /// As [`identifier`], for a URI that cannot name anyone.
    pub fn new(uri: String, org: OrgId) -> Result<Self, SchemeError> {
        identifier(KeyPeriod::MODEL_START, &uri)?;
        Ok(Self { uri, org })
    }

    /// The URI.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The organisation whose KMS issues this user's keys.
    #[must_use]
    pub fn org(&self) -> OrgId {
        self.org
    }
}

impl Wire for Credential {
    /// A 2-octet length and the URI, and the 2-octet organisation.
    fn wire_len(&self) -> usize {
        2 + self.uri.len() + 2
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(self.uri.as_bytes());
        f(&self.org.0.to_be_bytes());
    }
}

/// What a client installs to accept users of a KMS's organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsPublic<C: SakkeCrypto = Real> {
    org: OrgId,
    uri: String,
    z: C::KemPublicKey,
    kpak: C::Kpak,
}

impl<C: SakkeCrypto> KmsPublic<C> {
    /// The organisation.
    #[must_use]
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The KMS's URI.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The SAKKE public key Z.
    #[must_use]
    pub fn z(&self) -> &C::KemPublicKey {
        &self.z
    }

    /// The ECCSI public authentication key.
    #[must_use]
    pub fn kpak(&self) -> &C::Kpak {
        &self.kpak
    }
}

/// An organisation's Key Management Server.
pub struct Kms<C: SakkeCrypto = Real> {
    public: KmsPublic<C>,
    master: C::KemMasterKey,
    ksak: C::Ksak,
}

impl<C: SakkeCrypto> fmt::Debug for Kms<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kms")
            .field("uri", &self.public.uri)
            .finish_non_exhaustive()
    }
}

/// Octets of [`IssuedKeys`] on the wire: user, period, RSK, SSK and PVT.
pub const ISSUED_OCTETS: usize = 4 + 4 + RSK_OCTETS + SCALAR_OCTETS + PVT_OCTETS;

/// A user's keys for one period, as its KMS sends them: the RSK and the (SSK, PVT) of its
/// identifier for the period.
#[derive(Clone)]
pub struct IssuedKeys<C: SakkeCrypto = Real> {
    user: UserId,
    period: Period,
    rsk: C::Rsk,
    ssk: C::Ssk,
    pvt: C::Pvt,
}

impl<C: SakkeCrypto> fmt::Debug for IssuedKeys<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedKeys")
            .field("user", &self.user)
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl<C: SakkeCrypto> IssuedKeys<C> {
    /// The user they were issued to.
    #[must_use]
    pub fn user(&self) -> UserId {
        self.user
    }

    /// The period they are for.
    #[must_use]
    pub fn period(&self) -> Period {
        self.period
    }
}

impl<C: SakkeCrypto> Wire for IssuedKeys<C> {
    fn wire_len(&self) -> usize {
        ISSUED_OCTETS
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.user.0.to_be_bytes());
        f(&self.period.0.to_be_bytes());
        f(&C::rsk_to_bytes(&self.rsk));
        f(&C::ssk_to_bytes(&self.ssk));
        f(&C::pvt_to_bytes(&self.pvt));
    }
}

impl<C: SakkeCrypto> Kms<C> {
    /// The identifier of `user` in `period`.
    fn identifier(user: UserId, period: Period) -> Result<Vec<u8>, SchemeError> {
        identifier(KeyPeriod::of(period)?, &user_uri(user))
    }
}

impl<C: SakkeCrypto> KdAuthority for Kms<C> {
    type Kd = SakkeWith<C>;
    type Public = KmsPublic<C>;
    type Issued = IssuedKeys<C>;
    const ISSUES_PER_PERIOD: bool = true;

    fn new(org: OrgId, rng: &mut dyn CryptoRngCore) -> Result<Self, SchemeError> {
        let master = C::kem_setup(rng);
        let ksak = C::sig_setup(rng);
        Ok(Self {
            public: KmsPublic {
                org,
                uri: kms_uri(org),
                z: C::kem_public(&master),
                kpak: C::kpak(&ksak),
            },
            master,
            ksak,
        })
    }

    fn org(&self) -> OrgId {
        self.public.org
    }

    fn public(&self) -> KmsPublic<C> {
        self.public.clone()
    }

    fn issue(
        &mut self,
        user: UserId,
        period: Period,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<IssuedKeys<C>, SchemeError> {
        let id = Self::identifier(user, period)?;
        let rsk = C::issue_rsk(&self.master, &id)?;
        let (ssk, pvt) = C::issue_signing(&self.ksak, &id, rng);
        Ok(IssuedKeys {
            user,
            period,
            rsk,
            ssk,
            pvt,
        })
    }

    /// The KMS's escrow: it issues the recipient's RSK again from its master secret and opens
    /// the I_MESSAGE's SED, as the members do (the signature is not needed to read it).
    fn escrow(
        &self,
        room: RoomId,
        relayed: &Message,
    ) -> Option<Result<(Epoch, EpochSecret), SchemeError>> {
        Some((|| {
            let parsed = parse::<C>(&relayed.bytes)?;
            let fields = &parsed.fields;
            if fields.room != room {
                return Err(Misuse::UnexpectedMessage("an I_MESSAGE for another room").into());
            }
            if fields.recipient_kms != self.public.uri.as_bytes() {
                return Err(
                    Misuse::UnexpectedMessage("an I_MESSAGE to a user of another KMS").into(),
                );
            }
            let epoch = fields.epoch.bounded()?;
            let rsk = C::issue_rsk(&self.master, fields.recipient_id)?;
            let receiver = C::receiver(&self.public.z, fields.recipient_id, rsk, false)?;
            let gmk = C::decapsulate(&receiver, &parsed.sed)?;
            Ok((epoch, epoch_secret(&gmk, room, epoch)))
        })())
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

/// Octets of an I_MESSAGE besides its two identifiers and two KMS URIs: header, four lengths,
/// SAKKE payload and SIGN payload.
pub const FIXED_OCTETS: usize = HEADER_OCTETS + 4 * 2 + 4 + SED_OCTETS + 2 + SIGNATURE_OCTETS;

/// Octets of an I_MESSAGE between identifiers, and KMS URIs, of these lengths.
#[must_use]
pub const fn message_len(
    sender_id: usize,
    recipient_id: usize,
    sender_kms: usize,
    recipient_kms: usize,
) -> usize {
    FIXED_OCTETS + sender_id + recipient_id + sender_kms + recipient_kms
}

/// Octets of the I_MESSAGE a change by `sender`, a user of `sender_org`, sends `recipient`, a
/// user of `recipient_org`, whatever the change and the key period: [`message_len`] of their
/// identifiers and their KMSs' URIs.
#[must_use]
pub const fn i_message_len(
    (sender, sender_org): (UserId, OrgId),
    (recipient, recipient_org): (UserId, OrgId),
) -> usize {
    message_len(
        identifier_len(sender),
        identifier_len(recipient),
        kms_uri_len(sender_org),
        kms_uri_len(recipient_org),
    )
}

/// The I_MESSAGEs of any change (creation, add or removal) by `changer` of a room whose
/// members after it are `members`, each user in organisation `org_of(user)`: one from the
/// changer to each other member, relayed by the key server. Their lengths differ only by the
/// digits of the users' ids and of their organisations' numbers.
#[must_use]
pub fn change_traffic(
    changer: UserId,
    members: &[UserId],
    org_of: impl Fn(UserId) -> OrgId,
) -> Traffic {
    let mut by_len: BTreeMap<usize, usize> = BTreeMap::new();
    let from = (changer, org_of(changer));
    for &member in members.iter().filter(|m| **m != changer) {
        *by_len
            .entry(i_message_len(from, (member, org_of(member))))
            .or_default() += 1;
    }
    Traffic::relayed(
        by_len
            .into_iter()
            .map(|(len, count)| (count, len))
            .collect(),
    )
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
    sender_kms: &'a [u8],
    recipient_kms: &'a [u8],
}

/// Everything an I_MESSAGE signs, with the SED's encoding `sed`: all of it but the signature
/// itself.
fn signed_part(fields: &Fields<'_>, sed: &[u8; SED_OCTETS]) -> Result<Vec<u8>, SchemeError> {
    let mut out = Vec::with_capacity(message_len(
        fields.sender_id.len(),
        fields.recipient_id.len(),
        fields.sender_kms.len(),
        fields.recipient_kms.len(),
    ));
    out.extend_from_slice(&[
        VERSION,
        DATA_TYPE_SAKKE,
        if fields.joining { FLAG_JOINING } else { 0 },
    ]);
    out.extend_from_slice(&fields.room.0.to_be_bytes());
    out.extend_from_slice(&fields.epoch.0.to_be_bytes());
    for id in [
        fields.sender_id,
        fields.recipient_id,
        fields.sender_kms,
        fields.recipient_kms,
    ] {
        let len =
            u16::try_from(id.len()).map_err(|_| SchemeError::Malformed("identifier too long"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(id);
    }
    out.extend_from_slice(&[SAKKE_PARAMS, ID_SCHEME]);
    // SED_OCTETS = 273 fits two octets.
    out.extend_from_slice(&(SED_OCTETS as u16).to_be_bytes());
    out.extend_from_slice(sed);
    out.extend_from_slice(&SIGN_HEADER.to_be_bytes());
    Ok(out)
}

/// A parsed I_MESSAGE.
struct Parsed<'a, C: SakkeCrypto> {
    fields: Fields<'a>,
    sed: C::Sed,
    signature: C::IdSignature,
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
fn parse<C: SakkeCrypto>(bytes: &[u8]) -> Result<Parsed<'_, C>, SchemeError> {
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
    let sender_kms = r.prefixed()?;
    let recipient_kms = r.prefixed()?;
    let [params, id_scheme] = r.array()?;
    if params != SAKKE_PARAMS || id_scheme != ID_SCHEME {
        return Err(SchemeError::Malformed(
            "unsupported SAKKE parameters or ID scheme",
        ));
    }
    let sed = C::sed_from_bytes(r.prefixed()?)?;
    if r.u16()? != SIGN_HEADER {
        return Err(SchemeError::Malformed(
            "SIGN payload not ECCSI of 129 octets",
        ));
    }
    let signed = &bytes[..r.at];
    let signature = C::signature_from_bytes(r.take(SIGNATURE_OCTETS)?)?;
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
            sender_kms,
            recipient_kms,
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

/// A user's sakke state: its validated keys for the current period (and the RSKs of earlier
/// ones), the KMSs it accepts, and the current epoch of each of its rooms.
#[derive(Debug)]
pub struct Client<C: SakkeCrypto = Real> {
    me: UserId,
    org: OrgId,
    period: Period,
    /// The KMSs whose users this client accepts, its own organisation's included.
    trusted: BTreeMap<OrgId, KmsPublic<C>>,
    signer: C::Signer,
    receiver: C::Receiver,
    /// Receivers of earlier periods, without precomputation, for late I_MESSAGEs.
    earlier: BTreeMap<Period, C::Receiver>,
    rooms: HeldSecrets,
}

/// The sakke key server: a relay that computes and holds nothing.
pub type Server<C = Real> = RelayServer<SakkeWith<C>>;

impl<C: SakkeCrypto> KeyDistribution for SakkeWith<C> {
    const NAME: &'static str = "sakke";
    const SUMMARY: &'static str = if C::IDEAL {
        "model of sakke: its I_MESSAGEs, checks and KMSs, with ideal SAKKE and ECCSI (no pairing, no curve)"
    } else {
        "MIKEY-SAKKE: a fresh group key SAKKE-encapsulated to each member, ECCSI-signed; each organisation's KMS can derive its users' keys"
    };
    const PROPERTIES: KdProperties = KdProperties {
        server_knows_epoch_secret: false,
        // Each KMS derives every epoch secret sent to its users (escrow).
        authority_can_derive: true,
        removal_excludes: true,
        join_excludes_past: true,
        layer_hides_history_from_joiners: false,
        heals_after_update: false,
        rejoins: false,
    };
    // The precomputed receiver: under the real provider, 390 KiB of Miller-loop lines and a
    // 1 MiB table (module doc).
    const CLIENT_CREDENTIAL_BYTES: usize = C::RECEIVER_BYTES;
    type Credential = Credential;
    type Message = Message;
    type Client = Client<C>;
    type Server = Server<C>;
    type Authority = Kms<C>;

    fn new_server(_rng: &mut dyn CryptoRngCore) -> Result<Server<C>, SchemeError> {
        Ok(Server::default())
    }

    fn enroll(
        _server: &mut Server<C>,
        kms: &mut Kms<C>,
        user: UserId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(Client<C>, Credential), SchemeError> {
        let cred = Credential::new(user_uri(user), kms.org())?;
        let issued = kms.issue(user, Period::FIRST, rng)?;
        let own = kms.public();
        let (signer, receiver) = validated(&own, &issued)?;
        Ok((
            Client {
                me: user,
                org: own.org,
                period: Period::FIRST,
                trusted: BTreeMap::from([(own.org, own)]),
                signer,
                receiver,
                earlier: BTreeMap::new(),
                rooms: HeldSecrets::default(),
            },
            cred,
        ))
    }
}

/// Validates `issued` under `kms` and builds the signing key and precomputed receiver.
fn validated<C: SakkeCrypto>(
    kms: &KmsPublic<C>,
    issued: &IssuedKeys<C>,
) -> Result<(C::Signer, C::Receiver), SchemeError> {
    let id = Kms::<C>::identifier(issued.user, issued.period)?;
    let signer = C::signer(&kms.kpak, &id, issued.ssk.clone(), issued.pvt.clone())?;
    let receiver = C::receiver(&kms.z, &id, issued.rsk.clone(), true)?;
    Ok((signer, receiver))
}

/// The credential of `user` in the directory.
fn lookup(directory: &[Credential], user: UserId) -> Result<&Credential, SchemeError> {
    usize::try_from(user.0)
        .ok()
        .and_then(|i| directory.get(i))
        .ok_or(SchemeError::Malformed("user missing from the directory"))
}

impl<C: SakkeCrypto> Client<C> {
    /// This client's user.
    #[must_use]
    pub fn user(&self) -> UserId {
        self.me
    }

    /// This client's identifier for the current key period.
    #[must_use]
    pub fn identifier(&self) -> &[u8] {
        C::receiver_id(&self.receiver)
    }

    /// The current key period.
    #[must_use]
    pub fn period(&self) -> Period {
        self.period
    }

    /// The KMS of `user`'s organisation, if this client trusts it, and `user`'s credential.
    fn kms_of<'a>(
        &self,
        directory: &'a [Credential],
        user: UserId,
    ) -> Result<(&KmsPublic<C>, &'a Credential), SchemeError> {
        let cred = lookup(directory, user)?;
        let kms = self
            .trusted
            .get(&cred.org)
            .ok_or(Misuse::UnexpectedMessage(
                "a user of an organisation whose KMS this client does not trust",
            ))?;
        Ok((kms, cred))
    }

    /// The receiver of this client's identifier `id`, of the current period or an earlier one,
    /// and that period.
    fn receiver_for(&self, id: &[u8]) -> Option<(Period, &C::Receiver)> {
        if id == self.identifier() {
            return Some((self.period, &self.receiver));
        }
        self.earlier
            .iter()
            .find(|(_, r)| C::receiver_id(r) == id)
            .map(|(p, r)| (*p, r))
    }

    /// The I_MESSAGE carrying `gmk` to a recipient under its KMS's `z`, signed by this client.
    fn i_message(
        &self,
        fields: &Fields<'_>,
        z: &C::KemPublicKey,
        gmk: &Ssv,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Message, SchemeError> {
        let sed = C::encapsulate(z, fields.recipient_id, gmk)?;
        let mut bytes = signed_part(fields, &C::sed_to_bytes(&sed))?;
        let signature = C::id_sign(&self.signer, &bytes, rng);
        bytes.extend_from_slice(&C::signature_to_bytes(&signature));
        Ok(Message { bytes })
    }
}

impl<C: SakkeCrypto> KdClient for Client<C> {
    type Kd = SakkeWith<C>;

    fn change(
        &mut self,
        roster: &Roster<'_>,
        change: &Change<'_>,
        directory: Directory<'_, SakkeWith<C>>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        let planned = planned_change(roster, self.me, change, self.rooms.epoch(room))?;
        let epoch = planned.epoch;
        let label = KeyPeriod::of(self.period)?;
        let own_kms = self.trusted.get(&self.org).map(|k| k.uri.clone());
        let own_kms = own_kms.ok_or(SchemeError::Internal("a client without its own KMS"))?;
        let mut drawn = [0u8; SSV_OCTETS];
        rng.fill_bytes(&mut drawn);
        let gmk = Ssv::new(drawn);
        drawn.zeroize();
        // Build every I_MESSAGE before touching state or the outbox, so a failure leaves
        // neither changed.
        let mut messages = Vec::with_capacity(roster.members.len().saturating_sub(1));
        for &member in roster.members.iter().filter(|m| **m != self.me) {
            let (kms, cred) = self.kms_of(directory, member)?;
            let recipient_id = identifier(label, cred.uri())?;
            let fields = Fields {
                joining: planned.joins(member),
                room,
                epoch,
                sender_id: self.identifier(),
                recipient_id: &recipient_id,
                sender_kms: own_kms.as_bytes(),
                recipient_kms: kms.uri.as_bytes(),
            };
            messages.push((member, self.i_message(&fields, &kms.z, &gmk, rng)?));
        }
        let secret = epoch_secret(&gmk, room, epoch);
        Ok(self
            .rooms
            .complete_change(room, epoch, secret, messages, out))
    }

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: Origin,
        msg: &Message,
        directory: Directory<'_, SakkeWith<C>>,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        let Some(sender) = member_sender(roster, from, self.me)? else {
            // Removed before this change reached it.
            return Ok(Handled::Stale);
        };
        let parsed = parse::<C>(&msg.bytes)?;
        let fields = &parsed.fields;
        if fields.room != room {
            return Err(Misuse::UnexpectedMessage("an I_MESSAGE for another room").into());
        }
        let epoch = fields.epoch;
        if !self.rooms.takes(room, epoch, fields.joining)? {
            return Ok(Handled::Stale);
        }
        let Some((period, receiver)) = self.receiver_for(fields.recipient_id) else {
            return Err(Misuse::UnexpectedMessage("an I_MESSAGE for another identity").into());
        };
        let own_kms = self.trusted.get(&self.org).map(|k| k.uri.as_bytes());
        if own_kms != Some(fields.recipient_kms) {
            return Err(
                Misuse::UnexpectedMessage("an I_MESSAGE naming another KMS as ours").into(),
            );
        }
        let (sender_kms, cred) = self.kms_of(directory, sender)?;
        if fields.sender_kms != sender_kms.uri.as_bytes() {
            return Err(Misuse::UnexpectedMessage(
                "an I_MESSAGE naming a KMS other than its sender's organisation's",
            )
            .into());
        }
        let sender_id = identifier(KeyPeriod::of(period)?, cred.uri())?;
        if fields.sender_id != sender_id.as_slice() {
            return Err(
                Misuse::UnexpectedMessage("an I_MESSAGE signed as another identity").into(),
            );
        }
        C::id_verify(
            &sender_kms.kpak,
            &sender_id,
            parsed.signed,
            &parsed.signature,
        )?;
        let gmk = C::decapsulate(receiver, &parsed.sed)?;
        self.rooms
            .hold(room, epoch, epoch_secret(&gmk, room, epoch));
        Ok(Handled::NewEpoch(epoch))
    }

    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.rooms.current(room)
    }

    /// Epoch and secret, if the client holds the room (the RSK and signing key are the user's
    /// long-term credential for the period and not counted per room).
    fn state_len(&mut self, room: RoomId) -> Result<usize, SchemeError> {
        Ok(self.rooms.state_len(room))
    }

    fn trust(&mut self, org: OrgId, public: &KmsPublic<C>) -> Result<(), SchemeError> {
        if public.org != org || public.uri != kms_uri(org) {
            return Err(SchemeError::Malformed(
                "KMS parameters of another organisation",
            ));
        }
        if org == self.org {
            return Err(
                Misuse::UnexpectedMessage("a client's own KMS is installed at enrolment").into(),
            );
        }
        self.trusted.insert(org, public.clone());
        Ok(())
    }

    /// Validates the keys for a later period and moves to it, keeping the current RSK (without
    /// precomputation) for late I_MESSAGEs; keys of an earlier period this client skipped are
    /// validated and kept the same way, without moving.
    fn renew(
        &mut self,
        issued: &IssuedKeys<C>,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<(), SchemeError> {
        if issued.user != self.me {
            return Err(Misuse::UnexpectedMessage("keys issued to another user").into());
        }
        if issued.period == self.period || self.earlier.contains_key(&issued.period) {
            return Err(Misuse::UnexpectedMessage("keys of a period this client holds").into());
        }
        let own = self
            .trusted
            .get(&self.org)
            .ok_or(SchemeError::Internal("a client without its own KMS"))?;
        if issued.period < self.period {
            let id = Kms::<C>::identifier(issued.user, issued.period)?;
            let receiver = C::receiver(&own.z, &id, issued.rsk.clone(), false)?;
            self.earlier.insert(issued.period, receiver);
            return Ok(());
        }
        let (signer, receiver) = validated(own, issued)?;
        let previous = std::mem::replace(&mut self.receiver, receiver);
        self.earlier
            .insert(self.period, C::without_precomputation(previous));
        self.signer = signer;
        self.period = issued.period;
        Ok(())
    }
}

impl<C: SakkeCrypto> RelayOnly for SakkeWith<C> {
    const REFUSAL: &'static str = "the sakke key server only relays";
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::super::kem;
    use super::*;
    use crate::kd::KdServer;
    use crate::model::ideal_kd::Ideal;
    use crate::Dest;

    const ROOM: RoomId = RoomId(1);
    const MEMBERS: [UserId; 3] = [UserId(0), UserId(1), UserId(2)];
    /// The URI of the test organisation's KMS.
    const KMS: &[u8] = b"kms.org0.conclave";

    struct Org<C: SakkeCrypto = Real> {
        kms: Kms<C>,
        clients: Vec<Client<C>>,
        dir: Vec<Credential>,
        rng: ChaCha20Rng,
    }

    /// Users 0 to 3 enrolled; users 0, 1 and 2 in `ROOM` at epoch 0 (user 3 is not a member).
    /// Also returns the creation's I_MESSAGE to user 1.
    fn org(seed: u64) -> (Org, Message) {
        org_over::<Real>(seed)
    }

    /// As [`org`], over provider `C`.
    fn org_over<C: SakkeCrypto>(seed: u64) -> (Org<C>, Message) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut server = SakkeWith::<C>::new_server(&mut rng).unwrap();
        let mut kms = Kms::new(OrgId(0), &mut rng).unwrap();
        let (clients, dir) = (0..4)
            .map(|u| SakkeWith::<C>::enroll(&mut server, &mut kms, UserId(u), &mut rng).unwrap())
            .unzip();
        let mut org = Org {
            kms,
            clients,
            dir,
            rng,
        };
        let sent = org.change(Change::Create);
        for (to, m) in &sent {
            let got = org.handle(*to, UserId(0), m);
            assert_eq!(got, Ok(Handled::NewEpoch(Epoch(0))));
        }
        (org, sent[0].1.clone())
    }

    impl<C: SakkeCrypto> Org<C> {
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
            forge_by(client, fields, sed_to, &mut self.rng)
        }

        /// A well-formed I_MESSAGE from user 0 to user 1 for `room` at `epoch`.
        fn honest(&mut self, room: RoomId, epoch: Epoch, joining: bool) -> Message {
            let (sender_id, recipient_id) = (self.id(UserId(0)), self.id(UserId(1)));
            let fields = fields_between(room, epoch, joining, &sender_id, &recipient_id);
            self.forge(UserId(0), &fields, &recipient_id)
        }

        fn held(&self, user: UserId) -> Option<(Epoch, EpochSecret)> {
            self.clients[user.0 as usize]
                .current(ROOM)
                .map(|(e, s)| (e, s.clone()))
        }
    }

    /// The fields of an I_MESSAGE from `sender_id` to `recipient_id`, both users of [`KMS`].
    fn fields_between<'a>(
        room: RoomId,
        epoch: Epoch,
        joining: bool,
        sender_id: &'a [u8],
        recipient_id: &'a [u8],
    ) -> Fields<'a> {
        Fields {
            joining,
            room,
            epoch,
            sender_id,
            recipient_id,
            sender_kms: KMS,
            recipient_kms: KMS,
        }
    }

    /// An I_MESSAGE with `fields`, its SED made under `client`'s own KMS for `sed_to`, signed
    /// with `client`'s key.
    fn forge_by<C: SakkeCrypto>(
        client: &Client<C>,
        fields: &Fields<'_>,
        sed_to: &[u8],
        rng: &mut ChaCha20Rng,
    ) -> Message {
        let gmk = Ssv::new([9; SSV_OCTETS]);
        let sed = C::encapsulate(&client.trusted[&client.org].z, sed_to, &gmk).unwrap();
        let mut bytes = signed_part(fields, &C::sed_to_bytes(&sed)).unwrap();
        let signature = C::id_sign(&client.signer, &bytes, rng);
        bytes.extend_from_slice(&C::signature_to_bytes(&signature));
        Message { bytes }
    }

    fn misuse(got: &Result<Handled, SchemeError>) -> bool {
        matches!(got, Err(SchemeError::Misuse(_)))
    }

    /// The forging helper makes messages a member accepts, so the refusals below are due to
    /// the one field each test changes.
    #[test]
    fn a_forged_but_honest_message_is_accepted() {
        fn accepted<C: SakkeCrypto>() {
            let (mut org, _) = org_over::<C>(1);
            let msg = org.honest(ROOM, Epoch(1), false);
            assert_eq!(
                org.handle(UserId(1), UserId(0), &msg),
                Ok(Handled::NewEpoch(Epoch(1)))
            );
            assert!(format!("{:?}", org.clients[1].receiver).contains("precomputed: true"));
        }
        accepted::<Real>();
        accepted::<Ideal>();
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
        fn refused<C: SakkeCrypto>() {
            let (mut org, _) = org_over::<C>(6);
            let (sender_id, recipient_id, other) =
                (org.id(UserId(0)), org.id(UserId(1)), org.id(UserId(2)));
            let fields = fields_between(ROOM, Epoch(1), false, &sender_id, &recipient_id);
            let msg = org.forge(UserId(0), &fields, &other);
            assert_eq!(
                org.handle(UserId(1), UserId(0), &msg),
                Err(SchemeError::Crypto)
            );
            assert_eq!(org.held(UserId(1)).map(|(e, _)| e), Some(Epoch(0)));
        }
        refused::<Real>();
        refused::<Ideal>();
    }

    /// User 3 is enrolled with the same KMS but not a member of the room.
    #[test]
    fn a_non_member_signer_is_refused() {
        let (mut org, _) = org(7);
        let (member_id, recipient_id, outsider_id) =
            (org.id(UserId(0)), org.id(UserId(1)), org.id(UserId(3)));
        let as_itself = fields_between(ROOM, Epoch(1), false, &outsider_id, &recipient_id);
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
    /// stale, which the trait allows before authentication), never a panic, never accepted; by
    /// the scheme and by its model.
    #[test]
    fn malformed_encodings_are_refused() {
        malformed_encodings_are_refused_by::<Real>();
        malformed_encodings_are_refused_by::<Ideal>();
    }

    fn malformed_encodings_are_refused_by<C: SakkeCrypto>() {
        let (mut org, _) = org_over::<C>(8);
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

    /// A KMS of another organisation, which nobody trusts, issues keys for member 0's identity
    /// (it can: an identifier is public). Member 1 refuses its holder's I_MESSAGE whether it
    /// names the issuing KMS (not member 0's organisation's) or member 0's own KMS (the
    /// signature fails under that KMS's KPAK).
    #[test]
    fn an_untrusted_kms_cannot_impersonate_a_member() {
        let (mut org, _) = org(10);
        let mut server = Server::default();
        let mut rogue_kms = Kms::new(OrgId(1), &mut org.rng).unwrap();
        let (mut impostor, _) =
            Sakke::enroll(&mut server, &mut rogue_kms, UserId(0), &mut org.rng).unwrap();
        impostor.trust(OrgId(0), &org.kms.public()).unwrap();
        assert_eq!(impostor.identifier(), org.clients[0].identifier());
        let (sender_id, recipient_id) = (org.id(UserId(0)), org.id(UserId(1)));
        let rogue_uri = kms_uri(OrgId(1));
        for (sender_kms, refused_as) in [(rogue_uri.as_bytes(), "misuse"), (KMS, "crypto")] {
            let fields = Fields {
                sender_kms,
                ..fields_between(ROOM, Epoch(1), false, &sender_id, &recipient_id)
            };
            // The SED is honest (made under member 1's KMS): only the signature can refuse it.
            let gmk = Ssv::new([7; SSV_OCTETS]);
            let sed = kem::encapsulate_ssv(org.kms.public().z(), &recipient_id, &gmk).unwrap();
            let mut bytes = signed_part(&fields, &sed.to_bytes()).unwrap();
            bytes.extend_from_slice(&impostor.signer.sign(&mut org.rng, &bytes).to_bytes());
            let got = org.handle(UserId(1), UserId(0), &Message { bytes });
            match refused_as {
                "misuse" => assert!(misuse(&got), "{got:?}"),
                _ => assert_eq!(got, Err(SchemeError::Crypto)),
            }
        }
        // Its own change, as the scheme sends it, is refused too.
        let mut out = Outbox::new();
        let roster = org.roster();
        impostor
            .change(
                &roster,
                &Change::Remove(&[]),
                &org.dir,
                &mut org.rng,
                &mut out,
            )
            .ok();
        for (_, m) in out.drain() {
            assert!(org.handle(UserId(1), UserId(0), &m).is_err());
        }
        assert_eq!(org.held(UserId(1)).map(|(e, _)| e), Some(Epoch(0)));
    }

    /// A removed member keeps its RSK for the period: the next GMK's SEDs, made for the other
    /// members' identifiers, do not decapsulate under it.
    #[test]
    fn a_removed_members_rsk_does_not_open_the_next_key() {
        let (mut org, _) = org(11);
        let after = [UserId(0), UserId(1)];
        let roster = Roster {
            room: ROOM,
            members: &after,
        };
        let mut out = Outbox::new();
        let change = Change::Remove(&[UserId(2)]);
        org.clients[0]
            .change(&roster, &change, &org.dir, &mut org.rng, &mut out)
            .unwrap();
        let sent: Vec<_> = out.drain().collect();
        assert_eq!(sent.len(), 1);
        let removed = &org.clients[2].receiver;
        for (_, m) in &sent {
            let parsed = parse::<Real>(m.as_bytes()).unwrap();
            assert_eq!(removed.decapsulate(&parsed.sed), Err(SchemeError::Crypto));
        }
    }

    /// Renewal: the client moves to the next period's identifier and keeps the earlier RSK for
    /// late I_MESSAGEs; it refuses another user's keys, another KMS's keys for its identity, and
    /// a period it holds.
    #[test]
    fn renewal_moves_to_the_next_period() {
        let (mut org, _) = org(12);
        let late = org.honest(ROOM, Epoch(1), false);
        let issued = org.kms.issue(UserId(1), Period(1), &mut org.rng).unwrap();
        assert_eq!(issued.wire_len(), ISSUED_OCTETS);
        assert_eq!(ISSUED_OCTETS, 362);
        org.clients[1].renew(&issued, &mut org.rng).unwrap();
        assert_eq!(org.clients[1].period(), Period(1));
        assert!(org.clients[1].identifier().starts_with(b"2027-02\0"));
        assert!(org.clients[1].renew(&issued, &mut org.rng).is_err());
        // Late: made in period 0 by a sender still in it, handled after the renewal.
        assert_eq!(
            org.handle(UserId(1), UserId(0), &late),
            Ok(Handled::NewEpoch(Epoch(1)))
        );
        let others = org.kms.issue(UserId(2), Period(2), &mut org.rng).unwrap();
        assert!(misuse_err(&org.clients[1].renew(&others, &mut org.rng)));
        let mut foreign = Kms::new(OrgId(0), &mut org.rng).unwrap();
        let forged = foreign.issue(UserId(1), Period(2), &mut org.rng).unwrap();
        assert!(org.clients[1].renew(&forged, &mut org.rng).is_err());
        assert_eq!(org.clients[1].period(), Period(1));
    }

    fn misuse_err(got: &Result<(), SchemeError>) -> bool {
        matches!(got, Err(SchemeError::Misuse(_)))
    }

    fn org_roster() -> Roster<'static> {
        Roster {
            room: ROOM,
            members: &MEMBERS,
        }
    }
}
