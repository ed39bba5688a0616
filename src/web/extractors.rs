//! What handlers take instead of repeating the same preamble: a posted page form whose CSRF
//! token was checked, the person a page is shown to, and the administrator the dashboard lets
//! in.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};

use crate::domain::identity::session::SignedIn;
use crate::web::csrf;
use crate::web::dashboard::{self, Admin, Refusal};
use crate::web::form::Form;
use crate::web::pages::PageError;
use crate::web::session_cookie;
use crate::web::state::AppState;

/// What an extractor of ours returns: its value, once the request has been looked at.
pub(crate) type Extracted<T, E> = Pin<Box<dyn Future<Output = Result<T, E>>>>;

/// A posted page form whose CSRF field is the token of the browser posting it. Taking one is
/// the only way a page handler gets its form, so none can skip the check, and the check comes
/// before anything else: a forged post learns nothing, not even whether anyone is signed in.
pub(crate) struct PageForm(Form<'static>);

impl Deref for PageForm {
    type Target = Form<'static>;

    fn deref(&self) -> &Form<'static> {
        &self.0
    }
}

impl FromRequest for PageForm {
    type Error = PageError;
    type Future = Extracted<Self, PageError>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Bytes::from_request(request, payload);
        let request = request.clone();
        Box::pin(async move {
            let body = body.await;
            let form = Form::parse(&request, &body)?.into_owned();
            let state = app_state(&request)?;
            csrf::verify(&state, &request, form.get(csrf::FIELD))?;
            Ok(Self(form))
        })
    }
}

/// The person behind a request's session cookie, if anyone, for a page shown on a GET. A
/// posted form learns its author after its CSRF check instead (`account::form_author`).
pub(crate) struct Visitor(pub Option<SignedIn>);

impl FromRequest for Visitor {
    type Error = PageError;
    type Future = Extracted<Self, PageError>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let state = app_state(&request)?;
            Ok(Self(session_cookie::current(&state, &request).await?))
        })
    }
}

fn app_state(request: &HttpRequest) -> Result<Arc<AppState>, PageError> {
    AppState::of(request).ok_or_else(|| PageError::internal(&"the application state is missing"))
}

/// An administrator the dashboard lets in ([`dashboard::gate`]); anyone else is sent to sign
/// in or shown why not.
impl FromRequest for Admin {
    type Error = Refusal;
    type Future = Extracted<Self, Refusal>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let state = app_state(&request)?;
            dashboard::gate(&state, &request, false).await
        })
    }
}

/// A dashboard form: its CSRF token checked first, then the administrator let in.
pub(crate) struct AdminForm {
    pub admin: Admin,
    pub form: PageForm,
}

impl FromRequest for AdminForm {
    type Error = Refusal;
    type Future = Extracted<Self, Refusal>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = PageForm::from_request(request, payload);
        let request = request.clone();
        Box::pin(async move {
            let form = form.await?;
            let state = app_state(&request)?;
            let admin = dashboard::gate(&state, &request, true).await?;
            Ok(Self { admin, form })
        })
    }
}
