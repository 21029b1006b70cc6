//! Reading golden keys from a TSV file: `key[<TAB>value]` per line.

use std::collections::BTreeMap;

use super::GoldenKey;
use crate::{Encoding, Result, StoreError};

/// Parses a golden-keys file. Each line is `KEY` (the key must be present) or
/// `KEY<TAB>VALUE` (it must have exactly that value; `KEY<TAB>` means an empty
/// value). The line is split at the first tab, so a value may hold tabs. A trailing
/// `\r` is dropped; blank lines are skipped. Errors name `name:line`: invalid UTF-8,
/// bad base64, an empty key, a key listed twice.
pub fn parse_golden_tsv(name: &str, content: &[u8], encoding: Encoding) -> Result<Vec<GoldenKey>> {
    let mut out = Vec::new();
    let mut first_line: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for (i, raw) in content.split(|b| *b == b'\n').enumerate() {
        let line_no = i + 1;
        let bad = |detail: String| StoreError::Invalid {
            what: format!("golden keys file {name}:{line_no}"),
            detail,
        };
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = std::str::from_utf8(line)
            .map_err(|e| bad(format!("not UTF-8 text ({e}); use base64 for binary keys")))?;
        let (key, value) = match text.split_once('\t') {
            Some((k, v)) => (k, Some(v)),
            None => (text, None),
        };
        let decode = |field: &str, what: &str| -> Result<Vec<u8>> {
            let field = match encoding {
                Encoding::Utf8 => field,
                Encoding::Base64 | Encoding::Hex => field.trim(),
            };
            encoding.decode(field, what).map_err(bad)
        };
        let key = decode(key, "key")?;
        if key.is_empty() {
            return Err(bad("empty key".to_string()));
        }
        let value = value.map(|v| decode(v, "value")).transpose()?;
        if let Some(first) = first_line.insert(key.clone(), line_no) {
            return Err(bad(format!("key already listed on line {first}")));
        }
        out.push(GoldenKey { key, value });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {

    #[test]
    fn hex_fields_decode_and_bad_digits_name_the_line() {
        let keys = parse_golden_tsv("g.tsv", b"00ff\t6869\n", Encoding::Hex).expect("hex");
        assert_eq!(keys[0].key, vec![0, 255]);
        assert_eq!(keys[0].value.as_deref(), Some(&b"hi"[..]));
        let err = parse_golden_tsv("g.tsv", b"ab\n0g\n", Encoding::Hex).unwrap_err();
        assert!(err.to_string().contains("g.tsv:2"), "{err}");
        assert!(err.to_string().contains("invalid hex in key"), "{err}");
    }

    use super::*;

    fn g(key: &[u8], value: Option<&[u8]>) -> GoldenKey {
        GoldenKey {
            key: key.to_vec(),
            value: value.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn keys_with_and_without_values() {
        let text = b"home\nabout\tAbout us\r\n\nempty\t\ntabs\ta\tb\n";
        let keys = parse_golden_tsv("g.tsv", text, Encoding::Utf8).expect("parses");
        assert_eq!(
            keys,
            [
                g(b"home", None),
                g(b"about", Some(b"About us")),
                g(b"empty", Some(b"")),
                g(b"tabs", Some(b"a\tb")),
            ]
        );
    }

    #[test]
    fn base64_fields_carry_binary_bytes() {
        let keys =
            parse_golden_tsv("g.tsv", b"/wA=\taGk=\nAQ==\n", Encoding::Base64).expect("parses");
        assert_eq!(keys, [g(&[0xff, 0], Some(b"hi")), g(&[1], None)]);
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, encoding, line, why) in [
            (&b"a\n\tvalue\n"[..], Encoding::Utf8, 2, "empty key"),
            (
                b"a\nb\na\tx\n",
                Encoding::Utf8,
                3,
                "already listed on line 1",
            ),
            (b"ok\n\xff\xfe\n", Encoding::Utf8, 2, "not UTF-8"),
            (b"aGk=\n!!\n", Encoding::Base64, 2, "invalid base64 in key"),
            (
                b"aGk=\tnot base64\n",
                Encoding::Base64,
                1,
                "invalid base64 in value",
            ),
        ] {
            let err = parse_golden_tsv("golden.tsv", text, encoding).expect_err(why);
            let msg = err.to_string();
            assert!(msg.contains(&format!("golden.tsv:{line}")), "{msg}");
            assert!(msg.contains(why), "{msg}");
            assert_eq!(err.kind(), crate::ErrorKind::Invalid);
        }
    }

    #[test]
    fn an_empty_file_has_no_keys() {
        assert!(
            parse_golden_tsv("g", b"\n\n", Encoding::Utf8)
                .unwrap()
                .is_empty()
        );
    }
}
