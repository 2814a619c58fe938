//! Mitra's search server: per room, the dictionary `DictW`, the update log and the back-chain.

use crate::rekeying::RekeyingServer;
use core::marker::PhantomData;
use std::collections::BTreeMap;

use crate::common::fixed_hash::{FixedState, HashMap, HashSet};

use super::keys::ENTRY_LEN;
use super::wire::{LogRecord, Message, Query, Reply, Sealed, Update};
use super::MitraWith;
use crate::common::back_chain::{ChainStore, Stored as ChainWork};
use crate::common::changers::Changers;
use crate::common::cipher::{Real, SymmetricCipher};
use crate::sse::{Access, Searched, SseServer, Work};
use crate::{CryptoRngCore, Epoch, Outbox, RoomId, SchemeError, UserId};

/// The search server. It computes nothing secret; `C` only ties it to its scheme.
#[derive(Debug, Default)]
pub struct ServerWith<C> {
    rooms: BTreeMap<RoomId, RoomIndex>,
    chains: ChainStore,
    bytes: usize,
    changers: Changers,
    cipher: PhantomData<C>,
}

/// The search server of [`Mitra`](super::Mitra).
pub type Server = ServerWith<Real>;

/// A log record as stored (its sequence number is its position).
#[derive(Debug)]
struct Stored {
    epoch: Epoch,
    writer: UserId,
    sealed: Sealed,
}

/// Bytes a stored log record takes: epoch, writer, nonce, ciphertext.
fn stored_len(sealed: &Sealed) -> usize {
    8 + 4 + sealed.nonce.len() + sealed.ciphertext.len()
}

#[derive(Debug, Default)]
struct RoomIndex {
    /// `DictW`. Only looked up, never iterated, so its order cannot leak into replies.
    dict: HashMap<[u8; ENTRY_LEN], [u8; ENTRY_LEN]>,
    log: Vec<Stored>,
    /// Sequence numbers of each epoch's records, ascending (for rewinds).
    by_epoch: BTreeMap<Epoch, Vec<u64>>,
}

impl RoomIndex {
    fn record(&self, seq: u64) -> Result<LogRecord, SchemeError> {
        let stored = usize::try_from(seq)
            .ok()
            .and_then(|i| self.log.get(i))
            .ok_or(SchemeError::Internal("log index out of step"))?;
        Ok(LogRecord {
            seq,
            epoch: stored.epoch,
            writer: stored.writer,
            sealed: stored.sealed.clone(),
        })
    }
}

impl<C: SymmetricCipher> SseServer for ServerWith<C> {
    type Scheme = MitraWith<C>;

    fn apply(&mut self, room: RoomId, update: Update) -> Result<(), SchemeError> {
        if update.log.ciphertext.len() != super::log_body_len(update.entries.len()) + 16 {
            return Err(SchemeError::Malformed(
                "log record does not match the update's entries",
            ));
        }
        let index = self.rooms.entry(room).or_default();
        let mut fresh =
            HashSet::with_capacity_and_hasher(update.entries.len(), FixedState::default());
        for e in &update.entries {
            if index.dict.contains_key(&e.address) || !fresh.insert(e.address) {
                return Err(SchemeError::Malformed("index address already in use"));
            }
        }
        for e in &update.entries {
            index.dict.insert(e.address, e.value);
        }
        self.bytes += update.entries.len() * 2 * ENTRY_LEN + stored_len(&update.log);
        let seq = index.log.len() as u64;
        index.by_epoch.entry(update.epoch).or_default().push(seq);
        index.log.push(Stored {
            epoch: update.epoch,
            writer: update.writer,
            sealed: update.log,
        });
        Ok(())
    }

    fn search(
        &self,
        room: RoomId,
        access: Access,
        query: &Query,
    ) -> Result<Searched<Reply>, SchemeError> {
        let empty = RoomIndex::default();
        let index = self.rooms.get(&room).unwrap_or(&empty);
        // A joiner's first queries name its join epoch as their floor: while the back-chain it
        // asked for waits for the changer's link, an answer would miss the room's history.
        if self.chains.awaited(room, query.floor) {
            return Ok(Searched::NotYet {
                waiting_for: query.floor,
            });
        }
        let end = index.log.len() as u64;
        if query.cursor > end {
            return Err(SchemeError::Malformed("log position beyond the log"));
        }
        let values = query
            .addresses
            .iter()
            .map(|a| {
                index
                    .dict
                    .get(a)
                    .copied()
                    .ok_or(SchemeError::Malformed("no entry at a queried address"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut seqs: Vec<u64> = index.log[query.cursor as usize..]
            .iter()
            .zip(query.cursor..)
            .filter(|(r, _)| r.epoch >= query.floor)
            .map(|(_, seq)| seq)
            .collect();
        for &(epoch, from) in &query.rewind {
            if from > query.cursor {
                return Err(SchemeError::Malformed("rewind starts past the cursor"));
            }
            if let Some(list) = index.by_epoch.get(&epoch) {
                let lo = list.partition_point(|s| *s < from);
                let hi = list.partition_point(|s| *s < query.cursor);
                seqs.extend_from_slice(&list[lo..hi]);
            }
        }
        seqs.sort_unstable();
        seqs.dedup();
        let records = seqs
            .into_iter()
            .map(|seq| index.record(seq))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Searched::Reply(Reply {
            search: query.search,
            readable_from: access.readable_from,
            end,
            values,
            records,
        }))
    }
}

impl<C: SymmetricCipher> RekeyingServer for ServerWith<C> {
    type Message = Message;

    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: Message,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<Work, SchemeError> {
        let work = self.chains.handle(room, from, msg, &self.changers, out)?;
        Ok(work.work(match work {
            ChainWork::Link { .. } => "store-link",
            ChainWork::Request { .. } => "send-chain",
        }))
    }

    fn changers(&mut self) -> Option<&mut Changers> {
        Some(&mut self.changers)
    }

    fn stored_len(&self) -> usize {
        self.bytes + self.chains.stored_len()
    }
}
