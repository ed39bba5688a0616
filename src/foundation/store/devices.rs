//! RFC 8628 device authorizations, and the devices signed in through them as the account
//! page lists them.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::foundation::store::schema::{clients, device_authorizations, refresh_tokens};
use crate::foundation::store::{DbConnection, StoreError, decode_list, encode_list, issued_tokens};

pub(crate) const PENDING: &str = "pending";
pub(crate) const APPROVED: &str = "approved";
pub(crate) const DENIED: &str = "denied";
pub(crate) const ISSUED: &str = "issued";

/// Refresh tokens issued through the device grant carry a session id of this form: the
/// device has no browser session, and the id names it on the account page.
pub(crate) const DEVICE_SID_PREFIX: &str = "device-";

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = device_authorizations)]
struct Row {
    device_code_hash: String,
    user_code: String,
    client_id: String,
    scope: String,
    created_at: i64,
    expires_at: i64,
    poll_interval: i64,
    last_polled_at: Option<i64>,
    status: String,
    user_id: Option<String>,
    auth_time: Option<i64>,
    amr: Option<String>,
    decided_at: Option<i64>,
    profile_id: Option<String>,
}

/// A device authorization request and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeviceAuthorization {
    pub device_code_hash: String,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub expires_at: i64,
    pub poll_interval: i64,
    pub last_polled_at: Option<i64>,
    pub status: String,
    pub user_id: Option<String>,
    pub auth_time: Option<i64>,
    pub amr: Vec<String>,
    /// The profile the approving phone chose for the device, with scope `profiles`.
    pub profile_id: Option<String>,
}

impl TryFrom<Row> for DeviceAuthorization {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        Ok(Self {
            amr: match &row.amr {
                Some(amr) => decode_list("device_authorizations.amr", amr)?,
                None => Vec::new(),
            },
            device_code_hash: row.device_code_hash,
            user_code: row.user_code,
            client_id: row.client_id,
            scope: row.scope,
            expires_at: row.expires_at,
            poll_interval: row.poll_interval,
            last_polled_at: row.last_polled_at,
            status: row.status,
            user_id: row.user_id,
            auth_time: row.auth_time,
            profile_id: row.profile_id,
        })
    }
}

/// A new request, pending until the person answers.
pub(crate) struct NewDeviceAuthorization<'a> {
    pub device_code_hash: &'a str,
    pub user_code: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub expires_at: i64,
    pub poll_interval: i64,
}

/// How long an expired request is kept, so a device still polling it hears `expired_token`.
const KEPT_AFTER_EXPIRY_SECS: i64 = 86_400;

