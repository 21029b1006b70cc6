//! Turning one input line into a key and a value (TSV or JSONL, with encodings).
//!
//! Errors are plain descriptions; the reader adds the `file:line` in front.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::options::{InputFormat, InputOptions};

/// Parses lines of one input format, reusing its scratch buffers between lines.
pub(crate) struct LineParser {
    opts: InputOptions,
    key_text: String,
    value_text: String,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

/// A parsed line: `(key, value)` borrowed from the line or the parser's buffers.
pub(crate) type Parsed<'a> = Option<(&'a [u8], &'a [u8])>;

impl LineParser {
    pub(crate) fn new(opts: &InputOptions) -> Self {
        LineParser {
            opts: opts.clone(),
            key_text: String::new(),
            value_text: String::new(),
            key_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// Parses `line` (without its `\n` or `\r\n`). `Ok(None)` for a blank line.
    pub(crate) fn parse<'a>(&'a mut self, line: &'a [u8]) -> Result<Parsed<'a>, String> {
        match self.opts.format {
            InputFormat::Tsv => self.parse_tsv(line),
            InputFormat::Jsonl => self.parse_jsonl(line),
            // Read by `input::csv` and `input::parquet`, never line by line.
            InputFormat::Csv | InputFormat::Parquet => {
                Err(format!("{} is not read line by line", self.opts.format))
            }
        }
    }

    fn parse_tsv<'a>(&'a mut self, line: &'a [u8]) -> Result<Parsed<'a>, String> {
        if line.is_empty() {
            return Ok(None);
        }
        let tab = line
            .iter()
            .position(|&b| b == b'\t')
            .ok_or("no TAB between key and value")?;
        let key = self
            .opts
            .key_encoding
            .decode_into(&line[..tab], &mut self.key_buf, "key")?;
        let value =
            self.opts
                .value_encoding
                .decode_into(&line[tab + 1..], &mut self.value_buf, "value")?;
        Ok(Some((key, value)))
    }

    fn parse_jsonl<'a>(&'a mut self, line: &'a [u8]) -> Result<Parsed<'a>, String> {
        if line.trim_ascii().is_empty() {
            return Ok(None);
        }
        let LineParser {
            opts,
            key_text,
            value_text,
            key_buf,
            value_buf,
        } = self;
        let fields = Fields {
            key_field: &opts.key_field,
            value_field: &opts.value_field,
        };
        let mut de = serde_json::Deserializer::from_slice(line);
        let picked = fields
            .deserialize(&mut de)
            .and_then(|p| de.end().map(|()| p))
            .map_err(|e| format!("invalid JSON: {e}"))?;
        let missing = |name: &str| format!("missing field {name:?}");
        let key_raw = picked.key.ok_or_else(|| missing(&opts.key_field))?;
        let value_raw = picked.value.ok_or_else(|| missing(&opts.value_field))?;

        let key_str = json_string(key_raw, key_text)?.ok_or_else(|| {
            format!(
                "field {:?} must be a JSON string, found {}",
                opts.key_field,
                json_kind(key_raw)
            )
        })?;
        let key = opts
            .key_encoding
            .decode_into(key_str.as_bytes(), key_buf, "key")?;
        let value = match json_string(value_raw, value_text)? {
            Some(text) => opts
                .value_encoding
                .decode_into(text.as_bytes(), value_buf, "value")?,
            None => {
                compact_json(value_raw.get(), value_buf);
                &value_buf[..]
            }
        };
        Ok(Some((key, value)))
    }
}

/// The text of a JSON string value (borrowed when it has no escapes), `None` when
/// the value is not a string.
fn json_string<'a>(raw: &'a RawValue, scratch: &'a mut String) -> Result<Option<&'a str>, String> {
    let text = raw.get();
    if !text.starts_with('"') {
        return Ok(None);
    }
    if !text.contains('\\') && text.len() >= 2 {
        return Ok(Some(&text[1..text.len() - 1]));
    }
    *scratch =
        serde_json::from_str::<String>(text).map_err(|e| format!("invalid JSON string: {e}"))?;
    Ok(Some(scratch.as_str()))
}

fn json_kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Copies JSON text into `out` without the whitespace outside strings.
fn compact_json(text: &str, out: &mut Vec<u8>) {
    out.clear();
    let (mut in_string, mut escaped) = (false, false);
    for &b in text.as_bytes() {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
}

/// The two fields of a JSONL object, as raw JSON text borrowed from the line.
struct Picked<'a> {
    key: Option<&'a RawValue>,
    value: Option<&'a RawValue>,
}

/// Picks the key and value fields out of one JSON object, skipping the others.
struct Fields<'f> {
    key_field: &'f str,
    value_field: &'f str,
}

impl<'de> DeserializeSeed<'de> for Fields<'_> {
    type Value = Picked<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = Picked<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picked = Picked {
            key: None,
            value: None,
        };
        while let Some(FieldName(name)) = map.next_key()? {
            let is_key = name == self.key_field;
            let is_value = name == self.value_field;
            if !is_key && !is_value {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let raw: &'de RawValue = map.next_value()?;
            for (wanted, slot) in [(is_key, &mut picked.key), (is_value, &mut picked.value)] {
                if wanted {
                    if slot.is_some() {
                        return Err(de::Error::custom(format!("field {name:?} appears twice")));
                    }
                    *slot = Some(raw);
                }
            }
        }
        Ok(picked)
    }
}

/// An object key, borrowed from the line when it has no escapes.
struct FieldName<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for FieldName<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = FieldName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(FieldName(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FieldName(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(NameVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Encoding;

    fn parser(format: InputFormat, key: Encoding, value: Encoding) -> LineParser {
        LineParser::new(&InputOptions {
            format,
            key_encoding: key,
            value_encoding: value,
            ..InputOptions::default()
        })
    }

    type Owned = Option<(Vec<u8>, Vec<u8>)>;

    fn parse(p: &mut LineParser, line: &str) -> Result<Owned, String> {
        p.parse(line.as_bytes())
            .map(|o| o.map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    fn kv(k: &str, v: &str) -> Owned {
        Some((k.as_bytes().to_vec(), v.as_bytes().to_vec()))
    }

    #[test]
    fn tsv_splits_at_the_first_tab() {
        let mut p = parser(InputFormat::Tsv, Encoding::Utf8, Encoding::Utf8);
        assert_eq!(parse(&mut p, "k\tv"), Ok(kv("k", "v")));
        assert_eq!(
            parse(&mut p, "k\tv\twith\ttabs"),
            Ok(kv("k", "v\twith\ttabs"))
        );
        assert_eq!(parse(&mut p, "k\t"), Ok(kv("k", "")));
        assert_eq!(parse(&mut p, ""), Ok(None));
        assert_eq!(
            parse(&mut p, "no tab here").unwrap_err(),
            "no TAB between key and value"
        );
    }

    #[test]
    fn tsv_decodes_base64_and_hex() {
        let mut p = parser(InputFormat::Tsv, Encoding::Hex, Encoding::Base64);
        assert_eq!(parse(&mut p, "6869\taGVsbG8="), Ok(kv("hi", "hello")));
        assert_eq!(
            parse(&mut p, "6869\taGVsbG8"),
            Ok(kv("hi", "hello")),
            "padding optional"
        );
        let err = parse(&mut p, "6869\t!!!").unwrap_err();
        assert!(err.starts_with("invalid base64 in value:"), "{err}");
        let err = parse(&mut p, "zz\taGk=").unwrap_err();
        assert!(err.starts_with("invalid hex in key:"), "{err}");
        let err = parse(&mut p, "686\taGk=").unwrap_err();
        assert!(err.starts_with("invalid hex in key:"), "{err}");
    }

    #[test]
    fn jsonl_strings_and_other_values() {
        let mut p = parser(InputFormat::Jsonl, Encoding::Utf8, Encoding::Utf8);
        assert_eq!(
            parse(&mut p, r#"{"key":"a","value":"b"}"#),
            Ok(kv("a", "b"))
        );
        assert_eq!(
            parse(
                &mut p,
                r#"{"value": "x\ty\"", "key": "k\u00e9", "other": [1, 2]}"#
            ),
            Ok(kv("ké", "x\ty\""))
        );
        assert_eq!(
            parse(
                &mut p,
                r#"{"key": "n", "value": { "z": 1.50, "a" : [true, null, "s p"] }}"#
            ),
            Ok(kv("n", r#"{"z":1.50,"a":[true,null,"s p"]}"#))
        );
        assert_eq!(
            parse(&mut p, r#"{"key": "n", "value": 12}"#),
            Ok(kv("n", "12"))
        );
        assert_eq!(parse(&mut p, "   "), Ok(None));
    }

    #[test]
    fn jsonl_errors_say_what_is_wrong() {
        let mut p = parser(InputFormat::Jsonl, Encoding::Utf8, Encoding::Base64);
        let err = parse(&mut p, r#"{"key": "a"}"#).unwrap_err();
        assert_eq!(err, "missing field \"value\"");
        let err = parse(&mut p, r#"{"key": 5, "value": "aGk="}"#).unwrap_err();
        assert_eq!(err, "field \"key\" must be a JSON string, found a number");
        let err = parse(&mut p, r#"{"key": "a", "value": "aGk="#).unwrap_err();
        assert!(err.starts_with("invalid JSON:"), "{err}");
        let err = parse(&mut p, r#"["key"]"#).unwrap_err();
        assert!(err.contains("a JSON object"), "{err}");
        let err = parse(&mut p, r#"{"key": "a", "value": "%%"}"#).unwrap_err();
        assert!(err.starts_with("invalid base64 in value"), "{err}");
        let err = parse(&mut p, r#"{"key": "a", "key": "b", "value": "aGk="}"#).unwrap_err();
        assert!(err.contains("appears twice"), "{err}");
        let err = parse(&mut p, r#"{"key": "a", "value": "aGk="} trailing"#).unwrap_err();
        assert!(err.starts_with("invalid JSON:"), "{err}");
    }

    #[test]
    fn jsonl_custom_field_names() {
        let mut p = LineParser::new(&InputOptions {
            format: InputFormat::Jsonl,
            key_field: "id".into(),
            value_field: "doc".into(),
            ..InputOptions::default()
        });
        assert_eq!(
            parse(&mut p, r#"{"id": "1", "doc": "one", "key": 7}"#),
            Ok(kv("1", "one"))
        );
    }
}
