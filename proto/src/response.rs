//! The two read responses, written by hand so their `version` is a shared
//! [`VersionId`] instead of a `String` allocated per response.
//!
//! prost generates every other message of `tusk.v1`. `build.rs` maps these two to
//! the types here (`extern_path`), so the generated client and server use them.
//! On the wire they are exactly the messages of `tusk/v1/tusk.proto`; a test
//! checks their fields against the compiled descriptor, and round-trips them
//! through prost-generated equivalents.

use bytes::{Buf, BufMut, Bytes};
use prost::DecodeError;
use prost::encoding::{self, DecodeContext, WireType};

use crate::VersionId;
use crate::v1::Entry;

/// The answer to a `GetRequest` (`tusk.v1.GetResponse`).
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct GetResponse {
    /// True when the key exists in the version that answered.
    pub found: bool,
    /// The value (empty when not found; values may also be legitimately empty).
    pub value: Bytes,
    /// The version that answered.
    pub version: VersionId,
}

/// The answer to a `MultiGetRequest` (`tusk.v1.MultiGetResponse`).
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct MultiGetResponse {
    /// `entries[i]` answers `keys[i]` of the request.
    pub entries: Vec<Entry>,
    /// The one version that answered every key.
    pub version: VersionId,
}

impl prost::Message for GetResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if self.found {
            encoding::bool::encode(1, &self.found, buf);
        }
        if !self.value.is_empty() {
            encoding::bytes::encode(2, &self.value, buf);
        }
        encode_version(3, &self.version, buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        const NAME: &str = "GetResponse";
        match tag {
            1 => encoding::bool::merge(wire_type, &mut self.found, buf, ctx)
                .map_err(|e| within(e, NAME, "found")),
            2 => encoding::bytes::merge(wire_type, &mut self.value, buf, ctx)
                .map_err(|e| within(e, NAME, "value")),
            3 => merge_version(wire_type, &mut self.version, buf, ctx)
                .map_err(|e| within(e, NAME, "version")),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let found = if self.found {
            encoding::bool::encoded_len(1, &self.found)
        } else {
            0
        };
        let value = if self.value.is_empty() {
            0
        } else {
            encoding::bytes::encoded_len(2, &self.value)
        };
        found + value + version_len(3, &self.version)
    }

    fn clear(&mut self) {
        *self = GetResponse::default();
    }
}

impl prost::Message for MultiGetResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        encoding::message::encode_repeated(1, &self.entries, buf);
        encode_version(2, &self.version, buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        const NAME: &str = "MultiGetResponse";
        match tag {
            1 => encoding::message::merge_repeated(wire_type, &mut self.entries, buf, ctx)
                .map_err(|e| within(e, NAME, "entries")),
            2 => merge_version(wire_type, &mut self.version, buf, ctx)
                .map_err(|e| within(e, NAME, "version")),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        encoding::message::encoded_len_repeated(1, &self.entries) + version_len(2, &self.version)
    }

    fn clear(&mut self) {
        *self = MultiGetResponse::default();
    }
}

/// Writes a `string` field from the shared bytes (proto3: nothing when empty).
fn encode_version(tag: u32, version: &VersionId, buf: &mut impl BufMut) {
    if !version.is_empty() {
        encoding::bytes::encode(tag, version.as_bytes(), buf);
    }
}

fn version_len(tag: u32, version: &VersionId) -> usize {
    if version.is_empty() {
        0
    } else {
        encoding::bytes::encoded_len(tag, version.as_bytes())
    }
}

/// Reads a `string` field with prost's own UTF-8 check and error, then keeps the
/// decoded `String`'s buffer as the id (no second copy).
fn merge_version(
    wire_type: WireType,
    version: &mut VersionId,
    buf: &mut impl Buf,
    ctx: DecodeContext,
) -> Result<(), DecodeError> {
    let mut text = String::new();
    encoding::string::merge(wire_type, &mut text, buf, ctx)?;
    *version = VersionId::from(text);
    Ok(())
}

