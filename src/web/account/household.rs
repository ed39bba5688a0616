//! The account page's family section (households, docs/profiles-households.md): a holder
//! lists their members and open invitations, invites by email, removes a member and cancels
//! an invitation; a member sees whose family they are in and can leave. The rules live in
//! [`crate::domain::households`].

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};

use crate::domain::entitlements::manage::Actor;
use crate::domain::households::{
    self, Household, HouseholdError, InvalidInvitee, InviteRefusal, JoinRefusal, Joining,
};
use crate::domain::identity::links;
use crate::domain::oauth::parameters::Parameters;
use crate::foundation::store::{DbConnection, StoreError};
use crate::foundation::time::Dates;
use crate::web::account::form_author;
use crate::web::client_address;
use crate::web::extractors::PageForm;
use crate::web::i18n::Words;
use crate::web::pages::{self, PageError};
use crate::web::paths;
use crate::web::state::AppState;

/// The family section of the account page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FamilySection {
    /// The person is in someone else's family.
    Member { holder: String },
    /// The person's plan offers a family, or they have one.
    Holder {
        places: i32,
        members: Vec<MemberRow>,
        invitations: Vec<InvitationRow>,
        /// A place is free for another invitation.
        can_invite: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub joined: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InvitationRow {
    pub id: String,
    pub email: String,
    pub expires: String,
}

/// What the family section shows `user_id`; `None` when they are in no family and their plan
/// offers none.
pub(crate) fn section(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
    dates: &Dates,
) -> Result<Option<FamilySection>, StoreError> {
    let Some(household) = households::household_of(conn, user_id, now)? else {
        return Ok(None);
    };
    Ok(Some(described(household, user_id, dates)))
}

fn described(household: Household, user_id: &str, dates: &Dates) -> FamilySection {
    if household.holder_id != user_id {
        return FamilySection::Member {
            holder: household.holder_name.unwrap_or(household.holder_email),
        };
    }
    let taken = household.members.len() + household.invitations.len();
    FamilySection::Holder {
        places: household.max_members,
        can_invite: taken < usize::try_from(household.max_members).unwrap_or(0),
        members: household
            .members
            .into_iter()
            .map(|member| MemberRow {
                user_id: member.user_id,
                email: member.email,
                joined: dates.show(member.joined_at),
            })
            .collect(),
        invitations: household
            .invitations
            .into_iter()
            .map(|invitation| InvitationRow {
                id: invitation.id,
                email: invitation.email,
                expires: dates.show(invitation.expires_at),
            })
            .collect(),
    }
}

/// The account page notice (`done`) that tells what using an invitation did.
pub(crate) fn joining_notice(joining: &Joining) -> &'static str {
    match joining {
        Joining::Joined => "family-joined",
        Joining::AlreadyMember => "family-already",
        Joining::Refused(JoinRefusal::Full) => "family-full",
        Joining::Refused(JoinRefusal::InAnotherFamily) => "family-other",
        Joining::Refused(JoinRefusal::HoldsFamily) => "family-holder",
        Joining::Refused(JoinRefusal::OwnFamily | JoinRefusal::NoLongerOffered) => "family-closed",
    }
}

/// The line confirming a family action, or explaining an invitation that did not join.
pub(crate) fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "family-joined" => "notice-family-joined",
        "family-already" => "notice-family-already",
        "family-full" => "notice-family-full",
        "family-other" => "notice-family-other",
        "family-holder" => "notice-family-holder",
        "family-closed" => "notice-family-closed",
        "family-invited" => "notice-family-invited",
        "family-removed" => "notice-family-removed",
        "family-cancelled" => "notice-family-cancelled",
        "family-left" => "notice-family-left",
        _ => return None,
    })
}

