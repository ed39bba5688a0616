//! Profiles under an account ("Who's watching?"): a name, an avatar colour, a maturity
//! ceiling, a kids flag and an optional 4-digit PIN, stored only as an argon2id hash. The
//! account's tier caps how many (`max_profiles`). Every change is audited with who made it.

use std::sync::Arc;

use serde_json::{Value, json};

mod choosing;

pub(crate) use choosing::carried;
pub use choosing::{Locked, Needed, ProfileGone, needed, unlock};

use crate::domain::core::Core;
use crate::domain::entitlements::cache;
use crate::domain::entitlements::manage::Actor;
use crate::domain::identity::notices::{self, AccountChange};
use crate::foundation::crypto::hashing;
use crate::foundation::crypto::password_lane::LaneError;
use crate::foundation::crypto::random;
use crate::foundation::store::changes::{self, ChangeKind};
use crate::foundation::store::entitlements::{NewAuditEntry, audit};
use crate::foundation::store::profiles::{self as store, Profile};
use crate::foundation::store::transaction;
use crate::foundation::store::users::{self, User};
use crate::foundation::store::{DbConnection, StoreError};
use crate::foundation::text;

/// Maturity ceilings, lowest first: `all` is suitable for everyone, the numbers are ages.
pub const MATURITIES: [&str; 5] = ["all", "7", "13", "16", "18"];

/// Avatar colours, each dark enough behind a white initial (WCAG AA for large text).
const COLORS: [&str; 8] = [
    "#1d4ed8", "#047857", "#b91c1c", "#7c3aed", "#b45309", "#0f766e", "#be185d", "#4d7c0f",
];

/// The longest name a profile may have, in characters.
pub const MAX_NAME_CHARS: u16 = 50;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("the account already has {0} profiles, as many as its plan allows")]
    LimitReached(i32),
    #[error("no such {0}")]
    NotFound(&'static str),
    /// Too many PIN hashes under way on this instance; try again in a moment.
    #[error("too busy to set a PIN now; try again in a moment")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ProfileError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(error))
    }
}

