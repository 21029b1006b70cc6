//! A strict parser of the Prometheus text exposition format 0.0.4, and an HTTP
//! fetch that returns the status and content type, for the metrics tests.
//!
//! Strict where scrapers and promtool are: every sample belongs to a family
//! declared with HELP and TYPE before its samples, a family's samples are
//! contiguous, counters end in `_total`, a histogram has `_bucket` (with `le`),
//! `_sum` and `_count` and its `+Inf` bucket equals its count, no series appears
//! twice, label and metric names and escapes are valid.

use std::collections::{BTreeMap, BTreeSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (with any `_total`, `_bucket` ... suffix).
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Family name -> (type, help).
    pub families: BTreeMap<String, (String, String)>,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// The samples named `name` whose labels include every pair of `labels`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The value of the one sample `name` with `labels`; panics when there is not
    /// exactly one.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<_> = self.matching(name, labels).collect();
        assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
        found[0].value
    }

    /// The family a sample name belongs to.
    pub fn family_of(&self, sample: &str) -> Option<&str> {
        if self.families.contains_key(sample) {
            return self.families.get_key_value(sample).map(|(k, _)| k.as_str());
        }
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = sample.strip_suffix(suffix)?;
            let (kind, _) = self.families.get(base)?;
            matches!(kind.as_str(), "histogram" | "summary")
                .then(|| self.families.get_key_value(base).map(|(k, _)| k.as_str()))
                .flatten()
        })
    }
}

fn valid_name(name: &str, colons: bool) -> bool {
    let mut chars = name.chars();
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (colons && c == ':');
    chars.next().is_some_and(ok_first) && chars.all(|c| ok_first(c) || c.is_ascii_digit())
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text.parse().map_err(|_| format!("bad value {text:?}")),
    }
}

/// Parses `name{labels} value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("sample without value")?;
    let name = &line[..name_end];
    if !valid_name(name, true) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        let end;
        loop {
            // label name
            let start = match chars.peek() {
                Some((_, '}')) => {
                    end = chars.next().map(|(i, _)| i);
                    break;
                }
                Some((i, _)) => *i,
                None => return Err("unterminated labels".into()),
            };
            let mut eq = None;
            for (i, c) in chars.by_ref() {
                if c == '=' {
                    eq = Some(i);
                    break;
                }
            }
            let eq = eq.ok_or("label without '='")?;
            let key = &after[start..eq];
            if !valid_name(key, false) || key.starts_with("__") {
                return Err(format!("bad label name {key:?}"));
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {key} value not quoted"));
            }
            let mut value = String::new();
            loop {
                match chars.next().map(|(_, c)| c) {
                    Some('"') => break,
                    Some('\\') => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    Some('\n') | None => return Err("unterminated label value".into()),
                    Some(c) => value.push(c),
                }
            }
            if labels.insert(key.to_string(), value).is_some() {
                return Err(format!("label {key} twice"));
            }
            match chars.next() {
                Some((_, ',')) => continue,
                Some((i, '}')) => {
                    end = Some(i);
                    break;
                }
                other => return Err(format!("expected ',' or '}}', got {other:?}")),
            }
        }
        let end = end.ok_or("unterminated labels")?;
        rest = &after[end + 1..];
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut fields = rest.split(' ');
    let value = parse_value(fields.next().ok_or("no value")?)?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("bad timestamp {ts:?}"))?;
    }
    if fields.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Parses `text` strictly; the error names the line.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut out = Exposition::default();
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut series = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if helps.insert(name.to_string(), help.to_string()).is_some() {
                return Err(at(format!("second HELP for {name}")));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without type".into()))?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(at(format!("unknown type {kind}")));
            }
            if !valid_name(name, true) {
                return Err(at(format!("bad family name {name}")));
            }
            if kind == "counter" && !name.ends_with("_total") {
                return Err(at(format!("counter {name} does not end in _total")));
            }
            if out.families.contains_key(name) {
                return Err(at(format!("second TYPE for {name}")));
            }
            let help = helps
                .get(name)
                .cloned()
                .ok_or_else(|| at(format!("no HELP before TYPE of {name}")))?;
            out.families
                .insert(name.to_string(), (kind.to_string(), help));
            if let Some(prev) = current.replace(name.to_string()) {
                finished.insert(prev);
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let sample = parse_sample(line).map_err(at)?;
        let family = out
            .family_of(&sample.name)
            .ok_or_else(|| at(format!("sample {} of no declared family", sample.name)))?
            .to_string();
        if current.as_deref() != Some(family.as_str()) || finished.contains(&family) {
            return Err(at(format!("samples of {family} not contiguous")));
        }
        let kind = &out.families[&family].0;
        if kind == "histogram" && sample.name.ends_with("_bucket") {
            let le = sample
                .labels
                .get("le")
                .ok_or_else(|| at("bucket without le".into()))?;
            parse_value(le).map_err(at)?;
        }
        if !series.insert(format!("{}{:?}", sample.name, sample.labels)) {
            return Err(at("duplicate series".into()));
        }
        out.samples.push(sample);
    }
    // Each histogram series: +Inf bucket == count, and _sum present.
    for (family, (kind, _)) in &out.families {
        if kind != "histogram" {
            continue;
        }
        for count in out.matching(&format!("{family}_count"), &[]) {
            let labels: Vec<(&str, &str)> = count
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain([("le", "+Inf")])
                .collect();
            let bucket = format!("{family}_bucket");
            let inf: Vec<_> = out.matching(&bucket, &labels).collect();
            if inf.len() != 1 || inf[0].value != count.value {
                return Err(format!(
                    "{family} {:?}: +Inf bucket {inf:?} != count {}",
                    count.labels, count.value
                ));
            }
        }
    }
    Ok(out)
}

/// An HTTP/1.1 answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// The Content-Type header.
    pub content_type: String,
    /// The body.
    pub body: String,
}

/// `GET path` with an optional `Accept` header.
pub async fn fetch(addr: std::net::SocketAddr, path: &str, accept: Option<&str>) -> Answer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the metrics listener");
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read response");
    let text = String::from_utf8(response).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers end");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: body.to_string(),
    }
}

#[test]
fn the_parser_refuses_what_promtool_refuses() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n";
    assert!(parse(ok).is_ok());
    for bad in [
        // OpenMetrics-style counter header.
        "# HELP a A.\n# TYPE a counter\na_total 2\n",
        // No HELP.
        "# TYPE a_total counter\na_total 2\n",
        // Sample before any TYPE.
        "a 1\n",
        // Bad label syntax.
        "# HELP g G.\n# TYPE g gauge\ng{x=1} 1\n",
        // Duplicate series.
        "# HELP g G.\n# TYPE g gauge\ng 1\ng 2\n",
        // Non-contiguous family.
        "# HELP g G.\n# TYPE g gauge\ng 1\n# HELP h H.\n# TYPE h gauge\nh 1\ng{a=\"b\"} 1\n",
        // +Inf bucket != count.
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
        // Unknown type.
        "# HELP i I.\n# TYPE i info\ni_info 1\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}
