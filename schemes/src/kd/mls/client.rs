//! A user's MLS client: one signing key and key-package store, and one MLS group per room.

use std::collections::BTreeMap;

use crate::common::fixed_hash::HashMap;
use std::marker::PhantomData;

use mls_rs::client_builder::{BaseConfig, MlsConfig, WithCryptoProvider, WithIdentityProvider};
use mls_rs::extension::recommended::LastResortKeyPackageExt;
use mls_rs::identity::SigningIdentity;
use mls_rs::mls_rules::{CommitOptions, DefaultMlsRules};
use mls_rs::storage_provider::in_memory::InMemoryGroupStateStorage;
use mls_rs::{
    CipherSuite, CipherSuiteProvider, ExtensionList, Group, GroupStateStorage, MlsMessage,
};

use super::identity::{credential_of, user_of, DirectoryIdentity};
use super::member::{self, epoch_secret, now, refused, Followed};
use super::message::Message;
use super::provider::{Entropy, MlsCrypto, SeededCrypto};
use super::{Credential, MlsWith};
use crate::kd::{Change, Directory, Handled, KdClient, Origin, Roster};
use crate::{CryptoRngCore, Dest, Epoch, EpochSecret, Misuse, Outbox, RoomId, SchemeError, UserId};

/// The mls-rs configuration of a Conclave member on crypto provider `C`.
pub type ConfigWith<C> = WithIdentityProvider<DirectoryIdentity, WithCryptoProvider<C, BaseConfig>>;

/// The mls-rs configuration of a Conclave member.
pub type Config = ConfigWith<SeededCrypto>;

/// Key packages a client keeps at the delivery service besides its last-resort one.
pub const ONE_TIME_KEY_PACKAGES: usize = 3;

/// Commits for later epochs a member keeps while an earlier one is on its way (the network may
/// reorder a room's handshakes); beyond it the oldest is dropped.
const EARLY_COMMITS: usize = 64;

/// Epochs after which a member writes its group state even if its terminal has not stored it:
/// mls-rs keeps every past epoch it has not written in memory, and a terminal online for weeks
/// would hold them all.
const EPOCHS_PER_WRITE: u32 = 8;

/// Key packages live a year from [`member::CLOCK`].
const KEY_PACKAGE_LIFETIME_SECS: u64 = 366 * 24 * 3600;

/// The MLS group id of `room`.
#[must_use]
pub fn group_id(room: RoomId) -> Vec<u8> {
    let mut id = b"conclave room ".to_vec();
    id.extend_from_slice(&room.0.to_be_bytes());
    id
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    None,
    /// The change waits for these users' key packages; with `readd`, they are members whose
    /// old leaves the commit removes (a rejoin).
    KeyPackages {
        users: Vec<UserId>,
        readd: bool,
    },
    /// The change's commit on this epoch waits for the delivery service.
    Acceptance(u64),
}

struct Room<C: MlsCrypto> {
    /// `None` before the Welcome and after a removal.
    group: Option<Group<ConfigWith<C>>>,
    held: Option<(Epoch, EpochSecret)>,
    pending: Pending,
    /// Handshakes for epochs after the group's, by epoch.
    early: BTreeMap<u64, MlsMessage>,
    /// Length of the serialised group state (and retained epochs) last written; `None` when
    /// the group moved on since (the state is written when the terminal stores it).
    blob_len: Option<usize>,
    /// Epochs the group reached since its state was last written.
    unwritten: u32,
}

impl<C: MlsCrypto> Room<C> {
    /// The group of a room the caller has established this member is in.
    fn group_mut(&mut self) -> Result<&mut Group<ConfigWith<C>>, SchemeError> {
        self.group
            .as_mut()
            .ok_or(SchemeError::Internal("lost a group"))
    }

    fn empty() -> Self {
        Self {
            group: None,
            held: None,
            pending: Pending::None,
            early: BTreeMap::new(),
            blob_len: Some(0),
            unwritten: 0,
        }
    }
}