/// Names the field a decode error happened in, as prost's generated code does.
fn within(mut error: DecodeError, message: &'static str, field: &'static str) -> DecodeError {
    error.push(message, field);
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// What prost generates for the two messages of `tusk.v1`, with `String`
    /// versions: the reference the hand-written types must match on the wire.
    mod generated {
        #[derive(Clone, PartialEq, ::prost::Message)]
        pub struct GetResponse {
            #[prost(bool, tag = "1")]
            pub found: bool,
            #[prost(bytes = "bytes", tag = "2")]
            pub value: ::bytes::Bytes,
            #[prost(string, tag = "3")]
            pub version: String,
        }

        #[derive(Clone, PartialEq, ::prost::Message)]
        pub struct MultiGetResponse {
            #[prost(message, repeated, tag = "1")]
            pub entries: Vec<crate::v1::Entry>,
            #[prost(string, tag = "2")]
            pub version: String,
        }
    }

    fn entry(found: bool, value: &'static [u8]) -> Entry {
        Entry {
            found,
            value: Bytes::from_static(value),
        }
    }

    #[test]
    fn get_responses_match_the_generated_encoding_both_ways() {
        for (found, value, version) in [
            (true, &b"value"[..], "20260101T000000Z"),
            (true, &b""[..], "v1"),
            (false, &b""[..], "v1"),
            (false, &b""[..], ""),
            (true, &[0u8; 300][..], "ü-version"),
        ] {
            let ours = GetResponse {
                found,
                value: Bytes::from_static(value),
                version: VersionId::from(version),
            };
            let theirs = generated::GetResponse {
                found,
                value: Bytes::from_static(value),
                version: version.to_string(),
            };
            let bytes = ours.encode_to_vec();
            assert_eq!(bytes, theirs.encode_to_vec(), "{ours:?}");
            assert_eq!(ours.encoded_len(), bytes.len());
            assert_eq!(
                GetResponse::decode(bytes.as_slice()).expect("decodes"),
                ours
            );
            assert_eq!(
                generated::GetResponse::decode(bytes.as_slice()).expect("decodes"),
                theirs
            );
        }
    }

    #[test]
    fn multi_get_responses_match_the_generated_encoding_both_ways() {
        let cases = [
            (vec![], ""),
            (vec![entry(false, b"")], "v1"),
            (
                vec![entry(true, b"a"), entry(false, b""), entry(true, b"")],
                "20260101T000000Z",
            ),
        ];
        for (entries, version) in cases {
            let ours = MultiGetResponse {
                entries: entries.clone(),
                version: VersionId::from(version),
            };
            let theirs = generated::MultiGetResponse {
                entries,
                version: version.to_string(),
            };
            let bytes = ours.encode_to_vec();
            assert_eq!(bytes, theirs.encode_to_vec(), "{ours:?}");
            assert_eq!(ours.encoded_len(), bytes.len());
            assert_eq!(
                MultiGetResponse::decode(bytes.as_slice()).expect("decodes"),
                ours
            );
        }
    }

    #[test]
    fn unknown_fields_are_skipped_and_a_repeated_version_keeps_the_last() {
        // Field 9 (varint 5), version "a", field 10 (bytes "zz"), version "b".
        let bytes = [
            0x48, 5, 0x1a, 1, b'a', 0x52, 2, b'z', b'z', 0x1a, 1, b'b', 0x08, 1,
        ];
        let got = GetResponse::decode(&bytes[..]).expect("decodes");
        assert_eq!(
            got,
            GetResponse {
                found: true,
                value: Bytes::new(),
                version: VersionId::from("b"),
            }
        );
    }

    #[test]
    fn a_version_that_is_not_utf8_is_a_decode_error_naming_the_field() {
        let bytes = [0x1a, 2, 0xff, 0xfe];
        let error = GetResponse::decode(&bytes[..]).expect_err("not UTF-8");
        let text = error.to_string();
        assert!(text.contains("GetResponse.version"), "{text}");
        assert!(text.contains("UTF-8"), "{text}");

        let bytes = [0x12, 2, 0xc3, 0x28];
        let error = MultiGetResponse::decode(&bytes[..]).expect_err("not UTF-8");
        assert!(
            error.to_string().contains("MultiGetResponse.version"),
            "{error}"
        );
    }

    #[test]
    fn a_truncated_value_is_an_error_not_a_short_value() {
        let bytes = [0x12, 10, b'a', b'b'];
        let error = GetResponse::decode(&bytes[..]).expect_err("truncated");
        assert!(error.to_string().contains("GetResponse.value"), "{error}");
    }

    #[test]
    fn clear_resets_every_field() {
        let mut response = GetResponse {
            found: true,
            value: Bytes::from_static(b"x"),
            version: VersionId::from("v"),
        };
        response.clear();
        assert_eq!(response, GetResponse::default());
        let mut response = MultiGetResponse {
            entries: vec![entry(true, b"x")],
            version: VersionId::from("v"),
        };
        response.clear();
        assert_eq!(response, MultiGetResponse::default());
    }
}
