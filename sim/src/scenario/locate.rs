//! Maps key paths (`org.rooms[1].size.zipf.max`) to their line and column in the scenario text,
//! so that errors found after deserialisation can point at the offending key.
//!
//! The index is built from the YAML event stream, which is the same for block style and flow
//! style (`{ kind: project, count: 40 }`), so both are covered.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, Span};

/// A 1-based position in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
}

impl Pos {
    fn from_span(span: &Span) -> Pos {
        Pos {
            line: span.start.line().max(1),
            column: span.start.col().saturating_add(1),
        }
    }
}

/// What the document's top-level node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootKind {
    /// No document, or only comments.
    Empty,
    /// A mapping: the expected case.
    Mapping,
    /// A list.
    Sequence,
    /// A single scalar (or an empty document, `~`).
    Scalar,
}

/// A YAML syntax error, with the key path being parsed when it happened.
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// Key path of the entry being parsed, if any.
    pub key: Option<String>,
    /// The parser's description.
    pub message: String,
}

/// Where one entry of the document is.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Position of the key, for mapping entries.
    key: Option<Pos>,
    /// Position of the value.
    value: Pos,
}

/// Key path -> position index of one YAML document.
#[derive(Debug, Clone)]
pub(crate) struct LocIndex {
    entries: HashMap<String, Entry>,
    /// Position of the second occurrence of keys that appear twice in one mapping.
    duplicates: HashMap<String, Pos>,
    /// Kind of the top-level node.
    pub root: RootKind,
    /// Position of the top-level node.
    pub root_pos: Option<Pos>,
    /// Position of the start of a second document, if the text has more than one.
    pub extra_document: Option<Pos>,
}

/// A node as seen by the indexer.
#[derive(Clone, Copy)]
enum Node<'a> {
    /// A scalar (or an alias), with its text.
    Scalar(&'a str),
    /// The start of a mapping.
    Mapping,
    /// The start of a sequence.
    Sequence,
}

/// One open collection while walking the events.
enum Frame {
    /// A mapping at `path`; `key` is the pending key (None while a key is expected).
    Map {
        path: String,
        key: Option<(String, Pos)>,
    },
    /// A sequence at `path`; `next` is the index of the next item.
    Seq { path: String, next: usize },
    /// Inside a complex (collection) mapping key, which is not indexed.
    Skip { depth: usize },
}

/// Joins a parent path and a mapping key.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// The parent of a key path: `a.b[1].c` -> `a.b[1]` -> `a.b` -> `a` -> the empty (root) path -> None.
pub(crate) fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']') {
        if let Some(i) = path.rfind('[') {
            return path.get(..i);
        }
    }
    match path.rfind('.') {
        Some(i) => path.get(..i),
        None => Some(""),
    }
}

impl LocIndex {
    /// An index that knows no positions, for text the indexer could not read but the
    /// deserialiser may: the top level is assumed to be a mapping and left to the deserialiser.
    pub(crate) fn unindexed() -> LocIndex {
        LocIndex {
            root: RootKind::Mapping,
            ..LocIndex::empty()
        }
    }

    /// An index of an empty document.
    pub(crate) fn empty() -> LocIndex {
        LocIndex {
            entries: HashMap::new(),
            duplicates: HashMap::new(),
            root: RootKind::Empty,
            root_pos: None,
            extra_document: None,
        }
    }

