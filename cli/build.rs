//! Records the git commit the binary is built from, for `ddiscord --version`.
//!
//! `DDISCORD_GIT_COMMIT` wins when set (a build without the repository, such as an image built
//! from a source archive); otherwise `git rev-parse` is asked; outside a checkout the commit is
//! `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo::rerun-if-env-changed=DDISCORD_GIT_COMMIT");
    let commit = std::env::var("DDISCORD_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            // Build again when HEAD moves: on a commit (the branch's ref) or a checkout (HEAD).
            for path in [
                Some("HEAD".to_owned()),
                git(&["symbolic-ref", "-q", "HEAD"]),
            ]
            .into_iter()
            .flatten()
            {
                if let Some(file) = git(&["rev-parse", "--git-path", &path]) {
                    println!("cargo::rerun-if-changed={file}");
                }
            }
            if let Some(packed) = git(&["rev-parse", "--git-path", "packed-refs"]) {
                println!("cargo::rerun-if-changed={packed}");
            }
            git(&["rev-parse", "--short=12", "HEAD"])
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo::rustc-env=DDISCORD_GIT_COMMIT={commit}");
}
