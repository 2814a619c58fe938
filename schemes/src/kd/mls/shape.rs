//! The shape of a room's ratchet tree, without its keys, and the exact length of each commit
//! and Welcome the scheme sends, computed from it: what a model of `mls` needs to size a room's
//! key traffic without running TreeKEM.
//!
//! # Source
//!
//! RFC 9420 §4 (the array representation of the tree), §7.7 (adding and removing leaves),
//! §7.8 (unmerged leaves, resolutions and the filtered direct path), §12.4.2 (applying a
//! commit), as `mls-rs` 0.57 implements them: removals first (each blanks its leaf and its
//! direct path), then additions into the leftmost blank leaves (each added leaf unmerged at
//! every non-blank parent above it), trailing blank nodes trimmed, then the committer's
//! UpdatePath, which sets every node of its filtered direct path and leaves the others as they
//! were.
//!
//! # Lengths
//!
//! A commit is a PublicMessage: a fixed part ([`COMMIT_FIXED`]), its proposals (Add: a key
//! package; Remove: a leaf index) and its UpdatePath nodes, one per node of the committer's
//! filtered direct path: a public key and one HPKE ciphertext of the path secret per node of
//! its copath child's resolution, less the leaves the commit adds (they learn the path secret
//! from the Welcome). Vectors carry the variable-length prefix of RFC 9420 §2.1.2.
//!
//! A Welcome carries, for each joiner, its key package's reference and the HPKE ciphertext of
//! its joiner secret and path secret ([`WELCOME_SECRETS`]), then the encrypted GroupInfo, whose
//! one extension is the ratchet tree: every node up to the last non-blank one, a blank one as
//! one octet, a leaf as its leaf node (from a key package until the member commits, from its
//! last commit after), a parent as its key, parent hash (empty at the top of the path that set
//! it) and unmerged leaves.
//!
//! `mls_commit_lengths_follow_the_tree_shape` (`tests/kd_mls.rs`) checks every commit and
//! Welcome against those the scheme sends over a random run of adds, removals and updates.

/// Octets of a commit besides its proposals and UpdatePath nodes and their two length prefixes:
/// the PublicMessage framing (group id, epoch, sender), the committer's new leaf node (keys,
/// basic credential, capabilities, parent hash, signature), the content signature and the
/// confirmation and membership tags, with suite 1 and the scheme's credentials (measured).
pub const COMMIT_FIXED: usize = 358;
/// Octets of a KeyPackage (without the `MlsMessage` header; measured).
pub const KEY_PACKAGE: usize = 274;
/// An Add proposal by value: `ProposalOrRef` and proposal types, then the key package.
pub const ADD_PROPOSAL: usize = 1 + 2 + KEY_PACKAGE;
/// A Remove proposal by value: the two types and the removed leaf's index.
pub const REMOVE_PROPOSAL: usize = 1 + 2 + 4;
/// An HPKE ciphertext of a path secret: the X25519 encapsulation and the sealed 32-byte secret
/// with its 16-byte tag, each with its length prefix.
pub const PATH_SECRET_CIPHERTEXT: usize = (1 + 32) + (1 + 32 + 16);
/// An UpdatePath node's public key with its length prefix.
const PATH_NODE_KEY: usize = 1 + 32;
/// A leaf node from a key package in the ratchet tree (measured).
pub const LEAF_FROM_KEY_PACKAGE: usize = 170;
/// A leaf node from a commit: a parent hash in place of the key package's lifetime (measured).
pub const LEAF_FROM_COMMIT: usize = 187;
/// A parent hash (SHA-256) with its length prefix.
const PARENT_HASH: usize = 1 + 32;
/// A joiner's part of a Welcome: its key package's reference, then the HPKE encapsulation and
/// the sealed GroupSecrets (joiner secret, path secret, no PSKs) with its tag.
pub const WELCOME_SECRETS: usize = (1 + 32) + (1 + 32) + (2 + (1 + 32) + (1 + 1 + 32) + 1 + 16);
/// The GroupInfo besides its extensions, with the encryption's tag: the group context
/// (version, suite, group id, epoch, tree hash, transcript hash, extensions), the confirmation
/// tag, the signer's leaf and the signature (measured).
const GROUP_INFO_FIXED: usize = 217;
/// `MlsMessage` version and wire format, and the Welcome's cipher suite.
const WELCOME_FIXED: usize = 2 + 2 + 2;

/// The length prefix of a vector of `n` octets (RFC 9420 §2.1.2).
#[must_use]
pub const fn vector_prefix(n: usize) -> usize {
    if n < 1 << 6 {
        1
    } else if n < 1 << 14 {
        2
    } else {
        4
    }
}

/// A vector of `n` octets with its prefix.
const fn vector(n: usize) -> usize {
    vector_prefix(n) + n
}

/// A non-blank node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// A member's leaf: from its key package until it commits, from its last commit after.
    Leaf { committed: bool },
    /// A parent with its unmerged leaves (leaf indices, sorted), and whether it has a parent
    /// hash (every node a commit sets but the top of its path).
    Parent {
        unmerged: Vec<u32>,
        parent_hash: bool,
    },
}

