//! Organisations and their credential authorities.
//!
//! Every user belongs to one organisation, and its organisation's [`KdAuthority`] vouches for
//! its key-distribution credentials. For most schemes the authority is the organisation's
//! directory, which lists each user's public key and issues nothing ([`DirectoryAuthority`]).
//! An identity-based scheme has a Key Management Server (KMS) instead: it derives each user's
//! private keys from its master secrets for one key period at a time and issues them again at
//! every period ([`KdAuthority::ISSUES_PER_PERIOD`]). A client accepts users of another
//! organisation only if its own organisation trusts that organisation's authority
//! ([`KdClient::trust`](super::KdClient::trust)).

use super::KeyDistribution;
use crate::{CryptoRngCore, Epoch, EpochSecret, Misuse, RoomId, SchemeError, UserId, Wire};

/// An organisation of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct OrgId(pub u16);

impl core::fmt::Display for OrgId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "org{}", self.0)
    }
}

/// A key period, counted from the start of the run: credentials an authority issues are valid
/// for one period (RFC 6509 §3.2's monthly periods, of the scenario's length here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Period(pub u32);

impl Period {
    /// The period the run starts in, for which users are enrolled.
    pub const FIRST: Self = Self(0);
}

/// An organisation's credential authority for key-distribution scheme [`Self::Kd`].
pub trait KdAuthority: Send + Sized {
    /// The scheme.
    type Kd: KeyDistribution<Authority = Self>;
    /// What a client installs to accept users of this authority's organisation.
    type Public: Clone + Send + Sync + 'static;
    /// What the authority sends a user when it issues the user's credentials for a period.
    type Issued: Wire + Clone + Send + Sync + 'static;
    /// Whether credentials expire with their key period, so that the authority issues every
    /// user's credentials again at each period ([`issue`](Self::issue)).
    const ISSUES_PER_PERIOD: bool;

    /// Sets up the authority of `org`.
    ///
    /// # Errors
    /// Scheme specific; set-up of the authorities in this crate does not fail.
    fn new(org: OrgId, rng: &mut dyn CryptoRngCore) -> Result<Self, SchemeError>;

    /// The organisation.
    fn org(&self) -> OrgId;

    /// The public parameters clients of trusting organisations install.
    fn public(&self) -> Self::Public;

    /// Issues `user`'s credentials for `period`.
    ///
    /// # Errors
    /// [`SchemeError::Misuse`] if this authority issues nothing per period or `period` is
    /// earlier than one it already issued; scheme specific otherwise.
    fn issue(
        &mut self,
        user: UserId,
        period: Period,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Self::Issued, SchemeError>;

    /// What the authority derives from `relayed`, a key-distribution message about `room` to
    /// one of its users (an identity-based KMS computes the recipient's private key again and
    /// opens it): the epoch and its secret. `None` (the default) for an authority that derives
    /// nothing. Oracle work, not a protocol step: a caller compares the result with the secret
    /// the members hold before believing it.
    ///
    /// # Errors
    /// Inside the `Some`: as [`KdClient::handle`](super::KdClient::handle) for a message that
    /// does not open.
    fn escrow(
        &self,
        room: RoomId,
        relayed: &<Self::Kd as KeyDistribution>::Message,
    ) -> Option<Result<(Epoch, EpochSecret), SchemeError>> {
        let _ = (room, relayed);
        None
    }
}

/// Credentials of a scheme whose authority issues none: no value of this type exists.
pub type NothingIssued = crate::Nothing;

/// The authority of a scheme whose users publish their own public keys: the organisation's
/// directory, which vouches for them. It holds no secret and issues nothing.
#[derive(Debug)]
pub struct DirectoryAuthority<K> {
    org: OrgId,
    scheme: core::marker::PhantomData<fn() -> K>,
}

impl<K: KeyDistribution<Authority = Self>> KdAuthority for DirectoryAuthority<K> {
    type Kd = K;
    type Public = ();
    type Issued = NothingIssued;
    const ISSUES_PER_PERIOD: bool = false;

    fn new(org: OrgId, _rng: &mut dyn CryptoRngCore) -> Result<Self, SchemeError> {
        Ok(Self {
            org,
            scheme: core::marker::PhantomData,
        })
    }

    fn org(&self) -> OrgId {
        self.org
    }

    fn public(&self) {}

