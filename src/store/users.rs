//! People who sign in.

use diesel::prelude::*;

use super::schema::users;
use super::{DbConnection, StoreError};

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
}

impl User {
    /// Disabled accounts sign in nowhere and their tokens stop working.
    pub fn is_enabled(&self) -> bool {
        self.disabled_at.is_none()
    }
}

pub fn insert(conn: &mut DbConnection, user: &User) -> Result<(), StoreError> {
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
pub fn set_name(conn: &mut DbConnection, user_id: &str, name: Option<&str>) -> Result<(), StoreError> {
    diesel::update(users::table.filter(users::id.eq(user_id)))
        .set(users::name.eq(name))
        .execute(conn)?;
    Ok(())
}

pub fn set_password_hash(conn: &mut DbConnection, user_id: &str, hash: &str) -> Result<(), StoreError> {
    diesel::update(users::table.filter(users::id.eq(user_id)))
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    Ok(())
}

/// Records that the person showed they read mail at their address (a sign-in link worked).
pub fn mark_email_verified(conn: &mut DbConnection, user_id: &str) -> Result<(), StoreError> {
    diesel::update(
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::email_verified.eq(false)),
    )
    .set(users::email_verified.eq(true))
    .execute(conn)?;
    Ok(())
}