/// A user's `mls` client.
pub struct Client<const SUITE: u16 = 1, C: MlsCrypto = SeededCrypto> {
    me: UserId,
    mls: mls_rs::Client<ConfigWith<C>>,
    entropy: Entropy,
    identity: DirectoryIdentity,
    storage: InMemoryGroupStateStorage,
    rooms: HashMap<RoomId, Room<C>>,
    suite: PhantomData<MlsWith<SUITE, C>>,
}

impl<const SUITE: u16, C: MlsCrypto> core::fmt::Debug for Client<SUITE, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("me", &self.me)
            .field("rooms", &self.rooms.len())
            .finish_non_exhaustive()
    }
}

/// What enrolment hands the delivery service: one-time key packages and a last-resort one.
pub(super) struct Enrolment<const SUITE: u16, C: MlsCrypto> {
    pub client: Client<SUITE, C>,
    pub credential: Credential,
    pub one_time: Vec<Vec<u8>>,
    pub last_resort: Vec<u8>,
}

fn internal(_: impl core::fmt::Debug) -> SchemeError {
    SchemeError::Internal("the MLS provider failed")
}

/// The mls-rs client of `user` as Conclave configures it, the one configuration the scheme and
/// the benches share: `crypto` (a fresh Ed25519 key is drawn from it and registered with
/// `identity` as the directory would), `identity` as identity provider, `storage` for its group
/// states, commits that always carry an UpdatePath, Welcomes that carry the ratchet tree, no
/// external commits, key packages valid for a year from [`member::CLOCK`]. Returns the client
/// and its signature key.
///
/// # Errors
/// [`SchemeError::Unsupported`] for a suite `crypto` does not offer.
pub fn member_client<C: MlsCrypto>(
    user: UserId,
    suite: CipherSuite,
    crypto: C,
    identity: &DirectoryIdentity,
    storage: InMemoryGroupStateStorage,
) -> Result<(mls_rs::Client<ConfigWith<C>>, [u8; 32]), SchemeError> {
    let (secret, public) = crypto
        .cipher_suite_provider(suite)
        .ok_or(SchemeError::Unsupported("this MLS cipher suite"))?
        .signature_key_generate()
        .map_err(internal)?;
    let key: [u8; 32] = public
        .as_bytes()
        .try_into()
        .map_err(|_| SchemeError::Internal("an Ed25519 key that is not 32 octets"))?;
    identity.learn(user, key);
    let rules = DefaultMlsRules::new().with_commit_options(
        CommitOptions::new()
            .with_path_required(true)
            .with_ratchet_tree_extension(true)
            .with_single_welcome_message(true)
            .with_allow_external_commit(false),
    );
    let client = mls_rs::Client::builder()
        .crypto_provider(crypto)
        .identity_provider(identity.clone())
        .mls_rules(rules)
        .group_state_storage(storage)
        .key_package_lifetime(std::time::Duration::from_secs(KEY_PACKAGE_LIFETIME_SECS))
        .signing_identity(
            SigningIdentity::new(credential_of(user), public),
            secret,
            suite,
        )
        .build();
    Ok((client, key))
}

