//! Every YAML example in the READMEs is a valid scenario, as `conclave validate` checks it: a
//! complete example as it stands, a fragment (such as a `stacks:` list) inside a minimal
//! scenario that supplies only the required keys it lacks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use conclave_sim::fuzz::Registered;
use conclave_sim::scenario;

/// Required keys a fragment may leave out, with the values the test fills in.
const REQUIRED: [(&str, &str); 4] = [
    ("name", "readme-example"),
    ("duration", "10m"),
    (
        "org",
        "{ users: 400, rooms: [ { kind: project, count: 1, size: 4 } ] }",
    ),
    ("stacks", "[ conventional+none+plaintext ]"),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// The ```yaml blocks of a Markdown file, with the line each starts on.
fn yaml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim_start() == "```yaml" => current = Some((i + 1, String::new())),
            Some(_) if line.trim_start() == "```" => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// `block` with the required keys it lacks added at the top level.
fn completed(block: &str) -> String {
    let doc: serde_yaml::Value = serde_yaml::from_str(block).expect("a YAML example parses");
    let map = doc.as_mapping().expect("a YAML example is a mapping");
    let mut text = String::new();
    for (key, value) in REQUIRED {
        if !map.contains_key(key) {
            text.push_str(&format!("{key}: {value}\n"));
        }
    }
    text.push_str(block);
    text
}

fn check(readme: &str) -> usize {
    let path = repo().join(readme);
    let markdown = std::fs::read_to_string(&path).expect("the README exists");
    let registered = Registered::new();
    let blocks = yaml_blocks(&markdown);
    for (line, block) in &blocks {
        scenario::parse(&completed(block), &path, &registered.known())
            .unwrap_or_else(|e| panic!("{readme}, the YAML block at line {line}: {e}"));
    }
    blocks.len()
}

#[test]
fn readme_examples_validate() {
    assert!(check("README.md") >= 1, "README.md has a scenario example");
}

#[test]
fn scenario_readme_examples_validate() {
    assert!(
        check("scenarios/README.md") >= 2,
        "scenarios/README.md has its examples"
    );
}

#[test]
fn an_invalid_example_is_caught() {
    let bad = "name: x\nduration: 10m\norg: { users: 40 }\nstacks: [ nope+none+plaintext ]\n";
    let path = repo().join("README.md");
    assert!(scenario::parse(&completed(bad), &path, &Registered::new().known()).is_err());
    assert_eq!(
        yaml_blocks("a\n```yaml\nk: 1\n```\n```sh\nx\n```\n```yaml\nj: 2\n```\n"),
        vec![(2, "k: 1\n".to_owned()), (8, "j: 2\n".to_owned())]
    );
}
