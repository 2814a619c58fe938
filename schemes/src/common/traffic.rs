//! What a step of a scheme puts on the wire, per direction, as the exact lengths of its
//! messages: the form in which the schemes' wire-size formulas answer (key distribution's
//! `change_traffic`, history protection's `change_traffic`), so that a cost model can charge
//! every message without running any cryptography.

/// The messages of one step (a change, a session's share of one member, a time frame), as
/// `(count, bytes of each)` pairs per direction, between clients and the family's server (the
/// key server, or the message server for history). Every message crosses the server: a message
/// one member sends another is counted once on each side of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Client → server: each message a client sends, once, whether for the server or for it to
    /// relay.
    pub up: Vec<(usize, usize)>,
    /// Server → client: each delivery to a client (a message to several users once per
    /// recipient).
    pub down: Vec<(usize, usize)>,
}

impl Traffic {
    /// Messages that members send each other through a relay: each is uploaded once and
    /// delivered once, so both directions carry `messages`.
    #[must_use]
    pub fn relayed(messages: Vec<(usize, usize)>) -> Self {
        Self {
            up: messages.clone(),
            down: messages,
        }
    }

    /// Every message's length, one entry per message, sorted, per direction (up, down): the
    /// multisets a run's metered lengths are compared with.
    #[must_use]
    pub fn lengths(&self) -> (Vec<usize>, Vec<usize>) {
        let expand = |pairs: &[(usize, usize)]| {
            let mut lens: Vec<usize> = pairs
                .iter()
                .flat_map(|&(count, len)| std::iter::repeat_n(len, count))
                .collect();
            lens.sort_unstable();
            lens
        };
        (expand(&self.up), expand(&self.down))
    }

    /// Total bytes per direction (up, down).
    #[must_use]
    pub fn bytes(&self) -> (usize, usize) {
        let sum = |pairs: &[(usize, usize)]| pairs.iter().map(|(c, l)| c * l).sum();
        (sum(&self.up), sum(&self.down))
    }

    /// Messages per direction (up, down).
    #[must_use]
    pub fn messages(&self) -> (usize, usize) {
        let count = |pairs: &[(usize, usize)]| pairs.iter().map(|(c, _)| c).sum();
        (count(&self.up), count(&self.down))
    }
}

#[cfg(test)]
mod tests {
    use super::Traffic;

    #[test]
    fn lengths_bytes_and_counts() {
        let t = Traffic {
            up: vec![(1, 5), (0, 9)],
            down: vec![(2, 7), (1, 3)],
        };
        assert_eq!(t.lengths(), (vec![5], vec![3, 7, 7]));
        assert_eq!(t.bytes(), (5, 17));
        assert_eq!(t.messages(), (1, 3));
        let r = Traffic::relayed(vec![(2, 4)]);
        assert_eq!(r.up, r.down);
    }
}
