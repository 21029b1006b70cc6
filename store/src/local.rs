//! The local-directory store: the embedded default.

use std::path::PathBuf;

/// A store rooted at a local directory. Create-only writes use create-exclusive
/// files; replacements use write-to-temp + rename, so readers never see a partial
/// object.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> crate::Result<Self> {
        let root = root.into();
        let _ = &root;
        todo!("store: LocalStore::new")
    }

    /// The root directory.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }
}
