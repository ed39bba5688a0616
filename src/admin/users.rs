//! Creating people's accounts.

use serde::Serialize;

use super::AdminError;
use crate::crypto::{hashing, random};
use crate::store::DbConnection;
use crate::store::users::{self, User};

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
pub fn normalize_email(email: &str) -> Result<String, AdminError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(AdminError::invalid("email", "is not a valid email address"))
    }
}

/// Hashes the password first (argon2id, CPU-bound), then writes the account.
pub fn create(conn: &mut DbConnection, new: NewUser, now: i64) -> Result<CreatedUser, AdminError> {
    let email = normalize_email(&new.email)?;
    let password_hash = match new.password.as_deref() {
        Some(password) if password.chars().count() < 8 => {
            return Err(AdminError::invalid("password", "must be at least 8 characters"));
        }
        Some(password) => Some(hashing::hash_password(password)?),
        None => None,
    };
    if users::find_by_email(conn, &email)?.is_some() {
        return Err(AdminError::Conflict(format!(
            "a user with email {email} already exists"
        )));
    }
    let user = User {
        id: uuid::Builder::from_random_bytes(random::bytes::<16>())
            .into_uuid()
            .to_string(),
        email: email.clone(),
        name: new
            .name
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty()),
        password_hash,
        is_admin: new.admin,
        email_verified: false,
        created_at: now,
        disabled_at: None,
    };
    users::insert(conn, &user)?;
    Ok(CreatedUser { id: user.id, email })
}
