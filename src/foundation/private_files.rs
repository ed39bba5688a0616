//! Files only this server's user may read: the SQLite database and the keys directory. New
//! ones are created private; existing ones that others can read are reported at start, since
//! changing an operator's permissions behind their back could break their backups.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` and any missing parents as `0700`; an existing directory is left as it is.
pub(crate) fn create_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Makes `file` readable and writable by its owner only (`0600`).
pub(crate) fn restrict(file: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
}

/// Whether users other than the owner may read or write `path` (group or other bits set).
pub(crate) fn open_to_others(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o077 != 0)
}

/// Logs a warning when `path`, which holds `what`, is open to other users.
pub(crate) fn warn_if_open_to_others(path: &Path, what: &str) {
    if open_to_others(path) {
        tracing::warn!(
            path = %path.display(),
            "{what} can be read by other users of this machine: chmod 600 it (700 for a directory)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_directory_is_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir(&dir).unwrap();
        assert!(!open_to_others(&dir));
    }

    #[test]
    fn a_restricted_file_is_private() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("usher.db");
        std::fs::write(&file, b"").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(open_to_others(&file));
        restrict(&file).unwrap();
        assert!(!open_to_others(&file));
    }
}
