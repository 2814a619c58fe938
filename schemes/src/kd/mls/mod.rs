//! `mls`: Messaging Layer Security (RFC 9420) through AWS's `mls-rs`, with the key server as
//! the MLS delivery service.
//!
//! # Source
//!
//! RFC 9420 (*The Messaging Layer Security Protocol*) and RFC 9750 (its architecture), as
//! implemented by `mls-rs` 0.57 with its RustCrypto primitives (research/groupkeys.md §1 compares
//! it with OpenMLS). Nothing of TreeKEM, the key schedule or the framing is written here: this
//! module drives the library and maps its groups onto Conclave's rooms.
//!
//! # Construction
//!
//! * **Provider.** The scheme is generic over its mls-rs crypto provider
//!   ([`provider::MlsCrypto`]): [`provider::SeededCrypto`] (RustCrypto, every draw from the
//!   scheme's `rng`) for the scheme, the ideal provider of [`crate::model::mls`] for its model.
//! * **Clients.** Each user has one MLS client (one Ed25519 signing key, a basic credential
//!   naming its [`UserId`], one key-package store) and one MLS group per room it
//!   is in, with group id `"conclave room " || room (4 octets)`. The directory publishes the
//!   signing key at enrolment ([`Credential`]); [`identity::DirectoryIdentity`] refuses every
//!   leaf whose key is not the directory's for the user it names.
//! * **Changes.** The room's admin (the member making the change) commits: Add proposals with
//!   key packages fetched from the delivery service, Remove proposals, or an empty commit (a
//!   re-key, `Change::Remove(&[])`, which refreshes the committer's leaf: an MLS Update). Every
//!   commit carries an UpdatePath (`path_required`), as OpenMLS's `add_members` does, so each
//!   change also refreshes the committer's path. The committer merges its commit only when the
//!   delivery service has accepted it.
//! * **Delivery service** ([`DeliveryService`]): stores each user's key packages (three one-time
//!   ones, replaced after each Welcome, and a last-resort one, RFC 9420 §16.8), orders each
//!   room's commits (a commit on an epoch the room has left is dropped), sends the commit to the
//!   other members and the Welcome, which carries the ratchet tree in its extension, to the
//!   joiners. It stores no tree and no GroupInfo (nothing joins by external commit).
//! * **Rejoins** ([`KdClient::rejoin`](crate::kd::KdClient::rejoin)): a member whose queued
//!   commits expired at the delivery service (the scenario's `servers.key_retention`) cannot
//!   catch up from its old epoch. Another member, one that holds the room's current epoch,
//!   commits a Remove of its old leaf and an Add of a fresh key package of the same user in one
//!   commit; the member joins again by the new Welcome (RFC 9420 §12.4.3.1; a resync by external
//!   commit, §12.4.3.2, would be made by the member itself, and nobody who held the epoch before
//!   might be online to carry the room's re-keyed history into the new one).
//! * **Epoch secret**: `MLS-Exporter("conclave epoch secret", room (4 octets, big-endian), 32)`
//!   (RFC 9420 §8.5) of the MLS epoch; Conclave's epoch number is the MLS epoch number.
//! * **Offline members** receive every commit in their mailbox and apply them in order at their
//!   next login; commits that arrive ahead of an earlier one (or before the Welcome) wait, up to
//!   64 per room.
//! * **Stateless terminals.** When the terminal stores its state (at logout; Conclave asks for
//!   its length at the next login), a member writes its group through mls-rs's storage interface
//!   (`write_to_storage`: the serialised group state, ratchet tree included, and the retained
//!   past epochs); [`KdClient::state_len`](crate::kd::KdClient::state_len) is the length of what
//!   was written, the blob a terminal restores at login. An online member does not write after
//!   every epoch, only every eighth (mls-rs keeps the past epochs it has not written in memory).
//! * **Randomness** ([`provider`]): every draw of the library comes from a ChaCha20 stream the
//!   client reseeds from the call's `rng` argument, so seeded runs repeat byte for byte; the
//!   library reads no clock either (every check is made at [`member::CLOCK`]).
//!
//! The cipher suite is a type parameter: [`Mls`] is suite 1
//! (`MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`), [`MlsWith<3>`] suite 3 (ChaCha20-Poly1305).
//!
//! # Costs
//!
//! n members after the change; a *full* tree is one where every member has committed since the
//! room's creation, a *bare* one a room just created by one commit adding everyone (blank
//! parents, RFC 9420 §7.8):
//!
//! | role | per change |
//! |---|---|
//! | committer | one UpdatePath: ⌈log₂ n⌉ HPKE encryptions in a full tree, up to n − 1 in a bare one; one Ed25519 signature; a Welcome with the ratchet tree (O(n) octets) when it adds |
//! | other member | one HPKE decryption, the tree hash over the changed path, one signature check |
//! | joiner | checks the whole tree of the Welcome (n leaf signatures, the tree hash) |
//! | rejoined member | as a joiner |
//! | delivery service | parses the commit's framing for its epoch; O(1) work, n − 1 copies out |
//!
//! [`shape`] gives every commit's and Welcome's exact length from the shape of the room's tree
//! (checked against those sent). A commit is about 117 octets per path node plus a leaf node
//! and framing (≈ 1.6 KB at n = 1,024 in a full tree; research/groupkeys.md §1.5); in a bare
//! tree each copath node's resolution is its leaves, about 82 octets per member. The login
//! blob is the serialised group state, O(n).
//!
//! Nothing is shared between members to save memory: each member holds its own mls-rs group
//! (ratchet tree with every leaf's keys and credential, its path secrets, the key schedule of
//! its current and retained epochs) and the serialised copy it last wrote, so a room of n
//! members holds n trees of n leaves (1.8 GB at peak for `churn-kd.yaml`'s `mls` column alone,
//! whose largest room has 1,024 members). Writing the state at logout is charged nowhere (no
//! operation times a logout; restoring it is charged at login); the write every eighth epoch is
//! part of processing that commit.
//!
//! # Security
//!
//! Against a **passive** delivery service: it never holds an epoch secret (the oracle checks),
//! and a removed member cannot derive later epochs (its leaf is blanked and the path secrets
//! are encrypted to the resolution of the remaining tree). A joiner gets no earlier epoch.
//! Forward secrecy and post-compromise security come from TreeKEM: a member whose state leaked
//! is healed once it (or a commit covering its leaf) updates its path.
//!
//! Against an **active** delivery service: every commit is signed by its committer and carries
//! a membership tag and a confirmation tag; a Welcome is signed and its tree checked against the
//! GroupInfo; a key package is signed and its credential checked against the directory. So the
//! service can drop, delay or reorder messages (members then wait, and commits ahead of their
//! turn wait too), but cannot add a leaf of its own, forge a commit or learn a secret.
//!
//! # Weaknesses
//!
//! * Commits are PublicMessages: the delivery service sees who adds or removes whom.
//! * Removing many members leaves blank parents: the next commits encrypt to resolutions as
//!   large as O(n) until members update (RFC 9420 §7.8; this is what the benches' "bare tree"
//!   curve shows).
//! * A user's last-resort key package can be used for several Welcomes (RFC 9420 §16.8).
//! * A rejoined member reads nothing of the epochs it missed through MLS itself (no epoch
//!   secret of theirs reaches it); what it reads of them is what the history scheme gives a
//!   joiner. A rejoin waits until a member holding the current epoch is online.
//! * The delivery service takes the committer's word for which members a commit re-adds (it
//!   sends them the Welcome): a hostile member can only misdirect, and the members then wait.
//!
//! # Side channels
//!
//! The RustCrypto primitives underneath: X25519 and Ed25519 from the dalek crates are constant
//! time; AES-GCM is constant time with AES-NI (the `aes` crate's fixsliced fallback otherwise).
//! Tree and message handling in mls-rs branch on public data only.

