//! Households (family plans): a person whose tier allows members (`max_members`) invites
//! people by email; the invitation is a sign-in link that, used, signs the invitee in (creating
//! their account for a new address) and makes them a member. A member keeps their own
//! credentials and profiles, and shares the holder's tier while they have none of their own,
//! and the holder's products marked `household` ([`crate::domain::entitlements::compute`]).
//!
//! The rules: one person is in at most one household, and a holder is in nobody else's; the
//! members and the open invitations together fit in the holder's `max_members`; an invitation
//! works once and until `household_invitation_ttl_secs`; inviting answers the same whether or
//! not the address has an account (only the mail differs). Every change is audited, and each
//! change of membership bumps the member's entitlement version, is announced on the change
//! feed (every instance drops the member's cached entitlements) and to webhook receivers.

use serde_json::{Value, json};

use crate::domain::core::Core;
use crate::domain::entitlements::compute;
use crate::domain::entitlements::manage::Actor;
use crate::domain::identity::links::CONTINUE_PATH;
use crate::domain::identity::users::normalize_email;
use crate::domain::webhooks::{self, Notice};
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::changes::{self, ChangeKind};
use crate::foundation::store::entitlements::{self as entitlements_store, NewAuditEntry, audit};
use crate::foundation::store::households::{self as store, Invitation, Membership};
use crate::foundation::store::links::{self as links_store, SignInLink};
use crate::foundation::store::transaction;
use crate::foundation::store::users::{self, User};
use crate::foundation::store::{DbConnection, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum HouseholdError {
    /// The invited address cannot be invited.
    #[error("email: {0}")]
    Invalid(InvalidInvitee),
    /// The rules do not allow it now: the plan has no household, it is full, the person is
    /// in another household.
    #[error("{0}")]
    Refused(InviteRefusal),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for HouseholdError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(error))
    }
}

/// Why an address cannot be invited (the field named is `email`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInvitee {
    #[error("must be an email address")]
    NotAnAddress,
    #[error("is your own address")]
    OwnAddress,
    #[error("is already in your family")]
    AlreadyMember,
}

/// Why the holder cannot invite anyone now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InviteRefusal {
    #[error("you are in someone else's family: leave it before inviting people into yours")]
    InAnotherFamily,
    #[error("your plan does not include a family")]
    NoFamilyInPlan,
    #[error(
        "your family has {0} places, all taken or offered: cancel an invitation or remove a member first"
    )]
    AllTaken(i32),
}

/// The invitation mail to send: a sign-in link to the invitee's address.
#[derive(Debug)]
pub struct InvitationMail {
    pub email: String,
    pub url: String,
    /// Using the link creates the account.
    pub creates_account: bool,
    /// Who invites, as the mail names them: their name, else their address.
    pub holder: String,
    pub valid_days: i64,
    /// The language saved on the invitee's account, which the mail speaks.
    pub saved_locale: Option<String>,
}

/// Holds every other change to `holder_id`'s household until this transaction ends (the
/// holder's row is written first); the holder, or `None` when there is no such person.
fn lock_holder(conn: &mut DbConnection, holder_id: &str) -> Result<Option<User>, StoreError> {
    if !crate::foundation::store::profiles::lock_owner(conn, holder_id)? {
        return Ok(None);
    }
    users::find_by_id(conn, holder_id)
}

