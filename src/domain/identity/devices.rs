//! The devices signed in to an account, and the plan's limit on them (the `max_devices` of the
//! person's tier).
//!
//! A device is one entry of the account page's "Signed-in devices" list, and nothing else:
//! - a browser signed in (by password, passkey or sign-in link, with or without two-step
//!   sign-in): one live session. The apps signed in through that browser, with or without
//!   `offline_access`, are the same device: their refresh tokens carry the browser's session
//!   id and end with it.
//! - a TV or other device signed in through the device grant, while it holds a live refresh
//!   token or access token.
//!
//! A browser signing in again replaces its own session, so it is not a new device. A TV signing
//! in again is a new one until its old sign-in is signed out: it has nothing that names it
//! across sign-ins.

use crate::domain::entitlements::compute;
use crate::foundation::store::{DbConnection, StoreError, sessions, users};

/// What signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// A browser, named by its `User-Agent`.
    Browser { user_agent: String },
    /// A TV or other device signed in through the device grant, named by its app.
    Tv { app_name: String },
}

/// One signed-in device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedInDevice {
    /// The sign-in's public id: the session id, or the device grant's `device-…` id.
    pub sid: String,
    pub kind: DeviceKind,
    pub signed_in_at: i64,
    pub last_active_at: i64,
}

/// The person's signed-in devices at `now`, the most recently active first.
pub fn signed_in(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Vec<SignedInDevice>, StoreError> {
    let browsers = sessions::list_live_for_user(conn, user_id, now)?
        .into_iter()
        .map(|session| SignedInDevice {
            sid: session.sid,
            kind: DeviceKind::Browser {
                user_agent: session.user_agent,
            },
            signed_in_at: session.created_at,
            last_active_at: session.last_seen_at,
        });
    let tvs = crate::foundation::store::devices::list_for_user(conn, user_id, now)?
        .into_iter()
        .map(|device| SignedInDevice {
            sid: device.sid,
            kind: DeviceKind::Tv {
                app_name: device.client_name,
            },
            signed_in_at: device.signed_in_at,
            last_active_at: device.last_active_at,
        });
    let mut devices: Vec<SignedInDevice> = browsers.chain(tvs).collect();
    devices.sort_by(|a, b| {
        b.last_active_at
            .cmp(&a.last_active_at)
            .then_with(|| a.sid.cmp(&b.sid))
    });
    Ok(devices)
}

/// The account has no device to spare: its plan allows `max_devices`, and these are signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceLimitReached {
    pub max_devices: u32,
    pub devices: Vec<SignedInDevice>,
}

/// Whether one more device may sign in to the account of `user_id` at `now`, by its tier's
/// `max_devices`: a person without a tier, or whose tier sets none, has no limit. `replacing`
/// is the sign-in the new one takes the place of (this browser's own session, when it is the
/// same person's), which does not count. Only looks: [`admit`] decides.
pub fn may_sign_in(
    conn: &mut DbConnection,
    user_id: &str,
    replacing: Option<&str>,
    now: i64,
) -> Result<Result<(), DeviceLimitReached>, StoreError> {
    let Some(max_devices) = compute(conn, user_id, now)?.max_devices else {
        return Ok(Ok(()));
    };
    let max_devices = u32::try_from(max_devices).unwrap_or(0);
    let devices: Vec<SignedInDevice> = signed_in(conn, user_id, now)?
        .into_iter()
        .filter(|device| Some(device.sid.as_str()) != replacing)
        .collect();
    if devices.len() < usize::try_from(max_devices).unwrap_or(usize::MAX) {
        return Ok(Ok(()));
    }
    Ok(Err(DeviceLimitReached { max_devices, devices }))
}

/// [`may_sign_in`], deciding: call it first in the transaction that signs the device in. It
/// locks the person's sign-ins until that transaction ends, so two devices cannot both take
/// the last free slot.
pub fn admit(
    conn: &mut DbConnection,
    user_id: &str,
    replacing: Option<&str>,
    now: i64,
) -> Result<Result<(), DeviceLimitReached>, StoreError> {
    users::lock_for_sign_in(conn, user_id)?;
    may_sign_in(conn, user_id, replacing, now)
}
