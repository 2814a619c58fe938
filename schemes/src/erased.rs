//! The object-safe face of the three families, for callers that pick schemes at run time by
//! name (the simulator). Benches and conformance tests use the typed traits directly.
//!
//! Messages become [`Packet`]s: the typed value behind an `Arc` (so a server can fan one packet
//! out to a whole room without copying), with its wire length and a byte visitor. Each family's
//! erased system owns the server and every user's client, and the directory of credentials.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::kd::compromise::{leaked_member_updates, Leaked};
use crate::kd::impersonate::{impersonation, Impersonation};
use crate::kd::interpose::{interposed_room, InterposedRoom};
use crate::kd::overhear::{removed_member_overhears, Overheard};
use crate::kd::{
    Change, Handled, KdAuthority, KdClient, KdProperties, KdServer, KeyDistribution, MessageLayer,
    OrgId, Origin, Period, Roster, ServerHandled,
};
use crate::pre::{HistoryClient, HistoryProperties, HistoryProtection, HistoryServer};
use crate::rekeying::{EpochChange, KeyView, RekeyingClient, RekeyingServer, Work};
use crate::sse::{
    Access, Resolution, SearchableEncryption, Searched, SseClient, SseProperties, SseServer,
};
use crate::{
    CryptoRngCore, Epoch, EpochSecret, MsgId, Opened, Outbox, RoomId, SchemeError, UserId, Wire,
};

type Payload = dyn Any + Send + Sync;
type Visitor = fn(&Payload, &mut dyn FnMut(&[u8]));

/// A type-erased message with its exact wire length.
#[derive(Clone)]
pub struct Packet {
    wire_len: usize,
    visit: Visitor,
    inner: Arc<Payload>,
}

crate::secret::debug_without_secrets!("Packet", Packet { wire_len });

fn visit_typed<M: Wire + 'static>(any: &Payload, f: &mut dyn FnMut(&[u8])) {
    if let Some(m) = any.downcast_ref::<M>() {
        m.visit_bytes(f);
    }
}

impl Packet {
    /// Erases `msg`.
    pub fn new<M: Wire + Send + Sync + 'static>(msg: M) -> Self {
        Self {
            wire_len: msg.wire_len(),
            visit: visit_typed::<M>,
            inner: Arc::new(msg),
        }
    }

    /// Exact encoded length in bytes.
    #[must_use]
    pub fn wire_len(&self) -> usize {
        self.wire_len
    }

    /// Calls `f` on every byte string the message carries.
    pub fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        (self.visit)(&*self.inner, f);
    }

    /// The typed message.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if the packet holds another type (a routing bug).
    pub fn downcast_ref<M: 'static>(&self) -> Result<&M, SchemeError> {
        self.inner
            .downcast_ref::<M>()
            .ok_or(SchemeError::Internal("packet routed to the wrong scheme"))
    }

    /// The typed message, by value (cloned only if the packet is shared).
    ///
    /// # Errors
    /// As [`downcast_ref`](Self::downcast_ref).
    pub fn take<M: Clone + Send + Sync + 'static>(self) -> Result<M, SchemeError> {
        let arc = self
            .inner
            .downcast::<M>()
            .map_err(|_| SchemeError::Internal("packet routed to the wrong scheme"))?;
        Ok(Arc::try_unwrap(arc).unwrap_or_else(|shared| (*shared).clone()))
    }
}

/// Runs `step` of a typed party with an outbox of its own messages, which then go to `into`
/// erased (in order, after the step succeeded).
fn erasing<M: Wire + Send + Sync + 'static, T>(
    into: &mut Outbox<Packet>,
    step: impl FnOnce(&mut Outbox<M>) -> Result<T, SchemeError>,
) -> Result<T, SchemeError> {
    let mut typed = Outbox::new();
    let done = step(&mut typed)?;
    for (dest, msg) in typed.map_into(Packet::new).drain() {
        into.send(dest, msg);
    }
    Ok(done)
}

