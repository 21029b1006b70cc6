//! [`VersionId`]: the version id a read response names, shared instead of copied.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// A version id as a `GetResponse` or `MultiGetResponse` carries it: UTF-8 text
/// in a shared buffer.
///
/// A server answers thousands of reads per second from one loaded version. It
/// makes that version's `VersionId` once, and every response clones it: a
/// reference-count increment, where a `String` would allocate and copy. On the
/// wire it is an ordinary protobuf `string`.
///
/// It reads as a `&str` (`Deref`), and compares with `str`, `&str` and `String`.
///
/// ```
/// use tusk_proto::VersionId;
///
/// let id = VersionId::from("20260101T000000Z");
/// let shared = id.clone();
/// assert_eq!(shared, "20260101T000000Z");
/// assert_eq!(shared.as_ptr(), id.as_ptr()); // the same bytes, not a copy
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionId(Bytes);

impl VersionId {
    /// A version id over a `'static` string, without allocating.
    pub const fn from_static(id: &'static str) -> VersionId {
        VersionId(Bytes::from_static(id.as_bytes()))
    }

    /// Checks that `bytes` are UTF-8 and keeps them as an id, without copying.
    pub fn from_utf8(bytes: Bytes) -> Result<VersionId, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(VersionId(bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor keeps the bytes UTF-8: `from_utf8` checks
        // them, the others take them from a `str`, and nothing mutates them.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The id's bytes, as they go on the wire.
    pub(crate) fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl Deref for VersionId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for VersionId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for VersionId {
    fn from(id: String) -> VersionId {
        VersionId(Bytes::from(id))
    }
}

impl From<&str> for VersionId {
    fn from(id: &str) -> VersionId {
        VersionId(Bytes::copy_from_slice(id.as_bytes()))
    }
}

impl From<&String> for VersionId {
    fn from(id: &String) -> VersionId {
        VersionId::from(id.as_str())
    }
}

impl From<VersionId> for String {
    fn from(id: VersionId) -> String {
        id.as_str().to_owned()
    }
}

impl PartialEq<str> for VersionId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for VersionId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for VersionId {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<VersionId> for str {
    fn eq(&self, other: &VersionId) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<VersionId> for &str {
    fn eq(&self, other: &VersionId) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<VersionId> for String {
    fn eq(&self, other: &VersionId) -> bool {
        self == other.as_str()
    }
}

impl fmt::Debug for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_bytes_and_compare_as_text() {
        let id = VersionId::from(String::from("v7"));
        let clone = id.clone();
        assert_eq!(clone.as_ptr(), id.as_ptr());
        assert_eq!(clone, "v7");
        assert_eq!("v7", clone);
        assert_eq!(clone, String::from("v7"));
        assert_ne!(clone, "v8");
        assert_eq!(format!("{clone} {clone:?}"), "v7 \"v7\"");
        assert_eq!(String::from(clone), "v7");
        assert!(VersionId::default().is_empty());
    }

    #[test]
    fn only_utf8_becomes_an_id() {
        let ok = VersionId::from_utf8(Bytes::from_static("é".as_bytes())).expect("UTF-8");
        assert_eq!(ok, "é");
        assert!(VersionId::from_utf8(Bytes::from_static(&[0xff, 0x00])).is_err());
    }
}
