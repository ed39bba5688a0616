//! Consent a person gave a third-party client, per scope.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::foundation::store::schema::{clients, consents};
use crate::foundation::store::{DbConnection, StoreError, decode_list, encode_list};

/// The scopes `user_id` has allowed `client_id`; empty when none.
pub fn granted(conn: &mut DbConnection, user_id: &str, client_id: &str) -> Result<Vec<String>, StoreError> {
    let scopes: Option<String> = consents::table
        .filter(consents::user_id.eq(user_id))
        .filter(consents::client_id.eq(client_id))
        .select(consents::scopes)
        .first(conn)
        .optional()?;
    scopes.map_or(Ok(Vec::new()), |text| decode_list("consents.scopes", &text))
}

/// Records consent to `scopes`, adding to what was allowed before. An upsert: two answers
/// posted at once (a double click) both succeed.
pub fn grant(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
    scopes: &[String],
    now: i64,
) -> Result<(), StoreError> {
    let mut all = granted(conn, user_id, client_id)?;
    for scope in scopes {
        if !all.contains(scope) {
            all.push(scope.clone());
        }
    }
    // MultiConnection has no upsert builder; both databases accept this SQL.
    diesel::sql_query(
        "INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
    )
    .bind::<Text, _>(user_id)
    .bind::<Text, _>(client_id)
    .bind::<Text, _>(encode_list(&all))
    .bind::<BigInt, _>(now)
    .execute(conn)?;
    Ok(())
}

/// An app a person has allowed, for the account page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GrantedApp {
    pub client_id: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    pub granted_at: i64,
}

pub(crate) fn list_for_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<GrantedApp>, StoreError> {
    let rows: Vec<(String, String, String, i64)> = consents::table
        .inner_join(clients::table)
        .filter(consents::user_id.eq(user_id))
        .order(consents::granted_at.desc())
        .select((
            consents::client_id,
            clients::name,
            consents::scopes,
            consents::granted_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(client_id, client_name, scopes, granted_at)| {
            Ok(GrantedApp {
                scopes: decode_list("consents.scopes", &scopes)?,
                client_id,
                client_name,
                granted_at,
            })
        })
        .collect()
}

/// Withdraws consent; returns whether there was any.
pub(crate) fn revoke(conn: &mut DbConnection, user_id: &str, client_id: &str) -> Result<bool, StoreError> {
    let removed = diesel::delete(
        consents::table
            .filter(consents::user_id.eq(user_id))
            .filter(consents::client_id.eq(client_id)),
    )
    .execute(conn)?;
    Ok(removed > 0)
}
