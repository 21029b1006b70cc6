//! The loader's decisions, as pure functions of what it knows: what to do next
//! (serve, download, abandon), whether a finished download may be swapped in, which
//! local versions to keep, which partial downloads to keep, and whether a missing
//! `CURRENT` is an error. The loader (`mod.rs`) gathers the facts, asks, and acts.
//!
//! The rules, in the order [`next_step`] applies them:
//! 1. A download whose version `CURRENT` no longer names is abandoned.
//! 2. Nothing to do when `CURRENT`'s version is served, unless it lacks owned
//!    shards (the topology changed): then it is downloaded again (the shards on
//!    disk are kept and checked, the missing ones fetched) while it serves.
//! 3. `CURRENT`'s version held in memory is swapped in at once.
//! 4. `CURRENT`'s version complete on local disk is opened and swapped in.
//! 5. While nothing is served, the newest complete local version is served
//!    meanwhile (a fallback: also when `CURRENT` is missing or unreadable).
//! 6. `CURRENT`'s version is downloaded, unless a recent failure holds it back or a
//!    download of it runs already.
//!
//! A downloaded version is swapped in only if `CURRENT` still names it when the
//! download ends ([`may_swap_download`]): a node never swaps to a version `CURRENT`
//! no longer names.

use crate::data_dir::KeepPartial;

/// What the loader knows when it decides.
#[derive(Debug, Clone, Copy, Default)]
pub struct View<'a> {
    /// The version `CURRENT` names, as of the last successful poll; `None` when
    /// there is no `CURRENT` or it could not be read yet.
    pub target: Option<&'a str>,
    /// The version answering requests; `None` while nothing is served.
    pub served: Option<&'a str>,
    /// Versions held in memory (the served one first).
    pub held: &'a [String],
    /// Complete versions on local disk, sorted by id (oldest first).
    pub local: &'a [String],
    /// The version a running download fetches.
    pub downloading: Option<&'a str>,
    /// True while a recent failure of `target` holds a new attempt back.
    pub held_back: bool,
    /// True when the served version lacks shards this node owns (the topology
    /// changed since it was downloaded).
    pub served_missing: bool,
}

/// The loader's next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Stop the running download of this version: `CURRENT` names another.
    Abandon(String),
    /// Swap to this version, held in memory.
    SwapHeld(String),
    /// Open this complete local version (`CURRENT`'s) and swap to it.
    OpenLocal(String),
    /// Nothing is served: open this local version and serve it meanwhile.
    Fallback(String),
    /// Start downloading this version (`CURRENT`'s).
    Download(String),
    /// Nothing to do until something changes.
    Idle,
}

/// The next step; see the module docs for the rules.
pub fn next_step(v: &View) -> Step {
    if let Some(d) = v.downloading
        && v.target != Some(d)
    {
        return Step::Abandon(d.to_string());
    }
    let fallback = || {
        v.local
            .iter()
            .rev()
            .find(|l| Some(l.as_str()) != v.target)
            .filter(|_| v.served.is_none())
            .map(|l| Step::Fallback(l.clone()))
    };
    let Some(target) = v.target else {
        return fallback().unwrap_or(Step::Idle);
    };
    if v.served == Some(target) {
        if v.served_missing && !v.held_back && v.downloading.is_none() {
            return Step::Download(target.to_string());
        }
        return Step::Idle;
    }
    if v.held.iter().any(|h| h == target) {
        return Step::SwapHeld(target.to_string());
    }
    if v.local.iter().any(|l| l == target) {
        return Step::OpenLocal(target.to_string());
    }
    if let Some(step) = fallback() {
        return step;
    }
    if v.held_back || v.downloading.is_some() {
        return Step::Idle;
    }
    Step::Download(target.to_string())
}

/// True when a download of `version` that just ended may be swapped in: only if
/// `CURRENT` (as last read) still names it.
pub fn may_swap_download(version: &str, target: Option<&str>) -> bool {
    target == Some(version)
}