    fn issue(
        &mut self,
        _user: UserId,
        _period: Period,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<NothingIssued, SchemeError> {
        Err(Misuse::UnexpectedMessage("a directory issues no credentials").into())
    }
}

/// A fresh system of scheme `K` with two organisations that trust each other: users `0..users`
/// in id order, even ids in organisation 0 and odd ones in organisation 1 ([`two_orgs_org_of`]).
#[allow(missing_debug_implementations)]
pub struct TwoOrganisations<K: KeyDistribution> {
    /// The key server.
    pub server: K::Server,
    /// The two authorities, by organisation.
    pub authorities: Vec<K::Authority>,
    /// Every user's client, by id.
    pub clients: Vec<K::Client>,
    /// Published credentials, by id.
    pub directory: Vec<K::Credential>,
}

/// The organisation of `user` in [`TwoOrganisations`].
#[must_use]
pub fn two_orgs_org_of(user: UserId) -> OrgId {
    OrgId((user.0 % 2) as u16)
}

/// What sees each message [`TwoOrganisations::run_change`] delivers to a user: the system, the
/// addressee, the sender, the message and the rng.
pub type Tap<'a, K> = dyn FnMut(
        &mut TwoOrganisations<K>,
        UserId,
        super::Origin,
        &<K as KeyDistribution>::Message,
        &mut dyn CryptoRngCore,
    ) + 'a;

impl<K: KeyDistribution> TwoOrganisations<K> {
    /// Sets up the server and both authorities, enrols the users and has each trust the other
    /// organisation.
    ///
    /// # Errors
    /// What setting up, enrolling or trusting returns.
    pub fn new(users: u32, rng: &mut dyn CryptoRngCore) -> Result<Self, SchemeError> {
        use super::KdClient;
        let mut server = K::new_server(rng)?;
        let mut authorities = vec![
            K::Authority::new(OrgId(0), rng)?,
            K::Authority::new(OrgId(1), rng)?,
        ];
        let mut clients = Vec::with_capacity(users as usize);
        let mut directory = Vec::with_capacity(users as usize);
        for u in 0..users {
            let org = usize::from(two_orgs_org_of(UserId(u)).0);
            let (client, credential) =
                K::enroll(&mut server, &mut authorities[org], UserId(u), rng)?;
            clients.push(client);
            directory.push(credential);
        }
        for (u, client) in clients.iter_mut().enumerate() {
            let other = 1 - usize::from(two_orgs_org_of(UserId(u as u32)).0);
            client.trust(OrgId(other as u16), &authorities[other].public())?;
        }
        Ok(Self {
            server,
            authorities,
            clients,
            directory,
        })
    }

    /// Every user's authority issues its keys for `period` and the user installs them.
    ///
    /// # Errors
    /// What issuing or renewing returns.
    pub fn renew_all(
        &mut self,
        period: Period,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), SchemeError> {
        use super::KdClient;
        for (u, client) in self.clients.iter_mut().enumerate() {
            let user = UserId(u as u32);
            let org = usize::from(two_orgs_org_of(user).0);
            let issued = self.authorities[org].issue(user, period, rng)?;
            client.renew(&issued, rng)?;
        }
        Ok(())
    }

    /// `changer` makes `change` under `view`; every message is delivered through the server to
    /// its addressee, and `tap` sees each one before a user handles it (an eavesdropper's
    /// copy: the system, the addressee, the sender, the message).
    ///
    /// # Errors
    /// What the change, the server or an addressee's handling returns.
    pub fn run_change(
        &mut self,
        view: &super::Roster<'_>,
        changer: UserId,
        change: &super::Change<'_>,
        rng: &mut dyn CryptoRngCore,
        tap: &mut Tap<'_, K>,
    ) -> Result<(), SchemeError> {
        use super::{KdClient, KdServer};
        use crate::common::router::{route, Arrival};
        let mut out = crate::Outbox::new();
        self.clients
            .get_mut(changer.0 as usize)
            .ok_or(SchemeError::Internal("a changer not enrolled"))?
            .change(view, change, &self.directory, rng, &mut out)?;
        route(super::Origin::User(changer), out, |arrival| {
            let mut o = crate::Outbox::new();
            match arrival {
                Arrival::AtServer { from, msg } => {
                    self.server.handle(view, from, msg, rng, &mut o)?;
                }
                Arrival::AtUser { from, to, msg } => {
                    tap(self, to, from, msg, rng);
                    let client = self
                        .clients
                        .get_mut(to.0 as usize)
                        .ok_or(SchemeError::Internal("a message to a user not enrolled"))?;
                    client.handle(view, from, msg, &self.directory, rng, &mut o)?;
                }
            }
            Ok::<_, SchemeError>(o)
        })?;
        Ok(())
    }
}
