//! What both AFGH schemes share: the re-keying protocol between the changer and the message
//! server ([`Control`]), the client's ring of epoch keys (which does all of a client's re-keying,
//! [`KeyringClient`]), and the server's store of origin
//! capsules with their current re-encryptions.
//!
//! AFGH is single hop, so the server keeps every capsule as it was made (the *origin* capsule,
//! under the epoch it was sealed in) and, per origin epoch `j`, the newest re-key `rk_{j→t}` it
//! received; a capsule's current form is `e(α, rk_{j→t})`. At a change to epoch `K`:
//!
//! 1. the changer, who holds `a_{K-1}` and `a_K`, sends [`Control::RekeyRequest`] carrying
//!    `rk_{K-1→K}`;
//! 2. the server installs it and answers with the re-keys it holds for older origins,
//!    [`Control::HeldRekeys`] `{(j, t, rk_{j→t})}` (normally `t = K-1`);
//! 3. the changer moves each target to `K`, `rk_{j→K} = rk_{j→t}^{a_K/a_t}`, without ever
//!    holding `a_j`, and uploads them ([`Control::Rekeys`]);
//! 4. the server installs them and re-encrypts every stored capsule of those origins,
//!    data-parallel.
//!
//! The server takes [`Control::RekeyRequest`] and [`Control::Rekeys`] into epoch `t` only from
//! the member the directory named changer of `t` ([`crate::common::changers`]), so no other member can
//! install a re-key with a far-future target that would make later honest ones be skipped.
//!
//! The server answers with re-keys of every origin it knows, not only those with stored
//! capsules, so a record sealed under an old epoch and stored late still finds an up-to-date
//! re-key; it is re-encrypted at `store`. A re-key is installed only if its target is newer than
//! the one held, so re-keys of interleaved changes may arrive in any order.
//!
//! Changes overlap: the changer of `K + 1` may ask before the changer of `K` has uploaded its
//! moved re-keys, and then gets re-keys still targeting `K - 1`, an epoch it may never have held
//! (it joined at `K`). So the server remembers who asked for each epoch, and a re-key to `t` that
//! it installs once the changer of `t + 1` has asked is forwarded to that changer
//! ([`Control::HeldRekeys`] again), who holds `t` and `t + 1` and moves it on. Every installed
//! re-key thus reaches the changer of the next epoch exactly once (in the answer to its request
//! or forwarded), and every origin climbs to the newest epoch as the changers answer.

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

use super::core::{
    Capsule, EpochKey, PairingGroups, PreparedRekey, Reencrypted, Rekey, SharedSecret, G1_LEN,
    G2_LEN, GT_LEN,
};
use crate::common::changers::Changers;
use crate::pre::{EpochChange, KeyView, Work};
use crate::rekeying::RekeyingClient;
use crate::{CryptoRngCore, Dest, Epoch, Misuse, Outbox, RoomId, SchemeError, UserId, Wire};

/// Encoded length of an epoch number.
pub(super) const EPOCH_LEN: usize = 8;
/// Encoded length of a message kind tag or an option flag.
pub(super) const TAG_LEN: usize = 1;
/// Encoded length of a list count.
pub(super) const COUNT_LEN: usize = 4;

/// A re-key from an origin epoch to the epoch a message names (`rk_{origin→to}`), encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRekey {
    /// The epoch whose capsules it re-encrypts.
    pub origin: Epoch,
    /// `rk_{origin→to}`, compressed `G_2`.
    pub rekey: [u8; G2_LEN],
}

/// A re-key the server holds: `rk_{origin→target}`, encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRekey {
    /// The epoch whose capsules it re-encrypts.
    pub origin: Epoch,
    /// The epoch it re-encrypts to.
    pub target: Epoch,
    /// `rk_{origin→target}`, compressed `G_2`.
    pub rekey: [u8; G2_LEN],
}

impl Control {
    /// The epoch a message from a changer re-keys into, which the server checks against the
    /// directory's changer of that epoch.
    ///
    /// # Errors
    /// [`Misuse::UnexpectedMessage`] for [`Control::HeldRekeys`], which only the server sends.
    pub fn rekeys_into(&self) -> Result<Epoch, SchemeError> {
        match self {
            Control::RekeyRequest { to, .. } | Control::Rekeys { to, .. } => Ok(*to),
            Control::HeldRekeys { .. } => {
                Err(Misuse::UnexpectedMessage("held re-keys are for the changer").into())
            }
        }
    }
}