impl<const SUITE: u16, C: MlsCrypto> Client<SUITE, C> {
    pub(super) fn enroll(
        user: UserId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Enrolment<SUITE, C>, SchemeError> {
        let entropy = Entropy::new(rng);
        let identity = DirectoryIdentity::default();
        let storage = InMemoryGroupStateStorage::new();
        let (mls, key) = member_client(
            user,
            CipherSuite::new(SUITE),
            C::from_entropy(entropy.clone()),
            &identity,
            storage.clone(),
        )?;
        let client = Self {
            me: user,
            mls,
            entropy,
            identity,
            storage,
            rooms: HashMap::default(),
            suite: PhantomData,
        };
        let one_time = (0..ONE_TIME_KEY_PACKAGES)
            .map(|_| client.key_package(false))
            .collect::<Result<_, _>>()?;
        let last_resort = client.key_package(true)?;
        Ok(Enrolment {
            client,
            credential: Credential(key),
            one_time,
            last_resort,
        })
    }

    /// A fresh key package, encoded.
    fn key_package(&self, last_resort: bool) -> Result<Vec<u8>, SchemeError> {
        let mut extensions = ExtensionList::new();
        if last_resort {
            extensions
                .set_from(LastResortKeyPackageExt)
                .map_err(internal)?;
        }
        let message = self
            .mls
            .generate_key_package_message(extensions, ExtensionList::new(), Some(now()))
            .map_err(internal)?;
        message.to_bytes().map_err(internal)
    }

    /// Loads the directory entries of `roster`'s members this client has not seen yet.
    fn learn(
        &self,
        roster: &Roster<'_>,
        directory: Directory<'_, MlsWith<SUITE, C>>,
    ) -> Result<(), SchemeError> {
        for &u in roster.members {
            if !self.identity.knows(u) {
                let c = directory.get(u.0 as usize).ok_or(SchemeError::Misuse(
                    Misuse::UnexpectedMessage("a roster member the directory does not list"),
                ))?;
                self.identity.learn(u, c.0);
            }
        }
        Ok(())
    }

    /// Starts a change of `roster.room` as this member: it must be in the roster; the
    /// directory's keys of the members and the call's randomness are taken in.
    fn as_member(
        &mut self,
        roster: &Roster<'_>,
        directory: Directory<'_, MlsWith<SUITE, C>>,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), SchemeError> {
        if !roster.contains(self.me) {
            return Err(self.not_a_member(roster.room));
        }
        self.learn(roster, directory)?;
        self.entropy.reseed(rng);
        Ok(())
    }

    fn not_a_member(&self, room: RoomId) -> SchemeError {
        Misuse::NotAMember {
            user: self.me,
            room,
        }
        .into()
    }

    /// The room's group, which this member must hold to change the room.
    fn group_to_change(&mut self, room: RoomId) -> Result<&mut Room<C>, SchemeError> {
        let me = self.me;
        let r = self
            .rooms
            .get_mut(&room)
            .filter(|r| r.group.is_some())
            .ok_or(Misuse::NotAMember { user: me, room })?;
        if r.pending != Pending::None {
            return Err(
                Misuse::UnexpectedMessage("a change of this room is already under way").into(),
            );
        }
        Ok(r)
    }

    /// Records the epoch `room`'s group is now in; its state is written when next stored, or
    /// every [`EPOCHS_PER_WRITE`] epochs.
    fn advanced(&mut self, room: RoomId) -> Result<Handled, SchemeError> {
        let r = room_mut(&mut self.rooms, room)?;
        r.unwritten += 1;
        let write = r.unwritten >= EPOCHS_PER_WRITE;
        let group = r.group_mut()?;
        let epoch = Epoch(group.current_epoch());
        let secret = epoch_secret(group, room)?;
        if write {
            group.write_to_storage().map_err(internal)?;
            r.unwritten = 0;
        }
        r.held = Some((epoch, secret));
        r.pending = Pending::None;
        r.early.retain(|e, _| *e >= epoch.0);
        r.blob_len = None;
        Ok(Handled::NewEpoch(epoch))
    }

    /// Sends `commit` (and its Welcome, for the added and the `readded` members) to the delivery
    /// service and waits for its acceptance.
    fn submit(
        &mut self,
        room: RoomId,
        output: &mls_rs::group::CommitOutput,
        readded: Vec<UserId>,
        out: &mut Outbox<Message>,
    ) -> Result<(), SchemeError> {
        let r = room_mut(&mut self.rooms, room)?;
        let group = r.group_mut()?;
        r.pending = Pending::Acceptance(group.current_epoch());
        let commit = output.commit_message().to_bytes().map_err(internal)?;
        let welcome = output
            .welcome_messages()
            .first()
            .map(MlsMessage::to_bytes)
            .transpose()
            .map_err(internal)?;
        out.send(
            Dest::Server,
            Message::Commit {
                room,
                commit,
                welcome,
                readded,
            },
        );
        Ok(())
    }

    fn commit_adds(
        &mut self,
        room: RoomId,
        packages: &[(UserId, Vec<u8>)],
        out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let r = self.rooms.get_mut(&room).ok_or(Misuse::UnexpectedMessage(
            "key packages for a room without a change",
        ))?;
        let Pending::KeyPackages { users, readd } = &r.pending else {
            return Err(Misuse::UnexpectedMessage("key packages nobody asked for").into());
        };
        if packages.len() != users.len() || packages.iter().zip(users).any(|((u, _), w)| u != w) {
            return Err(SchemeError::Malformed(
                "key packages for other users than asked",
            ));
        }
        let readded = if *readd { users.clone() } else { Vec::new() };
        let group = r.group_mut()?;
        let old_leaves = readded
            .iter()
            .map(|&user| leaf_of(group, user, room))
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = group.commit_builder();
        for leaf in old_leaves {
            builder = builder.remove_member(leaf).map_err(refused)?;
        }
        for (user, bytes) in packages {
            let message = member::parse(bytes)?;
            let named = message
                .as_key_package()
                .map(|kp| user_of(kp.signing_identity()))
                .ok_or(SchemeError::Malformed("not a key package"))?;
            if named != Some(*user) {
                return Err(SchemeError::Crypto);
            }
            builder = builder.add_member(message).map_err(refused)?;
        }
        let output = builder.commit_time(now()).build().map_err(refused)?;
        self.submit(room, &output, readded, out)?;
        Ok(Handled::Nothing)
    }

    /// Asks the delivery service for key packages of `users`, to add them (or, with `readd`,
    /// to replace their leaves).
    fn fetch_key_packages(
        &mut self,
        room: RoomId,
        users: Vec<UserId>,
        readd: bool,
        out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let r = room_mut(&mut self.rooms, room)?;
        r.pending = Pending::KeyPackages {
            users: users.clone(),
            readd,
        };
        out.send(Dest::Server, Message::FetchKeyPackages { room, users });
        Ok(Handled::Nothing)
    }

    fn accepted(&mut self, room: RoomId, epoch: u64) -> Result<Handled, SchemeError> {
        let Some(r) = self.rooms.get_mut(&room) else {
            return Ok(Handled::Stale);
        };
        if r.pending != Pending::Acceptance(epoch) {
            return Err(Misuse::UnexpectedMessage(
                "an acceptance of a commit this member did not make",
            )
            .into());
        }
        r.group_mut()?.apply_pending_commit().map_err(refused)?;
        self.advanced(room)
    }

    fn follow(&mut self, room: RoomId, bytes: &[u8]) -> Result<Handled, SchemeError> {
        let message = member::parse(bytes)?;
        if message.group_id() != Some(group_id(room).as_slice()) {
            return Err(SchemeError::Malformed("a handshake of another group"));
        }
        let epoch = message
            .epoch()
            .ok_or(SchemeError::Malformed("a handshake without an epoch"))?;
        let r = self.rooms.entry(room).or_insert_with(Room::empty);
        let current = r.group.as_ref().map(Group::current_epoch);
        if current.is_some_and(|c| epoch < c) {
            return Ok(Handled::Stale);
        }
        if current != Some(epoch) {
            // Before the Welcome, or ahead of a commit still on its way.
            r.early.insert(epoch, message);
            while r.early.len() > EARLY_COMMITS {
                r.early.pop_first();
            }
            return Ok(Handled::Nothing);
        }
        self.apply(room, message)
    }

    /// Applies a handshake for the group's epoch, then any early ones it makes current.
    fn apply(&mut self, room: RoomId, message: MlsMessage) -> Result<Handled, SchemeError> {
        let handled = self.apply_one(room, message)?;
        self.drain_early(room, handled)
    }

    /// Applies the handshakes that waited for the epoch the group has reached; `handled` is
    /// what the caller's own step did, reported unless a waiting commit moves further.
    fn drain_early(&mut self, room: RoomId, mut handled: Handled) -> Result<Handled, SchemeError> {
        while let Some(next) = self.next_early(room) {
            if let h @ Handled::NewEpoch(_) = self.apply_one(room, next)? {
                handled = h;
            }
        }
        Ok(handled)
    }

    /// The waiting handshake for the epoch `room`'s group is in.
    fn next_early(&mut self, room: RoomId) -> Option<MlsMessage> {
        let r = self.rooms.get_mut(&room)?;
        let current = r.group.as_ref().map(Group::current_epoch)?;
        r.early.remove(&current)
    }

    fn apply_one(&mut self, room: RoomId, message: MlsMessage) -> Result<Handled, SchemeError> {
        let r = room_mut(&mut self.rooms, room)?;
        let group = r.group_mut()?;
        match member::follow(group, message)? {
            Followed::Advanced => self.advanced(room),
            Followed::Removed => {
                r.group = None;
                self.storage.delete_group(&group_id(room));
                r.pending = Pending::None;
                r.early.clear();
                r.blob_len = Some(0);
                Ok(Handled::Nothing)
            }
            Followed::Proposal => Ok(Handled::Nothing),
        }
    }

    fn welcome(
        &mut self,
        room: RoomId,
        bytes: &[u8],
        out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let group = member::join(&self.mls, bytes, None)?;
        if group.group_id() != group_id(room).as_slice() {
            return Err(SchemeError::Crypto);
        }
        let epoch = group.current_epoch();
        let r = self.rooms.entry(room).or_insert_with(Room::empty);
        if r.held.as_ref().is_some_and(|(e, _)| e.0 >= epoch) {
            return Ok(Handled::Stale);
        }
        // A new membership: what this member stored of an earlier one (it may never have heard
        // of its removal) goes.
        self.storage.delete_group(&group_id(room));
        r.group = Some(group);
        r.pending = Pending::None;
        let joined = self.advanced(room)?;
        // Handshakes that arrived before the Welcome.
        let handled = self.drain_early(room, joined)?;
        // The Welcome used one of this user's key packages: replace it.
        let package = self.key_package(false)?;
        out.send(Dest::Server, Message::UploadKeyPackage { room, package });
        Ok(handled)
    }
}

/// The leaf index of `user` in `group`.
fn leaf_of<C: MlsConfig>(group: &Group<C>, user: UserId, room: RoomId) -> Result<u32, SchemeError> {
    group
        .roster()
        .members_iter()
        .find(|m| user_of(&m.signing_identity) == Some(user))
        .map(|m| m.index)
        .ok_or(Misuse::NotAMember { user, room }.into())
}

/// A room the caller has established this member holds state for.
fn room_mut<C: MlsCrypto>(
    rooms: &mut HashMap<RoomId, Room<C>>,
    room: RoomId,
) -> Result<&mut Room<C>, SchemeError> {
    rooms
        .get_mut(&room)
        .ok_or(SchemeError::Internal("lost a room"))
}

/// Octets of the state blob of `group_id` in `storage`: the group's state and the epochs it
/// retains.
fn blob_len(storage: &InMemoryGroupStateStorage, group_id: &[u8]) -> Result<usize, SchemeError> {
    let state = storage
        .state(group_id)
        .map_err(internal)?
        .map_or(0, |s| s.len());
    let mut epochs = 0;
    if let Some(max) = storage.max_epoch_id(group_id).map_err(internal)? {
        let mut id = max;
        while let Some(record) = storage.epoch(group_id, id).map_err(internal)? {
            epochs += record.len();
            let Some(prev) = id.checked_sub(1) else { break };
            id = prev;
        }
    }
    Ok(state + epochs)
}

impl<const SUITE: u16, C: MlsCrypto> KdClient for Client<SUITE, C> {
    type Kd = MlsWith<SUITE, C>;

