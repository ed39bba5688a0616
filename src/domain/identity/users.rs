//! Creating people's accounts.

use serde::Serialize;

use crate::domain::AdminError;
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::users::{self, User};
use crate::foundation::store::{DbConnection, StoreError};
use crate::foundation::text;

#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub email: String,
    pub name: Option<String>,
    pub password: Option<String>,
    pub admin: bool,
}

#[derive(Debug, Serialize)]
pub struct CreatedUser {
    pub id: String,
    pub email: String,
}

/// Emails are compared case-insensitively: stored trimmed and lowercased.
pub(crate) fn normalize_email(email: &str) -> Result<String, AdminError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email
            .rsplit_once('@')
            .is_some_and(|(local, domain)| is_dot_atom(local) && local.len() <= 64 && is_domain(domain));
    if valid {
        Ok(email)
    } else {
        Err(AdminError::invalid("email", "is not a valid email address"))
    }
}

/// RFC 5321 §4.1.2 `Dot-string`: atoms of `atext` joined by single dots (RFC 6531 lets
/// letters of any script in). No quoted local parts: no mail provider hands those out, and
/// they are how markup gets into an address (`<svg/onload=…>@x`).
fn is_dot_atom(local: &str) -> bool {
    let atext = |ch: char| ch.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(ch);
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

/// RFC 5321 §4.1.2 `Domain`: labels of letters, digits and inner hyphens, at most 63 long.
fn is_domain(domain: &str) -> bool {
    domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|ch| ch.is_alphanumeric() || ch == '-')
    })
}

/// Longest display name kept; longer ones are cut.
pub(crate) const MAX_NAME_CHARS: usize = 100;

/// A display name as people see it in apps and administrators in the dashboard: trimmed, at
/// most [`MAX_NAME_CHARS`]; `None` when empty. One with a control or formatting character
/// (such as U+202E, which would show the rest of it reversed) is refused.
pub(crate) fn clean_name(raw: &str) -> Result<Option<String>, AdminError> {
    let name = raw.trim();
    if !text::is_plain_name(name) {
        return Err(AdminError::invalid("name", text::HIDDEN_CHARACTERS));
    }
    let name: String = name.chars().take(MAX_NAME_CHARS).collect();
    let name = name.trim_end();
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

/// An account checked and its password hashed, ready to be written.
pub(crate) struct PreparedUser {
    email: String,
    name: Option<String>,
    password_hash: Option<String>,
    admin: bool,
}

/// Checks a new password's length and hashes it (argon2id: CPU-bound, call it off the async
/// executor).
pub(crate) fn hash_new_password(password: &str) -> Result<String, AdminError> {
    if password.chars().count() < 8 {
        return Err(AdminError::invalid("password", "must be at least 8 characters"));
    }
    Ok(hashing::hash_password(password)?)
}

/// Checks the account and hashes its password (argon2id: CPU-bound, call it off the async
/// executor and without holding a database connection).
pub(crate) fn prepare(new: NewUser) -> Result<PreparedUser, AdminError> {
    let email = normalize_email(&new.email)?;
    let password_hash = new.password.as_deref().map(hash_new_password).transpose()?;
    Ok(PreparedUser {
        email,
        name: new.name.as_deref().map(clean_name).transpose()?.flatten(),
        password_hash,
        admin: new.admin,
    })
}

/// Writes a prepared account; an email already taken is a conflict, also when another
/// request takes it at the same moment.
pub(crate) fn insert(conn: &mut DbConnection, prepared: PreparedUser, now: i64) -> Result<User, AdminError> {
    // No look-up first: the unique index answers, and the insert is then the first statement
    // of any transaction it runs in (SQLite takes the write lock at once).
    let taken = || AdminError::Conflict(format!("a user with email {} already exists", prepared.email));
    let user = User {
        id: uuid::Builder::from_random_bytes(random::bytes::<16>())
            .into_uuid()
            .to_string(),
        email: prepared.email.clone(),
        name: prepared.name.clone(),
        password_hash: prepared.password_hash.clone(),
        is_admin: prepared.admin,
        email_verified: false,
        created_at: now,
        disabled_at: None,
        locale: None,
        time_zone: None,
    };
    match users::insert(conn, &user) {
        Err(StoreError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))) => Err(taken()),
        other => other.map(|()| user).map_err(AdminError::from),
    }
}

/// Hashes the password first (argon2id, CPU-bound), then writes the account.
pub fn create(conn: &mut DbConnection, new: NewUser, now: i64) -> Result<CreatedUser, AdminError> {
    let user = insert(conn, prepare(new)?, now)?;
    Ok(CreatedUser {
        id: user.id,
        email: user.email,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_rfc_5321_mailboxes() {
        for good in [
            "viewer@example.com",
            "first.last+tag@mail.example.co.uk",
            "o'neil@x.example",
            "ali@bücher.example",
        ] {
            assert!(normalize_email(good).is_ok(), "{good}");
        }
        for bad in [
            "<svg/onload=alert(1)>@x",
            "\"quoted\"@example.com",
            "two..dots@example.com",
            ".lead@example.com",
            "no-at.example.com",
            "a@b@example.com",
            "a@-example.com",
            "a@example..com",
            "spa ce@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_cut_and_emptied_to_none() {
        let clean = |raw: &str| clean_name(raw).ok().flatten();
        assert_eq!(clean("  Ada Lovelace \n"), Some("Ada Lovelace".to_owned()));
        assert_eq!(clean("   "), None);
        let long = "é".repeat(150);
        assert_eq!(clean(&long).map(|name| name.chars().count()), Some(100));
    }

    #[test]
    fn names_with_control_or_formatting_characters_are_refused() {
        for raw in [
            "Ada\u{0}\u{7}",
            "\u{202E}ecalevoL adA",
            "Ada\u{200B}Lovelace",
            "Ada\nLovelace",
        ] {
            assert!(
                matches!(clean_name(raw), Err(AdminError::Invalid { field: "name", .. })),
                "{raw:?}"
            );
        }
    }
}