fn refused(error: HouseholdError) -> PageError {
    match error {
        HouseholdError::Invalid(why) => PageError::said(
            StatusCode::UNPROCESSABLE_ENTITY,
            "check-the-address",
            Words::Message(match why {
                InvalidInvitee::NotAnAddress => "family-not-an-address",
                InvalidInvitee::OwnAddress => "family-own-address",
                InvalidInvitee::AlreadyMember => "family-already-member",
            }),
        ),
        HouseholdError::Refused(why) => PageError::said(
            StatusCode::CONFLICT,
            "not-possible-now",
            match why {
                InviteRefusal::InAnotherFamily => Words::Message("family-in-another"),
                InviteRefusal::NoFamilyInPlan => Words::Message("family-not-in-plan"),
                InviteRefusal::AllTaken(places) => Words::Count("family-all-taken", places.into()),
            },
        ),
        HouseholdError::NotFound(_) => PageError::not_found(),
        HouseholdError::Store(error) => error.into(),
    }
}

/// `POST /account/family/invite`: the same answer whether or not the address has an account;
/// the mail goes out after it. Counted against the sign-in link limits: an invitation is a
/// sign-in link.
pub(crate) async fn invite(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let email = form.get("email").unwrap_or_default().trim().to_lowercase();
    let now = state.clock.now();
    if let Some(wait) = links::count_request(&state, &email, &client_address::of(&request), now).await? {
        return Err(PageError::said(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-invitations",
            Words::Count("invitations-throttled", (wait + 59) / 60),
        ));
    }
    // An invitee without a saved language is written to in the language of the holder's page.
    let holder_page = crate::web::i18n::locale(&state, &request, signed_in.user.locale.as_deref());
    let core = Arc::clone(&state.core);
    let invited = state
        .store
        .run(move |conn| {
            let now = core.clock.now();
            Ok::<_, StoreError>(households::invite(&core, conn, &signed_in.user.id, &email, now))
        })
        .await?
        .map_err(refused)?;
    if let Some(mail) = invited {
        match crate::foundation::mail::household_invitation(
            state.mail_voice(mail.saved_locale.as_deref(), Some(holder_page)),
            &mail.email,
            &mail.url,
            &mail.holder,
            mail.valid_days,
            mail.creates_account,
        ) {
            Ok(mail) => state.mailer.dispatch(mail),
            Err(error) => tracing::warn!(%error, "could not write the household invitation mail"),
        }
    }
    Ok(pages::see_other("/account?done=family-invited"))
}

/// `POST /account/family/remove`.
pub(crate) async fn remove_member(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let member_id = form.require("member_id")?.to_owned();
    let (core, member) = (Arc::clone(&state.core), member_id.clone());
    state
        .store
        .run(move |conn| {
            let holder_id = &signed_in.user.id;
            let actor = Actor::person(holder_id);
            Ok::<_, StoreError>(households::remove_member(
                conn,
                &actor,
                holder_id,
                &member,
                core.clock.now(),
            ))
        })
        .await?
        .map_err(refused)?;
    // This instance at once; the others when the change feed tells them.
    state.entitlements.invalidate(&member_id);
    Ok(pages::see_other("/account?done=family-removed"))
}

/// `POST /account/family/cancel`.
pub(crate) async fn cancel_invitation(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let invitation_id = form.require("invitation_id")?.to_owned();
    let core = Arc::clone(&state.core);
    state
        .store
        .run(move |conn| {
            let holder_id = &signed_in.user.id;
            let actor = Actor::person(holder_id);
            Ok::<_, StoreError>(households::cancel_invitation(
                conn,
                &actor,
                holder_id,
                &invitation_id,
                core.clock.now(),
            ))
        })
        .await?
        .map_err(refused)?;
    Ok(pages::see_other("/account?done=family-cancelled"))
}

/// `POST /account/family/leave`.
pub(crate) async fn leave(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let (core, member_id) = (Arc::clone(&state.core), signed_in.user.id.clone());
    state
        .store
        .run(move |conn| Ok::<_, StoreError>(households::leave(conn, &member_id, core.clock.now())))
        .await?
        .map_err(refused)?;
    state.entitlements.invalidate(&signed_in.user.id);
    Ok(pages::see_other("/account?done=family-left"))
}