    fn change(
        &mut self,
        roster: &Roster<'_>,
        change: &Change<'_>,
        directory: Directory<'_, MlsWith<SUITE, C>>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        self.as_member(roster, directory, rng)?;
        match *change {
            Change::Create => {
                if self.rooms.get(&room).is_some_and(|r| r.group.is_some()) {
                    return Err(Misuse::RoomExists(room).into());
                }
                let group = self
                    .mls
                    .create_group_with_id(
                        group_id(room),
                        ExtensionList::new(),
                        ExtensionList::new(),
                        Some(now()),
                    )
                    .map_err(refused)?;
                let others: Vec<UserId> = roster
                    .members
                    .iter()
                    .copied()
                    .filter(|u| *u != self.me)
                    .collect();
                let r = self.rooms.entry(room).or_insert_with(Room::empty);
                r.group = Some(group);
                if others.is_empty() {
                    return self.advanced(room);
                }
                self.fetch_key_packages(room, others, false, out)
            }
            Change::Add(users) => {
                self.group_to_change(room)?;
                self.fetch_key_packages(room, users.to_vec(), false, out)
            }
            Change::Remove(users) => {
                if users.contains(&self.me) {
                    return Err(Misuse::UnexpectedMessage(
                        "an MLS member cannot commit its own removal",
                    )
                    .into());
                }
                let r = self.group_to_change(room)?;
                let group = r.group_mut()?;
                let leaves = users
                    .iter()
                    .map(|&user| leaf_of(group, user, room))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut builder = group.commit_builder();
                for leaf in leaves {
                    builder = builder.remove_member(leaf).map_err(refused)?;
                }
                let output = builder.commit_time(now()).build().map_err(refused)?;
                self.submit(room, &output, Vec::new(), out)?;
                Ok(Handled::Nothing)
            }
        }
    }

