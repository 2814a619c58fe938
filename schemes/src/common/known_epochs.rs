//! What a back-chain client knows of each room: an entry per epoch it held, or reached by
//! walking links down from one it held (epoch-keys, client-rewrap).
//!
//! An entry is the scheme's: the keys it derives from the epoch secret, and the chain secret its
//! links seal ([`super::back_chain`]). The key view a client is handed is authoritative: an epoch
//! known under another secret (a link opened earlier, a stale state) is derived again from it.

use litemap::LiteMap;

use super::back_chain::{self, ChainSecret, Link};
use super::cipher::SymmetricCipher;
use super::fixed_hash::HashMap;
use crate::pre::KeyView;
use crate::{Epoch, EpochSecret, RoomId, SchemeError};

/// A member's entries per epoch of one room, in epoch order.
///
/// A flat sorted vector: a member holds one epoch of most rooms and a handful of a few, and
/// keeps such a map for every room it is in, where a B-tree would reserve a node of eleven
/// entries for the first one (at 100,000 users, that node was most of a run's memory).
pub type EpochMap<T> = LiteMap<Epoch, T>;

/// A new map with room for one entry, a member's usual count.
#[must_use]
pub fn epoch_map<T>() -> EpochMap<T> {
    LiteMap::with_capacity(1)
}

/// A scheme's entry for one epoch.
pub trait EpochEntry: Sized {
    /// The back-chain domain of the scheme's links.
    const CHAIN: &'static str;

    /// The provider the scheme's links are sealed and opened with.
    type Cipher: SymmetricCipher;

    /// The entry of an epoch held with `key`.
    fn held(key: KeyView<'_>) -> Self;

    /// The entry of an epoch reached through a link, from its chain secret.
    ///
    /// # Errors
    /// Scheme specific.
    fn reached(room: RoomId, epoch: Epoch, chain: ChainSecret) -> Result<Self, SchemeError>;

    /// Whether this entry was made from `secret` (an entry reached through a link may not be).
    fn made_from(&self, secret: &EpochSecret) -> bool;

    /// The chain secret the epoch's links are sealed under.
    fn chain_secret(&self) -> &[u8; 32];
}

/// Per room, the entry of every epoch a client can use.
///
/// The rooms are hashed: every message a member opens looks its room up here, and at 100,000
/// users every dependent load of that lookup is a cache miss. A B-tree's root, its length (at
/// the node's far end), its keys and its values cost four, a sorted vector's binary search one a
/// probe; the hash map's control bytes and bucket cost two.
pub struct KnownEpochs<T> {
    rooms: HashMap<RoomId, EpochMap<T>>,
}

impl<T> Default for KnownEpochs<T> {
    fn default() -> Self {
        Self {
            rooms: HashMap::default(),
        }
    }
}

/// Lists the epochs known per room, in room order, never the keys.
impl<T> core::fmt::Debug for KnownEpochs<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut rooms: Vec<_> = self.rooms.iter().collect();
        rooms.sort_unstable_by_key(|(r, _)| **r);
        f.debug_map()
            .entries(
                rooms
                    .into_iter()
                    .map(|(r, k)| (r, k.keys().collect::<Vec<_>>())),
            )
            .finish()
    }
}

impl<T: EpochEntry> KnownEpochs<T> {
    /// The entry of `epoch` in `room`, if known.
    #[must_use]
    pub fn get(&self, room: RoomId, epoch: Epoch) -> Option<&T> {
        self.rooms.get(&room)?.get(&epoch)
    }

    /// As [`get`](Self::get), to update the entry (a cipher's state).
    pub fn get_mut(&mut self, room: RoomId, epoch: Epoch) -> Option<&mut T> {
        self.rooms.get_mut(&room)?.get_mut(&epoch)
    }

    /// Remembers `key`'s epoch, making its entry again if it was not made from `key`'s secret,
    /// and returns the entry.
    pub fn learn(&mut self, key: KeyView<'_>) -> &mut T {
        let known = self.rooms.entry(key.room).or_insert_with(epoch_map);
        let fresh = known
            .get(&key.epoch)
            .is_none_or(|k| !k.made_from(key.secret));
        if fresh {
            known.insert(key.epoch, T::held(key));
        }
        known
            .get_mut(&key.epoch)
            .unwrap_or_else(|| unreachable!("the entry was just made"))
    }

    /// Follows `links` down from the epochs known in `room`, remembering every epoch reached.
    ///
    /// # Errors
    /// As [`back_chain::walk`]: [`SchemeError::Crypto`] for a link that does not open under a
    /// secret this client holds for its epoch (forged or corrupted).
    pub fn walk(&mut self, room: RoomId, links: &[Link]) -> Result<(), SchemeError> {
        let known = self.rooms.entry(room).or_insert_with(epoch_map);
        back_chain::walk::<T::Cipher, _>(
            T::CHAIN,
            room,
            links,
            known,
            T::chain_secret,
            |epoch, chain| T::reached(room, epoch, chain),
        )?;
        Ok(())
    }
}