fn client<C>(clients: &mut [C], user: UserId) -> Result<&mut C, SchemeError> {
    clients
        .get_mut(user.0 as usize)
        .ok_or(SchemeError::Internal("user not enrolled"))
}

// ---------------------------------------------------------------------------------------------
// Key distribution

/// A key-distribution scheme with its server, clients and directory, picked at run time.
pub trait DynKd: Send {
    /// The scheme's name.
    fn name(&self) -> &'static str;
    /// What it claims.
    fn properties(&self) -> KdProperties;
    /// Sets up the next organisation's [`KdAuthority`] and returns its id (organisations are
    /// numbered from zero in the order they are added).
    ///
    /// # Errors
    /// As [`KdAuthority::new`]; [`SchemeError::Internal`] past `u16::MAX` organisations.
    fn add_organisation(&mut self, rng: &mut dyn CryptoRngCore) -> Result<OrgId, SchemeError>;
    /// Enrols the next user, a user of `org`; users must be enrolled in id order from zero.
    ///
    /// # Errors
    /// Scheme specific; [`SchemeError::Internal`] if `user` is out of order or `org` unknown.
    fn enroll(
        &mut self,
        user: UserId,
        org: OrgId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), SchemeError>;
    /// [`KdClient::trust`]: `user`'s client accepts users of `org`.
    ///
    /// # Errors
    /// As [`KdClient::trust`]; [`SchemeError::Internal`] for an unknown user or organisation.
    fn trust(&mut self, user: UserId, org: OrgId) -> Result<(), SchemeError>;
    /// [`KdAuthority::ISSUES_PER_PERIOD`].
    fn issues_per_period(&self) -> bool;
    /// [`KdAuthority::issue`] by the authority of `user`'s organisation: what it sends `user`.
    ///
    /// # Errors
    /// As [`KdAuthority::issue`].
    fn issue(
        &mut self,
        user: UserId,
        period: Period,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Packet, SchemeError>;
    /// [`KdClient::renew`] on `user`'s client.
    ///
    /// # Errors
    /// As [`KdClient::renew`].
    fn renew(
        &mut self,
        user: UserId,
        issued: &Packet,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), SchemeError>;
    /// [`KdClient::change`] on `user`'s client.
    ///
    /// # Errors
    /// As [`KdClient::change`].
    fn change(
        &mut self,
        user: UserId,
        roster: &Roster<'_>,
        change: &Change<'_>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<Handled, SchemeError>;
    /// [`KdClient::rejoin`] of `who` on `user`'s client.
    ///
    /// # Errors
    /// As [`KdClient::rejoin`].
    fn rejoin(
        &mut self,
        user: UserId,
        roster: &Roster<'_>,
        who: UserId,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<Handled, SchemeError>;
    /// [`KdClient::handle`] on `user`'s client.
    ///
    /// # Errors
    /// As [`KdClient::handle`].
    fn client_handle(
        &mut self,
        user: UserId,
        roster: &Roster<'_>,
        from: Origin,
        msg: &Packet,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<Handled, SchemeError>;
    /// [`KdServer::handle`].
    ///
    /// # Errors
    /// As [`KdServer::handle`].
    fn server_handle(
        &mut self,
        roster: &Roster<'_>,
        from: UserId,
        msg: Packet,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<ServerHandled, SchemeError>;
    /// [`KdClient::current`] of `user`.
    fn current(&self, user: UserId, room: RoomId) -> Option<(Epoch, &EpochSecret)>;
    /// [`KdClient::state_len`] of `user`.
    ///
    /// # Errors
    /// As [`KdClient::state_len`].
    fn state_len(&mut self, user: UserId, room: RoomId) -> Result<usize, SchemeError>;
    /// [`KdServer::known_epoch_secret`].
    fn server_known_secret(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)>;
    /// [`KdAuthority::escrow`], by the authority of `to`'s organisation, of a message to `to`
    /// that the key server relayed.
    fn authority_escrow(
        &self,
        to: UserId,
        room: RoomId,
        relayed: &Packet,
    ) -> Option<Result<(Epoch, EpochSecret), SchemeError>>;
    /// [`KdClient::message_layer`] of `user`'s client: `None` for schemes without one (and
    /// for an unknown user).
    fn message_layer(&mut self, user: UserId) -> Option<&mut dyn MessageLayer>;
    /// [`interposed_room`] for this scheme: a room of `members` users created through the
    /// scheme's interposing (actively attacking) key server, in a system of its own (this
    /// system is not touched); `None` if the scheme has no known active attack implemented.
    ///
    /// # Errors
    /// As [`interposed_room`].
    fn interposed_room(
        &self,
        members: u32,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Option<InterposedRoom>, SchemeError>;
    /// [`impersonation`] for this scheme, in a system of its own; `None` if the scheme's
    /// authority issues no credentials.
    ///
    /// # Errors
    /// As [`impersonation`].
    fn impersonation(
        &self,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Option<Impersonation>, SchemeError>;
    /// [`removed_member_overhears`] for this scheme, in a system of its own.
    ///
    /// # Errors
    /// As [`removed_member_overhears`].
    fn removed_member_overhears(
        &self,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Overheard, SchemeError>;
    /// [`leaked_member_updates`] for this scheme, in a system of its own.
    ///
    /// # Errors
    /// As [`leaked_member_updates`].
    fn leaked_member_updates(&self, rng: &mut dyn CryptoRngCore) -> Result<Leaked, SchemeError>;
}

/// [`DynKd`] over a typed scheme `K`, whose adversary experiments (each in a system of its own)
/// run on scheme `E`: `K` itself, or the real scheme a model stands for.
struct KdSystem<K: KeyDistribution, E: KeyDistribution = K> {
    server: K::Server,
    authorities: Vec<K::Authority>,
    clients: Vec<K::Client>,
    /// Each client's organisation, by user id.
    org_of: Vec<OrgId>,
    directory: Vec<K::Credential>,
    experiments: PhantomData<fn() -> E>,
}

impl<K: KeyDistribution, E: KeyDistribution> KdSystem<K, E> {
    fn authority(&mut self, org: OrgId) -> Result<&mut K::Authority, SchemeError> {
        self.authorities
            .get_mut(usize::from(org.0))
            .ok_or(SchemeError::Internal("unknown organisation"))
    }

    fn org_of(&self, user: UserId) -> Result<OrgId, SchemeError> {
        self.org_of
            .get(user.0 as usize)
            .copied()
            .ok_or(SchemeError::Internal("user not enrolled"))
    }
}

/// A fresh erased system of scheme `K`.
///
/// # Errors
/// As [`KeyDistribution::new_server`].
pub fn kd_system<K: KeyDistribution>(
    rng: &mut dyn CryptoRngCore,
) -> Result<Box<dyn DynKd>, SchemeError> {
    modelled_kd_system::<K, K>(rng)
}

/// A fresh erased system of `M`, a model of scheme `R` (the `model` cost mode): the run goes
/// through `M`, while the adversary experiments, which build small systems of their own and do
/// not grow with the run, still test `R` with its cryptography.
///
/// # Errors
/// As [`KeyDistribution::new_server`] of `M`.
pub fn modelled_kd_system<M: KeyDistribution, R: KeyDistribution>(
    rng: &mut dyn CryptoRngCore,
) -> Result<Box<dyn DynKd>, SchemeError> {
    Ok(Box::new(KdSystem::<M, R> {
        server: M::new_server(rng)?,
        authorities: Vec::new(),
        clients: Vec::new(),
        org_of: Vec::new(),
        directory: Vec::new(),
        experiments: PhantomData,
    }))
}

impl<K: KeyDistribution, E: KeyDistribution> DynKd for KdSystem<K, E> {
    fn name(&self) -> &'static str {
        K::NAME
    }
    fn properties(&self) -> KdProperties {
        K::PROPERTIES
    }
    fn add_organisation(&mut self, rng: &mut dyn CryptoRngCore) -> Result<OrgId, SchemeError> {
        let org = u16::try_from(self.authorities.len())
            .map(OrgId)
            .map_err(|_| SchemeError::Internal("too many organisations"))?;
        self.authorities.push(K::Authority::new(org, rng)?);
        Ok(org)
    }
    fn enroll(
        &mut self,
        user: UserId,
        org: OrgId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), SchemeError> {
        if user.0 as usize != self.clients.len() {
            return Err(SchemeError::Internal("users must be enrolled in id order"));
        }
        let authority = self
            .authorities
            .get_mut(usize::from(org.0))
            .ok_or(SchemeError::Internal("unknown organisation"))?;
        let (c, cred) = K::enroll(&mut self.server, authority, user, rng)?;
        self.clients.push(c);
        self.org_of.push(org);
        self.directory.push(cred);
        Ok(())
    }
    fn trust(&mut self, user: UserId, org: OrgId) -> Result<(), SchemeError> {
        let public = self.authority(org)?.public();
        client(&mut self.clients, user)?.trust(org, &public)
    }
    fn issues_per_period(&self) -> bool {
        <K::Authority as KdAuthority>::ISSUES_PER_PERIOD
    }
    fn issue(
        &mut self,
        user: UserId,
        period: Period,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Packet, SchemeError> {
        let org = self.org_of(user)?;
        self.authority(org)?
            .issue(user, period, rng)
            .map(Packet::new)
    }
    fn renew(
        &mut self,
        user: UserId,
        issued: &Packet,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), SchemeError> {
        let issued = issued.downcast_ref::<<K::Authority as KdAuthority>::Issued>()?;
        client(&mut self.clients, user)?.renew(issued, rng)
    }
    fn change(
        &mut self,
        user: UserId,
        roster: &Roster<'_>,
        change: &Change<'_>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<Handled, SchemeError> {
        let client = client(&mut self.clients, user)?;
        erasing(out, |typed| {
            client.change(roster, change, &self.directory, rng, typed)
        })
    }
    fn rejoin(
        &mut self,
        user: UserId,
        roster: &Roster<'_>,
        who: UserId,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<Handled, SchemeError> {
        let client = client(&mut self.clients, user)?;
        erasing(out, |typed| {
            client.rejoin(roster, who, &self.directory, rng, typed)
        })
    }
    fn client_handle(
        &mut self,
        user: UserId,
        roster: &Roster<'_>,
        from: Origin,
        msg: &Packet,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<Handled, SchemeError> {
        let msg = msg.downcast_ref::<K::Message>()?;
        let client = client(&mut self.clients, user)?;
        erasing(out, |typed| {
            client.handle(roster, from, msg, &self.directory, rng, typed)
        })
    }
    fn server_handle(
        &mut self,
        roster: &Roster<'_>,
        from: UserId,
        msg: Packet,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<ServerHandled, SchemeError> {
        let msg = msg.take::<K::Message>()?;
        erasing(out, |typed| {
            self.server.handle(roster, from, msg, rng, typed)
        })
    }
    fn current(&self, user: UserId, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.clients.get(user.0 as usize)?.current(room)
    }
    fn state_len(&mut self, user: UserId, room: RoomId) -> Result<usize, SchemeError> {
        self.clients
            .get_mut(user.0 as usize)
            .map_or(Ok(0), |c| c.state_len(room))
    }
    fn server_known_secret(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.server.known_epoch_secret(room)
    }
    fn authority_escrow(
        &self,
        to: UserId,
        room: RoomId,
        relayed: &Packet,
    ) -> Option<Result<(Epoch, EpochSecret), SchemeError>> {
        let authority = self
            .org_of(to)
            .and_then(|org| {
                self.authorities
                    .get(usize::from(org.0))
                    .ok_or(SchemeError::Internal("unknown organisation"))
            })
            .and_then(|a| Ok((a, relayed.downcast_ref::<K::Message>()?)));
        match authority {
            Ok((authority, msg)) => authority.escrow(room, msg),
            Err(e) => Some(Err(e)),
        }
    }
    fn message_layer(&mut self, user: UserId) -> Option<&mut dyn MessageLayer> {
        self.clients.get_mut(user.0 as usize)?.message_layer()
    }
    fn interposed_room(
        &self,
        members: u32,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Option<InterposedRoom>, SchemeError> {
        interposed_room::<E>(members, rng)
    }
    fn impersonation(
        &self,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Option<Impersonation>, SchemeError> {
        impersonation::<E>(rng)
    }
    fn removed_member_overhears(
        &self,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Overheard, SchemeError> {
        removed_member_overhears::<E>(rng)
    }
    fn leaked_member_updates(&self, rng: &mut dyn CryptoRngCore) -> Result<Leaked, SchemeError> {
        leaked_member_updates::<E>(rng)
    }
}

// ---------------------------------------------------------------------------------------------
// Re-keying, shared by history protection and search

/// What the data families' erased systems share, picked at run time: the scheme's name, its
/// users, and the re-keying side of their clients and the server ([`RekeyingClient`],
/// [`RekeyingServer`]).
pub trait DynRekeying: Send {
    /// The scheme's name.
    fn name(&self) -> &'static str;
    /// Adds the next user's client; users must be added in id order from zero.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if `user` is out of order.
    fn add_user(&mut self, user: UserId) -> Result<(), SchemeError>;
    /// [`RekeyingClient::epoch_changed`] on `user`'s client.
    ///
    /// # Errors
    /// As [`RekeyingClient::epoch_changed`].
    fn epoch_changed(
        &mut self,
        user: UserId,
        change: EpochChange<'_>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<(), SchemeError>;
    /// [`RekeyingClient::handle`] on `user`'s client.
    ///
    /// # Errors
    /// As [`RekeyingClient::handle`].
    fn client_handle(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        msg: &Packet,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<(), SchemeError>;
    /// [`RekeyingServer::handle`].
    ///
    /// # Errors
    /// As [`RekeyingServer::handle`].
    fn server_handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: Packet,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<Work, SchemeError>;
    /// [`RekeyingServer::name_changer`].
    ///
    /// # Errors
    /// As [`RekeyingServer::name_changer`].
    fn name_changer(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        changer: UserId,
    ) -> Result<(), SchemeError>;
    /// [`RekeyingServer::stored_len`].
    fn stored_len(&self) -> usize;
}

/// A data family's server and every user's client (client `i` is user `i`); `F` is the scheme,
/// named `name`, whose clients `new_client` makes.
struct Parties<F, C, S> {
    name: &'static str,
    new_client: fn(UserId) -> C,
    server: S,
    clients: Vec<C>,
    scheme: PhantomData<fn() -> F>,
}

impl<F, C, S: Default> Parties<F, C, S> {
    fn new(name: &'static str, new_client: fn(UserId) -> C) -> Self {
        Self {
            name,
            new_client,
            server: S::default(),
            clients: Vec::new(),
            scheme: PhantomData,
        }
    }
}

impl<F, C, S> DynRekeying for Parties<F, C, S>
where
    C: RekeyingClient,
    S: RekeyingServer<Message = C::Message>,
{
    fn name(&self) -> &'static str {
        self.name
    }
    fn add_user(&mut self, user: UserId) -> Result<(), SchemeError> {
        if user.0 as usize != self.clients.len() {
            return Err(SchemeError::Internal("users must be added in id order"));
        }
        self.clients.push((self.new_client)(user));
        Ok(())
    }
    fn epoch_changed(
        &mut self,
        user: UserId,
        change: EpochChange<'_>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<(), SchemeError> {
        let client = client(&mut self.clients, user)?;
        erasing(out, |typed| client.epoch_changed(change, rng, typed))
    }
    fn client_handle(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        msg: &Packet,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<(), SchemeError> {
        let msg = msg.downcast_ref::<C::Message>()?;
        let client = client(&mut self.clients, user)?;
        erasing(out, |typed| client.handle(key, msg, rng, typed))
    }
    fn server_handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: Packet,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Packet>,
    ) -> Result<Work, SchemeError> {
        let msg = msg.take::<S::Message>()?;
        erasing(out, |typed| self.server.handle(room, from, msg, rng, typed))
    }
    fn name_changer(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        changer: UserId,
    ) -> Result<(), SchemeError> {
        self.server.name_changer(room, epoch, changer)
    }
    fn stored_len(&self) -> usize {
        self.server.stored_len()
    }
}

// ---------------------------------------------------------------------------------------------
// History protection

/// A history-protection scheme with its server and clients, picked at run time.
pub trait DynHistory: DynRekeying {
    /// What it claims.
    fn properties(&self) -> HistoryProperties;
    /// [`HistoryClient::seal`] on `user`'s client.
    ///
    /// # Errors
    /// As [`HistoryClient::seal`].
    fn seal(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Packet, SchemeError>;
    /// [`HistoryClient::seal`] on a fresh client of `user` that holds nothing but `key`: a
    /// record as a party holding exactly this key (a forger) builds it. The system's own
    /// clients are not touched.
    ///
    /// # Errors
    /// As [`HistoryClient::seal`].
    fn seal_detached(
        &self,
        user: UserId,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Packet, SchemeError>;
    /// [`HistoryClient::open`] on `user`'s client.
    ///
    /// # Errors
    /// As [`HistoryClient::open`].
    fn open(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &Packet,
    ) -> Result<Opened, SchemeError>;
    /// [`HistoryClient::open`] on a fresh client of `user` that holds nothing but `key`: what
    /// a party holding exactly this key opens. The system's own clients are not touched, so an
    /// experiment with a key never leaks into the state of the run.
    ///
    /// # Errors
    /// As [`HistoryClient::open`].
    fn open_detached(
        &self,
        user: UserId,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &Packet,
    ) -> Result<Opened, SchemeError>;
    /// [`HistoryServer::store`].
    ///
    /// # Errors
    /// As [`HistoryServer::store`].
    fn store(&mut self, room: RoomId, msg: MsgId, sealed: &Packet) -> Result<(), SchemeError>;
    /// The stored record of a message, as a packet to send.
    fn stored(&self, room: RoomId, msg: MsgId) -> Option<Packet>;
    /// [`HistoryServer::stored_forms`].
    fn stored_forms(&self, room: RoomId, msg: MsgId) -> Vec<Packet>;
    /// [`HistoryServer::collude`].
    ///
    /// # Errors
    /// As [`HistoryServer::collude`].
    fn collude(&self, kept: KeyView<'_>, msg: MsgId) -> Result<Vec<u8>, SchemeError>;
}

/// A fresh erased system of scheme `H`.
#[must_use]
pub fn history_system<H: HistoryProtection>() -> Box<dyn DynHistory> {
    Box::new(Parties::<H, H::Client, H::Server>::new(
        H::NAME,
        H::new_client,
    ))
}

impl<H: HistoryProtection> DynHistory for Parties<H, H::Client, H::Server> {
    fn properties(&self) -> HistoryProperties {
        H::PROPERTIES
    }
    fn seal(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Packet, SchemeError> {
        client(&mut self.clients, user)?
            .seal(key, msg, plaintext, rng)
            .map(Packet::new)
    }
    fn seal_detached(
        &self,
        user: UserId,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Packet, SchemeError> {
        H::new_client(user)
            .seal(key, msg, plaintext, rng)
            .map(Packet::new)
    }
    fn open(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &Packet,
    ) -> Result<Opened, SchemeError> {
        let sealed = sealed.downcast_ref::<H::Sealed>()?;
        client(&mut self.clients, user)?.open(key, msg, sealed)
    }
    fn open_detached(
        &self,
        user: UserId,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &Packet,
    ) -> Result<Opened, SchemeError> {
        let sealed = sealed.downcast_ref::<H::Sealed>()?;
        H::new_client(user).open(key, msg, sealed)
    }
    fn store(&mut self, room: RoomId, msg: MsgId, sealed: &Packet) -> Result<(), SchemeError> {
        let sealed = sealed.downcast_ref::<H::Sealed>()?.clone();
        self.server.store(room, msg, sealed)
    }
    fn stored(&self, room: RoomId, msg: MsgId) -> Option<Packet> {
        self.server.get(room, msg).map(Packet::new)
    }
    fn stored_forms(&self, room: RoomId, msg: MsgId) -> Vec<Packet> {
        self.server
            .stored_forms(room, msg)
            .into_iter()
            .map(Packet::new)
            .collect()
    }
    fn collude(&self, kept: KeyView<'_>, msg: MsgId) -> Result<Vec<u8>, SchemeError> {
        self.server.collude(kept, msg)
    }
}

// ---------------------------------------------------------------------------------------------
// Searchable encryption

/// A searchable-encryption scheme with its server and clients, picked at run time.
pub trait DynSse: DynRekeying {
    /// What it claims.
    fn properties(&self) -> SseProperties;
    /// [`SseClient::index`] on `user`'s client.
    ///
    /// # Errors
    /// As [`SseClient::index`].
    fn index(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        msg: MsgId,
        keywords: &[&str],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Packet, SchemeError>;
    /// [`SseClient::query`] on `user`'s client.
    ///
    /// # Errors
    /// As [`SseClient::query`].
    fn query(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        keyword: &str,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Packet, SchemeError>;
    /// [`SseClient::resolve`] on `user`'s client.
    ///
    /// # Errors
    /// As [`SseClient::resolve`].
    fn resolve(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        keyword: &str,
        reply: &Packet,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Resolution<Packet>, SchemeError>;
    /// [`SseServer::apply`].
    ///
    /// # Errors
    /// As [`SseServer::apply`].
    fn apply(&mut self, room: RoomId, update: Packet) -> Result<(), SchemeError>;
    /// [`SseServer::search`].
    ///
    /// # Errors
    /// As [`SseServer::search`].
    fn search(
        &self,
        room: RoomId,
        access: Access,
        query: &Packet,
    ) -> Result<Searched<Packet>, SchemeError>;
}

/// A fresh erased system of scheme `S`.
#[must_use]
pub fn sse_system<S: SearchableEncryption>() -> Box<dyn DynSse> {
    Box::new(Parties::<S, S::Client, S::Server>::new(
        S::NAME,
        S::new_client,
    ))
}

impl<S: SearchableEncryption> DynSse for Parties<S, S::Client, S::Server> {
    fn properties(&self) -> SseProperties {
        S::PROPERTIES
    }
    fn index(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        msg: MsgId,
        keywords: &[&str],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Packet, SchemeError> {
        client(&mut self.clients, user)?
            .index(key, msg, keywords, rng)
            .map(Packet::new)
    }
    fn query(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        keyword: &str,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Packet, SchemeError> {
        client(&mut self.clients, user)?
            .query(key, keyword, rng)
            .map(Packet::new)
    }
    fn resolve(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        keyword: &str,
        reply: &Packet,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Resolution<Packet>, SchemeError> {
        let reply = reply.downcast_ref::<S::Reply>()?;
        Ok(
            match client(&mut self.clients, user)?.resolve(key, keyword, reply, rng)? {
                Resolution::Done(ids) => Resolution::Done(ids),
                Resolution::Next(q) => Resolution::Next(Packet::new(q)),
                Resolution::Requery { epoch } => Resolution::Requery { epoch },
            },
        )
    }
    fn apply(&mut self, room: RoomId, update: Packet) -> Result<(), SchemeError> {
        let update = update.take::<S::Update>()?;
        self.server.apply(room, update)
    }
    fn search(
        &self,
        room: RoomId,
        access: Access,
        query: &Packet,
    ) -> Result<Searched<Packet>, SchemeError> {
        let query = query.downcast_ref::<S::Query>()?;
        Ok(match self.server.search(room, access, query)? {
            Searched::Reply(r) => Searched::Reply(Packet::new(r)),
            Searched::NotYet { waiting_for } => Searched::NotYet { waiting_for },
        })
    }
}