    fn handle(
        &mut self,
        roster: &Roster<'_>,
        from: Origin,
        msg: &Message,
        directory: Directory<'_, MlsWith<SUITE, C>>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        if msg.room() != room {
            return Err(SchemeError::Malformed("a message about another room"));
        }
        if from != Origin::Server {
            return Err(Misuse::UnexpectedMessage(
                "MLS members hear only from the delivery service",
            )
            .into());
        }
        self.learn(roster, directory)?;
        self.entropy.reseed(rng);
        match msg {
            Message::KeyPackages { packages, .. } => self.commit_adds(room, packages, out),
            Message::Accepted { epoch, .. } => self.accepted(room, *epoch),
            Message::Handshake { commit, .. } => self.follow(room, commit),
            Message::Welcome { welcome, .. } => self.welcome(room, welcome, out),
            Message::FetchKeyPackages { .. }
            | Message::UploadKeyPackage { .. }
            | Message::Commit { .. } => {
                Err(Misuse::UnexpectedMessage("a message for the delivery service").into())
            }
        }
    }

    fn rejoin(
        &mut self,
        roster: &Roster<'_>,
        who: UserId,
        directory: Directory<'_, MlsWith<SUITE, C>>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<Handled, SchemeError> {
        let room = roster.room;
        if who == self.me || !roster.contains(who) {
            return Err(Misuse::UnexpectedMessage(
                "a rejoin is made by another member, for a member",
            )
            .into());
        }
        self.as_member(roster, directory, rng)?;
        let group = self.group_to_change(room)?.group_mut()?;
        leaf_of(group, who, room)?;
        self.fetch_key_packages(room, vec![who], true, out)
    }

    fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.rooms
            .get(&room)
            .and_then(|r| r.held.as_ref())
            .map(|(e, s)| (*e, s))
    }

    fn state_len(&mut self, room: RoomId) -> Result<usize, SchemeError> {
        let Some(r) = self.rooms.get_mut(&room) else {
            return Ok(0);
        };
        if let Some(len) = r.blob_len {
            return Ok(len);
        }
        r.group_mut()?.write_to_storage().map_err(internal)?;
        r.unwritten = 0;
        let len = blob_len(&self.storage, &group_id(room))?;
        r.blob_len = Some(len);
        Ok(len)
    }
}