/// Invites `raw_email` into the household of `holder_id`. The members and open invitations
/// must stay within the plan's `max_members`; an open invitation to the same address is
/// replaced (its link stops working). The answer is the same whether or not the address has
/// an account, so an invitation tells the holder nothing about it; the mail (`None` for a
/// disabled account) goes out after the answer.
pub fn invite(
    core: &Core,
    conn: &mut DbConnection,
    holder_id: &str,
    raw_email: &str,
    now: i64,
) -> Result<Option<InvitationMail>, HouseholdError> {
    let email =
        normalize_email(raw_email).map_err(|_| HouseholdError::Invalid(InvalidInvitee::NotAnAddress))?;
    let ttl = core.config.household_invitation_ttl_secs;
    transaction(conn, |conn| {
        let holder = lock_holder(conn, holder_id)?.ok_or(HouseholdError::NotFound("user"))?;
        if store::holder_of(conn, holder_id)?.is_some() {
            return Err(HouseholdError::Refused(InviteRefusal::InAnotherFamily));
        }
        let max_members = compute(conn, holder_id, now)?.max_members;
        if max_members == 0 {
            return Err(HouseholdError::Refused(InviteRefusal::NoFamilyInPlan));
        }
        if email == holder.email {
            return Err(HouseholdError::Invalid(InvalidInvitee::OwnAddress));
        }
        let members = store::members_of(conn, holder_id)?;
        if members.iter().any(|(_, member_email)| *member_email == email) {
            return Err(HouseholdError::Invalid(InvalidInvitee::AlreadyMember));
        }
        let pending = store::pending_invitations(conn, holder_id, now)?;
        let replaced = pending.iter().find(|invitation| invitation.email == email);
        let taken = members.len() + pending.len() - usize::from(replaced.is_some());
        if taken >= usize::try_from(max_members).unwrap_or(0) {
            return Err(HouseholdError::Refused(InviteRefusal::AllTaken(max_members)));
        }
        if let Some(old) = replaced {
            store::delete_invitation(conn, &old.id)?;
            links_store::delete_link(conn, &old.link_hash)?;
        }
        let invitee = users::find_by_email(conn, &email)?;
        let token = random::token::<32>();
        let link_hash = hashing::sha256_hex(token.as_bytes());
        links_store::insert_link(
            conn,
            &SignInLink {
                token_hash: link_hash.clone(),
                email: email.clone(),
                user_id: invitee.as_ref().map(|user| user.id.clone()),
                carried_request: String::new(),
                created_at: now,
                expires_at: now + ttl,
                used_at: None,
            },
        )?;
        let invitation = Invitation {
            id: random::token::<16>(),
            holder_id: holder_id.to_owned(),
            email: email.clone(),
            link_hash,
            created_at: now,
            expires_at: now + ttl,
        };
        store::insert_invitation(conn, &invitation)?;
        audit_change(
            conn,
            &Actor::person(holder_id),
            "household.invite",
            holder_id,
            &format!("household-invitation:{}", invitation.id),
            None,
            Some(invitation_json(&invitation)),
            now,
        )?;
        if invitee.as_ref().is_some_and(|user| !user.is_enabled()) {
            return Ok(None);
        }
        Ok(Some(InvitationMail {
            email,
            url: format!("{}{CONTINUE_PATH}?token={token}", core.issuer),
            creates_account: invitee.is_none(),
            holder: holder.name.unwrap_or(holder.email),
            valid_days: (ttl + 86_399) / 86_400,
            saved_locale: invitee.and_then(|user| user.locale),
        }))
    })
}

/// Cancels one of the holder's open invitations: its link stops working.
pub fn cancel_invitation(
    conn: &mut DbConnection,
    actor: &Actor,
    holder_id: &str,
    invitation_id: &str,
    now: i64,
) -> Result<(), HouseholdError> {
    transaction(conn, |conn| {
        lock_holder(conn, holder_id)?.ok_or(HouseholdError::NotFound("user"))?;
        let invitation = store::find_invitation(conn, holder_id, invitation_id)?
            .ok_or(HouseholdError::NotFound("invitation"))?;
        store::delete_invitation(conn, &invitation.id)?;
        links_store::delete_link(conn, &invitation.link_hash)?;
        audit_change(
            conn,
            actor,
            "household.invitation_cancel",
            holder_id,
            &format!("household-invitation:{}", invitation.id),
            Some(invitation_json(&invitation)),
            None,
            now,
        )?;
        Ok(())
    })
}

/// What using an invitation's link did about the household.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Joining {
    Joined,
    AlreadyMember,
    Refused(JoinRefusal),
}