/// Re-keying traffic between a changer and the message server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Changer → server: the room moved to `to`; here is `rk_{prev→to}`; send me the re-keys you
    /// hold for older origins.
    RekeyRequest {
        /// The new epoch.
        to: Epoch,
        /// `rk_{prev→to}`, made by the changer from both keys.
        from_prev: OriginRekey,
    },
    /// Server → changer: the re-keys of older origins, to move to `to`.
    HeldRekeys {
        /// The new epoch.
        to: Epoch,
        /// What the server holds.
        held: Vec<HeldRekey>,
    },
    /// Changer → server: `rk_{origin→to}` for the origins of a [`Control::HeldRekeys`].
    Rekeys {
        /// The new epoch.
        to: Epoch,
        /// One re-key per origin.
        rekeys: Vec<OriginRekey>,
    },
}

impl Wire for Control {
    fn wire_len(&self) -> usize {
        TAG_LEN
            + EPOCH_LEN
            + match self {
                Self::RekeyRequest { .. } => EPOCH_LEN + G2_LEN,
                Self::HeldRekeys { held, .. } => COUNT_LEN + held.len() * (2 * EPOCH_LEN + G2_LEN),
                Self::Rekeys { rekeys, .. } => COUNT_LEN + rekeys.len() * (EPOCH_LEN + G2_LEN),
            }
    }

    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        match self {
            Self::RekeyRequest { from_prev, .. } => f(&from_prev.rekey),
            Self::HeldRekeys { held, .. } => held.iter().for_each(|h| f(&h.rekey)),
            Self::Rekeys { rekeys, .. } => rekeys.iter().for_each(|r| f(&r.rekey)),
        }
    }
}

/// A capsule's current form on the server: re-encrypted to `target`, encoded. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentCapsule {
    /// The epoch whose key opens it.
    pub target: Epoch,
    /// `e(α, rk_{origin→target}) ∈ G_T`.
    pub capsule: Arc<[u8; GT_LEN]>,
}

impl CurrentCapsule {
    /// Encoded length: target epoch and `G_T` element.
    pub const LEN: usize = EPOCH_LEN + GT_LEN;
}

/// A client of an AFGH scheme, whose re-keying is all its [`Keyring`]'s.
pub trait KeyringClient: Send {
    /// The groups its keys live in.
    type Groups: PairingGroups;
    /// The client's keyring.
    fn keyring(&mut self) -> &mut Keyring<Self::Groups>;
}

impl<C: KeyringClient> RekeyingClient for C {
    type Message = Control;

    fn epoch_changed(
        &mut self,
        change: EpochChange<'_>,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Control>,
    ) -> Result<(), SchemeError> {
        self.keyring().epoch_changed(change, out)
    }

    fn handle(
        &mut self,
        key: KeyView<'_>,
        msg: &Control,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Control>,
    ) -> Result<(), SchemeError> {
        self.keyring().handle(key, msg, out)
    }
}

/// A client's keys of the epochs it held, by room: derived from the epoch secrets it was given
/// (in [`EpochChange`]s and in the [`KeyView`]s of its calls) and kept so it can open old
/// records and move re-keys.
#[derive(Debug)]
pub struct Keyring<P: PairingGroups> {
    domain: &'static str,
    keys: BTreeMap<(RoomId, Epoch), EpochKey<P>>,
}

impl<P: PairingGroups> Keyring<P> {
    /// An empty ring deriving keys under `domain` (the scheme's HKDF label).
    pub fn new(domain: &'static str) -> Self {
        Self {
            domain,
            keys: BTreeMap::new(),
        }
    }

