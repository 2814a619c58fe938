//! Worker pools: a node's processors, each running its queued work FIFO.

use crate::scenario::Nanos;

/// Processors of a node, FIFO.
#[derive(Debug, Clone)]
pub(super) struct Pool {
    free_at: Vec<Nanos>,
}

impl Pool {
    pub(super) fn new(workers: u32) -> Self {
        Self {
            free_at: vec![0; workers.max(1) as usize],
        }
    }

    /// Queues `ns` of work arriving at `now`; returns when it completes. Parallel work waits
    /// for every processor and splits evenly across them.
    pub(super) fn run(&mut self, now: Nanos, ns: u64, parallel: bool) -> Nanos {
        if parallel && self.free_at.len() > 1 {
            let start = self.free_at.iter().copied().max().unwrap_or(0).max(now);
            let end = start + ns.div_ceil(self.free_at.len() as u64);
            self.free_at.iter_mut().for_each(|f| *f = end);
            end
        } else {
            let i = self
                .free_at
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|&(i, f)| (f, i))
                .map_or(0, |(i, _)| i);
            match self.free_at.get_mut(i) {
                Some(free_at) => queue_on(free_at, now, ns),
                None => now + ns,
            }
        }
    }
}

/// Queues `ns` of work arriving at `now` on one processor free from `free_at`; returns when it
/// completes (and the processor is free again).
pub(super) fn queue_on(free_at: &mut Nanos, now: Nanos, ns: u64) -> Nanos {
    let end = (*free_at).max(now) + ns;
    *free_at = end;
    end
}