pub mod client;
pub mod identity;
pub mod member;
pub mod message;
pub mod provider;
pub mod server;
pub mod shape;

pub use client::Client;
pub use message::Message;
pub use server::DeliveryService;

use core::marker::PhantomData;

use crate::kd::{DirectoryAuthority, KdProperties, KeyDistribution};
use crate::{CryptoRngCore, SchemeError, UserId, Wire};

use provider::{MlsCrypto, SeededCrypto};

/// The `mls` scheme with MLS cipher suite `SUITE` (1 or 3; see [`provider::SeededCrypto`]) on
/// crypto provider `C`: the scheme's own, [`SeededCrypto`], or the ideal one of its model
/// ([`crate::model::mls`]), which runs the same code without cryptography.
pub struct MlsWith<const SUITE: u16, C = SeededCrypto>(PhantomData<fn() -> C>);

// By hand: derived impls would require `C: Copy` of a type that is only ever a marker.
impl<const SUITE: u16, C> core::fmt::Debug for MlsWith<SUITE, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MlsWith<{SUITE}>")
    }
}

impl<const SUITE: u16, C> Clone for MlsWith<SUITE, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<const SUITE: u16, C> Copy for MlsWith<SUITE, C> {}

/// The `mls` scheme with the mandatory-to-implement cipher suite 1.
pub type Mls = MlsWith<1>;

/// A user's public credential: its Ed25519 signature key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential(pub [u8; 32]);

impl Wire for Credential {
    fn wire_len(&self) -> usize {
        32
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.0);
    }
}

impl<const SUITE: u16, C: MlsCrypto> KeyDistribution for MlsWith<SUITE, C> {
    const NAME: &'static str = match SUITE {
        1 => "mls",
        3 => "mls-chacha",
        _ => "mls-unsupported-suite",
    };
    const SUMMARY: &'static str =
        "MLS (RFC 9420) via mls-rs: TreeKEM commits ordered by the key server as delivery service";
    const PROPERTIES: KdProperties = KdProperties {
        server_knows_epoch_secret: false,
        authority_can_derive: false,
        removal_excludes: true,
        join_excludes_past: true,
        layer_hides_history_from_joiners: false,
        heals_after_update: true,
        rejoins: true,
    };
    type Credential = Credential;
    type Message = Message;
    type Client = Client<SUITE, C>;
    type Server = DeliveryService<SUITE, C>;
    type Authority = DirectoryAuthority<Self>;

    fn new_server(_rng: &mut dyn CryptoRngCore) -> Result<Self::Server, SchemeError> {
        Ok(DeliveryService::default())
    }

    fn enroll(
        server: &mut Self::Server,
        _authority: &mut Self::Authority,
        user: UserId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(Self::Client, Self::Credential), SchemeError> {
        let e = Client::<SUITE, C>::enroll(user, rng)?;
        server.enroll(user, e.one_time, e.last_resort);
        Ok((e.client, e.credential))
    }
}
