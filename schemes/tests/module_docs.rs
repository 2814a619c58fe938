//! Every scheme module's doc has the same six level-1 headings, in the same order, each opening
//! with text; and every file that implements a family's trait is one of those modules (or lies
//! in the directory of one), so a new scheme cannot skip them.

use std::fs;
use std::path::{Path, PathBuf};

/// The level-1 headings of a scheme module's doc, in order.
const HEADINGS: [&str; 6] = [
    "Source",
    "Construction",
    "Costs",
    "Security",
    "Weaknesses",
    "Side channels",
];

/// The scheme modules, relative to the crate's root: the files that implement a scheme
/// registered by name, and the shared mechanisms that carry security claims.
const MODULES: &[&str] = &[
    "src/kd/conventional.rs",
    "src/kd/pairwise_dh.rs",
    "src/kd/sender_keys.rs",
    "src/kd/mkd/mod.rs",
    "src/kd/sakke/mod.rs",
    "src/kd/sakke/group.rs",
    "src/kd/mls/mod.rs",
    "src/kd/sealed_box.rs",
    "src/kd/provider.rs",
    "src/model/mix.rs",
    "src/model/ideal_cipher.rs",
    "src/model/ideal_kd.rs",
    "src/model/pairwise_dh.rs",
    "src/model/sender_keys.rs",
    "src/model/mls.rs",
    "src/pre/none.rs",
    "src/pre/epoch_keys.rs",
    "src/pre/client_rewrap.rs",
    "src/pre/afgh/mod.rs",
    "src/pre/afgh/hybrid.rs",
    "src/pre/afgh/per_message.rs",
    "src/pre/afgh/groups.rs",
    "src/pre/bbs98.rs",
    "src/pre/keyhom.rs",
    "src/pre/dl_hybrid.rs",
    "src/pre/dl_group.rs",
    "src/sse/plaintext.rs",
    "src/sse/rekey_index.rs",
    "src/sse/per_epoch.rs",
    "src/sse/mitra/mod.rs",
    "src/common/aead.rs",
    "src/common/back_chain.rs",
    "src/common/cipher.rs",
];

/// The families' traits: a file implementing one of them holds a scheme.
const TRAITS: [&str; 3] = [
    "KeyDistribution",
    "HistoryProtection",
    "SearchableEncryption",
];

/// Left out of the scan: the registry's own tests and the conformance suites implement the
/// traits for test doubles, not schemes.
const NOT_SCHEMES: [&str; 2] = ["src/registry.rs", "src/testing/"];

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The module doc: the file's leading `//!` lines, without the marker and its one space.
fn module_doc(source: &str) -> Vec<&str> {
    source
        .lines()
        .take_while(|line| line.starts_with("//!"))
        .map(|line| {
            let text = &line["//!".len()..];
            text.strip_prefix(' ').unwrap_or(text)
        })
        .collect()
}

/// What is wrong with a module doc's headings (nothing if the list is empty): the level-1
/// headings must be exactly [`HEADINGS`], in order, and each must be followed by a line of
/// text before the next heading of any level. Lines inside code fences are not headings.
fn heading_problems(doc: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut found: Vec<&str> = Vec::new();
    // The level-1 heading whose section has no text yet.
    let mut awaiting_text: Option<&str> = None;
    let mut in_fence = false;
    for line in doc {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if in_fence || line.trim().is_empty() {
            if in_fence {
                awaiting_text = None;
            }
            continue;
        }
        if line.starts_with('#') {
            if let Some(heading) = awaiting_text.take() {
                problems.push(format!("`# {heading}` has no text before the next heading"));
            }
            if let Some(title) = line.strip_prefix("# ") {
                found.push(title.trim());
                awaiting_text = Some(title.trim());
            }
        } else {
            awaiting_text = None;
        }
    }
    if let Some(heading) = awaiting_text {
        problems.push(format!("`# {heading}` has no text after it"));
    }
    if found != HEADINGS {
        problems.push(format!(
            "level-1 headings are {found:?}, expected exactly {HEADINGS:?} in that order"
        ));
    }
    problems
}

