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

pub mod conventional;
pub mod mkd;
pub mod pairwise_dh;
pub mod sakke;
pub mod sealed_box;
pub mod sender_keys;

use crate::{CryptoRngCore, Epoch, EpochSecret, Outbox, RoomId, SchemeError, UserId, Wire};

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

/// Who a client received a message from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The key-distribution server.
    Server,
    /// Another user (relayed by the server).
    User(UserId),
}

/// What processing a message did to a client's view of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Nothing visible (an intermediate protocol step).
    Nothing,
    /// The client now holds the secret of this epoch.
    NewEpoch(Epoch),
}

/// Security properties a key-distribution scheme claims; the simulator's oracle checks the
/// claimed ones and reports the rest as exposures by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdProperties {
    /// The key server can compute epoch secrets (a conventional server, or an escrowing KMS).
    pub server_knows_epoch_secret: bool,
    /// A removed member cannot derive any later epoch secret.
    pub removal_excludes: bool,
    /// A joiner cannot derive any earlier epoch secret.
    pub join_excludes_past: bool,
}

/// A group key-distribution scheme (a type family; the implementing type carries no data).
pub trait KeyDistribution: 'static {
    /// Name used in scenario files and reports.
    const NAME: &'static str;
    /// One line describing the scheme.
    const SUMMARY: &'static str;
    /// What the scheme claims.
    const PROPERTIES: KdProperties;
    /// Whether the scheme protects each application message itself ([`KdClient::protect`]),
    /// as Sender Keys does with its hash ratchet; most schemes only distribute epoch secrets.
    const MESSAGE_LAYER: bool = false;
    /// A user's public credential, published in the directory at enrolment.
    type Credential: Wire + Clone + Send + Sync + 'static;
    /// Any protocol message, in either direction.
    type Message: Wire + Clone + Send + Sync + 'static;
    /// A user's state for all its rooms.
    type Client: KdClient<Kd = Self>;
    /// The key-distribution server.
    type Server: KdServer<Kd = Self>;

    /// Sets up the server.
    ///
    /// # Errors
    /// Scheme specific; setup of the schemes in this crate does not fail.
    fn new_server(rng: &mut dyn CryptoRngCore) -> Result<Self::Server, SchemeError>;

    /// Enrols `user` with the server (provisioning before the run; not a measured operation)
    /// and returns its client and public credential.
    ///
    /// # Errors
    /// Scheme specific.
    fn enroll(
        server: &mut Self::Server,
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

    /// Processes a message about `roster.room`.
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

    /// The epoch and secret this client currently holds for `room`, if any.
    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)>;

    /// Size in bytes of the state a stateless terminal must restore for `room` at login
    /// (before the blob's own encryption overhead).
    fn state_len(&self, room: RoomId) -> usize;

    /// Protects an application message of `room` before history protection seals it. Only
    /// schemes with [`KeyDistribution::MESSAGE_LAYER`] do anything; the default returns the body
    /// unchanged.
    ///
    /// # Errors
    /// [`SchemeError::Misuse`] if this client holds no key for `room`.
    fn protect(
        &mut self,
        _room: RoomId,
        body: &[u8],
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, SchemeError> {
        Ok(body.to_vec())
    }

    /// Reverses [`protect`](Self::protect) for a message `sender` sent to `room`.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if it does not authenticate or this client cannot derive its key.
    fn unprotect(
        &mut self,
        _room: RoomId,
        _sender: UserId,
        body: &[u8],
    ) -> Result<Vec<u8>, SchemeError> {
        Ok(body.to_vec())
    }
}

/// The key-distribution server.
pub trait KdServer: Send {
    /// The scheme.
    type Kd: KeyDistribution<Server = Self>;

    /// Processes a message from `from` about `roster.room`.
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
    ) -> Result<(), SchemeError>;

    /// The epoch secret the server itself holds for `room`, for schemes whose server knows it
    /// by design ([`KdProperties::server_knows_epoch_secret`]); `None` otherwise.
    fn known_epoch_secret(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)>;
}
