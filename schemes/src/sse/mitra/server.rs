//! Mitra's search server: per room, the dictionary `DictW`, the update log and the back-chain.

use std::collections::{btree_map, BTreeMap, HashMap, HashSet};

use super::keys::ENTRY_LEN;
use super::wire::{Link, LogRecord, Message, Query, Reply, Sealed, Update};
use super::Mitra;
use crate::changers::Changers;
use crate::sse::{Access, Searched, SseServer, Work};
use crate::{CryptoRngCore, Dest, Epoch, Misuse, Outbox, RoomId, SchemeError, UserId, Wire};

/// The search server.
#[derive(Debug, Default)]
pub struct Server {
    rooms: BTreeMap<RoomId, RoomIndex>,
    bytes: usize,
    changers: Changers,
}

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
    /// Back-chain links by the epoch they lead into.
    links: BTreeMap<Epoch, Link>,
    /// Joiners who asked for a chain whose newest link has not arrived yet.
    waiting: BTreeMap<Epoch, Vec<UserId>>,
}

impl RoomIndex {
    /// The links from `epoch` back as far as they connect, newest first.
    fn chain(&self, epoch: Epoch) -> Vec<Link> {
        let mut links = Vec::new();
        let mut to = epoch;
        // `from < to` holds for every stored link, so this walk ends.
        while let Some(link) = self.links.get(&to) {
            links.push(link.clone());
            to = link.from;
        }
        links
    }

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

impl SseServer for Server {
    type Scheme = Mitra;

    fn apply(&mut self, room: RoomId, update: Update) -> Result<(), SchemeError> {
        if update.log.ciphertext.len() != super::log_body_len(update.entries.len()) + 16 {
            return Err(SchemeError::Malformed(
                "log record does not match the update's entries",
            ));
        }
        let index = self.rooms.entry(room).or_default();
        let mut fresh = HashSet::with_capacity(update.entries.len());
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
        if index
            .waiting
            .get(&query.floor)
            .is_some_and(|w| !w.is_empty())
        {
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

    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: Message,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<Work, SchemeError> {
        if let Message::Link(link) = &msg {
            self.changers.check(room, link.to, from)?;
        }
        let index = self.rooms.entry(room).or_default();
        match msg {
            Message::Link(link) => {
                if link.from >= link.to {
                    return Err(SchemeError::Malformed("back-chain link does not go back"));
                }
                if link.wire_len() != Link::LEN {
                    return Err(SchemeError::Malformed(
                        "back-chain link of the wrong length",
                    ));
                }
                let to = link.to;
                // Only that epoch's changer sends one; a repeat changes nothing.
                if let btree_map::Entry::Vacant(slot) = index.links.entry(to) {
                    self.bytes += Link::LEN;
                    slot.insert(link);
                }
                let waiting = index.waiting.remove(&to).unwrap_or_default();
                let answered = waiting.len() as u64;
                if !waiting.is_empty() {
                    let chain = index.chain(to);
                    for joiner in waiting {
                        out.send(Dest::User(joiner), Message::Chain(chain.clone()));
                    }
                }
                Ok(Work {
                    op: "store-link",
                    units: 1 + answered,
                    parallel: false,
                })
            }
            Message::ChainRequest { epoch } => {
                if index.links.contains_key(&epoch) {
                    let chain = index.chain(epoch);
                    let units = chain.len() as u64;
                    out.send(Dest::User(from), Message::Chain(chain));
                    Ok(Work {
                        op: "send-chain",
                        units,
                        parallel: false,
                    })
                } else {
                    // The changer's link has not arrived yet: answer when it does.
                    let list = index.waiting.entry(epoch).or_default();
                    if !list.contains(&from) {
                        list.push(from);
                    }
                    Ok(Work {
                        op: "send-chain",
                        units: 0,
                        parallel: false,
                    })
                }
            }
            Message::Chain(_) => {
                Err(Misuse::UnexpectedMessage("a back-chain is for clients").into())
            }
        }
    }

    fn name_changer(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        changer: UserId,
    ) -> Result<(), SchemeError> {
        self.changers.name(room, epoch, changer)
    }

    fn stored_len(&self) -> usize {
        self.bytes
    }
}