    /// The key of `view`'s epoch, derived and remembered on first use.
    pub fn key(&mut self, view: KeyView<'_>) -> Result<&EpochKey<P>, SchemeError> {
        use std::collections::btree_map::Entry;
        match self.keys.entry((view.room, view.epoch)) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => Ok(e.insert(EpochKey::derive(self.domain, view)?)),
        }
    }

    /// The key of an epoch this client held, if any.
    pub fn held(&self, room: RoomId, epoch: Epoch) -> Option<&EpochKey<P>> {
        self.keys.get(&(room, epoch))
    }

    /// Remembers both keys of a change; the changer of a history-sharing change asks the server
    /// to move stored capsules to the new epoch, starting with `rk_{prev→next}`.
    pub fn epoch_changed(
        &mut self,
        change: EpochChange<'_>,
        out: &mut Outbox<Control>,
    ) -> Result<(), SchemeError> {
        self.key(change.next)?;
        let Some(prev) = change.prev else {
            return Ok(());
        };
        self.key(prev)?;
        if !(change.changer && change.shares_history) || prev.room != change.next.room {
            return Ok(());
        }
        let (Some(from), Some(to)) = (
            self.held(prev.room, prev.epoch),
            self.held(change.next.room, change.next.epoch),
        ) else {
            return Err(SchemeError::Internal("keys of the change were just stored"));
        };
        out.send(
            Dest::Server,
            Control::RekeyRequest {
                to: change.next.epoch,
                from_prev: OriginRekey {
                    origin: prev.epoch,
                    rekey: Rekey::<P>::between(from, to).to_bytes()?,
                },
            },
        );
        Ok(())
    }

    /// Moves the re-keys the server holds to the new epoch (step 3 of the protocol). Origins
    /// whose current target this client never held are skipped: it cannot move them.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] for an invalid re-key; [`Misuse::StaleEpoch`] if this client
    /// does not hold the new epoch; [`Misuse::UnexpectedMessage`] for server-bound traffic.
    pub fn handle(
        &mut self,
        key: KeyView<'_>,
        msg: &Control,
        out: &mut Outbox<Control>,
    ) -> Result<(), SchemeError> {
        let Control::HeldRekeys { to, held } = msg else {
            return Err(Misuse::UnexpectedMessage("AFGH re-keys are for the server").into());
        };
        self.key(key)?;
        let Some(target_key) = self.held(key.room, *to) else {
            return Err(Misuse::StaleEpoch {
                have: key.epoch,
                got: *to,
            }
            .into());
        };
        let mut rekeys = Vec::with_capacity(held.len());
        for h in held {
            let rekey = Rekey::<P>::from_bytes(&h.rekey)?;
            if h.origin >= *to || h.target >= *to {
                return Err(SchemeError::Malformed("AFGH held re-key is not older"));
            }
            if let Some(via) = self.held(key.room, h.target) {
                rekeys.push(OriginRekey {
                    origin: h.origin,
                    rekey: rekey.compose(via, target_key).to_bytes()?,
                });
            }
        }
        if !rekeys.is_empty() {
            out.send(Dest::Server, Control::Rekeys { to: *to, rekeys });
        }
        Ok(())
    }

    /// The KEM secret of a capsule: from the origin capsule if this client holds the origin
    /// epoch (one pairing), else from the current re-encryption if it holds its target (a
    /// subgroup check and one `G_T` exponentiation). `key` is remembered first. If it holds
    /// neither, `Err` of the epoch whose key it lacks (the re-encryption's target, else the
    /// origin): a re-encryption or a key may still be on its way.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] for invalid encodings.
    pub fn recover(
        &mut self,
        key: KeyView<'_>,
        origin: Epoch,
        capsule: &[u8; G1_LEN],
        current: Option<&CurrentCapsule>,
    ) -> Result<Result<SharedSecret<P>, Epoch>, SchemeError> {
        self.key(key)?;
        if let Some(k) = self.held(key.room, origin) {
            return k
                .decapsulate_second(&Capsule::<P>::from_bytes(capsule)?)
                .map(Ok);
        }
        if let Some(c) = current {
            if let Some(k) = self.held(key.room, c.target) {
                return Ok(Ok(k.decapsulate_first(&Reencrypted::<P>::from_bytes(
                    &c.capsule[..],
                )?)));
            }
        }
        Ok(Err(current.map_or(origin, |c| c.target)))
    }
}

/// One stored capsule.
#[derive(Debug)]
struct Slot<P: PairingGroups> {
    capsule: Capsule<P>,
    encoded: [u8; G1_LEN],
    current: Option<CurrentCapsule>,
}

impl<P: PairingGroups> Slot<P> {
    fn reencrypt(&mut self, target: Epoch, rekey: &PreparedRekey<P>) -> Result<(), SchemeError> {
        self.current = Some(CurrentCapsule {
            target,
            capsule: Arc::new(rekey.reencrypt(&self.capsule)?.to_bytes()?),
        });
        Ok(())
    }
}

/// The newest re-key held for one origin epoch.
#[derive(Debug)]
struct Installed<P: PairingGroups> {
    target: Epoch,
    encoded: [u8; G2_LEN],
    prepared: PreparedRekey<P>,
}

/// A stored capsule as the server sends it: the origin capsule and its current form.
#[derive(Debug, Clone)]
pub struct StoredCapsule {
    /// The epoch it was made under.
    pub origin: Epoch,
    /// The origin capsule.
    pub capsule: [u8; G1_LEN],
    /// Its re-encryption to the newest target, if any.
    pub current: Option<CurrentCapsule>,
}