/// Adds a pending request; false when its user code is taken (the caller draws another).
/// Requests a day past their expiry are swept first.
pub(crate) fn insert(
    conn: &mut DbConnection,
    request: &NewDeviceAuthorization<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    diesel::delete(
        device_authorizations::table
            .filter(device_authorizations::expires_at.le(now - KEPT_AFTER_EXPIRY_SECS)),
    )
    .execute(conn)?;
    let row = Row {
        device_code_hash: request.device_code_hash.to_owned(),
        user_code: request.user_code.to_owned(),
        client_id: request.client_id.to_owned(),
        scope: request.scope.to_owned(),
        created_at: now,
        expires_at: request.expires_at,
        poll_interval: request.poll_interval,
        last_polled_at: None,
        status: PENDING.to_owned(),
        user_id: None,
        auth_time: None,
        amr: None,
        decided_at: None,
        profile_id: None,
    };
    match diesel::insert_into(device_authorizations::table)
        .values(&row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

pub(crate) fn find_by_device_code(
    conn: &mut DbConnection,
    device_code_hash: &str,
) -> Result<Option<DeviceAuthorization>, StoreError> {
    device_authorizations::table
        .find(device_code_hash)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(DeviceAuthorization::try_from)
        .transpose()
}

/// A live request waiting for a person's decision, by its user code.
pub(crate) fn find_pending_by_user_code(
    conn: &mut DbConnection,
    user_code: &str,
    now: i64,
) -> Result<Option<DeviceAuthorization>, StoreError> {
    device_authorizations::table
        .filter(device_authorizations::user_code.eq(user_code))
        .filter(device_authorizations::status.eq(PENDING))
        .filter(device_authorizations::expires_at.gt(now))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(DeviceAuthorization::try_from)
        .transpose()
}

/// Who allowed a device, how they had signed in, and the profile they chose for it.
pub(crate) struct Approval<'a> {
    pub user_id: &'a str,
    pub auth_time: i64,
    pub amr: &'a [String],
    pub profile_id: Option<&'a str>,
}

/// Records the person's answer to a pending, live request; false when it was no longer
/// pending (answered in another tab, or expired).
pub(crate) fn decide(
    conn: &mut DbConnection,
    user_code: &str,
    approval: Option<Approval<'_>>,
    now: i64,
) -> Result<bool, StoreError> {
    let pending = device_authorizations::table
        .filter(device_authorizations::user_code.eq(user_code))
        .filter(device_authorizations::status.eq(PENDING))
        .filter(device_authorizations::expires_at.gt(now));
    let updated = match approval {
        Some(approval) => diesel::update(pending)
            .set((
                device_authorizations::status.eq(APPROVED),
                device_authorizations::user_id.eq(approval.user_id),
                device_authorizations::auth_time.eq(approval.auth_time),
                device_authorizations::amr.eq(encode_list(approval.amr)),
                device_authorizations::decided_at.eq(now),
                device_authorizations::profile_id.eq(approval.profile_id),
            ))
            .execute(conn)?,
        None => diesel::update(pending)
            .set((
                device_authorizations::status.eq(DENIED),
                device_authorizations::decided_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(updated == 1)
}

/// Records a poll; with `slower`, the device must now wait that many seconds between polls.
pub(crate) fn record_poll(
    conn: &mut DbConnection,
    device_code_hash: &str,
    poll_interval: i64,
    now: i64,
) -> Result<(), StoreError> {
    diesel::update(device_authorizations::table.find(device_code_hash))
        .set((
            device_authorizations::last_polled_at.eq(now),
            device_authorizations::poll_interval.eq(poll_interval),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks an approved request as having given its tokens; false when it already had (or was
/// not approved): the one update decides, so the tokens go out once.
pub(crate) fn mark_issued(conn: &mut DbConnection, device_code_hash: &str) -> Result<bool, StoreError> {
    let updated = diesel::update(
        device_authorizations::table
            .find(device_code_hash)
            .filter(device_authorizations::status.eq(APPROVED)),
    )
    .set(device_authorizations::status.eq(ISSUED))
    .execute(conn)?;
    Ok(updated == 1)
}

/// A device signed in through the device grant, as the account page lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SignedInDevice {
    pub sid: String,
    pub client_name: String,
    pub signed_in_at: i64,
    pub last_active_at: i64,
}

/// The person's devices signed in through the device grant and still holding a live refresh
/// token or access token, most recently active first.
pub(crate) fn list_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Vec<SignedInDevice>, StoreError> {
    let live: Vec<(String, String, i64)> = refresh_tokens::table
        .inner_join(clients::table.on(clients::client_id.eq(refresh_tokens::client_id)))
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::sid.like(format!("{DEVICE_SID_PREFIX}%")))
        .filter(refresh_tokens::revoked_at.is_null())
        .filter(refresh_tokens::rotated_at.is_null())
        .filter(refresh_tokens::expires_at.gt(now))
        .select((refresh_tokens::sid, clients::name, refresh_tokens::created_at))
        .load(conn)?;
    // A device signed in when its first token was issued, not when the phone that approved
    // it did.
    let first_issued: HashMap<String, Option<i64>> = refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::sid.like(format!("{DEVICE_SID_PREFIX}%")))
        .group_by(refresh_tokens::sid)
        .select((refresh_tokens::sid, diesel::dsl::min(refresh_tokens::created_at)))
        .load::<(String, Option<i64>)>(conn)?
        .into_iter()
        .collect();
    let mut devices: HashMap<String, SignedInDevice> = live
        .into_iter()
        .map(|(sid, client_name, last_active_at)| {
            let device = SignedInDevice {
                signed_in_at: first_issued
                    .get(&sid)
                    .copied()
                    .flatten()
                    .unwrap_or(last_active_at),
                sid: sid.clone(),
                client_name,
                last_active_at,
            };
            (sid, device)
        })
        .collect();
    // A device signed in without `offline_access` holds only access tokens.
    for (sid, client_name, issued_at) in issued_tokens::live_sign_ins(conn, user_id, DEVICE_SID_PREFIX, now)?
    {
        let device = devices.entry(sid.clone()).or_insert(SignedInDevice {
            sid,
            client_name,
            signed_in_at: issued_at,
            last_active_at: issued_at,
        });
        device.signed_in_at = device.signed_in_at.min(issued_at);
        device.last_active_at = device.last_active_at.max(issued_at);
    }
    let mut devices: Vec<SignedInDevice> = devices.into_values().collect();
    devices.sort_by(|a, b| {
        b.last_active_at
            .cmp(&a.last_active_at)
            .then_with(|| a.sid.cmp(&b.sid))
    });
    Ok(devices)
}

/// Whether `sid` is one of the person's device sign-ins.
pub(crate) fn owns_device(
    conn: &mut DbConnection,
    user_id: &str,
    sid: &str,
    now: i64,
) -> Result<bool, StoreError> {
    if !sid.starts_with(DEVICE_SID_PREFIX) {
        return Ok(false);
    }
    let with_refresh_token: i64 = refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::sid.eq(sid))
        .count()
        .get_result(conn)?;
    Ok(with_refresh_token > 0 || issued_tokens::holds_live(conn, user_id, sid, now)?)
}
