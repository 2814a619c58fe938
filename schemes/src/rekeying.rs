//! Re-keying: what the two data families (history protection and searchable encryption) do
//! when key distribution moves a room to a new epoch.
//!
//! Every member's client of each family is told of the change ([`RekeyingClient::epoch_changed`])
//! with a [`KeyView`] of the epochs before and after. The member who made the change, and a
//! joiner that needs something stored, may send the family's server control messages
//! (re-encryption keys, re-wraps, back-chain links, index factors); the server turns them into
//! work ([`RekeyingServer::handle`], reported as [`Work`] for the caller to charge) and may answer.
//! A server takes re-keying traffic into an epoch only from the member the service's directory
//! names as that epoch's changer ([`RekeyingServer::name_changer`],
//! [`crate::common::changers`]).

use crate::common::changers::Changers;
use crate::{CryptoRngCore, Epoch, EpochSecret, Misuse, Outbox, RoomId, SchemeError, UserId, Wire};

/// A member's current key for a room.
#[derive(Debug, Clone, Copy)]
pub struct KeyView<'a> {
    /// The room.
    pub room: RoomId,
    /// The epoch of `secret`.
    pub epoch: Epoch,
    /// The epoch secret from key distribution.
    pub secret: &'a EpochSecret,
}

/// What a client learns when a room's epoch changes under it.
#[derive(Debug, Clone, Copy)]
pub struct EpochChange<'a> {
    /// The epoch this client held before, if any (`None` for a member who just joined).
    pub prev: Option<KeyView<'a>>,
    /// The epoch it holds now.
    pub next: KeyView<'a>,
    /// Whether this client made the change; only the changer emits re-keying traffic.
    pub changer: bool,
    /// Whether the room's policy lets members read messages from before they joined. When it
    /// does not, a scheme must not carry stored history over to keys a joiner receives.
    pub shares_history: bool,
}

/// Server-side work a control message caused, so the caller can charge it. `Work::default()`
/// (no operation) says the message changed nothing, a repeat for example, and costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Work {
    /// Name of the operation, for the cost model (for example `"reencrypt"`).
    pub op: &'static str,
    /// Size of the work in the operation's natural unit (records touched, bytes).
    pub units: u64,
    /// Whether the work splits across all server workers (data-parallel).
    pub parallel: bool,
}

/// A client's side of a data family's re-keying.
pub trait RekeyingClient: Send {
    /// Control traffic between clients and the family's server.
    type Message: Wire + Clone + Send + Sync + 'static;

    /// Tells the client that it now holds a new epoch of the room. The member that made the
    /// change ([`EpochChange::changer`]) may emit control messages for the server, and so may a
    /// joiner that needs something stored (a back-chain of keys). The default remembers nothing
    /// and sends nothing: a scheme whose keys need no re-keying.
    ///
    /// # Errors
    /// Scheme specific.
    fn epoch_changed(
        &mut self,
        change: EpochChange<'_>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Self::Message>,
    ) -> Result<(), SchemeError> {
        let _ = (change, rng, out);
        Ok(())
    }

    /// Processes control traffic from the server, possibly answering it. The default refuses
    /// every message: a scheme whose clients take none.
    ///
    /// # Errors
    /// Scheme specific; [`Misuse::UnexpectedMessage`] by default.
    fn handle(
        &mut self,
        key: KeyView<'_>,
        msg: &Self::Message,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Self::Message>,
    ) -> Result<(), SchemeError> {
        let _ = (key, msg, rng, out);
        Err(Misuse::UnexpectedMessage("this scheme's clients take no control traffic").into())
    }
}

/// A data family's server, on its re-keying side.
pub trait RekeyingServer: Send {
    /// Control traffic between clients and this server.
    type Message: Wire + Clone + Send + Sync + 'static;

    /// Processes a control message from `from` and reports the work it caused. The default
    /// refuses every message: a scheme that takes none.
    ///
    /// # Errors
    /// Scheme specific; [`Misuse::UnexpectedMessage`] by default.
    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: Self::Message,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Self::Message>,
    ) -> Result<Work, SchemeError> {
        let _ = (room, from, msg, rng, out);
        Err(Misuse::UnexpectedMessage("this scheme's server takes no control traffic").into())
    }

    /// The directory's record of changers this server checks re-keying traffic against;
    /// `None` (the default) for a server that takes no re-keying traffic.
    fn changers(&mut self) -> Option<&mut Changers> {
        None
    }

    /// The service's directory names `changer` as the member that re-keys `room` into `epoch`:
    /// the server accepts re-keying traffic into that epoch from it alone. Called before the
    /// changer's traffic can arrive. Recorded in [`RekeyingServer::changers`].
    ///
    /// # Errors
    /// [`Misuse::ChangerNamedTwice`] for a second, different changer of one epoch.
    fn name_changer(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        changer: UserId,
    ) -> Result<(), SchemeError> {
        match self.changers() {
            Some(changers) => changers.name(room, epoch, changer),
            None => Ok(()),
        }
    }

    /// Bytes the server stores.
    fn stored_len(&self) -> usize;
}
