//! Write gates: a per-domain policy that a candidate version must pass before it
//! becomes current (design invariant 11).
//!
//! The policy lives in the store beside `CURRENT`, with a create-only history of its
//! own:
//!
//! ```text
//! <root>/<domain>/policy/<seq>.json     create-only; the newest seq is in force
//! ```
//!
//! Setting a policy is conditioned on the seq the operator saw (like a pointer move):
//! the new record is `seq + 1`, created create-only, so of two concurrent `set_policy`
//! calls exactly one wins and the other gets a `Conflict` naming who set what when.
//! A domain without a policy record is under [`Policy::default`]: `min_records = 1`
//! and no other rule, so an empty version is never activated unless overridden.
//!
//! Rules (all measured on manifests, except golden keys):
//! - `min_records`: the candidate holds at least this many records;
//! - `max_shrink` / `max_growth`: the candidate's records and bytes change by at most
//!   this percentage against the version current when the check runs (no current
//!   version: not checked; growth from zero cannot be measured and is not checked);
//! - `golden`: keys that must be present in the candidate, optionally with an exact
//!   value, looked up in the candidate's shards.
//!
//! Golden keys and values are stored as standard padded base64 in the policy
//! document, so any bytes round-trip exactly; `tusk policy show` prints them as text
//! when they are printable UTF-8.
//!
//! [`evaluate`] is the pure decision; [`Catalog::check_policy`](crate::Catalog::check_policy)
//! gathers its inputs from the store.

mod b64;
mod check;
mod golden;
mod percent;
mod record;
mod rules;

use serde::{Deserialize, Serialize};

pub use check::PolicyCheck;
pub use golden::parse_golden_tsv;
pub use percent::Percent;
pub use record::PolicyRecord;
pub(crate) use rules::show_bytes;
pub use rules::{GoldenLookups, Measure, Rule, Violation, evaluate};

/// The rules a candidate version must pass to become current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Fewest records a candidate may hold (0 = no minimum).
    pub min_records: u64,
    /// Largest allowed shrink against the current version.
    #[serde(default)]
    pub max_shrink: Limits,
    /// Largest allowed growth against the current version.
    #[serde(default)]
    pub max_growth: Limits,
    /// Keys that must be present in the candidate, optionally with their value.
    #[serde(default)]
    pub golden: Vec<GoldenKey>,
}

impl Default for Policy {
    /// The policy of a domain that never set one: at least one record.
    fn default() -> Self {
        Policy {
            min_records: 1,
            max_shrink: Limits::default(),
            max_growth: Limits::default(),
            golden: Vec::new(),
        }
    }
}

/// A percentage limit for records and one for bytes; `None` = not checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Limit on the change in record count.
    pub records: Option<Percent>,
    /// Limit on the change in total shard bytes.
    pub bytes: Option<Percent>,
}

impl Limits {
    /// The limit for `measure`.
    pub fn get(&self, measure: Measure) -> Option<Percent> {
        match measure {
            Measure::Records => self.records,
            Measure::Bytes => self.bytes,
        }
    }
}

/// A key that must be present in every candidate, optionally with an exact value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenKey {
    /// The key (base64 in the stored document).
    #[serde(with = "b64::bytes")]
    pub key: Vec<u8>,
    /// The value it must have, if any (base64 in the stored document).
    #[serde(default, with = "b64::option", skip_serializing_if = "Option::is_none")]
    pub value: Option<Vec<u8>>,
}

impl Policy {
    /// Checks that the policy makes sense: a shrink limit of at most 100%, no empty
    /// or repeated golden key. `what` names the policy in errors.
    pub fn validate(&self, what: &str) -> crate::Result<()> {
        let bad = |detail: String| crate::StoreError::Invalid {
            what: what.to_string(),
            detail,
        };
        for (measure, limit) in [
            (Measure::Records, self.max_shrink.records),
            (Measure::Bytes, self.max_shrink.bytes),
        ] {
            if let Some(limit) = limit
                && limit > Percent::HUNDRED
            {
                return Err(bad(format!(
                    "max-shrink for {measure} is {limit}; a version cannot shrink by more than 100%"
                )));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, g) in self.golden.iter().enumerate() {
            if g.key.is_empty() {
                return Err(bad(format!("golden key #{} is empty", i + 1)));
            }
            if !seen.insert(g.key.as_slice()) {
                return Err(bad(format!(
                    "golden key {} is listed twice",
                    rules::show_bytes(&g.key)
                )));
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for Policy {
    /// One line, e.g. `min-records 1; max-shrink records 20%, bytes 20%; max-growth
    /// none; golden keys 2`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let limits = |l: &Limits| match (l.records, l.bytes) {
            (None, None) => "none".to_string(),
            (r, b) => {
                let show = |p: Option<Percent>| p.map_or("none".into(), |p| p.to_string());
                format!("records {}, bytes {}", show(r), show(b))
            }
        };
        write!(
            f,
            "min-records {}; max-shrink {}; max-growth {}; golden keys {}",
            self.min_records,
            limits(&self.max_shrink),
            limits(&self.max_growth),
            self.golden.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_requires_one_record_and_nothing_else() {
        let p = Policy::default();
        assert_eq!(p.min_records, 1);
        assert_eq!(p.max_shrink, Limits::default());
        assert_eq!(p.max_growth, Limits::default());
        assert!(p.golden.is_empty());
    }

    #[test]
    fn document_round_trips_with_base64_bytes() {
        let p = Policy {
            min_records: 10,
            max_shrink: Limits {
                records: Some("20%".parse().unwrap()),
                bytes: None,
            },
            max_growth: Limits {
                records: Some("300%".parse().unwrap()),
                bytes: Some("12.5%".parse().unwrap()),
            },
            golden: vec![
                GoldenKey {
                    key: b"home".to_vec(),
                    value: None,
                },
                GoldenKey {
                    key: vec![0xff, 0x00],
                    value: Some(b"".to_vec()),
                },
            ],
        };
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["max_shrink"]["records"], "20%");
        assert_eq!(json["max_growth"]["bytes"], "12.5%");
        assert_eq!(json["golden"][0]["key"], "aG9tZQ==");
        assert!(json["golden"][0].get("value").is_none());
        assert_eq!(json["golden"][1]["key"], "/wA=");
        assert_eq!(json["golden"][1]["value"], "");
        let back: Policy = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<Policy>(r#"{"min_records": 1, "max_rows": 5}"#)
            .expect_err("unknown field");
        assert!(err.to_string().contains("max_rows"), "{err}");
    }

    #[test]
    fn validate_refuses_shrink_over_100_and_repeated_or_empty_golden_keys() {
        let mut p = Policy::default();
        p.max_shrink.bytes = Some("101%".parse().unwrap());
        let err = p.validate("policy").expect_err("shrink > 100%");
        assert!(err.to_string().contains("101%"), "{err}");

        let mut p = Policy::default();
        p.max_shrink.records = Some(Percent::HUNDRED);
        p.max_growth.records = Some("1000%".parse().unwrap());
        p.validate("policy")
            .expect("100% shrink and big growth are fine");

        p.golden = vec![
            GoldenKey {
                key: b"a".to_vec(),
                value: None,
            },
            GoldenKey {
                key: b"a".to_vec(),
                value: Some(b"x".to_vec()),
            },
        ];
        let err = p.validate("policy").expect_err("repeated key");
        assert!(err.to_string().contains("\"a\" is listed twice"), "{err}");

        p.golden = vec![GoldenKey {
            key: Vec::new(),
            value: None,
        }];
        assert!(p.validate("policy").is_err());
    }
}