    /// Indexes the first document of `text`.
    pub(crate) fn build(text: &str) -> Result<LocIndex, SyntaxError> {
        let mut index = LocIndex::empty();
        let mut stack: Vec<Frame> = Vec::new();
        let mut documents = 0usize;
        let mut root_seen = false;
        let mut parser = Parser::new_from_str(text);
        while let Some(item) = parser.next_event() {
            let (event, span) = match item {
                Ok(x) => x,
                Err(e) => {
                    let m = e.marker();
                    return Err(SyntaxError {
                        pos: Pos {
                            line: m.line().max(1),
                            column: m.col().saturating_add(1),
                        },
                        key: current_path(&stack),
                        message: e.info().to_owned(),
                    });
                }
            };
            let pos = Pos::from_span(&span);
            match event {
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        index.extra_document = Some(pos);
                        break;
                    }
                }
                Event::Scalar(value, ..) => {
                    index.node(
                        &mut stack,
                        &mut root_seen,
                        Node::Scalar(value.as_ref()),
                        pos,
                    );
                }
                Event::Alias(_) => {
                    index.node(&mut stack, &mut root_seen, Node::Scalar("*"), pos);
                }
                Event::MappingStart(..) => {
                    index.node(&mut stack, &mut root_seen, Node::Mapping, pos);
                }
                Event::SequenceStart(..) => {
                    index.node(&mut stack, &mut root_seen, Node::Sequence, pos);
                }
                Event::MappingEnd | Event::SequenceEnd => end_collection(&mut stack),
                Event::StreamEnd => break,
                Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            }
        }
        Ok(index)
    }

    /// Records a node (scalar, alias or collection start) at `pos`.
    fn node(&mut self, stack: &mut Vec<Frame>, root_seen: &mut bool, node: Node<'_>, pos: Pos) {
        let collection = !matches!(node, Node::Scalar(_));
        let (path, key_pos) = match stack.last_mut() {
            None => {
                if *root_seen {
                    return;
                }
                *root_seen = true;
                self.root_pos = Some(pos);
                self.root = match node {
                    Node::Scalar("" | "~" | "null" | "Null" | "NULL") => RootKind::Empty,
                    Node::Scalar(_) => RootKind::Scalar,
                    Node::Mapping => RootKind::Mapping,
                    Node::Sequence => RootKind::Sequence,
                };
                (String::new(), None)
            }
            Some(Frame::Skip { depth }) => {
                if collection {
                    *depth += 1;
                }
                return;
            }
            Some(Frame::Map { key, .. }) if key.is_none() => {
                match node {
                    Node::Scalar(text) => *key = Some((text.to_owned(), pos)),
                    Node::Mapping | Node::Sequence => {
                        *key = Some(("?".to_owned(), pos));
                        stack.push(Frame::Skip { depth: 1 });
                    }
                }
                return;
            }
            Some(Frame::Map { path, key }) => {
                let (k, kpos) = key.clone().unwrap_or_else(|| ("?".to_owned(), pos));
                (join(path, &k), Some(kpos))
            }
            Some(Frame::Seq { path, next }) => (format!("{path}[{next}]"), None),
        };
        match self.entries.entry(path.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => {
                if let Some(k) = key_pos {
                    self.duplicates.entry(path.clone()).or_insert(k);
                }
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Entry {
                    key: key_pos,
                    value: pos,
                });
            }
        }
        match node {
            Node::Scalar(_) => value_done(stack),
            Node::Mapping => stack.push(Frame::Map { path, key: None }),
            Node::Sequence => stack.push(Frame::Seq { path, next: 0 }),
        }
    }

    /// Position of `path`: its key when it is a mapping entry, else its value.
    pub(crate) fn get(&self, path: &str) -> Option<Pos> {
        self.entries.get(path).map(|e| e.key.unwrap_or(e.value))
    }

    /// Position of the second occurrence of a key written twice.
    pub(crate) fn duplicate(&self, path: &str) -> Option<Pos> {
        self.duplicates.get(path).copied()
    }

    /// Whether `path` is present in the document.
    pub(crate) fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    /// Position of `path`, or of its nearest ancestor present in the document.
    pub(crate) fn locate(&self, path: &str) -> Option<Pos> {
        let mut p = Some(path);
        while let Some(q) = p {
            if let Some(pos) = self.get(q) {
                return Some(pos);
            }
            p = parent(q);
        }
        self.root_pos
    }

    /// The entry whose key or value starts exactly at `pos`, preferring keys and then the
    /// deepest entry.
    pub(crate) fn path_at(&self, pos: Pos) -> Option<&str> {
        let by_key = self
            .entries
            .iter()
            .filter(|(_, e)| e.key == Some(pos))
            .map(|(p, _)| p.as_str())
            .max_by_key(|p| (p.len(), *p));
        by_key.or_else(|| {
            self.entries
                .iter()
                .filter(|(_, e)| e.value == pos)
                .map(|(p, _)| p.as_str())
                .max_by_key(|p| (p.len(), *p))
        })
    }

    /// The entry that starts last at or before `pos` (the deepest one on ties).
    pub(crate) fn path_before(&self, pos: Pos) -> Option<&str> {
        self.entries
            .iter()
            .map(|(p, e)| (e.key.unwrap_or(e.value), p))
            .filter(|(start, p)| *start <= pos && !p.is_empty())
            .max_by_key(|(start, p)| (*start, p.len(), p.as_str()))
            .map(|(_, p)| p.as_str())
    }
}

