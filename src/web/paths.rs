//! The paths of the web layer's own pages and endpoints, in one place. Paths the domain
//! publishes or mails are the domain's: the OAuth endpoints in `domain::oauth::metadata`, the
//! device flow's in `domain::oauth::device`, sign-in links and the passkey offer in
//! `domain::identity`.

pub(crate) const ACCOUNT: &str = "/account";
pub(crate) const ACCOUNT_APPS_REVOKE: &str = "/account/apps/revoke";
pub(crate) const ACCOUNT_FAMILY_CANCEL: &str = "/account/family/cancel";
pub(crate) const ACCOUNT_FAMILY_INVITE: &str = "/account/family/invite";
pub(crate) const ACCOUNT_FAMILY_LEAVE: &str = "/account/family/leave";
pub(crate) const ACCOUNT_FAMILY_REMOVE: &str = "/account/family/remove";
pub(crate) const ACCOUNT_PASSKEYS: &str = "/account/passkeys";
pub(crate) const ACCOUNT_PASSKEYS_OPTIONS: &str = "/account/passkeys/options";
pub(crate) const ACCOUNT_PASSKEYS_REMOVE: &str = "/account/passkeys/remove";
pub(crate) const ACCOUNT_PASSWORD: &str = "/account/password";
pub(crate) const ACCOUNT_PROFILE: &str = "/account/profile";
pub(crate) const ACCOUNT_PROFILES: &str = "/account/profiles";
pub(crate) const ACCOUNT_PROFILES_DELETE: &str = "/account/profiles/delete";
pub(crate) const ACCOUNT_PROFILES_UPDATE: &str = "/account/profiles/update";
pub(crate) const ACCOUNT_SESSIONS_END: &str = "/account/sessions/end";
pub(crate) const ACCOUNT_SESSIONS_END_ALL: &str = "/account/sessions/end-all";
pub(crate) const ACCOUNT_STREAMS_STOP: &str = "/account/streams/stop";
pub(crate) const ACCOUNT_TIME_ZONE: &str = "/account/time-zone";
pub(crate) const ACCOUNT_TIME_ZONE_BROWSER: &str = "/account/time-zone/browser";
pub(crate) const ACCOUNT_TOTP: &str = "/account/totp";
pub(crate) const ACCOUNT_TOTP_CONFIRM: &str = "/account/totp/confirm";
pub(crate) const ACCOUNT_TOTP_DISABLE: &str = "/account/totp/disable";
pub(crate) const ACCOUNT_TOTP_RECOVERY_CODES: &str = "/account/totp/recovery-codes";
pub(crate) const ACCOUNT_TOTP_START: &str = "/account/totp/start";
pub(crate) const ADMIN_API: &str = "/admin/api/v1";
pub(crate) const AUTHORIZATION_SERVER_METADATA: &str = "/.well-known/oauth-authorization-server";
/// The language selector's links (`web::i18n`).
pub(crate) const LANGUAGE: &str = "/language";
/// The brand's logo lives under it (`web::brand`).
pub(crate) const BRAND: &str = "/brand";
pub(crate) const CHOOSE_PROFILE: &str = "/oauth/profile";
pub(crate) const CONSENT: &str = "/oauth/consent";
pub(crate) const DASHBOARD: &str = "/admin";
pub(crate) const DEVICE_DECISION: &str = "/device/decision";
pub(crate) const DEVICE_DEVICES_END: &str = "/device/devices/end";
pub(crate) const DEVICE_PROFILE: &str = "/device/profile";
pub(crate) const HEALTHZ: &str = "/healthz";
pub(crate) const HOME: &str = "/";
pub(crate) const LOGIN: &str = "/login";
pub(crate) const LOGIN_CODE: &str = "/login/code";
pub(crate) const LOGIN_DEVICES: &str = "/login/devices";
pub(crate) const LOGIN_DEVICES_END: &str = "/login/devices/end";
pub(crate) const LOGIN_LINK: &str = "/login/link";
pub(crate) const LOGIN_PASSKEY: &str = "/login/passkey";
pub(crate) const LOGIN_PASSKEY_OPTIONS: &str = "/login/passkey/options";
pub(crate) const LOGOUT: &str = "/logout";
pub(crate) const METRICS: &str = "/metrics";
pub(crate) const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
pub(crate) const PASSKEYS_SCRIPT: &str = "/assets/passkeys.js";
pub(crate) const READYZ: &str = "/readyz";
pub(crate) const SIGNUP: &str = "/signup";
pub(crate) const TIME_ZONE_SCRIPT: &str = "/assets/time-zone.js";
