//! Group key distribution: giving every current member of a room the room's [`EpochSecret`].
//!
//! A scheme is a type family ([`KeyDistribution`]) with two roles: a [`KdClient`] per user,
//! holding the user's state for all its rooms, and one [`KdServer`] (the key-distribution
//! server: a relay, a key management server or an MLS delivery service, depending on the scheme).
//! Roles exchange [`KeyDistribution::Message`]s through an [`Outbox`]; the caller routes them,
//! always through the server, and meters every hop.
//!
//! A membership change is started by a member (an admin) with [`KdClient::change`]. The caller
//! tells every party the room's roster after the change (the chat service's directory is the
//! authority on membership); the scheme decides who computes what. The change is complete when
//! every member reports [`Handled::NewEpoch`] for the new epoch (the changer may already hold it
//! when `change` returns).

pub mod authority;
pub mod compromise;
pub mod conventional;
pub mod held;
pub mod impersonate;
pub mod interpose;
pub mod mkd;
pub mod mls;
pub mod overhear;
pub mod pairwise_dh;
pub mod provider;
pub mod relay;
pub mod sakke;
pub mod sealed_box;
pub mod sender_keys;

use crate::{
    CryptoRngCore, Epoch, EpochSecret, Misuse, Opened, Outbox, RoomId, SchemeError, UserId, Wire,
};

pub use crate::common::traffic::Traffic;
pub use authority::{DirectoryAuthority, KdAuthority, NothingIssued, OrgId, Period};

/// A room's membership as the directory knows it, after the change being processed.
#[derive(Debug, Clone, Copy)]
pub struct Roster<'a> {
    /// The room.
    pub room: RoomId,
    /// Its members, sorted ascending, without duplicates.
    pub members: &'a [UserId],
}

impl Roster<'_> {
    /// Whether `user` is a member.
    #[must_use]
    pub fn contains(&self, user: UserId) -> bool {
        self.members.binary_search(&user).is_ok()
    }
}

/// A membership change.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// The room is created with the roster's members.
    Create,
    /// These users were added.
    Add(&'a [UserId]),
    /// These users were removed.
    Remove(&'a [UserId]),
}

pub use crate::wire::Origin;

/// What processing a message did to a client's view of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Nothing visible (an intermediate protocol step).
    Nothing,
    /// The client now holds the secret of this epoch.
    NewEpoch(Epoch),
    /// The message belongs to an epoch or a session that a later change has superseded (it
    /// waited in a mailbox while the room moved on); the client dropped it and nothing changed.
    /// Real clients drop such messages too. It changes nothing, so a scheme may say it before
    /// authenticating the message; a message that fails to authenticate for the epoch the
    /// client is in is [`SchemeError::Crypto`].
    Stale,
}

/// What processing a message did at the key server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerHandled {
    /// The message was processed (its effects, if any, are in the outbox).
    Processed,
    /// The message belongs to a session that a later change has superseded; the server dropped
    /// it.
    Stale,
}

/// Security properties a key-distribution scheme claims; the simulator's oracle checks the
/// claimed ones and reports the rest as exposures by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdProperties {
    /// The key server can compute epoch secrets (a conventional server).
    pub server_knows_epoch_secret: bool,
    /// An organisation's [`KdAuthority`] can derive the epoch secrets its users receive: an
    /// identity-based KMS that holds every private key it issued (escrow by design).
    pub authority_can_derive: bool,
    /// A removed member cannot derive any later epoch secret.
    pub removal_excludes: bool,
    /// A joiner cannot derive any earlier epoch secret.
    pub join_excludes_past: bool,
    /// The scheme's own [`MessageLayer`] keeps a joiner from every message sent before it
    /// joined, whatever the history scheme stores (Sender Keys): a stack with it cannot honour
    /// a shared-history policy.
    pub layer_hides_history_from_joiners: bool,
    /// Post-compromise security: a member whose whole state leaked and who then makes an update
    /// of the room is healed: a copy of the leaked state, handed every later message addressed
    /// to the member, derives no secret of the epochs after a further update
    /// ([`compromise::leaked_member_updates`]).
    pub heals_after_update: bool,
    /// A member that missed key traffic addressed to it (the key server let it expire while
    /// the member was offline) can be brought back into the room by another member with
    /// [`KdClient::rejoin`]: a new epoch whose key reaches it afresh (MLS: a commit removing its
    /// old leaf and adding a new one, with a new Welcome). The key server of a scheme without it
    /// must keep every queued message until its member comes back.
    pub rejoins: bool,
}

