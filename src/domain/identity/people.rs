//! What an administrator may do to a person's account (sign out, disable, reset the second
//! factor, make or unmake an administrator), for the dashboard and the admin API alike: each change and its audit entry commit together, and the person hears of a change
//! to how they sign in.

use std::sync::Arc;

use crate::domain::core::{Core, LocalViews};
use crate::domain::entitlements::manage::Actor;
use crate::domain::identity::notices::{self, AccountChange};
use crate::domain::identity::session;
use crate::foundation::store::entitlements::{NewAuditEntry, audit};
use crate::foundation::store::transaction;
use crate::foundation::store::users::User;
use crate::foundation::store::{DbConnection, StoreError, dashboard, totp, users};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AccountAction {
    /// Every session and app token of the person ends.
    SignOutEverywhere,
    /// The account can no longer sign in, and is signed out everywhere.
    Disable,
    Enable,
    /// For a person who lost their authenticator app: two-step sign-in is turned off and the
    /// recovery codes go.
    ResetSecondFactor,
    /// The account may open the dashboard (with a recent two-factor sign-in).
    MakeAdmin,
    RemoveAdmin,
}

impl AccountAction {
    /// The audit log's name for the action.
    pub(crate) fn audit_name(self) -> &'static str {
        match self {
            Self::SignOutEverywhere => "user.sign_out_everywhere",
            Self::Disable => "user.disable",
            Self::Enable => "user.enable",
            Self::ResetSecondFactor => "totp.reset",
            Self::MakeAdmin => "user.make_admin",
            Self::RemoveAdmin => "user.remove_admin",
        }
    }

    /// What the person is mailed when the action changed their account.
    fn notice(self) -> Option<AccountChange> {
        match self {
            Self::ResetSecondFactor => Some(AccountChange::TwoStepReset),
            Self::SignOutEverywhere | Self::Disable | Self::Enable | Self::MakeAdmin | Self::RemoveAdmin => {
                None
            }
        }
    }

    /// Applies the action; false when there was nothing to do.
    fn apply(
        self,
        views: LocalViews<'_>,
        conn: &mut DbConnection,
        user_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        match self {
            Self::SignOutEverywhere => session::end_all(views, conn, user_id, now).map(|()| true),
            Self::Disable => {
                if !dashboard::set_disabled(conn, user_id, Some(now))? {
                    return Ok(false);
                }
                session::end_all(views, conn, user_id, now)?;
                Ok(true)
            }
            Self::Enable => dashboard::set_disabled(conn, user_id, None),
            Self::ResetSecondFactor => totp::delete(conn, user_id),
            Self::MakeAdmin => dashboard::set_admin(conn, user_id, true),
            Self::RemoveAdmin => dashboard::set_admin(conn, user_id, false),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ActionOutcome {
    Done,
    NoSuchPerson,
    /// An administrator cannot disable their own account or remove their own administrator
    /// rights: nobody might be left to undo it.
    OwnAccount,
}

/// Applies `action` to the person `user_id` as `actor`.
pub(crate) async fn act_on(
    core: &Arc<Core>,
    actor: &Actor,
    user_id: &str,
    action: AccountAction,
) -> Result<ActionOutcome, StoreError> {
    if matches!(action, AccountAction::Disable | AccountAction::RemoveAdmin) && actor.is_admin(user_id) {
        return Ok(ActionOutcome::OwnAccount);
    }
    let (worker, actor, target) = (Arc::clone(core), actor.clone(), user_id.to_owned());
    let changed = core
        .store
        .run(move |conn| {
            let now = worker.clock.now();
            act(worker.local_views(), conn, &actor, &target, action, now)
        })
        .await?;
    let Some((person, changed)) = changed else {
        return Ok(ActionOutcome::NoSuchPerson);
    };
    if let (true, Some(notice)) = (changed, action.notice()) {
        notices::credential_changed(core, &person, notice, None);
    }
    Ok(ActionOutcome::Done)
}

/// Applies `action` to the person `user_id` as `actor` with the caller's connection: the
/// person as they were and whether anything changed, or `None` when there is no such person.
/// `views` are the caller's own in-memory views, told at once; other instances learn from the
/// change feed. Whoever calls it mails [`AccountAction`]'s notice, as [`act_on`] does.
pub(crate) fn act(
    views: LocalViews<'_>,
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: &str,
    action: AccountAction,
    now: i64,
) -> Result<Option<(User, bool)>, StoreError> {
    let Some(person) = users::find_by_id(conn, user_id)? else {
        return Ok(None);
    };
    let changed = transaction(conn, |conn| {
        let changed = action.apply(views, conn, user_id, now)?;
        if changed {
            record(conn, actor, action.audit_name(), user_id, now)?;
        }
        Ok::<_, StoreError>(changed)
    })?;
    Ok(Some((person, changed)))
}

fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    audit(
        conn,
        &NewAuditEntry {
            at: now,
            actor: &actor.0,
            action,
            user_id: Some(user_id),
            target: &format!("user:{user_id}"),
            before: None,
            after: None,
        },
    )
}
