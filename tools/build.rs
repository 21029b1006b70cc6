//! Stamps the commit into `tusk --version`: `tusk 0.1.0 (abc1234 2026-12-02)`.
//!
//! The commit comes from `TUSK_COMMIT` when the build sets it (a build from a source
//! archive), else from `git log -1` run in this package's directory; outside a git
//! checkout, or without git, it is `unknown` and the build goes on. Cargo reruns this
//! script only when HEAD or the branch it names moves (not on every source change).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TUSK_COMMIT");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let dir = Path::new(&dir);
    let stamp = match std::env::var("TUSK_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_string(),
        _ => {
            watch_git(dir);
            git(dir, &["log", "-1", "--format=%h %cs"]).unwrap_or_else(|| "unknown".to_string())
        }
    };
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=TUSK_LONG_VERSION={version} ({stamp})");
}

/// Asks cargo to rerun when HEAD, the branch it points at, or the packed refs change.
/// Only existing paths are named (cargo reruns on every build for a missing one): a
/// branch whose ref is packed is watched through its folder (`refs/heads`), where
/// the next commit writes it.
fn watch_git(dir: &Path) {
    let path_of = |file: &str| git(dir, &["rev-parse", "--git-path", file]).map(|p| dir.join(p));
    let mut watched = Vec::new();
    watched.extend(path_of("HEAD").filter(|p| p.exists()));
    watched.extend(path_of("packed-refs").filter(|p| p.exists()));
    let branch = git(dir, &["symbolic-ref", "-q", "HEAD"]).and_then(|b| path_of(&b));
    if let Some(path) = branch {
        if path.exists() {
            watched.push(path);
        } else {
            watched.extend(path.parent().filter(|p| p.is_dir()).map(Path::to_path_buf));
        }
    }
    for path in watched {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// The trimmed stdout of `git ARGS` in `dir`, or `None` if git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}