impl Node {
    /// Octets of the node in a ratchet tree, with its presence and type octets.
    fn tree_len(&self) -> usize {
        2 + match self {
            Self::Leaf { committed: false } => LEAF_FROM_KEY_PACKAGE,
            Self::Leaf { committed: true } => LEAF_FROM_COMMIT,
            Self::Parent {
                unmerged,
                parent_hash,
            } => {
                PATH_NODE_KEY
                    + if *parent_hash { PARENT_HASH } else { 1 }
                    + vector(4 * unmerged.len())
            }
        }
    }
}

/// The shape of a ratchet tree: which nodes are blank, and each parent's unmerged leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeShape {
    /// Nodes in array order (RFC 9420 §4.1), trailing blanks trimmed.
    nodes: Vec<Option<Node>>,
}

/// What a commit did to the tree, and its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The leaf each added member took, in the order of the adds.
    pub added: Vec<u32>,
    /// Octets of the commit (`MlsMessage`).
    pub commit_len: usize,
    /// Octets of the Welcome to the added members (`MlsMessage`), if the commit adds any.
    pub welcome_len: Option<usize>,
}

/// The level of node `x` in the tree (leaves are 0).
fn level(x: usize) -> u32 {
    x.trailing_ones()
}

fn left(x: usize) -> usize {
    x ^ (1 << (level(x) - 1))
}

fn right(x: usize) -> usize {
    x ^ (3 << (level(x) - 1))
}

fn parent(x: usize) -> usize {
    let k = level(x);
    let b = (x >> (k + 1)) & 1;
    (x | (1 << k)) ^ (b << (k + 1))
}

fn sibling(x: usize) -> usize {
    let p = parent(x);
    if x < p {
        right(p)
    } else {
        left(p)
    }
}

impl Default for TreeShape {
    fn default() -> Self {
        Self::new()
    }
}

impl TreeShape {
    /// A tree of one member (a room's creator, before its first commit).
    #[must_use]
    pub fn new() -> Self {
        Self {
            nodes: vec![Some(Node::Leaf { committed: false })],
        }
    }

    /// Leaf slots of the tree: a power of two.
    fn leaf_slots(&self) -> usize {
        (self.nodes.len() / 2 + 1).next_power_of_two()
    }

    fn get(&self, x: usize) -> Option<&Node> {
        self.nodes.get(x).and_then(Option::as_ref)
    }

    /// `(path, copath)` pairs from leaf `leaf` up to the root.
    fn direct_copath(&self, leaf: u32) -> Vec<(usize, usize)> {
        let root = self.leaf_slots() - 1;
        let mut x = 2 * leaf as usize;
        let mut out = Vec::new();
        while x != root {
            out.push((parent(x), sibling(x)));
            x = parent(x);
        }
        out
    }

    /// Appends the resolution of node `x` (RFC 9420 §4.1.2): the non-blank nodes, with their
    /// unmerged leaves, that stand for its subtree.
    fn resolution(&self, x: usize, out: &mut Vec<usize>) {
        match self.get(x) {
            Some(Node::Leaf { .. }) => out.push(x),
            Some(Node::Parent { unmerged, .. }) => {
                out.push(x);
                out.extend(unmerged.iter().map(|l| 2 * *l as usize));
            }
            None if level(x) > 0 => {
                self.resolution(left(x), out);
                self.resolution(right(x), out);
            }
            None => {}
        }
    }

    /// Whether leaf `leaf` holds a member.
    #[must_use]
    pub fn occupied(&self, leaf: u32) -> bool {
        matches!(self.get(2 * leaf as usize), Some(Node::Leaf { .. }))
    }

    /// Members in the tree.
    #[must_use]
    pub fn members(&self) -> usize {
        self.nodes.iter().step_by(2).filter(|n| n.is_some()).count()
    }

    fn set(&mut self, x: usize, node: Option<Node>) {
        if x >= self.nodes.len() {
            if node.is_none() {
                return;
            }
            self.nodes.resize(x + 1, None);
        }
        self.nodes[x] = node;
    }

    /// Blanks a member's leaf and its direct path (a Remove, RFC 9420 §12.1.3).
    fn remove(&mut self, leaf: u32) {
        self.set(2 * leaf as usize, None);
        for (p, _) in self.direct_copath(leaf) {
            self.set(p, None);
        }
    }

    /// Puts a new member in the leftmost blank leaf from `from` on (or a new leaf after the
    /// last node), unmerged at every non-blank parent above it (RFC 9420 §12.1.1).
    fn add(&mut self, from: u32) -> u32 {
        let mut leaf = from;
        while (2 * leaf as usize) < self.nodes.len() && self.occupied(leaf) {
            leaf += 1;
        }
        if 2 * leaf as usize >= self.nodes.len() {
            leaf = u32::try_from(self.nodes.len().div_ceil(2)).unwrap_or(u32::MAX);
        }
        self.set(2 * leaf as usize, Some(Node::Leaf { committed: false }));
        for (p, _) in self.direct_copath(leaf) {
            if let Some(Some(Node::Parent { unmerged, .. })) = self.nodes.get_mut(p) {
                if let Err(at) = unmerged.binary_search(&leaf) {
                    unmerged.insert(at, leaf);
                }
            }
        }
        leaf
    }

