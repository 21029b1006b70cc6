//! Store errors: a detailed enum plus a small [`ErrorKind`] callers act on.

/// Result alias for this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What a caller can do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object or version does not exist.
    NotFound,
    /// A create-only or compare-and-swap write lost a race; re-read and retry.
    Conflict,
    /// May succeed later (network, timeouts, throttling).
    Retryable,
    /// The request itself is wrong (bad URL, bad name, bad argument).
    Invalid,
    /// Stored bytes are damaged (checksum, unparsable manifest).
    Corrupt,
    /// Access to the store is refused, or the store does not exist as configured
    /// (credentials, permissions, a missing bucket): retrying will not help until an
    /// operator acts.
    Permission,
    /// Anything else.
    Internal,
}

/// Everything that can go wrong talking to a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No object at `key`.
    #[error("not found: {key}")]
    NotFound {
        /// Object key (or store path) that is missing.
        key: String,
    },
    /// A create-only write found the object already there.
    #[error("already exists: {key}")]
    AlreadyExists {
        /// Object key.
        key: String,
    },
    /// A compare-and-swap or create-only pointer move lost a race.
    #[error("conflict on {key}: {detail}")]
    Conflict {
        /// Object key.
        key: String,
        /// What happened, and what to do.
        detail: String,
    },
    /// A store URL or name that cannot be used.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// What was invalid (store URL, domain name, version id, ...).
        what: String,
        /// Why.
        detail: String,
    },
    /// Stored bytes fail their checksum or size.
    #[error("checksum mismatch for {key}: {detail}")]
    Checksum {
        /// Object key.
        key: String,
        /// Expected vs. actual.
        detail: String,
    },
    /// A stored JSON document (manifest, CURRENT, history) cannot be parsed or is
    /// inconsistent.
    #[error("corrupt {key}: {detail}")]
    CorruptDocument {
        /// Object key.
        key: String,
        /// The parse or validation error.
        detail: String,
    },
    /// I/O error on a local path.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The local path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The store refused access or does not exist as configured (see
    /// [`ErrorKind::Permission`]).
    #[error("{backend} error on {key}: {detail}")]
    Denied {
        /// Backend name (e.g. "s3").
        backend: &'static str,
        /// Object key.
        key: String,
        /// What was refused, and what to check.
        detail: String,
    },
    /// The version breaks the domain's write policy; nothing was activated.
    #[error(
        "{check}; nothing was activated (to activate it anyway: --force with --reason, recorded in the history)"
    )]
    PolicyRefused {
        /// The check, on one line: the policy and every rule broken.
        check: String,
    },
    /// A write of `CURRENT` failed; `CURRENT` was read back to say whether the move
    /// took effect.
    #[error("{outcome}: {source}")]
    PointerMove {
        /// What reading `CURRENT` back found.
        outcome: String,
        /// The failed write.
        source: Box<StoreError>,
    },
    /// An error from a remote backend.
    #[error("{backend} error on {key}: {detail}")]
    Backend {
        /// Backend name (e.g. "s3").
        backend: &'static str,
        /// Object key.
        key: String,
        /// Description.
        detail: String,
        /// Whether retrying may help.
        retryable: bool,
    },
}

impl StoreError {
    /// The class of the error, for callers deciding to retry, report or give up.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotFound { .. } => ErrorKind::NotFound,
            StoreError::AlreadyExists { .. } | StoreError::Conflict { .. } => ErrorKind::Conflict,
            StoreError::Invalid { .. } => ErrorKind::Invalid,
            StoreError::Checksum { .. } | StoreError::CorruptDocument { .. } => ErrorKind::Corrupt,
            StoreError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                ErrorKind::Permission
            }
            StoreError::Io { .. } => ErrorKind::Internal,
            StoreError::Denied { .. } => ErrorKind::Permission,
            StoreError::PolicyRefused { .. } => ErrorKind::Invalid,
            StoreError::PointerMove { source, .. } => source.kind(),
            StoreError::Backend { retryable, .. } => {
                if *retryable {
                    ErrorKind::Retryable
                } else {
                    ErrorKind::Internal
                }
            }
        }
    }

    /// Builds an [`StoreError::Io`] naming `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_access_is_a_permission_error_not_a_retryable_one() {
        let denied = StoreError::io(
            "/srv/store/d/CURRENT",
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert_eq!(denied.kind(), ErrorKind::Permission);
        let other = StoreError::io("/srv/store", std::io::Error::other("disk on fire"));
        assert_eq!(other.kind(), ErrorKind::Internal);
        let s3 = StoreError::Denied {
            backend: "s3",
            key: "s3://b/k".to_string(),
            detail: "access refused".to_string(),
        };
        assert_eq!(s3.kind(), ErrorKind::Permission);
        assert_eq!(s3.to_string(), "s3 error on s3://b/k: access refused");
    }
}
