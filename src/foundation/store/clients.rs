//! OAuth clients (relying parties and services).

use diesel::prelude::*;

use crate::foundation::store::changes::{self, ChangeKind};
use crate::foundation::store::schema::clients;
use crate::foundation::store::{DbConnection, StoreError, decode_list, encode_list};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
struct ClientRow {
    client_id: String,
    name: String,
    secret_hash: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scopes: String,
    first_party: bool,
    created_at: i64,
    disabled_at: Option<i64>,
    id_token_alg: String,
    resource_server: bool,
    pkce_optional: bool,
    logo_uri: Option<String>,
    verified: bool,
}

/// A registered client. `secret_hash` is the hex SHA-256 of the secret; `None` for public clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Client {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub first_party: bool,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    /// `RS256` or `ES256`: what this client's ID tokens are signed with.
    pub id_token_alg: String,
    /// A content server: may introspect tokens issued to any client.
    pub resource_server: bool,
    /// A legacy confidential client allowed to skip PKCE.
    pub pkce_optional: bool,
    /// The app's logo, an https URL.
    pub logo_uri: Option<String>,
    /// The platform vouches for the app (a partner's): its logo is shown like a first-party app's.
    pub verified: bool,
}

impl Client {
    pub(crate) fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|allowed| allowed == grant_type)
    }

    pub(crate) fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|allowed| allowed == scope)
    }

    /// Public clients (apps on people's devices) cannot keep a secret.
    pub(crate) fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.disabled_at.is_none()
    }

    /// The logo the sign-in pages may show: only an app the platform runs or vouches for gets
    /// one, so a look-alike cannot borrow a known brand's.
    pub(crate) fn trusted_logo(&self) -> Option<&str> {
        (self.first_party || self.verified)
            .then_some(self.logo_uri.as_deref())
            .flatten()
    }
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        Ok(Self {
            redirect_uris: decode_list("clients.redirect_uris", &row.redirect_uris)?,
            post_logout_redirect_uris: decode_list(
                "clients.post_logout_redirect_uris",
                &row.post_logout_redirect_uris,
            )?,
            grant_types: decode_list("clients.grant_types", &row.grant_types)?,
            scopes: decode_list("clients.scopes", &row.scopes)?,
            client_id: row.client_id,
            name: row.name,
            secret_hash: row.secret_hash,
            first_party: row.first_party,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
            id_token_alg: row.id_token_alg,
            resource_server: row.resource_server,
            pkce_optional: row.pkce_optional,
            logo_uri: row.logo_uri,
            verified: row.verified,
        })
    }
}

pub(crate) fn insert(conn: &mut DbConnection, client: &Client) -> Result<(), StoreError> {
    let row = ClientRow {
        client_id: client.client_id.clone(),
        name: client.name.clone(),
        secret_hash: client.secret_hash.clone(),
        redirect_uris: encode_list(&client.redirect_uris),
        post_logout_redirect_uris: encode_list(&client.post_logout_redirect_uris),
        grant_types: encode_list(&client.grant_types),
        scopes: encode_list(&client.scopes),
        first_party: client.first_party,
        created_at: client.created_at,
        disabled_at: client.disabled_at,
        id_token_alg: client.id_token_alg.clone(),
        resource_server: client.resource_server,
        pkce_optional: client.pkce_optional,
        logo_uri: client.logo_uri.clone(),
        verified: client.verified,
    };
    diesel::insert_into(clients::table).values(&row).execute(conn)?;
    Ok(())
}

pub(crate) fn find(conn: &mut DbConnection, client_id: &str) -> Result<Option<Client>, StoreError> {
    clients::table
        .filter(clients::client_id.eq(client_id))
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?
        .map(Client::try_from)
        .transpose()
}

/// Every registered client, newest first.
pub(crate) fn list(conn: &mut DbConnection) -> Result<Vec<Client>, StoreError> {
    clients::table
        .order((clients::created_at.desc(), clients::client_id.asc()))
        .select(ClientRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Client::try_from)
        .collect()
}

/// Replaces the secret hash of a confidential client (a public one never gets a secret),
/// announced on the change feed. Returns whether such a client exists.
pub(crate) fn set_secret_hash(
    conn: &mut DbConnection,
    client_id: &str,
    secret_hash: &str,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        clients::table
            .filter(clients::client_id.eq(client_id))
            .filter(clients::secret_hash.is_not_null()),
    )
    .set(clients::secret_hash.eq(secret_hash))
    .execute(conn)?;
    if updated > 0 {
        changes::record(conn, ChangeKind::ClientChanged, client_id, None)?;
    }
    Ok(updated > 0)
}

/// Disables an enabled client from `now` on, announced on the change feed. Returns whether
/// it was enabled.
pub(crate) fn disable(conn: &mut DbConnection, client_id: &str, now: i64) -> Result<bool, StoreError> {
    let updated = diesel::update(
        clients::table
            .filter(clients::client_id.eq(client_id))
            .filter(clients::disabled_at.is_null()),
    )
    .set(clients::disabled_at.eq(now))
    .execute(conn)?;
    if updated > 0 {
        changes::record(conn, ChangeKind::ClientChanged, client_id, None)?;
    }
    Ok(updated > 0)
}
