//! "Who's watching?": the page that chooses a profile for a sign-in, and the PIN page for a
//! profile that has one. Shared by the authorization endpoint (the app on this browser) and
//! the device verification pages (the phone choosing for a TV); each names where the choice is
//! posted and what travels with it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::profiles::{self, Locked};
use crate::foundation::store::profiles::Profile;
use crate::web::account::profiles::ProfileListing;
use crate::web::csrf;
use crate::web::login::pages::with_csrf_cookie;
use crate::web::pages::{self, PageError};
use crate::web::state::AppState;

/// Where a choice goes, the fields that travel with it, and the way back to the picker.
pub(crate) struct ChoiceForm {
    pub action: &'static str,
    pub carried: Vec<(&'static str, String)>,
    pub back: String,
}

#[derive(Template)]
#[template(path = "profile_picker.html")]
struct PickerPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    csrf: String,
    form: ChoiceForm,
    profiles: Vec<ProfileListing>,
    /// Why the choice was refused, as a message id.
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "profile_pin.html")]
struct PinPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    csrf: String,
    form: ChoiceForm,
    profile: ProfileListing,
    error: Option<String>,
}

/// The "Who's watching?" page.
pub(crate) fn picker(
    state: &AppState,
    request: &HttpRequest,
    form: ChoiceForm,
    profiles: &[Profile],
    status: StatusCode,
    error: Option<&'static str>,
) -> Result<HttpResponse, PageError> {
    let token = csrf::token(state, request);
    let page = PickerPage {
        t: crate::web::i18n::page(state, request),
        csrf: token.token.clone(),
        form,
        profiles: profiles.iter().cloned().map(ProfileListing::from).collect(),
        error,
    };
    with_csrf_cookie(pages::render(status, &page)?, token)
}

/// Why a PIN did not unlock its profile.
enum PinRefused {
    Wrong,
    /// Too many wrong PINs: the next try waits this many seconds.
    Throttled(i64),
}

fn pin_page(
    state: &AppState,
    request: &HttpRequest,
    form: ChoiceForm,
    profile: &Profile,
    status: StatusCode,
    refused: Option<PinRefused>,
) -> Result<HttpResponse, PageError> {
    let token = csrf::token(state, request);
    let t = crate::web::i18n::page(state, request);
    let error = refused.map(|refused| match refused {
        PinRefused::Wrong => t.get("pin-wrong"),
        PinRefused::Throttled(retry_after) => t.count("pin-throttled", ((retry_after + 59) / 60).max(1)),
    });
    let page = PinPage {
        t,
        csrf: token.token.clone(),
        form,
        profile: ProfileListing::from(profile.clone()),
        error,
    };
    with_csrf_cookie(pages::render(status, &page)?, token)
}

/// The page for a choice that did not unlock its profile: the PIN page (asking, or saying why
/// the PIN was refused), or the picker again when the profile is gone.
pub(crate) async fn locked(
    state: &AppState,
    request: &HttpRequest,
    form: ChoiceForm,
    user_id: &str,
    locked: Locked,
) -> Result<HttpResponse, PageError> {
    match locked {
        Locked::PinNeeded(profile) => pin_page(state, request, form, &profile, StatusCode::OK, None),
        Locked::WrongPin(profile) => pin_page(
            state,
            request,
            form,
            &profile,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(PinRefused::Wrong),
        ),
        Locked::Throttled { profile, retry_after } => pin_page(
            state,
            request,
            form,
            &profile,
            StatusCode::TOO_MANY_REQUESTS,
            Some(PinRefused::Throttled(retry_after)),
        ),
        Locked::Unknown => {
            let choices = match profiles::needed(state, user_id).await? {
                profiles::Needed::Choice(choices) => choices,
                profiles::Needed::Only(profile) => vec![profile],
                profiles::Needed::Nothing => Vec::new(),
            };
            picker(
                state,
                request,
                form,
                &choices,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("profile-gone"),
            )
        }
    }
}