/// Key path of where the parser currently is (for syntax errors).
fn current_path(stack: &[Frame]) -> Option<String> {
    for frame in stack.iter().rev() {
        match frame {
            Frame::Skip { .. } => {}
            Frame::Map { path, key } => {
                let p = match key {
                    Some((k, _)) => join(path, k),
                    None => path.clone(),
                };
                return if p.is_empty() { None } else { Some(p) };
            }
            Frame::Seq { path, next } => return Some(format!("{path}[{next}]")),
        }
    }
    None
}

/// A value finished in the innermost open collection.
fn value_done(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { key, .. }) => *key = None,
        Some(Frame::Seq { next, .. }) => *next += 1,
        Some(Frame::Skip { .. }) | None => {}
    }
}

/// A collection ended.
fn end_collection(stack: &mut Vec<Frame>) {
    match stack.last_mut() {
        Some(Frame::Skip { depth }) => {
            *depth = depth.saturating_sub(1);
            if *depth == 0 {
                // The complex key is complete; its value comes next.
                stack.pop();
            }
        }
        Some(_) => {
            stack.pop();
            value_done(stack);
        }
        None => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(index: &LocIndex, path: &str) -> (usize, usize) {
        let p = index.get(path).unwrap();
        (p.line, p.column)
    }

    #[test]
    fn block_and_flow_paths() {
        let text =
            "a: 1\nb:\n  c: [x, { d: 2, e: [3, 4] }]\n  f:\n    - g: 5\n      h: 6\n    - 7\n";
        let index = LocIndex::build(text).unwrap();
        assert_eq!(index.root, RootKind::Mapping);
        assert_eq!(at(&index, "a"), (1, 1));
        assert_eq!(at(&index, "b"), (2, 1));
        assert_eq!(at(&index, "b.c"), (3, 3));
        assert_eq!(at(&index, "b.c[0]"), (3, 7));
        assert_eq!(at(&index, "b.c[1]"), (3, 10));
        assert_eq!(at(&index, "b.c[1].d"), (3, 12));
        assert_eq!(at(&index, "b.c[1].e[1]"), (3, 25));
        assert_eq!(at(&index, "b.f[0].g"), (5, 7));
        assert_eq!(at(&index, "b.f[0].h"), (6, 7));
        assert_eq!(at(&index, "b.f[1]"), (7, 7));
        // Missing paths fall back to their nearest present ancestor.
        let p = index.locate("b.f[0].zz.yy").unwrap();
        assert_eq!((p.line, p.column), (5, 7));
    }

    #[test]
    fn complex_keys_and_duplicates() {
        let text = "? [k1, k2]\n: v\nx: 1\nx: 2\n";
        let index = LocIndex::build(text).unwrap();
        assert_eq!(at(&index, "x"), (3, 1));
        let d = index.duplicate("x").unwrap();
        assert_eq!((d.line, d.column), (4, 1));
    }

    #[test]
    fn document_kinds() {
        assert_eq!(LocIndex::build("").unwrap().root, RootKind::Empty);
        assert_eq!(LocIndex::build("# c\n").unwrap().root, RootKind::Empty);
        assert_eq!(LocIndex::build("~\n").unwrap().root, RootKind::Empty);
        assert_eq!(LocIndex::build("- a\n").unwrap().root, RootKind::Sequence);
        assert_eq!(LocIndex::build("[a]\n").unwrap().root, RootKind::Sequence);
        assert_eq!(LocIndex::build("hello\n").unwrap().root, RootKind::Scalar);
        assert!(LocIndex::build("a: 1\n---\nb: 2\n")
            .unwrap()
            .extra_document
            .is_some());
        let e = LocIndex::build("a:\n  b: [1,\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("a.b[1]"));
    }

    #[test]
    fn parents() {
        assert_eq!(parent("a.b[1].c"), Some("a.b[1]"));
        assert_eq!(parent("a.b[1]"), Some("a.b"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
    }
}
