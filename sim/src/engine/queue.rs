//! The event queue: pending arrivals in (time, sequence) order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{Envelope, Node};
use crate::scenario::Nanos;

/// Pending arrivals: a heap of (time, sequence, slot) over a slab of envelopes, so the heap
/// moves 24-byte keys rather than whole envelopes.
#[derive(Debug, Default)]
pub(super) struct EventQueue {
    heap: BinaryHeap<Reverse<(Nanos, u64, u32)>>,
    slab: Vec<Option<(Node, Envelope)>>,
    free: Vec<u32>,
    seq: u64,
}

impl EventQueue {
    pub(super) fn push(&mut self, at: Nanos, to: Node, env: Envelope) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some((to, env));
                i
            }
            None => {
                self.slab.push(Some((to, env)));
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((at, self.seq, slot)));
    }

    pub(super) fn peek_time(&self) -> Option<Nanos> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    pub(super) fn pop(&mut self) -> Option<(Nanos, Node, Envelope)> {
        let Reverse((at, _, slot)) = self.heap.pop()?;
        let (to, env) = self.slab.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        Some((at, to, env))
    }
}
