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
            let (i, free) = self
                .free_at
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|&(i, f)| (f, i))
                .unwrap_or((0, 0));
            let end = free.max(now) + ns;
            if let Some(f) = self.free_at.get_mut(i) {
                *f = end;
            }
            end
        }
    }
}