    /// A commit by the member at leaf `committer` that removes the members at `removed` and
    /// adds `added` members, with an UpdatePath (the scheme always sends one): the tree as the
    /// commit leaves it, where the added members went and the commit's length. The caller
    /// names members of the tree; the committer is not among `removed`.
    pub fn commit(&mut self, committer: u32, removed: &[u32], added: usize) -> Committed {
        for &leaf in removed {
            self.remove(leaf);
        }
        let mut from = 0;
        let mut new_leaves = Vec::with_capacity(added);
        for _ in 0..added {
            from = self.add(from);
            new_leaves.push(from);
        }
        while self.nodes.last() == Some(&None) {
            self.nodes.pop();
        }
        let excluded: Vec<usize> = new_leaves.iter().map(|l| 2 * *l as usize).collect();
        let mut path_nodes = 0;
        let mut resolution = Vec::new();
        let mut filtered = Vec::new();
        for (p, c) in self.direct_copath(committer) {
            resolution.clear();
            self.resolution(c, &mut resolution);
            if resolution.is_empty() {
                continue;
            }
            let ciphertexts = resolution.iter().filter(|x| !excluded.contains(x)).count();
            path_nodes += PATH_NODE_KEY + vector(ciphertexts * PATH_SECRET_CIPHERTEXT);
            filtered.push(p);
        }
        let top = filtered.last().copied();
        for p in filtered {
            let parent_hash = Some(p) != top;
            self.set(
                p,
                Some(Node::Parent {
                    unmerged: Vec::new(),
                    parent_hash,
                }),
            );
        }
        self.set(2 * committer as usize, Some(Node::Leaf { committed: true }));
        let proposals = added * ADD_PROPOSAL + removed.len() * REMOVE_PROPOSAL;
        Committed {
            added: new_leaves,
            commit_len: COMMIT_FIXED + vector(proposals) + vector(path_nodes),
            welcome_len: (added > 0).then(|| self.welcome_len(added)),
        }
    }

    /// Octets of the tree as a ratchet tree carries it: every node up to the last non-blank
    /// one, without the vector's length prefix.
    #[must_use]
    pub fn tree_len(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| n.as_ref().map_or(1, Node::tree_len))
            .sum()
    }

    /// Octets of the Welcome of a commit that added `joiners` members, the tree being as the
    /// commit left it: the joiners' secrets, then the encrypted GroupInfo, whose one extension
    /// (type, then its data: the tree as a vector) is the ratchet tree.
    fn welcome_len(&self, joiners: usize) -> usize {
        let extensions = vector(2 + vector(vector(self.tree_len())));
        WELCOME_FIXED + vector(joiners * WELCOME_SECRETS) + vector(GROUP_INFO_FIXED + extensions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9420 §4.1's example tree of 8 leaves: levels, parents and siblings.
    #[test]
    fn array_arithmetic_follows_the_rfc() {
        assert_eq!((level(0), level(3), level(7)), (0, 2, 3));
        assert_eq!((parent(0), parent(2), parent(1), parent(5)), (1, 1, 3, 3));
        assert_eq!((parent(3), parent(11)), (7, 7));
        assert_eq!((sibling(0), sibling(5), sibling(3)), (2, 1, 11));
        assert_eq!((left(7), right(7)), (3, 11));
    }

    /// A creator adding three members to a room of its own: the tree of four leaves has the
    /// creator's path set, and its UpdatePath encrypts to nobody (everyone else is new).
    #[test]
    fn creation_sets_the_creators_path() {
        let mut t = TreeShape::new();
        let c = t.commit(0, &[], 3);
        assert_eq!(c.added, [1, 2, 3]);
        assert_eq!(t.members(), 4);
        // Two path nodes (1 and 3), each a key and an empty ciphertext list.
        let path = 2 * (PATH_NODE_KEY + 1);
        assert_eq!(
            c.commit_len,
            COMMIT_FIXED + vector(3 * ADD_PROPOSAL) + vector(path)
        );
        // The creator's leaf from its commit, two parents (the root without a parent hash),
        // three leaves from key packages, and node 5 blank: 1,503 octets of Welcome, as mls-rs
        // sends it to four founders.
        assert_eq!(t.tree_len(), 189 + 69 + 172 + 37 + 172 + 1 + 172);
        assert_eq!(c.welcome_len, Some(1503));
        // Removing leaf 3 blanks it and node 5 and 3 above it; leaf 2 stays.
        t.commit(0, &[3], 0);
        assert!(t.occupied(2) && !t.occupied(3));
        assert_eq!(t.members(), 3);
    }

    #[test]
    fn vector_prefixes() {
        assert_eq!(
            [0, 63, 64, 16_383, 16_384].map(vector_prefix),
            [1, 1, 2, 2, 4]
        );
    }
}
