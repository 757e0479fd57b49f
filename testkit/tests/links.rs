//! Every repository file the documentation cites exists: relative Markdown links, and paths in
//! backticks (`docs/cache.md`, `topics.yaml`), in `README.md`, `docs/*.md`, the packages'
//! READMEs and the Rust doc comments (`//!`, `///`).
//!
//! Only strings that look like repository paths are checked (see [`candidate`]): URLs, glob
//! patterns, placeholders (`<shard>`), topics, Redis keys and commands are left alone, and so
//! are fenced code blocks. A bare file name (`events_v10.jsonl`) may name any file of the
//! repository or of the captured Discord payloads ([`ddiscord_testkit::fixtures_dir`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Extensions of the files the documentation cites.
const EXTENSIONS: &[&str] = &[
    "rs", "md", "toml", "yaml", "yml", "py", "pyi", "js", "ts", "sh", "lua", "json", "jsonl",
    "conf", "txt", "lock",
];

/// Directories that hold no sources (build output, installed packages, caches).
const SKIPPED_DIRS: &[&str] = &[
    "target",
    "node_modules",
    "__pycache__",
    ".git",
    ".mypy_cache",
    ".pytest_cache",
    ".venv",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit is inside the repository")
        .to_path_buf()
}

/// Every file under `dir`, outside [`SKIPPED_DIRS`] and hidden directories.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_str()) {
                walk(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// The text a document cites paths in, line by line with its line number: every line of a
/// Markdown file, or the doc comment lines of a Rust file (without their `//!`/`///`); fenced
/// code blocks left out.
fn prose(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let rust = path.extension().is_some_and(|e| e == "rs");
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = if rust {
            let trimmed = line.trim_start();
            match trimmed
                .strip_prefix("//!")
                .or_else(|| trimmed.strip_prefix("///"))
            {
                Some(doc) => doc,
                None => continue,
            }
        } else {
            line
        };
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line.to_owned()));
        }
    }
    out
}

/// The inline code spans of a line (single backticks).
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// The targets of the Markdown links of a line, `[text](target)`.
fn link_targets(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    out
}

/// Whether the code span `s` looks like a path of a repository file, and so must exist: only
/// path characters, no URL, glob, placeholder, key or parent reference; and a known file
/// extension, or a `/` after a first part that names an entry of one of `bases`.
fn candidate(s: &str, bases: &[PathBuf]) -> bool {
    let s = s.trim_end_matches('/');
    if s.is_empty()
        || s.starts_with(['.', '/', '-'])
        || s.contains("..")
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
    {
        return false;
    }
    let file = s.rsplit('/').next().unwrap_or(s);
    let has_extension = file
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && EXTENSIONS.contains(&ext));
    if has_extension {
        return true;
    }
    match s.split_once('/') {
        Some((first, _)) => bases.iter().any(|b| b.join(first).exists()),
        None => false,
    }
}

/// The directories a path cited in `file` may be relative to: the repository root, the file's
/// directory and the directory of its package (the nearest with a manifest).
fn bases(repo: &Path, file: &Path) -> Vec<PathBuf> {
    let mut out = vec![repo.to_path_buf()];
    let Some(dir) = file.parent() else {
        return out;
    };
    out.push(dir.to_path_buf());
    let package = dir
        .ancestors()
        .take_while(|d| d.starts_with(repo))
        .find(|d| {
            ["Cargo.toml", "package.json", "pyproject.toml"]
                .iter()
                .any(|m| d.join(m).is_file())
        });
    if let Some(package) = package {
        out.push(package.to_path_buf());
    }
    out
}

/// Whether `cited` names an existing file or directory under one of `bases`; a bare file name
/// (no `/`) may also be any file of that name in the repository.
fn exists(cited: &str, bases: &[PathBuf], names: &BTreeSet<String>) -> bool {
    let cited = cited.trim_end_matches('/');
    bases.iter().any(|b| b.join(cited).exists()) || (!cited.contains('/') && names.contains(cited))
}

#[test]
fn cited_repository_files_exist() {
    let repo = repo();
    let mut files = Vec::new();
    walk(&repo, &mut files);
    // Bare file names may also be the captured Discord payloads the tests read, which live
    // beside the repository.
    let mut fixtures = Vec::new();
    walk(&ddiscord_testkit::fixtures_dir(), &mut fixtures);
    let names: BTreeSet<String> = files
        .iter()
        .chain(&fixtures)
        .filter_map(|f| f.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    let documents: Vec<&PathBuf> = files
        .iter()
        .filter(|f| {
            let rel = f.strip_prefix(&repo).unwrap_or(f);
            let name = f.file_name().unwrap_or_default();
            name == "README.md"
                || (rel.starts_with("docs") && f.extension().is_some_and(|e| e == "md"))
                || f.extension().is_some_and(|e| e == "rs")
        })
        .collect();
    assert!(
        documents.len() > 50,
        "found only {} documents under {}",
        documents.len(),
        repo.display()
    );

    let mut missing = Vec::new();
    for doc in documents {
        let bases = bases(&repo, doc);
        let rel = doc.strip_prefix(&repo).unwrap_or(doc).display().to_string();
        for (number, line) in prose(doc) {
            for span in code_spans(&line) {
                if candidate(span, &bases) && !exists(span, &bases, &names) {
                    missing.push(format!("{rel}:{number}: `{span}`"));
                }
            }
            for target in link_targets(&line) {
                let target = target.split('#').next().unwrap_or_default().trim();
                if target.is_empty()
                    || target.contains("://")
                    || target.starts_with("mailto:")
                    || target.contains("::")
                    || target.contains(' ')
                    || !(target.contains('/') || target.contains('.'))
                {
                    continue;
                }
                // Relative to the document's directory, as Markdown renderers resolve it.
                let found = doc.parent().is_some_and(|d| d.join(target).exists());
                if !found {
                    missing.push(format!("{rel}:{number}: link ({target})"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "cited files that do not exist in the repository:\n{}",
        missing.join("\n")
    );
}

#[test]
fn only_path_like_strings_are_checked() {
    let repo = repo();
    let bases = vec![repo.clone()];
    for path in [
        "topics.yaml",
        "docs/cache.md",
        "k8s/overlays/self-contained/mosquitto/mosquitto.conf",
        "cli/src",
        "workers/src/projection/apply.lua",
    ] {
        assert!(candidate(path, &bases), "{path}");
    }
    for not_path in [
        "https://discord.com/developers/docs",
        "discord/*/*/MESSAGE_*",
        "discord/<shard>/<guild>/<EVENT>",
        "discord/0/381880193251409931/MESSAGE_CREATE",
        "discord-state/0/1/GUILD_CREATE",
        "guild:<g>:members",
        "dd:user:42",
        "DDISCORD_REDIS_URL",
        "scripts/up --help",
        "<tmp>/ddiscord-up-<pid>.log",
        "../shared/fixtures/discord",
        "/usr/sbin",
        "ddiscord::cache::keys",
        "server.log",
        "discord/",
        "target/",
    ] {
        assert!(!candidate(not_path, &bases), "{not_path}");
    }
    assert_eq!(
        link_targets("see [the cache](docs/cache.md#keys) and [x](https://a.b/c)"),
        ["docs/cache.md#keys", "https://a.b/c"]
    );
    assert_eq!(code_spans("a `b` c `d/e.rs` f"), ["b", "d/e.rs"]);
}
