//! The network between user terminals and the servers.
//!
//! Each user has an uplink and a downlink with its client class's bandwidth; a message occupies
//! the link for its serialisation time (bytes / bandwidth, FIFO behind earlier messages), then
//! travels for half the class's round-trip time plus a jitter drawn uniformly from
//! `[0, jitter]`. Links deliver in order, as a TCP connection does. Servers share a data-centre
//! network with a fixed one-way delay and no bandwidth limit.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::rng;
use crate::scenario::{ClientClass, Nanos};

/// One-way delay between two servers.
pub const INTERNAL_DELAY: Nanos = 100_000;

#[derive(Debug, Clone, Copy, Default)]
struct Link {
    free_at: Nanos,
    last_arrival: Nanos,
}

/// Link state of every user.
#[derive(Debug)]
pub struct Network {
    classes: Vec<ClientClass>,
    class_of: Vec<u8>,
    up: Vec<Link>,
    down: Vec<Link>,
    jitter: Vec<ChaCha8Rng>,
}

impl Network {
    /// Links for users whose client classes are `class_of`.
    #[must_use]
    pub fn new(classes: &[ClientClass], class_of: &[u8], seed: u64) -> Self {
        let n = class_of.len();
        Self {
            classes: classes.to_vec(),
            class_of: class_of.to_vec(),
            up: vec![Link::default(); n],
            down: vec![Link::default(); n],
            jitter: (0..n as u64)
                .map(|u| rng::workload(seed, "jitter", u))
                .collect(),
        }
    }

    fn send(
        link: &mut Link,
        class: &ClientClass,
        jitter: &mut ChaCha8Rng,
        now: Nanos,
        bytes: usize,
        bw: f64,
    ) -> Nanos {
        let start = now.max(link.free_at);
        let serialise = if bw > 0.0 {
            (bytes as f64 * 1e9 / bw).round() as Nanos
        } else {
            0
        };
        link.free_at = start + serialise;
        let j = if class.jitter > 0 {
            jitter.gen_range(0..=class.jitter)
        } else {
            0
        };
        let arrival = (link.free_at + class.rtt / 2 + j).max(link.last_arrival);
        link.last_arrival = arrival;
        arrival
    }

    /// A user sends `bytes` at `now`; returns when they reach the server.
    pub fn uplink(&mut self, user: u32, now: Nanos, bytes: usize) -> Nanos {
        let u = user as usize;
        let class = &self.classes[usize::from(self.class_of[u])];
        Self::send(
            &mut self.up[u],
            class,
            &mut self.jitter[u],
            now,
            bytes,
            class.up,
        )
    }

    /// The server sends `bytes` to a user at `now`; returns when they reach the user.
    pub fn downlink(&mut self, user: u32, now: Nanos, bytes: usize) -> Nanos {
        let u = user as usize;
        let class = &self.classes[usize::from(self.class_of[u])];
        Self::send(
            &mut self.down[u],
            class,
            &mut self.jitter[u],
            now,
            bytes,
            class.down,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_and_keeps_order() {
        let class = ClientClass {
            share: 1.0,
            rtt: 20_000_000,
            jitter: 0,
            down: 1e6,
            up: 1e6,
        };
        let mut net = Network::new(&[class], &[0], 1);
        // 1000 bytes at 1 MB/s take 1 ms, then 10 ms of propagation.
        assert_eq!(net.uplink(0, 0, 1000), 11_000_000);
        // A second message queues behind the first on the link.
        assert_eq!(net.uplink(0, 0, 1000), 12_000_000);
        assert_eq!(net.downlink(0, 5_000_000, 0), 15_000_000);
    }
}
