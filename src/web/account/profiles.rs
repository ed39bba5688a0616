//! The account page's profiles: add, rename, set maturity, set or clear a PIN, delete. A
//! rename alone is always allowed; anything else decides what a profile may watch or who may
//! use it, so it needs a recent sign-in, like other credential changes
//! ([`credential_change_refused`]). The rules are the domain's ([`profiles`]), the same the
//! admin API calls.

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};

use crate::domain::entitlements::manage::Actor;
use crate::domain::identity::session::SignedIn;
use crate::domain::oauth::parameters::Parameters;
use crate::domain::profiles::{self, PinChange, ProfileError, ProfileInput};
use crate::foundation::i18n::Locale;
use crate::foundation::store::profiles::{self as store, Profile};
use crate::foundation::store::{DbConnection, StoreError};
use crate::web::account::{credential_change_refused, form_author};
use crate::web::extractors::PageForm;
use crate::web::i18n::Words;
use crate::web::pages::{self, PageError};
use crate::web::paths;
use crate::web::state::AppState;

/// A profile as pages show it (the account page, the dashboard, "Who's watching?"): never its
/// PIN hash, only whether it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProfileListing {
    pub id: String,
    pub name: String,
    pub initial: String,
    pub color: usize,
    pub maturity: String,
    pub kids: bool,
    pub has_pin: bool,
}

impl From<Profile> for ProfileListing {
    fn from(profile: Profile) -> Self {
        Self {
            initial: profile.name.chars().next().map(String::from).unwrap_or_default(),
            color: profiles::color_index(&profile.color),
            has_pin: profile.pin_hash.is_some(),
            id: profile.id,
            name: profile.name,
            maturity: profile.maturity,
            kids: profile.kids,
        }
    }
}

impl ProfileListing {
    pub(crate) fn is_rated(&self, maturity: &str) -> bool {
        self.maturity == maturity
    }

    /// The profile's maturity ceiling in words of `locale`.
    pub(crate) fn rating(&self, locale: Locale) -> String {
        maturity_label(&self.maturity, locale)
    }
}

/// What a maturity ceiling means, in words of `locale`.
fn maturity_label(maturity: &str, locale: Locale) -> String {
    match maturity {
        "all" => locale.get("rating-all"),
        age => locale.with("rating-up-to", "rating", &format!("{age}+")),
    }
}

/// The account's profiles, oldest first.
pub(crate) fn list(conn: &mut DbConnection, user_id: &str) -> Result<Vec<ProfileListing>, StoreError> {
    Ok(store::of_user(conn, user_id)?
        .into_iter()
        .map(ProfileListing::from)
        .collect())
}

/// The person changing their own profiles, as the audit log names them.
fn actor(signed_in: &SignedIn) -> Actor {
    Actor::person(&signed_in.user.id)
}

/// The maturity ceilings a profile may have, with their words in `locale`, for the page's
/// choices.
pub(crate) fn maturity_choices(locale: Locale) -> Vec<(&'static str, String)> {
    profiles::MATURITIES
        .iter()
        .map(|maturity| (*maturity, maturity_label(maturity, locale)))
        .collect()
}

/// The profile fields of a posted form. A typed `pin` sets the PIN; `pin_action=clear`
/// removes it; otherwise it stays as it is.
fn input(form: &PageForm) -> ProfileInput {
    let typed_pin = form.get("pin").filter(|pin| !pin.is_empty());
    let pin = match (form.get("pin_action"), typed_pin) {
        (Some("clear"), _) => PinChange::Clear,
        (_, Some(pin)) => PinChange::Set(pin.to_owned()),
        _ => PinChange::Keep,
    };
    ProfileInput {
        name: form.get("name").unwrap_or_default().to_owned(),
        maturity: form.get("maturity").map(str::to_owned),
        kids: form.get("kids") == Some("on"),
        pin,
    }
}

fn refused(error: ProfileError) -> PageError {
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    match error {
        ProfileError::Invalid { field, .. } => PageError::said(
            status,
            "check-the-profile",
            match field {
                "pin" => Words::Message("profile-pin-invalid"),
                "maturity" => Words::Message("profile-rating-invalid"),
                _ => Words::Count("profile-name-invalid", profiles::MAX_NAME_CHARS.into()),
            },
        ),
        ProfileError::LimitReached(max) => PageError::said(
            status,
            "no-room-for-profile",
            Words::Count("profiles-all-taken", max.into()),
        ),
        ProfileError::NotFound(_) => PageError::said(
            StatusCode::NOT_FOUND,
            "profile-deleted-meanwhile",
            Words::Message("profile-deleted-meanwhile-lead"),
        ),
        ProfileError::Busy => PageError::busy(),
        ProfileError::Store(error) => error.into(),
    }
}

/// `POST /account/profiles`: adds a profile.
pub(crate) async fn add(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    if let Some(refusal) = credential_change_refused(&state, &signed_in).await? {
        return Err(refusal);
    }
    let input = input(&form);
    profiles::create(&state.core, &actor(&signed_in), &signed_in.user.id, input)
        .await
        .map_err(refused)?;
    Ok(pages::see_other("/account?done=profile-added#profiles"))
}

/// `POST /account/profiles/update`: renames a profile, or changes its maturity, kids flag or
/// PIN (those after a recent sign-in).
pub(crate) async fn update(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let profile_id = form.require("profile_id")?.to_owned();
    let input = input(&form);
    let (owner, id) = (signed_in.user.id.clone(), profile_id.clone());
    let Some(current) = state
        .store
        .run(move |conn| store::find(conn, &owner, &id))
        .await?
    else {
        return Err(refused(ProfileError::NotFound("profile")));
    };
    let rename_only = input.pin == PinChange::Keep
        && input.kids == current.kids
        && input.maturity.as_deref().unwrap_or("all") == current.maturity;
    if !rename_only && let Some(refusal) = credential_change_refused(&state, &signed_in).await? {
        return Err(refusal);
    }
    profiles::update(
        &state.core,
        &actor(&signed_in),
        &signed_in.user.id,
        &profile_id,
        input,
    )
    .await
    .map_err(refused)?;
    Ok(pages::see_other("/account?done=profile-saved#profiles"))
}

/// `POST /account/profiles/delete`, after a recent sign-in.
pub(crate) async fn delete(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    if let Some(refusal) = credential_change_refused(&state, &signed_in).await? {
        return Err(refusal);
    }
    let profile_id = form.require("profile_id")?;
    profiles::delete(&state.core, &actor(&signed_in), &signed_in.user.id, profile_id)
        .await
        .map_err(refused)?;
    Ok(pages::see_other("/account?done=profile-deleted#profiles"))
}