/// One room's capsules on the server, grouped by origin epoch, and its re-keys.
#[derive(Debug)]
pub struct RoomCapsules<Id, P: PairingGroups> {
    by_origin: BTreeMap<Epoch, Vec<Slot<P>>>,
    index: BTreeMap<Id, (Epoch, usize)>,
    rekeys: BTreeMap<Epoch, Installed<P>>,
    /// Who asked for each epoch ([`Control::RekeyRequest`]): late re-keys to the epoch before
    /// are forwarded to them.
    changers: BTreeMap<Epoch, UserId>,
    bytes: usize,
}

impl<Id, P: PairingGroups> Default for RoomCapsules<Id, P> {
    fn default() -> Self {
        Self {
            by_origin: BTreeMap::new(),
            index: BTreeMap::new(),
            rekeys: BTreeMap::new(),
            changers: BTreeMap::new(),
            bytes: 0,
        }
    }
}

impl<Id: Ord + Copy, P: PairingGroups> RoomCapsules<Id, P> {
    /// Stores the origin capsule of `id`, made under `origin`; if a re-key of that origin is
    /// already held (a record stored late), re-encrypts it at once.
    ///
    /// # Errors
    /// [`Misuse::UnexpectedMessage`] if `id` already has a capsule; [`SchemeError::Malformed`]
    /// if the capsule is not a valid `G_1` point.
    pub fn insert(
        &mut self,
        id: Id,
        origin: Epoch,
        encoded: &[u8; G1_LEN],
    ) -> Result<(), SchemeError> {
        if self.index.contains_key(&id) {
            return Err(Misuse::UnexpectedMessage("AFGH capsule stored twice").into());
        }
        let mut slot = Slot {
            capsule: Capsule::<P>::from_bytes(encoded)?,
            encoded: *encoded,
            current: None,
        };
        if let Some(rk) = self.rekeys.get(&origin) {
            slot.reencrypt(rk.target, &rk.prepared)?;
        }
        self.bytes += EPOCH_LEN + G1_LEN + slot.current.as_ref().map_or(0, |_| CurrentCapsule::LEN);
        let slots = self.by_origin.entry(origin).or_default();
        self.index.insert(id, (origin, slots.len()));
        slots.push(slot);
        Ok(())
    }

    /// Whether `id` has a capsule.
    pub fn contains(&self, id: &Id) -> bool {
        self.index.contains_key(id)
    }

    /// The capsule of `id` as the server sends it.
    pub fn get(&self, id: &Id) -> Option<StoredCapsule> {
        let (origin, i) = self.index.get(id)?;
        let slot = self.by_origin.get(origin)?.get(*i)?;
        Some(StoredCapsule {
            origin: *origin,
            capsule: slot.encoded,
            current: slot.current.clone(),
        })
    }

    /// Bytes stored: origin capsules with their epochs, current forms, re-keys.
    pub fn stored_len(&self) -> usize {
        self.bytes
    }

    /// Processes re-keying traffic from `from` (see the module doc), re-encrypting every
    /// capsule whose origin got a newer re-key.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] for an invalid re-key or one that does not go forward;
    /// [`Misuse::UnexpectedMessage`] for client-bound traffic.
    pub fn handle(
        &mut self,
        from: UserId,
        msg: Control,
        out: &mut Outbox<Control>,
    ) -> Result<Work, SchemeError> {
        let units = match msg {
            Control::RekeyRequest { to, from_prev } => {
                let installed = self.install(to, &[from_prev])?;
                let held: Vec<HeldRekey> = self
                    .rekeys
                    .iter()
                    .filter(|(_, rk)| rk.target < to)
                    .map(|(origin, rk)| HeldRekey {
                        origin: *origin,
                        target: rk.target,
                        rekey: rk.encoded,
                    })
                    .collect();
                if !held.is_empty() {
                    out.send(Dest::User(from), Control::HeldRekeys { to, held });
                }
                // Only the first request for an epoch names its changer: a second is a
                // duplicate or a replay, and the re-keys it could move reach the first anyway.
                self.changers.entry(to).or_insert(from);
                installed.units
            }
            Control::Rekeys { to, rekeys } => {
                let installed = self.install(to, &rekeys)?;
                self.forward_late(to, &installed.origins, out);
                installed.units
            }
            Control::HeldRekeys { .. } => {
                return Err(Misuse::UnexpectedMessage("held re-keys are for the changer").into())
            }
        };
        Ok(Work {
            op: "reencrypt",
            units,
            parallel: true,
        })
    }