/// Why an invitee did not join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinRefusal {
    /// The holder used their own invitation.
    OwnFamily,
    InAnotherFamily,
    /// The invitee holds a household: members or open invitations of their own.
    HoldsFamily,
    /// The holder's plan no longer includes a household, or the holder joined another.
    NoLongerOffered,
    Full,
}

/// Takes the invitation a used sign-in link carries, if any: it works once, whatever
/// follows. Runs in the transaction that spends the link.
pub(crate) fn take_invitation(
    conn: &mut DbConnection,
    link_hash: &str,
) -> Result<Option<Invitation>, StoreError> {
    let invitation = store::invitation_of_link(conn, link_hash)?;
    if let Some(invitation) = &invitation {
        store::delete_invitation(conn, &invitation.id)?;
    }
    Ok(invitation)
}

/// Makes `invitee` (who just proved their address with the invitation's link) a member of the
/// inviting household, when the rules still allow it. Runs in the transaction that spends the
/// link.
pub(crate) fn accept(
    conn: &mut DbConnection,
    invitation: &Invitation,
    invitee: &User,
    now: i64,
) -> Result<Joining, StoreError> {
    let holder_id = invitation.holder_id.as_str();
    let refused = |why| Ok(Joining::Refused(why));
    if lock_holder(conn, holder_id)?.is_none() {
        return refused(JoinRefusal::NoLongerOffered);
    }
    if invitee.id == holder_id {
        return refused(JoinRefusal::OwnFamily);
    }
    match store::holder_of(conn, &invitee.id)? {
        Some(current) if current == holder_id => return Ok(Joining::AlreadyMember),
        Some(_) => return refused(JoinRefusal::InAnotherFamily),
        None => {}
    }
    if !store::members_of(conn, &invitee.id)?.is_empty()
        || !store::pending_invitations(conn, &invitee.id, now)?.is_empty()
    {
        return refused(JoinRefusal::HoldsFamily);
    }
    if store::holder_of(conn, holder_id)?.is_some() {
        return refused(JoinRefusal::NoLongerOffered);
    }
    let max_members = compute(conn, holder_id, now)?.max_members;
    if max_members == 0 {
        return refused(JoinRefusal::NoLongerOffered);
    }
    if store::members_of(conn, holder_id)?.len() >= usize::try_from(max_members).unwrap_or(0) {
        return refused(JoinRefusal::Full);
    }
    let membership = Membership {
        member_id: invitee.id.clone(),
        holder_id: holder_id.to_owned(),
        joined_at: now,
    };
    store::insert_member(conn, &membership)?;
    announce(
        conn,
        &Actor::person(&invitee.id),
        ("household.join", "household.member_joined"),
        &membership,
        now,
    )?;
    Ok(Joining::Joined)
}

/// Takes a member out of the holder's household (the holder on their account page, or an
/// administrator): what they shared with it is gone at once.
pub fn remove_member(
    conn: &mut DbConnection,
    actor: &Actor,
    holder_id: &str,
    member_id: &str,
    now: i64,
) -> Result<(), HouseholdError> {
    transaction(conn, |conn| {
        lock_holder(conn, holder_id)?.ok_or(HouseholdError::NotFound("user"))?;
        let membership = store::members_of(conn, holder_id)?
            .into_iter()
            .map(|(membership, _)| membership)
            .find(|membership| membership.member_id == member_id)
            .ok_or(HouseholdError::NotFound("member"))?;
        store::delete_member(conn, holder_id, member_id)?;
        announce(
            conn,
            actor,
            ("household.member_remove", "household.member_removed"),
            &membership,
            now,
        )?;
        Ok(())
    })
}

