//! Synchronous delivery of a family's protocol messages between its clients and its server,
//! in order, until the traffic settles.
//!
//! Roles never talk to each other: they push messages into an [`Outbox`] and whoever drives them
//! routes. The simulator routes through its event queue with network delays; everything else
//! that drives schemes (the conformance harnesses, tests, benches, the simulator's provisioning
//! before time zero, the adversary experiments) needs the same plain loop: take the oldest
//! message, hand it to the server or to each recipient, queue what that sends, repeat. This is
//! that loop, once. It is first in, first out, so a run is deterministic.

use std::collections::VecDeque;

use crate::{Dest, Origin, Outbox, SchemeError, UserId};

/// A message arriving at its destination.
#[derive(Debug)]
pub enum Arrival<'a, M> {
    /// A user's message reaches the server (which takes it by value).
    AtServer {
        /// The sender.
        from: UserId,
        /// The message.
        msg: M,
    },
    /// A message reaches one of its recipients (a message to several users arrives once at
    /// each, in the order listed).
    AtUser {
        /// The sender.
        from: Origin,
        /// The recipient.
        to: UserId,
        /// The message.
        msg: &'a M,
    },
}

/// Traffic a [`Router`] cannot deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Misrouted {
    /// The server addressed a message to itself.
    #[error("the server sent a message to itself")]
    ServerToItself,
    /// More deliveries than the router's limit: the traffic never settles.
    #[error("traffic did not settle within {deliveries} deliveries")]
    NeverSettles {
        /// Deliveries made before giving up.
        deliveries: usize,
    },
}

impl From<Misrouted> for SchemeError {
    fn from(e: Misrouted) -> Self {
        match e {
            Misrouted::ServerToItself => Self::Internal("the server sent a message to itself"),
            Misrouted::NeverSettles { .. } => Self::Internal("protocol traffic never settles"),
        }
    }
}

/// A first-in, first-out queue of messages in flight, with who sent each.
#[derive(Debug)]
pub struct Router<M> {
    queue: VecDeque<(Origin, Dest, M)>,
    deliveries: usize,
    limit: usize,
}

impl<M> Default for Router<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> Router<M> {
    /// Deliveries after which [`Router::run`] gives up by default.
    pub const DEFAULT_LIMIT: usize = 10_000_000;

    /// An empty router with the default limit.
    #[must_use]
    pub fn new() -> Self {
        Self::with_limit(Self::DEFAULT_LIMIT)
    }