    /// Forwards re-keys just moved to `to` to the changer of the next epoch, if it already
    /// asked: it got them still targeting an older epoch, or not at all.
    fn forward_late(&self, to: Epoch, origins: &[Epoch], out: &mut Outbox<Control>) {
        let Some(next) = to.0.checked_add(1).map(Epoch) else {
            return;
        };
        let Some(changer) = self.changers.get(&next) else {
            return;
        };
        let held: Vec<HeldRekey> = origins
            .iter()
            .filter_map(|origin| {
                let rk = self.rekeys.get(origin)?;
                (rk.target == to).then_some(HeldRekey {
                    origin: *origin,
                    target: to,
                    rekey: rk.encoded,
                })
            })
            .collect();
        if !held.is_empty() {
            out.send(Dest::User(*changer), Control::HeldRekeys { to: next, held });
        }
    }

    /// Installs `rk_{origin→to}` for each origin whose held target is older than `to`, then
    /// re-encrypts all their capsules in parallel.
    fn install(&mut self, to: Epoch, rekeys: &[OriginRekey]) -> Result<Installation, SchemeError> {
        let mut parsed = Vec::with_capacity(rekeys.len());
        for r in rekeys {
            if r.origin >= to {
                return Err(SchemeError::Malformed("AFGH re-key does not go forward"));
            }
            parsed.push((r, Rekey::<P>::from_bytes(&r.rekey)?));
        }
        let mut updated = Vec::new();
        for (r, rekey) in parsed {
            if self.rekeys.get(&r.origin).is_some_and(|rk| rk.target >= to) {
                continue;
            }
            let prepared = rekey.prepare();
            let previous = self.rekeys.insert(
                r.origin,
                Installed {
                    target: to,
                    encoded: r.rekey,
                    prepared,
                },
            );
            if previous.is_none() {
                self.bytes += 2 * EPOCH_LEN + G2_LEN;
            }
            updated.push(r.origin);
        }
        let rekeys = &self.rekeys;
        let mut work: Vec<(&mut Slot<P>, &Installed<P>)> = Vec::new();
        for (origin, slots) in &mut self.by_origin {
            if let (true, Some(rk)) = (updated.contains(origin), rekeys.get(origin)) {
                work.extend(slots.iter_mut().map(|s| (s, rk)));
            }
        }
        let fresh = work.iter().filter(|(s, _)| s.current.is_none()).count();
        let units = work.len() as u64;
        work.into_par_iter()
            .try_for_each(|(slot, rk)| slot.reencrypt(rk.target, &rk.prepared))?;
        self.bytes += fresh * CurrentCapsule::LEN;
        Ok(Installation {
            origins: updated,
            units,
        })
    }
}

/// Every room's [`RoomCapsules`], with the directory's changers: the re-keying side both AFGH
/// servers share.
#[derive(Debug)]
pub struct Capsules<Id, P: PairingGroups> {
    rooms: BTreeMap<RoomId, RoomCapsules<Id, P>>,
    changers: Changers,
}

impl<Id, P: PairingGroups> Default for Capsules<Id, P> {
    fn default() -> Self {
        Self {
            rooms: BTreeMap::new(),
            changers: Changers::default(),
        }
    }
}

impl<Id: Ord + Copy, P: PairingGroups> Capsules<Id, P> {
    /// The capsules of `room`, an empty store at first.
    pub fn room(&mut self, room: RoomId) -> &mut RoomCapsules<Id, P> {
        self.rooms.entry(room).or_default()
    }

    /// The capsule of `id` in `room` as the server sends it.
    pub fn get(&self, room: RoomId, id: &Id) -> Option<StoredCapsule> {
        self.rooms.get(&room)?.get(id)
    }

    /// [`RoomCapsules::handle`] of re-keying traffic into an epoch of `room` whose named
    /// changer is `from`.
    ///
    /// # Errors
    /// [`Misuse::NotTheChanger`] for traffic from anyone else;
    /// as [`RoomCapsules::handle`] otherwise.
    pub fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: Control,
        out: &mut Outbox<Control>,
    ) -> Result<Work, SchemeError> {
        self.changers.check(room, msg.rekeys_into()?, from)?;
        self.room(room).handle(from, msg, out)
    }

    /// The directory's record of changers the traffic is checked against.
    pub fn changers(&mut self) -> &mut Changers {
        &mut self.changers
    }

    /// Bytes stored in every room.
    pub fn stored_len(&self) -> usize {
        self.rooms.values().map(RoomCapsules::stored_len).sum()
    }
}

/// What [`RoomCapsules::install`] did.
#[derive(Debug)]
struct Installation {
    /// The origins whose re-key was replaced by the newer one.
    origins: Vec<Epoch>,
    /// Capsules re-encrypted.
    units: u64,
}