/// Why a complete local version is kept or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalReason {
    /// Kept: held in memory (served, or the previous version).
    Held,
    /// Kept: `CURRENT` names it.
    Current,
    /// Kept: one of the newest `keep_versions`.
    WithinKeep,
    /// Removed: older than the versions kept.
    Expired,
}

/// The decision for each complete local version: held versions and `CURRENT`'s are
/// always kept; then the newest others until `keep` versions are kept in all.
pub fn plan_local(
    local: &[String],
    held: &[String],
    target: Option<&str>,
    keep: usize,
) -> Vec<(String, LocalReason)> {
    let mut reasons: Vec<(String, Option<LocalReason>)> = local
        .iter()
        .map(|v| {
            let reason = if held.contains(v) {
                Some(LocalReason::Held)
            } else if target == Some(v.as_str()) {
                Some(LocalReason::Current)
            } else {
                None
            };
            (v.clone(), reason)
        })
        .collect();
    let mut kept = reasons.iter().filter(|(_, r)| r.is_some()).count();
    for (_, reason) in reasons.iter_mut().rev() {
        if reason.is_none() && kept < keep {
            *reason = Some(LocalReason::WithinKeep);
            kept += 1;
        }
    }
    reasons
        .into_iter()
        .map(|(v, r)| (v, r.unwrap_or(LocalReason::Expired)))
        .collect()
}

/// Which partial downloads a sweep keeps: the one of `CURRENT`'s version (to
/// resume it); every one while `CURRENT` is unknown (the store cannot be read).
pub fn partial_to_keep(target: Option<&str>, current_known: bool) -> KeepPartial {
    match (current_known, target) {
        (false, _) => KeepPartial::All,
        (true, Some(v)) => KeepPartial::Only(v.to_string()),
        (true, None) => KeepPartial::Nothing,
    }
}

