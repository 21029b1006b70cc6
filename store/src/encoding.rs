//! How a key or value written as text becomes bytes: the one [`Encoding`] of input
//! records (`tusk write`), golden-keys files (`tusk policy`) and keys on the command
//! line (`tusk get`).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard alphabet; padding accepted but not required.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How a key or value field's text becomes bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// The field's bytes as they are.
    #[default]
    Utf8,
    /// Standard base64 alphabet (`+/`); `=` padding optional.
    Base64,
    /// Hexadecimal, either case, two digits per byte.
    Hex,
}

impl Encoding {
    /// Every accepted name, in the spelling `Display` prints.
    pub const NAMES: &'static [&'static str] = &["utf8", "base64", "hex"];

    /// The canonical lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf8",
            Encoding::Base64 => "base64",
            Encoding::Hex => "hex",
        }
    }

    /// The bytes `field` stands for, decoded into `buf` when the encoding is not
    /// `utf8` (a caller reuses `buf` between fields). The error says what is wrong
    /// ("invalid base64 in {what}: ..."); `what` names the field ("key", "value").
    pub fn decode_into<'a>(
        self,
        field: &'a [u8],
        buf: &'a mut Vec<u8>,
        what: &str,
    ) -> Result<&'a [u8], String> {
        match self {
            Encoding::Utf8 => Ok(field),
            Encoding::Base64 => {
                buf.clear();
                BASE64
                    .decode_vec(field, buf)
                    .map_err(|e| format!("invalid base64 in {what}: {e}"))?;
                Ok(&buf[..])
            }
            Encoding::Hex => {
                buf.clear();
                buf.resize(field.len() / 2, 0);
                hex::decode_to_slice(field, buf)
                    .map_err(|e| format!("invalid hex in {what}: {e}"))?;
                Ok(&buf[..])
            }
        }
    }

    /// The bytes a key or value given as `text` stands for (see [`Encoding::decode_into`]).
    pub fn decode(self, text: &str, what: &str) -> Result<Vec<u8>, String> {
        let mut buf = Vec::new();
        self.decode_into(text.as_bytes(), &mut buf, what)
            .map(<[u8]>::to_vec)
    }
}

/// Error of [`Encoding`]'s `FromStr`: names the accepted spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown encoding {got:?}: expected one of utf8, base64, hex")]
pub struct ParseEncodingError {
    got: String,
}

impl FromStr for Encoding {
    type Err = ParseEncodingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "utf8" => Ok(Encoding::Utf8),
            "base64" => Ok(Encoding::Base64),
            "hex" => Ok(Encoding::Hex),
            _ => Err(ParseEncodingError { got: s.to_string() }),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_accepted() {
        for name in Encoding::NAMES {
            let e: Encoding = name.parse().expect("a listed name parses");
            assert_eq!(e.to_string(), *name);
        }
        assert_eq!("HEX".parse::<Encoding>(), Ok(Encoding::Hex));
        let err = "b64".parse::<Encoding>().unwrap_err().to_string();
        assert!(err.contains("\"b64\"") && err.contains("base64"), "{err}");
    }

    #[test]
    fn each_encoding_decodes_and_names_the_field_when_it_cannot() {
        assert_eq!(
            Encoding::Utf8.decode("héllo", "key").unwrap(),
            "héllo".as_bytes()
        );
        assert_eq!(Encoding::Base64.decode("/wA=", "key").unwrap(), [255, 0]);
        assert_eq!(Encoding::Base64.decode("/wA", "key").unwrap(), [255, 0]);
        assert_eq!(Encoding::Hex.decode("00fF", "key").unwrap(), [0, 255]);
        let err = Encoding::Hex.decode("0g", "value").unwrap_err();
        assert!(err.starts_with("invalid hex in value"), "{err}");
        let err = Encoding::Hex.decode("abc", "key").unwrap_err();
        assert!(err.starts_with("invalid hex in key"), "{err}");
        let err = Encoding::Base64.decode("!!", "key").unwrap_err();
        assert!(err.starts_with("invalid base64 in key"), "{err}");
    }
}