/// The member leaves the household they are in.
pub fn leave(conn: &mut DbConnection, member_id: &str, now: i64) -> Result<(), HouseholdError> {
    let holder_id = store::holder_of(conn, member_id)?.ok_or(HouseholdError::NotFound("household"))?;
    transaction(conn, |conn| {
        lock_holder(conn, &holder_id)?;
        let membership = store::members_of(conn, &holder_id)?
            .into_iter()
            .map(|(membership, _)| membership)
            .find(|membership| membership.member_id == member_id)
            .ok_or(HouseholdError::NotFound("household"))?;
        store::delete_member(conn, &holder_id, member_id)?;
        announce(
            conn,
            &Actor::person(member_id),
            ("household.leave", "household.member_left"),
            &membership,
            now,
        )?;
        Ok(())
    })
}

/// A change of membership: the member's entitlements changed, so their version grows, every
/// instance drops their cached entitlements, webhook receivers hear of it (`event`), and the
/// audit log keeps it (`action`).
fn announce(
    conn: &mut DbConnection,
    actor: &Actor,
    (action, event): (&str, &str),
    membership: &Membership,
    now: i64,
) -> Result<(), StoreError> {
    let member = std::slice::from_ref(&membership.member_id);
    entitlements_store::bump_versions(conn, member)?;
    changes::record(conn, ChangeKind::EntitlementsChanged, &membership.member_id, None)?;
    let described = json!({
        "holder_id": membership.holder_id,
        "member_id": membership.member_id,
        "joined_at": membership.joined_at,
    });
    let joined = action == "household.join";
    audit_change(
        conn,
        actor,
        action,
        &membership.member_id,
        &format!("household:{}", membership.holder_id),
        (!joined).then(|| described.clone()),
        joined.then(|| described.clone()),
        now,
    )?;
    let ent_ver = Some(entitlements_store::version(conn, &membership.member_id)?);
    webhooks::enqueue(
        conn,
        &Notice {
            event,
            user_id: Some(&membership.member_id),
            target: &membership.holder_id,
            affected: member,
            data: described,
            ent_ver,
        },
        now,
    )
}

#[expect(clippy::too_many_arguments, reason = "one audit entry, field by field")]
fn audit_change(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    user_id: &str,
    target: &str,
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
            user_id: Some(user_id),
            target,
            before: before.map(|before| before.to_string()),
            after: after.map(|after| after.to_string()),
        },
    )
}

/// An invitation as the audit log keeps it: never its link.
fn invitation_json(invitation: &Invitation) -> Value {
    json!({
        "id": invitation.id,
        "email": invitation.email,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
    })
}

/// A member of a household.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub joined_at: i64,
}

/// An invitation not yet accepted, without its link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingInvitation {
    pub id: String,
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A household: its holder, members and open invitations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Household {
    pub holder_id: String,
    pub holder_email: String,
    pub holder_name: Option<String>,
    /// The holder's plan's places, members and open invitations together.
    pub max_members: i32,
    pub members: Vec<Member>,
    pub invitations: Vec<PendingInvitation>,
}

/// The household `user_id` holds or belongs to; `None` when they are in none and their plan
/// offers none (and they have nobody left in one).
pub fn household_of(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Option<Household>, StoreError> {
    let holder_id = store::holder_of(conn, user_id)?.unwrap_or_else(|| user_id.to_owned());
    let Some(holder) = users::find_by_id(conn, &holder_id)? else {
        return Ok(None);
    };
    let members: Vec<Member> = store::members_of(conn, &holder_id)?
        .into_iter()
        .map(|(membership, email)| Member {
            user_id: membership.member_id,
            email,
            joined_at: membership.joined_at,
        })
        .collect();
    let invitations: Vec<PendingInvitation> = store::pending_invitations(conn, &holder_id, now)?
        .into_iter()
        .map(|invitation| PendingInvitation {
            id: invitation.id,
            email: invitation.email,
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
        })
        .collect();
    let max_members = compute(conn, &holder_id, now)?.max_members;
    if max_members == 0 && members.is_empty() && invitations.is_empty() {
        return Ok(None);
    }
    Ok(Some(Household {
        holder_id,
        holder_email: holder.email,
        holder_name: holder.name,
        max_members,
        members,
        invitations,
    }))
}
