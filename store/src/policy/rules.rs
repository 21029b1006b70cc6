//! The pure decision: which rules of a policy a candidate version breaks.

use std::collections::BTreeMap;
use std::fmt;

use super::{Percent, Policy};
use crate::Manifest;

/// What was found for each golden key in the candidate: `Some(value)` when the key
/// is present, `None` when it is missing. A golden key absent from the map counts as
/// missing.
pub type GoldenLookups = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// What a size rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// The record count (`Manifest::records`).
    Records,
    /// The total shard bytes (`Manifest::bytes`).
    Bytes,
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Measure::Records => "records",
            Measure::Bytes => "bytes",
        })
    }
}

/// The rule a [`Violation`] breaks, named as on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `min-records`.
    MinRecords,
    /// `max-shrink`.
    MaxShrink,
    /// `max-growth`.
    MaxGrowth,
    /// `golden`.
    Golden,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::MinRecords => "min-records",
            Rule::MaxShrink => "max-shrink",
            Rule::MaxGrowth => "max-growth",
            Rule::Golden => "golden",
        })
    }
}

/// One broken rule, with the limit and the measured value. Its `Display` says all
/// three, e.g. `shrinks records by 35.0% (1000000 -> 650000), policy max-shrink 20%`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// The candidate holds fewer records than `min_records`.
    MinRecords {
        /// Records in the candidate.
        records: u64,
        /// The policy's minimum.
        min: u64,
    },
    /// The candidate is smaller than the current version by more than allowed.
    Shrink {
        /// Records or bytes.
        measure: Measure,
        /// The current version's value.
        from: u64,
        /// The candidate's value.
        to: u64,
        /// The policy's limit.
        limit: Percent,
    },
    /// The candidate is larger than the current version by more than allowed.
    Growth {
        /// Records or bytes.
        measure: Measure,
        /// The current version's value.
        from: u64,
        /// The candidate's value.
        to: u64,
        /// The policy's limit.
        limit: Percent,
    },
    /// A golden key is not in the candidate.
    GoldenMissing {
        /// The key.
        key: Vec<u8>,
    },
    /// A golden key is in the candidate with another value than the policy's.
    GoldenValue {
        /// The key.
        key: Vec<u8>,
        /// The value the policy requires.
        expected: Vec<u8>,
        /// The value in the candidate.
        found: Vec<u8>,
    },
}

impl Violation {
    /// The rule broken.
    pub fn rule(&self) -> Rule {
        match self {
            Violation::MinRecords { .. } => Rule::MinRecords,
            Violation::Shrink { .. } => Rule::MaxShrink,
            Violation::Growth { .. } => Rule::MaxGrowth,
            Violation::GoldenMissing { .. } | Violation::GoldenValue { .. } => Rule::Golden,
        }
    }

    /// True for the min-records violation of an empty candidate: the one violation
    /// an explicit "allow empty" waives (every other needs a forced override).
    pub fn is_empty_candidate(&self) -> bool {
        matches!(self, Violation::MinRecords { records: 0, .. })
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::MinRecords { records, min } => {
                write!(f, "has {records} records, policy min-records {min}")
            }
            Violation::Shrink {
                measure,
                from,
                to,
                limit,
            } => write!(
                f,
                "shrinks {measure} by {} ({from} -> {to}), policy max-shrink {limit}",
                change_text(from - to, *from)
            ),
            Violation::Growth {
                measure,
                from,
                to,
                limit,
            } => write!(
                f,
                "grows {measure} by {} ({from} -> {to}), policy max-growth {limit}",
                change_text(to - from, *from)
            ),
            Violation::GoldenMissing { key } => {
                write!(f, "golden key {} is missing", show_bytes(key))
            }
            Violation::GoldenValue {
                key,
                expected,
                found,
            } => write!(
                f,
                "golden key {} has value {}, policy golden value {}",
                show_bytes(key),
                show_bytes(found),
                show_bytes(expected)
            ),
        }
    }
}