#[test]
fn scheme_modules_have_the_six_headings() {
    let root = crate_root();
    let mut problems = Vec::new();
    for module in MODULES {
        match fs::read_to_string(root.join(module)) {
            Ok(source) => problems.extend(
                heading_problems(&module_doc(&source))
                    .into_iter()
                    .map(|p| format!("{module}: {p}")),
            ),
            Err(e) => problems.push(format!("{module}: cannot read it ({e})")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every `.rs` file under `dir`, as paths relative to the crate's root with `/` separators.
fn rust_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {dir:?}: {e}"));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {dir:?}: {e}"))
            .path();
        if path.is_dir() {
            rust_files(root, &path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path
                .strip_prefix(root)
                .unwrap_or_else(|e| panic!("{path:?} is outside {root:?}: {e}"));
            let parts: Vec<_> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
}

/// The traits `source` implements, from lines such as `impl KeyDistribution for Mkd {` (also
/// with generics or a path before the trait's name).
fn implemented_traits(source: &str) -> Vec<&'static str> {
    TRAITS
        .into_iter()
        .filter(|name| {
            let pattern = format!("{name} for ");
            source.lines().any(|line| {
                let line = line.trim_start();
                line.starts_with("impl") && line.contains(&pattern)
            })
        })
        .collect()
}

/// Whether `file` is a listed module, or lies in the directory of a listed `mod.rs`.
fn is_listed(file: &str) -> bool {
    MODULES.iter().any(|module| {
        *module == file
            || module
                .strip_suffix("mod.rs")
                .is_some_and(|dir| file.starts_with(dir))
    })
}

#[test]
fn every_scheme_implementation_is_a_listed_module() {
    let root = crate_root();
    let mut files = Vec::new();
    rust_files(&root, &root.join("src"), &mut files);
    files.sort();
    let mut implemented = Vec::new();
    let mut unlisted = Vec::new();
    for file in &files {
        if NOT_SCHEMES.iter().any(|skip| file.starts_with(skip)) {
            continue;
        }
        let source = fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
        let traits = implemented_traits(&source);
        if !traits.is_empty() && !is_listed(file) {
            unlisted.push(format!("{file} implements {traits:?}"));
        }
        implemented.extend(traits);
    }
    // A scan that finds nothing would pass vacuously.
    for name in TRAITS {
        assert!(
            implemented.contains(&name),
            "no file under src implements {name}: the scan is broken"
        );
    }
    assert!(
        unlisted.is_empty(),
        "scheme files missing from MODULES (add them, with the six headings):\n{}",
        unlisted.join("\n")
    );
}

#[test]
fn the_heading_check_rejects_bad_docs() {
    let good = [
        "Summary.",
        "",
        "# Source",
        "A paper.",
        "# Construction",
        "",
        "How.",
        "## Detail",
        "More.",
        "# Costs",
        "| a | b |",
        "# Security",
        "* Safe.",
        "# Weaknesses",
        "Some.",
        "# Side channels",
        "None.",
    ];
    assert_eq!(heading_problems(&good), Vec::<String>::new());

    let without = |heading: &str| -> Vec<&str> {
        let skip = format!("# {heading}");
        good.iter().copied().filter(|line| *line != skip).collect()
    };
    assert!(
        !heading_problems(&without("Costs")).is_empty(),
        "missing heading"
    );
    assert!(
        !heading_problems(&without("Side channels")).is_empty(),
        "missing last heading"
    );

    let mut swapped = good.to_vec();
    swapped.swap(9, 11);
    assert!(
        !heading_problems(&swapped).is_empty(),
        "headings out of order"
    );

    let mut twice = good.to_vec();
    twice.extend(["# Costs", "Again."]);
    assert!(!heading_problems(&twice).is_empty(), "heading repeated");

    let mut empty = good.to_vec();
    empty.remove(12);
    assert!(!heading_problems(&empty).is_empty(), "section without text");

    let mut sub_first = good.to_vec();
    sub_first.insert(3, "## Detail");
    assert!(
        !heading_problems(&sub_first).is_empty(),
        "sub-heading before any text"
    );

    let fenced = ["```", "# Source", "```"];
    assert!(
        !heading_problems(&fenced).is_empty(),
        "a heading in a code block"
    );
}
