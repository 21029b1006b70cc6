//! The pure parts of a routed MultiGet: grouping keys into one request per node,
//! choosing the one version every key is answered from, and reassembling the
//! values in key order.

use bytes::Bytes;
use tusk_proto::VersionId;

/// The answer recorded for one key: the version that answered and the value.
pub(crate) type Slot = Option<(VersionId, Option<Bytes>)>;

/// Groups `(key index, node)` pairs into requests of at most `max` keys per node:
/// nodes in the order they first appear, key indexes in the order given.
pub(crate) fn group(
    pairs: impl IntoIterator<Item = (usize, usize)>,
    max: usize,
) -> Vec<(usize, Vec<usize>)> {
    let max = max.max(1);
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (key, node) in pairs {
        match groups
            .iter_mut()
            .rev()
            .find(|(n, keys)| *n == node && keys.len() < max)
        {
            Some((_, keys)) => keys.push(key),
            None => groups.push((node, vec![key])),
        }
    }
    groups
}

/// What to do after a round of requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Every key is answered from this version.
    Done(String),
    /// Ask again, pinned to this version, every key answered from another one.
    Retry(String),
    /// The pinned version cannot be read: a node does not hold it.
    Fail(String),
}

/// The version decision after a round. `target` is the version the round asked
/// for (`None`: whatever each node serves); `pinned` is true when the caller named
/// it; `first` is the version of the first answer of the round; `refusal` the
/// version a node serves when it did not hold `target` (it was then asked
/// without a version). The rule: a refusal moves everyone to the refusing node's
/// version (unless the caller pinned one); otherwise the round's target, or its
/// first answer, is the version; done when every slot names it.
pub(crate) fn decide(
    target: Option<&str>,
    pinned: bool,
    first: Option<&str>,
    refusal: Option<&str>,
    slots: &[Slot],
) -> Decision {
    let chosen = match (refusal, target) {
        (Some(_), Some(t)) if pinned => {
            return Decision::Fail(format!("a node does not hold version {t}"));
        }
        (Some(served), _) => served,
        (None, Some(t)) => t,
        (None, None) => match first {
            Some(f) => f,
            // No key asked: nothing to agree on.
            None => return Decision::Done(String::new()),
        },
    };
    let all = slots
        .iter()
        .all(|s| s.as_ref().is_some_and(|(v, _)| v == chosen));
    if all {
        Decision::Done(chosen.to_string())
    } else {
        Decision::Retry(chosen.to_string())
    }
}

/// The keys to ask again for `version`: those not answered from it.
pub(crate) fn pending(slots: &[Slot], version: &str) -> Vec<usize> {
    slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.as_ref().is_none_or(|(v, _)| v != version))
        .map(|(i, _)| i)
        .collect()
}

/// The values in key order, when every slot was answered from `version`.
pub(crate) fn assemble(slots: Vec<Slot>, version: &str) -> Option<Vec<Option<Bytes>>> {
    slots
        .into_iter()
        .map(|s| match s {
            Some((v, value)) if v == version => Some(value),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(version: &str, value: &str) -> Slot {
        Some((version.into(), Some(Bytes::from(value.to_string()))))
    }

    #[test]
    fn keys_group_by_node_in_first_seen_order() {
        let groups = group([(0, 2), (1, 0), (2, 2), (3, 1), (4, 0)], usize::MAX);
        assert_eq!(groups, vec![(2, vec![0, 2]), (0, vec![1, 4]), (1, vec![3])]);
        assert!(group([], 10).is_empty());
    }

    #[test]
    fn a_node_part_larger_than_max_batch_is_split() {
        let pairs = (0..7).map(|k| (k, if k == 3 { 1 } else { 0 }));
        let groups = group(pairs, 2);
        assert_eq!(
            groups,
            vec![
                (0, vec![0, 1]),
                (0, vec![2, 4]),
                (1, vec![3]),
                (0, vec![5, 6])
            ]
        );
        assert!(groups.iter().all(|(_, ks)| ks.len() <= 2));
    }

    #[test]
    fn the_first_answer_names_the_version() {
        let slots = vec![slot("v2", "a"), slot("v1", "b"), slot("v2", "c")];
        assert_eq!(
            decide(None, false, Some("v2"), None, &slots),
            Decision::Retry("v2".into())
        );
        assert_eq!(pending(&slots, "v2"), vec![1]);
        let agreed = vec![slot("v1", "a"), slot("v1", "b")];
        assert_eq!(
            decide(None, false, Some("v1"), None, &agreed),
            Decision::Done("v1".into())
        );
    }

    #[test]
    fn a_round_pinned_to_a_version_keeps_it() {
        let slots = vec![slot("v1", "a"), slot("v2", "b")];
        // The first answer of a pinned round does not move the target.
        assert_eq!(
            decide(Some("v1"), false, Some("v2"), None, &slots),
            Decision::Retry("v1".into())
        );
        let slots = vec![slot("v1", "a"), None];
        assert_eq!(pending(&slots, "v1"), vec![1]);
    }

    #[test]
    fn a_node_that_lacks_the_version_moves_everyone_to_its_own() {
        let slots = vec![slot("v2", "a"), slot("v1", "b")];
        assert_eq!(
            decide(Some("v2"), false, Some("v2"), Some("v1"), &slots),
            Decision::Retry("v1".into())
        );
        assert_eq!(pending(&slots, "v1"), vec![0]);
    }

    #[test]
    fn a_version_the_caller_pinned_is_never_changed() {
        let slots = vec![slot("v2", "a"), slot("v1", "b")];
        let d = decide(Some("v2"), true, Some("v2"), Some("v1"), &slots);
        assert!(
            matches!(d, Decision::Fail(ref m) if m.contains("v2")),
            "{d:?}"
        );
    }

    #[test]
    fn values_come_back_in_key_order_only_from_one_version() {
        let slots = vec![slot("v1", "a"), Some(("v1".into(), None)), slot("v1", "c")];
        let values = assemble(slots.clone(), "v1").expect("one version");
        assert_eq!(
            values,
            vec![Some(Bytes::from("a")), None, Some(Bytes::from("c"))]
        );
        assert_eq!(assemble(slots, "v2"), None);
        assert_eq!(assemble(vec![slot("v1", "a"), None], "v1"), None);
    }
}
