//! The docs check (`scripts/check-docs`, run by scripts/test): it passes on this
//! repository, and fails on a tree with a broken link, a missing anchor and a diagram that
//! does not parse, naming each with its file and line.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Runs the checker on `root`: whether it passed, and its report.
fn check(root: &Path) -> (bool, String) {
    let output = Command::new("python3").arg(repository().join("tools/check_docs.py")).arg(root).output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

fn tree(files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("docs-check-{}", uuid::Uuid::new_v4()));
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    root
}

const GUIDE: &str =
    "# Guide\n\n## Set up\n\n## Set up\n\nBack to [the top](../README.md#title), [the second](#set-up-1), \
                     [a code heading](#the-code-step).\n\n### The `code` step\n";

const GOOD_README: &str = "# Title\n\nSee [the guide](docs/guide.md#set-up) and [here](#title); `[code](not/a/link.md)`.\n\n\
                           ```mermaid\nsequenceDiagram\n  Client->>auth: POST /api/auth/login\n  auth-->>Client: 200\n```\n";

#[test]
fn this_repositorys_readme_and_docs_pass() {
    let (passed, report) = check(&repository());
    assert!(passed, "{report}");
}

#[test]
fn links_anchors_and_diagrams_that_resolve_pass() {
    let root = tree(&[("README.md", GOOD_README), ("docs/guide.md", GUIDE)]);
    let (passed, report) = check(&root);
    std::fs::remove_dir_all(&root).unwrap();
    assert!(passed, "{report}");
}

#[test]
fn a_broken_link_a_missing_anchor_and_a_broken_diagram_fail() {
    let readme = format!(
        "{GOOD_README}\n[gone](docs/missing.md) and [nowhere](docs/guide.md#nowhere)\n\n\
         ```mermaid\nflowchart LR\n  A[unclosed --> B\n```\n"
    );
    let root = tree(&[("README.md", &readme), ("docs/guide.md", GUIDE)]);
    let (passed, report) = check(&root);
    std::fs::remove_dir_all(&root).unwrap();
    assert!(!passed, "{report}");
    let problems: Vec<&str> = report.lines().collect();
    assert_eq!(problems.len(), 3, "{report}");
    assert!(
        problems[0].starts_with("README.md:") && problems[0].ends_with("docs/missing.md: no such file"),
        "{report}"
    );
    assert!(problems[1].ends_with("docs/guide.md#nowhere: no heading #nowhere in docs/guide.md"), "{report}");
    assert!(problems[2].contains("README.md:") && problems[2].contains("does not parse"), "{report}");
}