/// `delta` as a percentage of `base` with one decimal, for messages only (the
/// decision itself is exact, see [`Percent::exceeded_by`]).
fn change_text(delta: u64, base: u64) -> String {
    format!("{:.1}%", delta as f64 * 100.0 / base as f64)
}

/// Bytes for a message: quoted text when printable UTF-8, else `0x` + hex; cut
/// after 64 bytes with the full length.
pub(crate) fn show_bytes(bytes: &[u8]) -> String {
    const SHOWN: usize = 64;
    let head = &bytes[..bytes.len().min(SHOWN)];
    let more = if bytes.len() > SHOWN {
        format!("... ({} bytes)", bytes.len())
    } else {
        String::new()
    };
    match std::str::from_utf8(head) {
        Ok(s) if !s.chars().any(char::is_control) => format!("{s:?}{more}"),
        _ => {
            let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}{more}")
        }
    }
}

/// Every rule of `policy` that `candidate` breaks, in the policy's order:
/// min-records, then max-shrink (records, then bytes), then max-growth (records,
/// then bytes) against `current`, then golden keys in their listed order. Size rules are skipped when
/// there is no current version, and growth is skipped when the current value is 0
/// (no percentage of zero). `golden` holds what the candidate has for each golden key.
pub fn evaluate(
    policy: &Policy,
    candidate: &Manifest,
    current: Option<&Manifest>,
    golden: &GoldenLookups,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if candidate.records < policy.min_records {
        out.push(Violation::MinRecords {
            records: candidate.records,
            min: policy.min_records,
        });
    }
    if let Some(current) = current {
        let measured = |measure| match measure {
            Measure::Records => (current.records, candidate.records),
            Measure::Bytes => (current.bytes, candidate.bytes),
        };
        for measure in [Measure::Records, Measure::Bytes] {
            let (from, to) = measured(measure);
            if to < from
                && let Some(limit) = policy.max_shrink.get(measure)
                && limit.exceeded_by(from - to, from)
            {
                out.push(Violation::Shrink {
                    measure,
                    from,
                    to,
                    limit,
                });
            }
        }
        for measure in [Measure::Records, Measure::Bytes] {
            let (from, to) = measured(measure);
            if to > from
                && from > 0
                && let Some(limit) = policy.max_growth.get(measure)
                && limit.exceeded_by(to - from, from)
            {
                out.push(Violation::Growth {
                    measure,
                    from,
                    to,
                    limit,
                });
            }
        }
    }
    for g in &policy.golden {
        match (golden.get(&g.key).and_then(Option::as_ref), &g.value) {
            (None, _) => out.push(Violation::GoldenMissing { key: g.key.clone() }),
            (Some(found), Some(expected)) if found != expected => {
                out.push(Violation::GoldenValue {
                    key: g.key.clone(),
                    expected: expected.clone(),
                    found: found.clone(),
                })
            }
            (Some(_), _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShardEntry;
    use crate::policy::{GoldenKey, Limits};

    fn manifest(records: u64, bytes: u64) -> Manifest {
        let shard = ShardEntry {
            index: 0,
            object: "shard-00000.tsk".into(),
            bytes,
            records,
            crc32: 0,
            content_hash: Some(crate::ContentHash(0)),
        };
        Manifest::new("d", "v", "2026-01-01T00:00:00Z", vec![shard])
    }

    fn pct(s: &str) -> Option<Percent> {
        Some(s.parse().expect("percent"))
    }

    fn sizes(shrink: &str, growth: &str) -> Policy {
        Policy {
            min_records: 0,
            max_shrink: Limits {
                records: pct(shrink),
                bytes: pct(shrink),
            },
            max_growth: Limits {
                records: pct(growth),
                bytes: pct(growth),
            },
            golden: Vec::new(),
        }
    }

    fn none() -> GoldenLookups {
        GoldenLookups::new()
    }

    #[test]
    fn min_records_default_refuses_an_empty_candidate_only() {
        let p = Policy::default();
        let v = evaluate(&p, &manifest(0, 100), None, &none());
        assert_eq!(v, [Violation::MinRecords { records: 0, min: 1 }]);
        assert_eq!(v[0].rule(), Rule::MinRecords);
        assert!(v[0].is_empty_candidate());
        assert_eq!(v[0].to_string(), "has 0 records, policy min-records 1");
        assert!(evaluate(&p, &manifest(1, 100), None, &none()).is_empty());
    }

    #[test]
    fn min_records_at_the_limit_passes_and_below_is_not_an_empty_candidate() {
        let p = Policy {
            min_records: 1000,
            ..Policy::default()
        };
        assert!(evaluate(&p, &manifest(1000, 1), None, &none()).is_empty());
        let v = evaluate(&p, &manifest(999, 1), None, &none());
        assert_eq!(
            v,
            [Violation::MinRecords {
                records: 999,
                min: 1000
            }]
        );
        assert!(!v[0].is_empty_candidate(), "999 records is not empty");
        let off = Policy {
            min_records: 0,
            ..Policy::default()
        };
        assert!(evaluate(&off, &manifest(0, 0), None, &none()).is_empty());
    }

    #[test]
    fn shrink_beyond_the_limit_names_measure_limit_and_values() {
        let p = sizes("20%", "300%");
        let v = evaluate(
            &p,
            &manifest(650_000, 1000),
            Some(&manifest(1_000_000, 1000)),
            &none(),
        );
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].rule(), Rule::MaxShrink);
        assert_eq!(
            v[0].to_string(),
            "shrinks records by 35.0% (1000000 -> 650000), policy max-shrink 20%"
        );
    }

    #[test]
    fn shrink_exactly_at_the_limit_passes() {
        let p = sizes("20%", "300%");
        let cur = manifest(1000, 5000);
        assert!(evaluate(&p, &manifest(800, 4000), Some(&cur), &none()).is_empty());
        let v = evaluate(&p, &manifest(799, 3999), Some(&cur), &none());
        let rules: Vec<(Rule, String)> = v.iter().map(|v| (v.rule(), v.to_string())).collect();
        assert_eq!(
            rules,
            [
                (
                    Rule::MaxShrink,
                    "shrinks records by 20.1% (1000 -> 799), policy max-shrink 20%".to_string()
                ),
                (
                    Rule::MaxShrink,
                    "shrinks bytes by 20.0% (5000 -> 3999), policy max-shrink 20%".to_string()
                ),
            ]
        );
    }

    #[test]
    fn growth_beyond_the_limit_and_exactly_at_it() {
        let p = sizes("20%", "300%");
        let cur = manifest(100, 100);
        assert!(evaluate(&p, &manifest(400, 400), Some(&cur), &none()).is_empty());
        let v = evaluate(&p, &manifest(401, 100), Some(&cur), &none());
        assert_eq!(
            v,
            [Violation::Growth {
                measure: Measure::Records,
                from: 100,
                to: 401,
                limit: "300%".parse().unwrap()
            }]
        );
        assert_eq!(
            v[0].to_string(),
            "grows records by 301.0% (100 -> 401), policy max-growth 300%"
        );
    }

    #[test]
    fn records_and_bytes_have_their_own_limits() {
        let p = Policy {
            min_records: 0,
            max_shrink: Limits {
                records: None,
                bytes: pct("10%"),
            },
            max_growth: Limits {
                records: pct("10%"),
                bytes: None,
            },
            golden: Vec::new(),
        };
        // Records shrink a lot (unchecked), bytes grow a lot (unchecked).
        let cur = manifest(1000, 1000);
        assert!(evaluate(&p, &manifest(1, 9000), Some(&cur), &none()).is_empty());
        let v = evaluate(&p, &manifest(2000, 500), Some(&cur), &none());
        let rules: Vec<Rule> = v.iter().map(Violation::rule).collect();
        assert_eq!(rules, [Rule::MaxShrink, Rule::MaxGrowth], "{v:?}");
        assert!(v[0].to_string().starts_with("shrinks bytes"), "{}", v[0]);
        assert!(v[1].to_string().starts_with("grows records"), "{}", v[1]);
    }

    #[test]
    fn no_current_version_checks_no_size_rule() {
        let p = sizes("0%", "0%");
        assert!(evaluate(&p, &manifest(5, 5), None, &none()).is_empty());
    }

    #[test]
    fn zero_record_current_cannot_shrink_and_growth_from_zero_is_not_measured() {
        let p = sizes("0%", "0%");
        let empty = manifest(0, 0);
        assert!(evaluate(&p, &manifest(1_000_000, 9), Some(&empty), &none()).is_empty());
        assert!(evaluate(&p, &manifest(0, 0), Some(&empty), &none()).is_empty());
        // Bytes are still measured when only the records were zero.
        let v = evaluate(&p, &manifest(10, 200), Some(&manifest(0, 100)), &none());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].to_string(),
            "grows bytes by 100.0% (100 -> 200), policy max-growth 0%"
        );
    }

    #[test]
    fn unchanged_size_passes_zero_limits() {
        let p = sizes("0%", "0%");
        let cur = manifest(10, 10);
        assert!(evaluate(&p, &manifest(10, 10), Some(&cur), &none()).is_empty());
    }

    #[test]
    fn golden_keys_missing_wrong_value_and_present() {
        let p = Policy {
            min_records: 0,
            golden: vec![
                GoldenKey {
                    key: b"present".to_vec(),
                    value: None,
                },
                GoldenKey {
                    key: b"missing".to_vec(),
                    value: None,
                },
                GoldenKey {
                    key: b"right".to_vec(),
                    value: Some(b"1".to_vec()),
                },
                GoldenKey {
                    key: b"wrong".to_vec(),
                    value: Some(b"expected".to_vec()),
                },
                GoldenKey {
                    key: b"empty-ok".to_vec(),
                    value: Some(Vec::new()),
                },
                GoldenKey {
                    key: b"never-looked-up".to_vec(),
                    value: None,
                },
            ],
            ..Policy::default()
        };
        let found = GoldenLookups::from([
            (b"present".to_vec(), Some(b"anything".to_vec())),
            (b"missing".to_vec(), None),
            (b"right".to_vec(), Some(b"1".to_vec())),
            (b"wrong".to_vec(), Some(vec![0xff, 0x01])),
            (b"empty-ok".to_vec(), Some(Vec::new())),
        ]);
        let v = evaluate(&p, &manifest(5, 5), None, &found);
        let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "golden key \"missing\" is missing",
                "golden key \"wrong\" has value 0xff01, policy golden value \"expected\"",
                "golden key \"never-looked-up\" is missing",
            ]
        );
        assert!(v.iter().all(|v| v.rule() == Rule::Golden));
    }

    #[test]
    fn every_rule_reports_in_order() {
        let p = Policy {
            min_records: 100,
            golden: vec![GoldenKey {
                key: b"k".to_vec(),
                value: None,
            }],
            ..sizes("10%", "10%")
        };
        let v = evaluate(&p, &manifest(0, 0), Some(&manifest(50, 50)), &none());
        let rules: Vec<Rule> = v.iter().map(Violation::rule).collect();
        assert_eq!(
            rules,
            [
                Rule::MinRecords,
                Rule::MaxShrink,
                Rule::MaxShrink,
                Rule::Golden
            ]
        );
    }

    #[test]
    fn long_and_binary_bytes_are_shown_cut_and_hex() {
        assert_eq!(show_bytes(b"abc"), "\"abc\"");
        assert_eq!(show_bytes(&[0, 1]), "0x0001");
        let long = vec![b'x'; 100];
        assert_eq!(
            show_bytes(&long),
            format!("{:?}... (100 bytes)", "x".repeat(64))
        );
    }
}