/// True when a store without `CURRENT` for the domain is an error: `CURRENT` was
/// read before, or this node holds versions of the domain (then the store lost its
/// pointer or its root, rather than never having had one).
pub fn missing_current_is_error(seen_before: bool, holds_versions: bool) -> bool {
    seen_before || holds_versions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_restarted_node_serves_local_first_then_downloads_current() {
        let local = ids(&["v1", "v2"]);
        let view = View {
            target: Some("v3"),
            local: &local,
            ..View::default()
        };
        assert_eq!(next_step(&view), Step::Fallback("v2".into()));
        let served = View {
            served: Some("v2"),
            ..view
        };
        assert_eq!(next_step(&served), Step::Download("v3".into()));
        let downloading = View {
            downloading: Some("v3"),
            ..served
        };
        assert_eq!(next_step(&downloading), Step::Idle);
    }

    #[test]
    fn current_on_disk_or_in_memory_wins_over_a_fallback() {
        let local = ids(&["v1", "v2"]);
        let view = View {
            target: Some("v1"),
            local: &local,
            ..View::default()
        };
        assert_eq!(next_step(&view), Step::OpenLocal("v1".into()));
        let held = ids(&["v2", "v1"]);
        let in_memory = View {
            served: Some("v2"),
            held: &held,
            ..view
        };
        assert_eq!(next_step(&in_memory), Step::SwapHeld("v1".into()));
    }

    #[test]
    fn a_served_version_missing_owned_shards_downloads_them_while_serving() {
        let local = ids(&["v1"]);
        let held = ids(&["v1"]);
        let served = View {
            target: Some("v1"),
            served: Some("v1"),
            held: &held,
            local: &local,
            served_missing: true,
            ..View::default()
        };
        assert_eq!(next_step(&served), Step::Download("v1".into()));
        let running = View {
            downloading: Some("v1"),
            ..served
        };
        assert_eq!(next_step(&running), Step::Idle);
        let held_back = View {
            held_back: true,
            ..served
        };
        assert_eq!(next_step(&held_back), Step::Idle);
        let complete = View {
            served_missing: false,
            ..served
        };
        assert_eq!(next_step(&complete), Step::Idle);
    }

    #[test]
    fn a_download_current_no_longer_names_is_abandoned() {
        let held = ids(&["v1"]);
        // Rolled back to the served version while v2 downloads.
        let view = View {
            target: Some("v1"),
            served: Some("v1"),
            held: &held,
            downloading: Some("v2"),
            ..View::default()
        };
        assert_eq!(next_step(&view), Step::Abandon("v2".into()));
        // CURRENT gone: nothing it names, so the download goes too.
        let gone = View {
            target: None,
            ..view
        };
        assert_eq!(next_step(&gone), Step::Abandon("v2".into()));
        // After abandoning, CURRENT's version is served: idle.
        let after = View {
            downloading: None,
            ..view
        };
        assert_eq!(next_step(&after), Step::Idle);
    }

    #[test]
    fn no_current_serves_the_newest_local_version_once() {
        let local = ids(&["v1", "v2"]);
        let view = View {
            local: &local,
            ..View::default()
        };
        assert_eq!(next_step(&view), Step::Fallback("v2".into()));
        let serving = View {
            served: Some("v2"),
            ..view
        };
        assert_eq!(next_step(&serving), Step::Idle);
        assert_eq!(next_step(&View::default()), Step::Idle);
    }

    #[test]
    fn a_held_back_failure_waits_but_still_allows_a_fallback() {
        let local = ids(&["v1"]);
        let view = View {
            target: Some("v2"),
            local: &local,
            held_back: true,
            ..View::default()
        };
        assert_eq!(next_step(&view), Step::Fallback("v1".into()));
        let serving = View {
            served: Some("v1"),
            ..view
        };
        assert_eq!(next_step(&serving), Step::Idle);
        let retry = View {
            held_back: false,
            ..serving
        };
        assert_eq!(next_step(&retry), Step::Download("v2".into()));
    }

    #[test]
    fn only_the_version_current_names_is_swapped_after_a_download() {
        assert!(may_swap_download("v2", Some("v2")));
        assert!(!may_swap_download("v2", Some("v1")));
        assert!(!may_swap_download("v2", None));
    }

    #[test]
    fn local_versions_kept_are_held_current_then_newest() {
        let local = ids(&["v1", "v2", "v3", "v4", "v5"]);
        let plan = plan_local(&local, &ids(&["v5", "v1"]), Some("v2"), 3);
        assert_eq!(
            plan,
            vec![
                ("v1".into(), LocalReason::Held),
                ("v2".into(), LocalReason::Current),
                ("v3".into(), LocalReason::Expired),
                ("v4".into(), LocalReason::Expired),
                ("v5".into(), LocalReason::Held),
            ]
        );
        let plan = plan_local(&local, &ids(&["v3"]), Some("v3"), 2);
        let kept: Vec<&str> = plan
            .iter()
            .filter(|(_, r)| *r != LocalReason::Expired)
            .map(|(v, _)| v.as_str())
            .collect();
        assert_eq!(kept, ["v3", "v5"]);
        assert!(plan_local(&[], &ids(&["v1"]), Some("v1"), 2).is_empty());
    }

    #[test]
    fn partial_downloads_kept_follow_current() {
        assert_eq!(partial_to_keep(None, false), KeepPartial::All);
        assert_eq!(partial_to_keep(Some("v2"), false), KeepPartial::All);
        assert_eq!(
            partial_to_keep(Some("v2"), true),
            KeepPartial::Only("v2".into())
        );
        assert_eq!(partial_to_keep(None, true), KeepPartial::Nothing);
    }

    #[test]
    fn a_missing_current_is_an_error_once_the_domain_existed() {
        assert!(!missing_current_is_error(false, false));
        assert!(missing_current_is_error(true, false));
        assert!(missing_current_is_error(false, true));
    }
}