/// Protection of each application message by the key-distribution scheme itself, under the
/// history scheme's sealing (Sender Keys' hash ratchet): an optional capability of a client
/// ([`KdClient::message_layer`]).
pub trait MessageLayer {
    /// Protects an application message of `room` before history protection seals it.
    ///
    /// # Errors
    /// [`SchemeError::Misuse`] if this client holds no key for `room`.
    fn protect(
        &mut self,
        room: RoomId,
        body: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, SchemeError>;

    /// Reverses [`protect`](Self::protect) for a message `sender` sent to `room`:
    /// [`Opened::Pending`] while the sender's key for it has not arrived.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if it does not authenticate; [`SchemeError::Malformed`] if it
    /// does not parse.
    fn unprotect(
        &mut self,
        room: RoomId,
        sender: UserId,
        body: &[u8],
    ) -> Result<Opened, SchemeError>;
}

/// A group key-distribution scheme (a type family; the implementing type carries no data).
pub trait KeyDistribution: 'static {
    /// Name used in scenario files and reports.
    const NAME: &'static str;
    /// One line describing the scheme.
    const SUMMARY: &'static str;
    /// What the scheme claims.
    const PROPERTIES: KdProperties;
    /// About how many bytes a client holds for its user's credentials, whatever its rooms
    /// (keys and their precomputation), for memory estimates; 0 (the default) where that is
    /// small beside the rest of a user's state.
    const CLIENT_CREDENTIAL_BYTES: usize = 0;
    /// Whether its clients protect every application message themselves
    /// ([`KdClient::message_layer`] returns one): false (the default) for schemes that only
    /// distribute epoch secrets.
    const MESSAGE_LAYER: bool = false;
    /// A user's public credential, published in the directory at enrolment.
    type Credential: Wire + Clone + Send + Sync + 'static;
    /// Any protocol message, in either direction.
    type Message: Wire + Clone + Send + Sync + 'static;
    /// A user's state for all its rooms.
    type Client: KdClient<Kd = Self>;
    /// The key-distribution server.
    type Server: KdServer<Kd = Self>;
    /// An organisation's credential authority: the directory that vouches for its users'
    /// public keys ([`DirectoryAuthority`]), or a key management server that issues them.
    type Authority: KdAuthority<Kd = Self>;

    /// Sets up the server.
    ///
    /// # Errors
    /// Scheme specific; setup of the schemes in this crate does not fail.
    fn new_server(rng: &mut dyn CryptoRngCore) -> Result<Self::Server, SchemeError>;

    /// Sets up a server that runs this scheme's best known attack by an **active** key
    /// server: it rewrites what it relays, within the protocol's message formats, to learn the
    /// epoch secret, while the members still complete every change. After a change it reports
    /// the epoch secret it derived through [`KdServer::known_epoch_secret`].
    ///
    /// A caller must not take that report on trust: the claim shows an exposure only if it
    /// equals the secret the members themselves hold ([`interpose::interposed_room`] returns
    /// both), so a scheme cannot fake an exposure. `None` (the default) says that no active
    /// attack is implemented for the scheme, which is not a claim that none exists.
    ///
    /// # Errors
    /// As [`new_server`](Self::new_server), inside the `Some`.
    fn new_interposing_server(
        _rng: &mut dyn CryptoRngCore,
    ) -> Option<Result<Self::Server, SchemeError>> {
        None
    }

    /// Enrols `user`, a user of `authority`'s organisation, with the server (provisioning
    /// before the run; not a measured operation) and returns its client, holding credentials
    /// for [`Period::FIRST`], and its public credential.
    ///
    /// # Errors
    /// Scheme specific.
    fn enroll(
        server: &mut Self::Server,
        authority: &mut Self::Authority,
        user: UserId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(Self::Client, Self::Credential), SchemeError>;
}

/// Directory of enrolled users' credentials, indexed by `UserId.0`.
pub type Directory<'a, K> = &'a [<K as KeyDistribution>::Credential];

/// A user's key-distribution state.
pub trait KdClient: Send {
    /// The scheme.
    type Kd: KeyDistribution<Client = Self>;

