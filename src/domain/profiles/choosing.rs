//! "Who's watching?": which of an account's profiles a sign-in speaks for, and unlocking a
//! profile that has a PIN. Wrong PINs are counted per profile in the database, so guessing
//! from several devices or instances shares one budget (`profile_pin_failures`).

use std::sync::Arc;

use crate::domain::core::Core;
use crate::domain::entitlements::ProfileCeiling;
use crate::foundation::crypto::hashing;
use crate::foundation::crypto::password_lane::LaneError;
use crate::foundation::store::profiles::{self as store, Profile};
use crate::foundation::store::{DbConnection, StoreError};

/// What a sign-in with scope `profiles` needs before its tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Needed {
    /// The account has no profiles: tokens speak for the account alone.
    Nothing,
    /// One profile without a PIN: nothing to ask.
    Only(Profile),
    /// Several profiles, or one behind a PIN: the person chooses.
    Choice(Vec<Profile>),
}

/// What choosing a profile for the person's sign-in needs now.
pub async fn needed(core: &Core, user_id: &str) -> Result<Needed, StoreError> {
    let user_id = user_id.to_owned();
    let mut profiles = core.store.run(move |conn| store::of_user(conn, &user_id)).await?;
    Ok(match profiles.len() {
        0 => Needed::Nothing,
        1 if profiles[0].pin_hash.is_none() => Needed::Only(profiles.remove(0)),
        _ => Needed::Choice(profiles),
    })
}

/// Why a chosen profile is not unlocked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Locked {
    /// The profile has a PIN and none was given.
    PinNeeded(Profile),
    WrongPin(Profile),
    /// Too many wrong PINs for this profile lately: the seconds until it may be tried again.
    Throttled {
        profile: Profile,
        retry_after: i64,
    },
    /// Not one of the account's profiles (deleted meanwhile, or never theirs).
    Unknown,
}

/// Chooses the profile `profile_id` of the account `user_id`, checking `pin` when the profile
/// has one: the profile, unlocked, or why not. A PIN is counted before it is checked and
/// taken back when right; the check runs in the password lane, never on a request thread.
pub async fn unlock(
    core: &Arc<Core>,
    user_id: &str,
    profile_id: &str,
    pin: Option<&str>,
) -> Result<Result<Profile, Locked>, StoreError> {
    let (owner, id) = (user_id.to_owned(), profile_id.to_owned());
    let Some(profile) = core.store.run(move |conn| store::find(conn, &owner, &id)).await? else {
        return Ok(Err(Locked::Unknown));
    };
    let Some(pin_hash) = profile.pin_hash.clone() else {
        return Ok(Ok(profile));
    };
    let Some(pin) = pin.filter(|pin| !pin.is_empty()) else {
        return Ok(Err(Locked::PinNeeded(profile)));
    };
    let now = core.clock.now();
    let key = format!("profile-pin:{}", profile.id);
    let limits = &core.login_throttle;
    if let Some(retry_after) = limits
        .count_attempt(&core.store, &key, core.config.profile_pin_failures, now)
        .await?
    {
        return Ok(Err(Locked::Throttled { profile, retry_after }));
    }
    let pin = pin.to_owned();
    let right = core
        .password_lane
        .run(move || hashing::verify_password(&pin, &pin_hash))
        .await
        .map_err(|error| match error {
            LaneError::Busy => StoreError::Unavailable("too many PIN checks under way".into()),
            LaneError::Failed => StoreError::TaskCancelled,
        })?;
    if !right {
        return Ok(Err(Locked::WrongPin(profile)));
    }
    limits.take_back(&core.store, &key, now).await?;
    Ok(Ok(profile))
}

/// The profile chosen for a grant was deleted before its tokens were issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileGone;

/// The profile `profile_id` of `user_id` as tokens carry it, read in the grant's transaction:
/// `Ok(None)` when no profile was chosen.
pub(crate) fn carried(
    conn: &mut DbConnection,
    user_id: &str,
    profile_id: Option<&str>,
) -> Result<Result<Option<ProfileCeiling>, ProfileGone>, StoreError> {
    let Some(profile_id) = profile_id else {
        return Ok(Ok(None));
    };
    Ok(match store::find(conn, user_id, profile_id)? {
        Some(profile) => Ok(Some(ProfileCeiling {
            id: profile.id,
            maturity: profile.maturity,
        })),
        None => Err(ProfileGone),
    })
}
