//! The key server of the schemes whose members send each other everything (`pairwise-dh`,
//! `sender-keys`, `sakke`): a relay that computes and holds nothing. The caller routes every
//! message through it; a message addressed to the server itself is a misuse.

use std::fmt;
use std::marker::PhantomData;

use super::{KdServer, KeyDistribution, Roster, ServerHandled};
use crate::{CryptoRngCore, Epoch, EpochSecret, Misuse, Outbox, RoomId, SchemeError, UserId};

/// A scheme whose key server only relays.
pub trait RelayOnly: KeyDistribution<Server = RelayServer<Self>> {
    /// The [`Misuse::UnexpectedMessage`] the server answers a message addressed to it with.
    const REFUSAL: &'static str;
}

/// The key server of a [`RelayOnly`] scheme `K`: a relay that computes and holds nothing.
pub struct RelayServer<K: ?Sized>(PhantomData<fn() -> K>);

impl<K: ?Sized> Default for RelayServer<K> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<K: ?Sized> fmt::Debug for RelayServer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RelayServer")
    }
}

impl<K: RelayOnly> KdServer for RelayServer<K> {
    type Kd = K;

    fn handle(
        &mut self,
        _roster: &Roster<'_>,
        _from: UserId,
        _msg: K::Message,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<K::Message>,
    ) -> Result<ServerHandled, SchemeError> {
        Err(Misuse::UnexpectedMessage(K::REFUSAL).into())
    }

    fn known_epoch_secret(&self, _room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        None
    }
}