    /// An empty router that gives up after `limit` deliveries.
    #[must_use]
    pub fn with_limit(limit: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            deliveries: 0,
            limit,
        }
    }

    /// Queues everything in `out`, sent by `from`.
    pub fn send(&mut self, from: Origin, mut out: Outbox<M>) {
        self.queue
            .extend(out.drain().map(|(dest, msg)| (from, dest, msg)));
    }

    /// Queues `out`, sent by `from`, and delivers it and everything it causes until the
    /// traffic settles ([`send`](Self::send), then [`run`](Self::run)). Returns the deliveries
    /// made.
    ///
    /// # Errors
    /// As [`Router::run`].
    pub fn route<E: From<Misrouted>>(
        mut self,
        from: Origin,
        out: Outbox<M>,
        deliver: impl FnMut(Arrival<'_, M>) -> Result<Outbox<M>, E>,
    ) -> Result<usize, E> {
        self.send(from, out);
        self.run(deliver)
    }

    /// Queues `msg` from `from` to `to`.
    pub fn push(&mut self, from: Origin, to: Dest, msg: M) {
        self.queue.push_back((from, to, msg));
    }

    /// Deliveries made so far (a message to several users counts once per recipient).
    #[must_use]
    pub fn deliveries(&self) -> usize {
        self.deliveries
    }

    /// Whether no message is in flight.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Delivers the queued messages and everything they cause, oldest first, until none is
    /// left: `deliver` handles one arrival and returns what its recipient sends in answer.
    /// Returns the deliveries made by this call.
    ///
    /// # Errors
    /// The first error of `deliver` (the traffic not delivered yet stays queued, the message
    /// that failed is dropped), or [`Misrouted`] (the message stays queued).
    pub fn run<E: From<Misrouted>>(
        &mut self,
        mut deliver: impl FnMut(Arrival<'_, M>) -> Result<Outbox<M>, E>,
    ) -> Result<usize, E> {
        let start = self.deliveries;
        while let Some((from, dest, msg)) = self.queue.pop_front() {
            let recipients = match (from, dest) {
                (Origin::User(sender), Dest::Server) => {
                    if let Err(e) = self.count() {
                        self.queue.push_front((from, Dest::Server, msg));
                        return Err(e.into());
                    }
                    let out = deliver(Arrival::AtServer { from: sender, msg })?;
                    self.send(Origin::Server, out);
                    continue;
                }
                (Origin::Server, Dest::Server) => {
                    self.queue.push_front((from, Dest::Server, msg));
                    return Err(Misrouted::ServerToItself.into());
                }
                (_, Dest::User(to)) => vec![to],
                (_, Dest::Users(tos)) => tos,
            };
            for (i, &to) in recipients.iter().enumerate() {
                if let Err(e) = self.count() {
                    self.queue
                        .push_front((from, Dest::Users(recipients[i..].to_vec()), msg));
                    return Err(e.into());
                }
                let out = deliver(Arrival::AtUser {
                    from,
                    to,
                    msg: &msg,
                })?;
                self.send(Origin::User(to), out);
            }
        }
        Ok(self.deliveries - start)
    }

    fn count(&mut self) -> Result<(), Misrouted> {
        if self.deliveries >= self.limit {
            return Err(Misrouted::NeverSettles {
                deliveries: self.deliveries,
            });
        }
        self.deliveries += 1;
        Ok(())
    }
}

/// Delivers `out`, sent by `from`, and everything it causes, until the traffic settles
/// ([`Router::run`] on a fresh router). Returns the deliveries made.
///
/// # Errors
/// As [`Router::run`].
pub fn route<M, E: From<Misrouted>>(
    from: Origin,
    out: Outbox<M>,
    deliver: impl FnMut(Arrival<'_, M>) -> Result<Outbox<M>, E>,
) -> Result<usize, E> {
    Router::new().route(from, out, deliver)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy protocol: a user's number goes to the server, which sends `n - 1` to users 1 and
    /// 2; a user that receives `n > 0` sends it back to the server.
    fn toy(arrival: Arrival<'_, u32>, log: &mut Vec<String>) -> Result<Outbox<u32>, SchemeError> {
        let mut out = Outbox::new();
        match arrival {
            Arrival::AtServer { from, msg } => {
                log.push(format!("server<-{}:{msg}", from.0));
                if msg > 0 {
                    out.send(Dest::Users(vec![UserId(1), UserId(2)]), msg - 1);
                }
            }
            Arrival::AtUser { from, to, msg } => {
                log.push(format!("{}<-{from:?}:{msg}", to.0));
                if *msg > 0 && to == UserId(1) {
                    out.send(Dest::Server, *msg);
                }
            }
        }
        Ok(out)
    }

    #[test]
    fn delivers_in_order_until_quiet() {
        let mut log = Vec::new();
        let mut first = Outbox::new();
        first.send(Dest::Server, 2);
        let n = route(Origin::User(UserId(0)), first, |a| toy(a, &mut log)).unwrap();
        assert_eq!(
            log,
            [
                "server<-0:2",
                "1<-Server:1",
                "2<-Server:1",
                "server<-1:1",
                "1<-Server:0",
                "2<-Server:0",
            ]
        );
        assert_eq!(n, 6);
    }

    #[test]
    fn refuses_what_cannot_be_delivered() {
        let mut router = Router::<u32>::with_limit(3);
        let mut first = Outbox::new();
        first.send(Dest::Server, 100);
        router.send(Origin::User(UserId(0)), first);
        let mut log = Vec::new();
        assert_eq!(
            router.run(|a| toy(a, &mut log)),
            Err(SchemeError::Internal("protocol traffic never settles"))
        );
        assert!(!router.is_empty());
        let mut to_itself = Outbox::new();
        to_itself.send(Dest::Server, 1);
        let mut router = Router::<u32>::new();
        router.send(Origin::Server, to_itself);
        assert_eq!(
            router.run(|a| toy(a, &mut Vec::new())),
            Err(SchemeError::Internal("the server sent a message to itself"))
        );
        // An error of the handler stops the run and is returned as it is.
        let mut first = Outbox::new();
        first.send(Dest::User(UserId(4)), 1);
        assert_eq!(
            route::<u32, SchemeError>(Origin::Server, first, |_| Err(SchemeError::Crypto)),
            Err(SchemeError::Crypto)
        );
    }
}