    /// Starts a membership change of `roster.room` (or its creation), as this user.
    ///
    /// # Errors
    /// [`SchemeError::Misuse`] if this user may not make the change (for example it is not a
    /// member); scheme specific otherwise.
    fn change(
        &mut self,
        roster: &Roster<'_>,
        change: &Change<'_>,
        directory: Directory<'_, Self::Kd>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<<Self::Kd as KeyDistribution>::Message>,
    ) -> Result<Handled, SchemeError>;

    /// Processes a message about `roster.room`; [`Handled::Stale`] for a message a later change
    /// superseded.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if the message does not authenticate or decrypt;
    /// [`SchemeError::Malformed`] or [`SchemeError::Misuse`] for messages that do not fit.
    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: Origin,
        msg: &<Self::Kd as KeyDistribution>::Message,
        directory: Directory<'_, Self::Kd>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<<Self::Kd as KeyDistribution>::Message>,
    ) -> Result<Handled, SchemeError>;

    /// Starts bringing `who`, a member of `roster.room` that missed key traffic addressed to it
    /// (it expired at the key server), back into the room, as this member: a change of the room
    /// that leaves its membership as it is and gives `who` the new epoch afresh. It completes as
    /// [`change`](Self::change) does. Only schemes that claim [`KdProperties::rejoins`]
    /// implement it.
    ///
    /// # Errors
    /// [`SchemeError::Misuse`] if this user or `who` is not in `roster`, `who` is this user, a
    /// change of the room is under way, or (the default) the scheme cannot rejoin anyone.
    fn rejoin(
        &mut self,
        roster: &Roster<'_>,
        who: UserId,
        directory: Directory<'_, Self::Kd>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<<Self::Kd as KeyDistribution>::Message>,
    ) -> Result<Handled, SchemeError> {
        let _ = (roster, who, directory, rng, out);
        Err(Misuse::UnexpectedMessage("this scheme cannot rejoin a member").into())
    }

    /// The epoch and secret this client currently holds for `room`, if any.
    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)>;

    /// Size in bytes of the state a stateless terminal must restore for `room` at login
    /// (before the blob's own encryption overhead). A scheme that serialises its state writes
    /// it here, when the terminal stores it, rather than after every change.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if the state cannot be serialised.
    fn state_len(&mut self, room: RoomId) -> Result<usize, SchemeError>;

    /// The scheme's per-message protection, for schemes that have one
    /// ([`KeyDistribution::MESSAGE_LAYER`]); `None` (the default) for schemes that only
    /// distribute epoch secrets.
    fn message_layer(&mut self) -> Option<&mut dyn MessageLayer> {
        None
    }

    /// Accepts users of organisation `org`, whose authority publishes `public`: this client's
    /// organisation trusts that authority (provisioning, not a measured operation). The
    /// default installs nothing: a scheme whose authority is the directory takes every
    /// credential the directory lists.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] if `public` does not validate.
    fn trust(
        &mut self,
        org: OrgId,
        public: &<<Self::Kd as KeyDistribution>::Authority as KdAuthority>::Public,
    ) -> Result<(), SchemeError> {
        let _ = (org, public);
        Ok(())
    }

    /// Validates and installs the credentials this user's authority `issued` for a later key
    /// period; from then on the client acts in that period.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if they do not validate, [`SchemeError::Malformed`] if they do
    /// not parse, [`SchemeError::Misuse`] if they are for another user or an earlier period;
    /// the default, for schemes whose credentials do not expire, refuses every issue.
    fn renew(
        &mut self,
        issued: &<<Self::Kd as KeyDistribution>::Authority as KdAuthority>::Issued,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), SchemeError> {
        let _ = (issued, rng);
        Err(Misuse::UnexpectedMessage("this scheme's credentials do not expire").into())
    }
}

/// The key-distribution server.
pub trait KdServer: Send {
    /// The scheme.
    type Kd: KeyDistribution<Server = Self>;

    /// Processes a message from `from` about `roster.room`; [`ServerHandled::Stale`] for a
    /// message of a session a later change superseded.
    ///
    /// # Errors
    /// As [`KdClient::handle`].
    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: UserId,
        msg: <Self::Kd as KeyDistribution>::Message,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<<Self::Kd as KeyDistribution>::Message>,
    ) -> Result<ServerHandled, SchemeError>;

    /// The epoch secret the server itself holds for `room`, for schemes whose server knows it
    /// by design ([`KdProperties::server_knows_epoch_secret`]) and for a server set up by
    /// [`KeyDistribution::new_interposing_server`] whose attack succeeded (the secret it
    /// derived); `None` otherwise.
    fn known_epoch_secret(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)>;
}
