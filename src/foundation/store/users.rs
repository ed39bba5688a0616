//! People who sign in.

use diesel::prelude::*;

use crate::foundation::store::schema::users;
use crate::foundation::store::{DbConnection, StoreError};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub email_verified: bool,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    /// The language chosen for pages and mail (a tag such as `ur`); `None` until chosen.
    pub locale: Option<String>,
    /// The time zone pages show instants in (a canonical IANA name such as `Asia/Karachi`);
    /// `None` until chosen or reported by the browser.
    pub time_zone: Option<String>,
}

impl User {
    /// Disabled accounts sign in nowhere and their tokens stop working.
    pub fn is_enabled(&self) -> bool {
        self.disabled_at.is_none()
    }
}

pub(crate) fn insert(conn: &mut DbConnection, user: &User) -> Result<(), StoreError> {
    diesel::insert_into(users::table).values(user).execute(conn)?;
    Ok(())
}

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> Result<Option<User>, StoreError> {
    Ok(users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> Result<Option<User>, StoreError> {
    Ok(users::table
        .filter(users::id.eq(id))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Sets the display name, or clears it with `None`.
/// Holds every other device sign-in of the person until this transaction ends: their row is
/// written (and so locked on PostgreSQL; SQLite has one writer at a time) before anything is
/// read, so two devices signing in at once cannot both take the last free slot. Call it first
/// in the transaction.
pub(crate) fn lock_for_sign_in(conn: &mut DbConnection, user_id: &str) -> Result<(), StoreError> {
    diesel::update(users::table.find(user_id))
        .set(users::id.eq(user_id))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn set_name(conn: &mut DbConnection, user_id: &str, name: Option<&str>) -> Result<(), StoreError> {
    diesel::update(users::table.filter(users::id.eq(user_id)))
        .set(users::name.eq(name))
        .execute(conn)?;
    Ok(())
}

/// Saves the language chosen for pages and mail, or forgets it with `None`.
pub(crate) fn set_locale(
    conn: &mut DbConnection,
    user_id: &str,
    locale: Option<&str>,
) -> Result<(), StoreError> {
    diesel::update(users::table.filter(users::id.eq(user_id)))
        .set(users::locale.eq(locale))
        .execute(conn)?;
    Ok(())
}

/// Saves the time zone chosen for pages (a canonical IANA name).
pub(crate) fn set_time_zone(
    conn: &mut DbConnection,
    user_id: &str,
    time_zone: &str,
) -> Result<(), StoreError> {
    diesel::update(users::table.filter(users::id.eq(user_id)))
        .set(users::time_zone.eq(time_zone))
        .execute(conn)?;
    Ok(())
}

/// Saves `time_zone` only if the person has none; returns whether it was saved. One
/// statement, so a choice made meanwhile is never overwritten.
pub(crate) fn set_time_zone_if_none(
    conn: &mut DbConnection,
    user_id: &str,
    time_zone: &str,
) -> Result<bool, StoreError> {
    let saved = diesel::update(
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::time_zone.is_null()),
    )
    .set(users::time_zone.eq(time_zone))
    .execute(conn)?;
    Ok(saved == 1)
}

pub(crate) fn set_password_hash(
    conn: &mut DbConnection,
    user_id: &str,
    hash: &str,
) -> Result<(), StoreError> {
    diesel::update(users::table.filter(users::id.eq(user_id)))
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    Ok(())
}

/// Records that the person showed they read mail at their address (a sign-in link worked).
pub(crate) fn mark_email_verified(conn: &mut DbConnection, user_id: &str) -> Result<(), StoreError> {
    diesel::update(
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::email_verified.eq(false)),
    )
    .set(users::email_verified.eq(true))
    .execute(conn)?;
    Ok(())
}

/// How many accounts there are, disabled ones included.
pub(crate) fn count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(users::table.count().get_result(conn)?)
}

/// Which of `emails` (normalised) have an account.
pub(crate) fn existing_emails(conn: &mut DbConnection, emails: &[String]) -> Result<Vec<String>, StoreError> {
    Ok(users::table
        .filter(users::email.eq_any(emails))
        .select(users::email)
        .load(conn)?)
}

/// Writes many accounts in one statement (demo data). Each takes 8 bound parameters: keep
/// batches to a few thousand, under both databases' limits.
pub(crate) fn insert_many(conn: &mut DbConnection, batch: &[User]) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    // NULL written as NULL, not DEFAULT: SQLite takes many rows in one statement only then.
    #[derive(Insertable)]
    #[diesel(table_name = users, treat_none_as_default_value = false)]
    struct Row<'a> {
        id: &'a str,
        email: &'a str,
        name: Option<&'a str>,
        password_hash: Option<&'a str>,
        is_admin: bool,
        email_verified: bool,
        created_at: i64,
        disabled_at: Option<i64>,
    }
    let rows: Vec<Row<'_>> = batch
        .iter()
        .map(|user| Row {
            id: &user.id,
            email: &user.email,
            name: user.name.as_deref(),
            password_hash: user.password_hash.as_deref(),
            is_admin: user.is_admin,
            email_verified: user.email_verified,
            created_at: user.created_at,
            disabled_at: user.disabled_at,
        })
        .collect();
    // On the backend's own connection: diesel's multi-connection has no multi-row insert.
    let insert = diesel::insert_into(users::table).values(&rows);
    match conn {
        DbConnection::Sqlite(conn) => insert.execute(conn)?,
        DbConnection::Postgres(conn) => insert.execute(conn)?,
    };
    Ok(())
}