impl From<LaneError> for ProfileError {
    fn from(error: LaneError) -> Self {
        match error {
            LaneError::Busy => Self::Busy,
            LaneError::Failed => Self::Store(StoreError::TaskCancelled),
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ProfileError {
    ProfileError::Invalid {
        field,
        message: message.into(),
    }
}

/// What a PIN becomes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PinChange {
    #[default]
    Keep,
    Clear,
    Set(String),
}

/// A profile's description as sent: `name`, `maturity` (default `all`), `kids`, and the PIN.
#[derive(Clone, Debug, Default)]
pub struct ProfileInput {
    pub name: String,
    pub maturity: Option<String>,
    pub kids: bool,
    pub pin: PinChange,
}

/// A checked description, with the PIN already hashed.
struct Checked {
    name: String,
    maturity: String,
    kids: bool,
    pin_hash: Option<Option<String>>,
}

/// Checks `input` and hashes a new PIN in the password lane (argon2 never runs on a request
/// thread or holds a database connection).
async fn check(core: &Arc<Core>, input: ProfileInput) -> Result<Checked, ProfileError> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > usize::from(MAX_NAME_CHARS) {
        return Err(invalid(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if !text::is_plain_name(&name) {
        return Err(invalid("name", text::HIDDEN_CHARACTERS));
    }
    let maturity = input.maturity.unwrap_or_else(|| "all".to_owned());
    if !MATURITIES.contains(&maturity.as_str()) {
        return Err(invalid("maturity", "must be all, 7, 13, 16 or 18"));
    }
    let pin_hash = match input.pin {
        PinChange::Keep => None,
        PinChange::Clear => Some(None),
        PinChange::Set(pin) => {
            if pin.len() != 4 || !pin.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(invalid("pin", "must be 4 digits"));
            }
            let hashed = core
                .password_lane
                .run(move || hashing::hash_password(&pin))
                .await?;
            Some(Some(
                hashed.map_err(|error| StoreError::Corrupt(error.to_string()))?,
            ))
        }
    };
    Ok(Checked {
        name,
        maturity,
        kids: input.kids,
        pin_hash,
    })
}

/// Adds a profile to the person `user_id`, within the plan's `max_profiles`.
pub async fn create(
    core: &Arc<Core>,
    actor: &Actor,
    user_id: &str,
    input: ProfileInput,
) -> Result<Profile, ProfileError> {
    let checked = check(core, input).await?;
    let max_profiles = cache::current(core, user_id).await?.entitlements.max_profiles;
    change(core, actor, user_id, move |conn, user_id, now| {
        let existing = store::of_user(conn, user_id)?;
        if existing.len() >= usize::try_from(max_profiles).unwrap_or(0) {
            return Err(ProfileError::LimitReached(max_profiles));
        }
        let profile = Profile {
            id: random::token::<16>(),
            user_id: user_id.to_owned(),
            name: checked.name,
            color: avatar_color(existing.len()).to_owned(),
            maturity: checked.maturity,
            kids: checked.kids,
            pin_hash: checked.pin_hash.flatten(),
            created_at: now,
        };
        store::insert(conn, &profile)?;
        Ok(Changed {
            action: "profile.create",
            before: None,
            after: Some(described(&profile)),
            profile,
        })
    })
    .await
}

/// Replaces a profile's name, maturity and kids flag, and its PIN as `input.pin` says.
pub async fn update(
    core: &Arc<Core>,
    actor: &Actor,
    user_id: &str,
    profile_id: &str,
    input: ProfileInput,
) -> Result<Profile, ProfileError> {
    let checked = check(core, input).await?;
    let profile_id = profile_id.to_owned();
    change(core, actor, user_id, move |conn, user_id, _| {
        let before = store::find(conn, user_id, &profile_id)?.ok_or(ProfileError::NotFound("profile"))?;
        let after = Profile {
            name: checked.name,
            maturity: checked.maturity,
            kids: checked.kids,
            pin_hash: checked.pin_hash.unwrap_or_else(|| before.pin_hash.clone()),
            ..before.clone()
        };
        store::update(conn, &after)?;
        Ok(Changed {
            action: "profile.update",
            before: Some(described(&before)),
            after: Some(described(&after)),
            profile: after,
        })
    })
    .await
}

/// Removes a profile's PIN, keeping everything else: for a family that forgot it.
pub async fn clear_pin(
    core: &Arc<Core>,
    actor: &Actor,
    user_id: &str,
    profile_id: &str,
) -> Result<Profile, ProfileError> {
    let (owner, id) = (user_id.to_owned(), profile_id.to_owned());
    let current = core
        .store
        .run(move |conn| store::find(conn, &owner, &id))
        .await?
        .ok_or(ProfileError::NotFound("profile"))?;
    let input = ProfileInput {
        name: current.name,
        maturity: Some(current.maturity),
        kids: current.kids,
        pin: PinChange::Clear,
    };
    update(core, actor, user_id, profile_id, input).await
}

/// Deletes one of the person's profiles: tokens speaking for it stop being active.
pub async fn delete(
    core: &Arc<Core>,
    actor: &Actor,
    user_id: &str,
    profile_id: &str,
) -> Result<(), ProfileError> {
    let profile_id = profile_id.to_owned();
    change(core, actor, user_id, move |conn, user_id, _| {
        let profile = store::find(conn, user_id, &profile_id)?.ok_or(ProfileError::NotFound("profile"))?;
        store::delete(conn, &profile_id)?;
        Ok(Changed {
            action: "profile.delete",
            before: Some(described(&profile)),
            after: None,
            profile,
        })
    })
    .await?;
    Ok(())
}

/// One change to a person's profiles, as the audit log keeps it and the holder is told.
struct Changed {
    action: &'static str,
    /// The profile after the change; the one deleted, for a deletion.
    profile: Profile,
    before: Option<Value>,
    after: Option<Value>,
}

impl Changed {
    fn notice(&self) -> AccountChange {
        let name = self.profile.name.clone();
        match self.action {
            "profile.create" => AccountChange::ProfileAdded { name },
            "profile.delete" => AccountChange::ProfileDeleted { name },
            _ => AccountChange::ProfileChanged { name },
        }
    }
}

/// Runs `edit` on the profiles of `user_id` in one transaction that holds the owner's lock,
/// audits what it changed, and once it committed tells this instance's introspection and the
/// holder ([`announce`]).
async fn change(
    core: &Arc<Core>,
    actor: &Actor,
    user_id: &str,
    edit: impl FnOnce(&mut DbConnection, &str, i64) -> Result<Changed, ProfileError> + Send + 'static,
) -> Result<Profile, ProfileError> {
    let (worker, actor, user_id) = (Arc::clone(core), actor.clone(), user_id.to_owned());
    let (owner, notice, profile) = core
        .store
        .run(move |conn| {
            let now = worker.clock.now();
            transaction(conn, |conn| {
                let owner = lock_owner(conn, &user_id)?;
                let changed = edit(conn, &user_id, now)?;
                let notice = changed.notice();
                record(
                    conn,
                    &actor,
                    changed.action,
                    &changed.profile,
                    changed.before,
                    changed.after,
                    now,
                )?;
                Ok::<_, ProfileError>((owner, notice, changed.profile))
            })
        })
        .await?;
    announce(core, &owner, notice);
    Ok(profile)
}

/// Locks the owner's profiles for the transaction ([`store::lock_owner`]) and returns the owner.
fn lock_owner(conn: &mut DbConnection, user_id: &str) -> Result<User, ProfileError> {
    if !store::lock_owner(conn, user_id)? {
        return Err(ProfileError::NotFound("user"));
    }
    users::find_by_id(conn, user_id)?.ok_or(ProfileError::NotFound("user"))
}

/// After a change committed: this instance's introspection sees it at once (the change feed
/// tells the others), and the account holder hears of it by mail.
fn announce(core: &Core, owner: &User, notice: AccountChange) {
    core.entitlements.invalidate(&owner.id);
    notices::credential_changed(core, owner, notice, None);
}

/// A profile as the audit log keeps it: never the PIN's hash, only whether there is one.
fn described(profile: &Profile) -> Value {
    json!({
        "id": profile.id, "name": profile.name, "maturity": profile.maturity,
        "kids": profile.kids, "has_pin": profile.pin_hash.is_some(),
    })
}

fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    profile: &Profile,
    before: Option<Value>,
    after: Option<Value>,
    now: i64,
) -> Result<(), StoreError> {
    audit(
        conn,
        &NewAuditEntry {
            at: now,
            actor: &actor.0,
            action,
            user_id: Some(&profile.user_id),
            target: &format!("profile:{}", profile.id),
            before: before.map(|before| before.to_string()),
            after: after.map(|after| after.to_string()),
        },
    )?;
    // Introspection answers with a profile's maturity as it is now, on every instance.
    changes::record(conn, ChangeKind::EntitlementsChanged, &profile.user_id, None)
}

/// The avatar colour of an account's `index`th profile (colours are given in turn).
pub fn avatar_color(index: usize) -> &'static str {
    COLORS[index % COLORS.len()]
}

/// Which of the avatar colours `color` is (pages draw avatars from classes, never inline
/// styles).
pub fn color_index(color: &str) -> usize {
    COLORS.iter().position(|known| *known == color).unwrap_or(0)
}
