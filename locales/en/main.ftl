## The language selector, in every page's header. `language-name` is each language's own name
## for itself: the selector shows it as is, whatever the page's language.

language-name = English
language-choice = Language
# The platform's help page, at the foot of every page when one is configured.
support-link = Help and support

## Shared by several pages.

signed-in-as = Signed in as { $email }
recovery-codes-left = { $count ->
    [one] { $count } unused recovery code left.
   *[other] { $count } unused recovery codes left.
}

## Signing in: login.html, login_code.html, signup.html, link_sent.html, link_continue.html.

sign-in = Sign in
sign-in-to-app = to continue to { $app }
sign-in-to-device = to connect your TV or other device
sign-in-to-dashboard = to the admin dashboard
# Why an administrator is asked to sign in again on the way to the dashboard; $duration is
# one of the duration- messages below.
login-dashboard-rule = The dashboard needs a sign-in with two factors, made no more than { $duration } ago: a passkey, or your password or a sign-in link followed by a code from your authenticator app.
duration-minutes = { $count ->
    [one] { $count } minute
   *[other] { $count } minutes
}
duration-hours = { $count ->
    [one] { $count } hour
   *[other] { $count } hours
}
duration-hours-minutes = { $hours } h { $minutes } min
sign-in-to-account = to your account
email = Email
password = Password
or-without-password = or, without a password
email-me-a-sign-in-link = Email me a sign-in link
forgot-password = Forgot your password? Get a sign-in link, then set a new password on your account page.
sign-in-with-passkey = Sign in with a passkey
new-here = New here?
create-account = Create an account
enter-your-code = Enter your code
two-step-sign-in = Two-step sign-in
code-from-app = Enter the code from your authenticator app
code = Code
code-hint = The 6-digit code your app shows now.
verify = Verify
lost-phone = Lost your phone? Use a recovery code
recovery-code = Recovery code
recovery-code-hint = One of the ten codes you saved when you turned on two-step sign-in, like { $example }. Each works once.
use-recovery-code = Use recovery code
start-again = Start again
signup-lead = Enter your email address. We will send you a link: opening it creates your account and signs you in. You can add a password or a passkey on your account page afterwards.
email-me-a-link = Email me a link
have-an-account = Already have an account?
check-your-email = Check your email
link-sent-signup = If { $email } can sign in here, a sign-in link is on its way to it.
link-sent-account = If { $email } has an account here, a sign-in link is on its way to it.
link-sent-open = { $count ->
    [one] Open the link on any device within { $count } minute. It works once.
   *[other] Open the link on any device within { $count } minutes. It works once.
}
link-sent-nothing = Nothing after a few minutes? Check your spam folder and the address.
go-back = Go back
continue-signing-in = Continue signing in
continue-as = as { $email }
continue-hint = Didn't ask to sign in? Close this page: nothing happens without the button.

## The landing page (home.html), signing out (logout.html, signed_out.html) and the TV pages
## (device_enter.html, device_done.html).

home-title = Sign-in service
home-heading = The platform's sign-in service
home-lead = This is where you sign in to watch, and where the apps and TVs you watch on check who you are. Your account, the apps you allowed and the devices you are signed in on are on your account page.
your-account = Your account
sign-in-to-your-account = Sign in to your account
admin-dashboard = Admin dashboard
sign-out = Sign out
sign-out-question = Sign out?
sign-out-lead = You are signed in as { $email }. Signing out here signs you out of every app that uses this account on this device.
signed-out-title = Signed out
signed-out-heading = You are signed out
signed-out-close = You can close this page, or
sign-in-again = sign in again
connect-a-device = Connect a device
device-enter-lead = Enter the code your TV or console shows.
continue = Continue
# The page that hands an answer to an app (response_mode=form_post, form_post.html): it sends
# itself at once; the words show only without JavaScript.
form-post-title = Continuing…
form-post-lead = Continue to the app:
device-signed-in = Your device is signed in
device-denied = Request denied
device-allowed-lead = { $app } will continue on your TV in a moment. You can close this page.
device-signed-out-here = This device was signed out to make room for it.
device-denied-lead = { $app } was not signed in. You can close this page.
device-list-hint = Your account lists every signed-in device.

## Allowing an app or a TV: consent.html, device_confirm.html, and the TV code page's errors
## (device_enter.html). The `scope-` messages say what each scope lets an app do; the account
## page lists them too.

allow = Allow
deny = Deny
consent-title = Allow { $app }?
consent-heading = Allow { $app } to use your account?
consent-lead = Signed in as { $email }. { $app } is asking to:
consent-remove-hint = You can remove this access at any time from your account page.
scope-openid = Know who you are when you sign in
scope-profile = See your name
scope-email = See your email address
scope-offline-access = Stay signed in when you are not using it
scope-entitlements = See your subscription and what you may watch or listen to
scope-profiles = Know which profile is watching, and its age rating
device-confirm-title = Sign in on your device?
device-confirm-lead = { $app } on a TV or other device asks to use your account.
device-confirm-code = Only continue if this code is on the screen in front of you:
device-confirm-able = It will be able to:
device-confirm-hint = Signed in as { $email }. You can sign the device out later from your account page.
device-code-wrong = That code didn't work. Check the code on your TV; codes expire after a few minutes.
codes-throttled = Too many wrong codes. Wait a few minutes and try again.
device-code-gone = That code has expired or was already answered. Start again on your TV.

## Who's watching: profile_picker.html, profile_pin.html.

profiles-title = Who's watching?
profile-kids = Kids
profile-gone = That profile is no longer there. Choose another.
pin = PIN
pin-title = PIN for { $name }
pin-heading = Enter the PIN for { $name }
pin-hint = The account holder set this PIN.
choose-another-profile = Choose another profile
pin-wrong = That PIN is not right. Try again.
pin-throttled = { $count ->
    [one] Too many wrong PINs. Try again in { $count } minute, or choose another profile.
   *[other] Too many wrong PINs. Try again in { $count } minutes, or choose another profile.
}

## The device limit page (device_limit.html), for a sign-in here or a TV approved from here.

device-limit-heading = { $count ->
    [one] Your plan allows { $count } device
   *[other] Your plan allows { $count } devices
}
device-limit-in-use = { $count ->
    [one] { $count } device is signed in to your account, the most your plan allows.
   *[other] { $count } devices are signed in to your account, the most your plan allows.
}
device-limit-lead = Sign one out to sign in on this device; you'll continue where you were.
device-limit-tv-lead = Sign one out to sign in { $app } on your TV.
device-limit-room = There is room now
device-limit-room-lead = A device was signed out. Continue to finish signing in.
device-limit-still-full = There is still no room. Sign out another device.
device-limit-sign-out-hint = Signing a device out ends its sign-in and the apps signed in there; it can sign in again later.
device-limit-retry-hint = Signed a device out on another screen? Try again.
try-again = Try again
cancel-signing-in = Cancel signing in
not-now = Not now
signed-in-devices = Signed-in devices
this-device = This device
last-used = Last used { $when }
sign-out-device = Sign out { $device }
sign-out-device-label = Sign out { $device }, last used { $when }
sign-out-this-device-label = Sign out { $device } (this device), last used { $when }

## Passkeys and two-step sign-in: passkey_offer.html, totp_setup.html, totp_code_check.html,
## recovery_codes.html.

second-factor-title = Add a second factor
second-factor-lead = Administrator accounts need a second way to prove it's you, so a stolen password alone can't change what people can watch.
passkey-offer-title = Sign in faster next time
passkey-offer-lead = Add a passkey on { $device }: next time, sign in with your fingerprint, face or screen lock instead of a password.
name-this-passkey = Name this passkey
passkey-name-hint = So you can tell your passkeys apart on your account page.
passkeys-unsupported = This browser can't create passkeys here.
add-a-passkey = Add a passkey
totp-setup-title = Set up an authenticator app
totp-setup-lead = After your password, you'll also enter a code from the app when you sign in.
totp-setup-open = Open an authenticator app on your phone and add an account.
totp-setup-scan = Scan this QR code:
totp-setup-type = or type this key into the app instead:
totp-setup-enter = Enter the 6-digit code the app shows.
code-from-the-app = Code from the app
turn-on = Turn on
totp-off-title = Turn off two-step sign-in
turn-off = Turn off
renew-codes-title = Get new recovery codes
renew-codes-button = Get new codes
code-from-your-app = Code from your authenticator app
or-a-recovery-code = Or one of your recovery codes.
totp-code-wrong = That code didn't work. Enter the code your app shows now.
totp-code-or-recovery-wrong = That code didn't work. Enter the code your app shows now, or a recovery code.
back-to-account = Back to your account
recovery-codes-title = Your recovery codes
two-step-is-on = Two-step sign-in is on
recovery-codes-save = Save these recovery codes somewhere safe, such as a password manager or on paper.
recovery-codes-once = If you lose your phone, each code signs you in once instead of a code from the app. This is the only time they are shown.
recovery-codes-label = Recovery codes
saved-continue = I saved them: continue
saved-back = I saved them: back to your account

## Error pages (error.html) and the refusals the sign-in pages show above their forms.

error-bad-request = This request cannot be completed
error-not-found = Page not found
error-not-found-lead = There is nothing at this address.
error-try-again = Please try again
error-busy = Many people are signing in right now. Wait a few seconds and try again.
error-unavailable = This page is not available for a moment. Wait a few seconds and try again.
error-csrf = This form expired or did not come from this site. Go back, reload the page and submit it again.
error-internal = Something went wrong
error-internal-lead = The server could not complete this request. Please try again in a moment.
error-passkey-refused = The passkey could not be used. Go back and try again.
choose-allow-or-deny = Choose Allow or Deny.
logout-unverified = The app sent a sign-out request this server cannot verify.
logout-no-app = The app asked to send you back without saying which app it is.
too-many-attempts = Too many attempts
passkeys-throttled = Too many passkey sign-ins were started from your network. Wait a few minutes and try again.
link-gone = This sign-in link no longer works
link-gone-lead = Each link works once, for a few minutes. Go to the sign-in page and ask for a new one.
link-needs-address = Enter your email address, then choose “Email me a sign-in link”.
email-invalid = Enter a valid email address.
links-throttled = { $count ->
    [one] Too many sign-in links were asked for from your network. Wait { $count } minute and try again.
   *[other] Too many sign-in links were asked for from your network. Wait { $count } minutes and try again.
}
login-refused = That email and password don't match. Check them and try again.
login-throttled = { $count ->
    [one] Too many attempts. Wait { $count } minute and try again.
   *[other] Too many attempts. Wait { $count } minutes and try again.
}
login-code-wrong = That code didn't work. Check your authenticator app and try again.
login-code-throttled = { $count ->
    [one] Too many attempts. Wait { $count } minute and sign in again.
   *[other] Too many attempts. Wait { $count } minutes and sign in again.
}
login-code-gone = Your sign-in timed out or had too many wrong codes. Sign in again.
passkey-refused = That passkey didn't work. Try again, or sign in with your email.
sign-in-timed-out = Your sign-in timed out. Sign in again.

## The account page (account.html).

profile = Profile
name = Name
not-set = Not set
display-name = Display name
name-hint = The name apps see when you allow them to. Leave it empty to remove it.
save-name = Save name
time-zone-heading = Time zone
time-zone-label = Show dates and times in
time-zone-hint = Dates and times on your account are shown in this time zone. At first it is your browser's.
save-time-zone = Save time zone
time-zone-unknown-title = Choose a time zone from the list
time-zone-unknown = We don't know that time zone. Go back and choose one from the list.
profiles-heading = Profiles
profiles-hint = Who watches on this account. Each profile has its own age rating; a PIN keeps others out of it. Changing a rating or a PIN, adding or deleting a profile needs a sign-in within the last 15 minutes.
profiles-count = { $used } of { $max } profiles.
edit-profile = Edit { $name }
age-rating = Age rating
kids-profile = Kids profile
new-pin-optional = New PIN (4 digits, optional)
pin-optional = PIN (4 digits, optional)
remove-pin = Remove the PIN
save-profile = Save { $name }
delete-profile = Delete { $name }
add-a-profile = Add a profile
add-profile = Add profile
passkeys-heading = Passkeys
no-passkeys = No passkeys yet. A passkey signs you in with your fingerprint, face or screen lock: nothing to type, nothing to steal.
added-on = Added { $when }
not-used-yet = Not used yet
remove-passkey-label = Remove the passkey { $name }
remove = Remove
new-passkey-name = New passkey's name
new-password = New password
new-password-hint = At least 8 characters. Setting it signs you out on your other devices.
change-password = Change password
set-password = Set a password
two-step-on-since = On since { $when }. You enter a code from your authenticator app after your password.
new-recovery-codes = New recovery codes
renew-hint = A code from your app replaces your recovery codes with ten new ones; the old ones stop working.
two-step-off = Off. Ask for a code from an authenticator app after your password, so a stolen password alone can't sign in.
apps-heading = Apps with access
no-apps = No apps have access to your account.
allowed-on = Allowed { $when }
remove-access-label = Remove access for { $app }
remove-access = Remove access
apps-hint = An app that loses access is signed out and has to ask again before it can use your account.
watching-now = Watching now
started-on = Started { $when }
stop-watching-on = Stop watching on { $device }
watching-hint = Stopping frees the place at once; the player on that device stops when it next checks in, and can be started again there.
signed-in-on = Signed in { $when }
last-active = Last active { $when }
sign-out-of-this-device = Sign out of this device
sign-out-of-device-label = Sign out of { $device }, signed in { $when }
sign-out-everywhere = Sign out everywhere
end-all-hint = Signs you out on every device, this one too, and signs out the apps you used there.

## Notices on the account page after a change.

notice-name = Your name was saved.
notice-time-zone = Your time zone was saved.
notice-app = The app no longer has access to your account.
notice-session = That device was signed out.
notice-stream = Playback on that device was stopped.
notice-totp-off = Two-step sign-in is off. Your password alone signs you in now.
notice-passkey-added = Your passkey was added. Use it next time you sign in.
notice-passkey-removed = The passkey was removed.
notice-password = Your password was saved. Your other devices were signed out.
notice-profile-added = The profile was added.
notice-profile-saved = The profile was saved.
notice-profile-deleted = The profile was deleted.
notice-family-joined = You joined the family. Its plan is yours as long as you are in it.
notice-family-already = You are in this family already.
notice-family-full = That family has no free place any more: ask whoever invited you to make room.
notice-family-other = You are in another family already: leave it, then ask for a new invitation.
notice-family-holder = You have a family of your own: remove its members and cancel its invitations before joining another.
notice-family-closed = That invitation is no longer offered.
notice-family-invited = The invitation is on its way. It works once, for a few days.
notice-family-removed = They are no longer in your family.
notice-family-cancelled = The invitation was cancelled: its link no longer works.
notice-family-left = You left the family.

## The names of devices (account.html, device_limit.html, passkey_offer.html): products keep
## their own names (Chrome, Android, Fire TV); these messages say the rest.

device-on = { $browser } on { $platform }
device-unknown = Unknown device
device-tv-app = { $app } on a TV or other device
device-smart-tv = Smart TV
device-program = { $name } program
device-program-using = { $name } program ({ $library })
device-app-using = App ({ $library })

## Age ratings (account.html, profile_picker.html): `$rating` is a rating such as 13+.

rating-all = Suitable for all ages
rating-up-to = Up to { $rating }

## The account page's family section (account_family.html).

family-heading = Family
family-member = You are in { $holder }'s family: you watch with their plan, with your own sign-in and profiles.
family-leave = Leave { $holder }'s family
family-places = { $count ->
    [one] Your plan lets you share it with { $count } person. They sign in with their own account; a pending invitation takes the place until it is accepted or expires.
   *[other] Your plan lets you share it with { $count } people. Each signs in with their own account; pending invitations take a place until they are accepted or expire.
}
family-empty = Nobody is in your family yet.
family-joined-on = Joined { $when }
family-remove-label = Remove { $email } from your family
family-invitations = Invitations
family-invited-until = Invited · the link works until { $when }
family-cancel-label = Cancel the invitation to { $email }
cancel = Cancel
family-invite-email = Invite by email
family-invite-hint = They get a link that signs them in, or creates their account, and adds them to your family.
family-send-invitation = Send invitation
family-no-place = Every place is taken. Remove a member or cancel an invitation to invite someone else.

## What the account page refuses, and why (error.html).

check-the-address = Check the address
family-not-an-address = That is not an email address. Go back and try another.
family-own-address = That is your own address. Go back and try another.
family-already-member = That address is already in your family. Go back and try another.
not-possible-now = Not possible now
family-in-another = You are in someone else's family: leave it before inviting people into yours.
family-not-in-plan = Your plan does not include a family.
family-all-taken = { $count ->
    [one] Your family has { $count } place, taken or offered: cancel the invitation or remove the member first.
   *[other] Your family has { $count } places, all taken or offered: cancel an invitation or remove a member first.
}
too-many-invitations = Too many invitations
invitations-throttled = { $count ->
    [one] Too many invitations and sign-in links were asked for from your network. Wait { $count } minute and try again.
   *[other] Too many invitations and sign-in links were asked for from your network. Wait { $count } minutes and try again.
}
check-the-profile = Check the profile
profile-name-invalid = { $count ->
    [one] A profile's name has { $count } character at most, and no control or invisible formatting characters. Go back and change it.
   *[other] A profile's name has 1 to { $count } characters, and no control or invisible formatting characters. Go back and change it.
}
profile-rating-invalid = Choose one of the age ratings offered. Go back and change it.
profile-pin-invalid = A PIN is 4 digits. Go back and change it.
no-room-for-profile = No room for another profile
profiles-all-taken = { $count ->
    [one] Your plan allows { $count } profile. Delete it first, or change your plan.
   *[other] Your plan allows { $count } profiles. Delete one first, or change your plan.
}
profile-deleted-meanwhile = That profile is gone
profile-deleted-meanwhile-lead = It was deleted meanwhile. Go back to your account page.
sign-in-again-first = Sign in again first
sign-in-again-first-lead = To change how you sign in, sign out and sign in again (an emailed sign-in link works), then make the change within 15 minutes.
second-factor-first = Sign in with your second factor first
second-factor-first-lead = Your account has a passkey or two-step sign-in. Sign out, sign in with it, and make the change within 15 minutes.
choose-another-name = Choose another name
name-hidden-characters = A name cannot contain control characters or invisible formatting characters (such as right-to-left marks). Go back and type it again.
passkey-name-hidden-characters = A passkey's name cannot contain control characters or invisible formatting characters (such as right-to-left marks). Go back and name it again.
choose-a-longer-password = Choose a longer password
password-too-short = A password needs at least 8 characters. Go back and choose another.
session-ended = Your session ended
session-ended-lead = Your session ended. Sign in again to add a passkey.
passkey-not-added = The passkey was not added. Go back and try again, or use another device.
logout-two-apps = The sign-out request names two different apps.
logout-unregistered = The app asked to send you to an address it has not registered.

## Mail (templates/mail/): the sign-in link, the invitation into a family and the security
## notice, in the recipient's language. `$brand` is the platform's name (brand_name). Links stay
## out of the messages, on lines of their own, so they arrive whole and left to right.

mail-support = Need help? Contact { $brand }:
mail-copy-link = If the button does not work, copy this address into your browser:
mail-link-minutes = { $count ->
    [one] The link works for { $count } minute.
   *[other] The link works for { $count } minutes.
}
mail-sign-in-subject = Your sign-in link for { $brand }
mail-sign-in-title = Your sign-in link
mail-sign-in-button = Sign in
mail-sign-in-lead = Use the button below to sign in.
mail-sign-in-lead-app = Use the button below to sign in and continue to { $app }.
mail-sign-in-open = Open this link to sign in:
mail-sign-in-open-app = Open this link to sign in and continue to { $app }:
mail-sign-in-ignore = Didn't ask for this? Ignore this mail: nobody can sign in without the link, and it stops working by itself. Never forward it: whoever opens it is signed in as you.
mail-sign-up-subject = Finish creating your { $brand } account
mail-sign-up-title = Finish creating your account
mail-sign-up-button = Create my account
mail-sign-up-lead = Use the button below to finish creating your account.
mail-sign-up-lead-app = Use the button below to finish creating your account and continue to { $app }.
mail-sign-up-open = Open this link to finish creating your account:
mail-sign-up-open-app = Open this link to finish creating your account and continue to { $app }:
mail-sign-up-ignore = Didn't ask for this? Ignore this mail: no account is created without the link, and it stops working by itself. Never forward it: whoever opens it gets the account.
mail-invitation-subject = You're invited to join a family plan on { $brand }
mail-invitation-title = You're invited to join a family plan
mail-invitation-lead = { $holder } invites you to join their family plan: you watch with their subscription, with your own sign-in and your own profiles.
mail-invitation-days = { $count ->
    [one] The link works once, for { $count } day.
   *[other] The link works once, for { $count } days.
}
mail-invitation-button = Sign in and join
mail-invitation-open = Open this link to sign in and join:
mail-invitation-ignore = Didn't expect this? Ignore this mail: nothing happens without the link, and it stops working by itself. Never forward it: whoever opens it is signed in as you.
mail-invitation-new-button = Create my account and join
mail-invitation-new-open = Open this link to create your account and join:
mail-invitation-new-ignore = Didn't expect this? Ignore this mail: nothing happens without the link, and it stops working by itself. Never forward it: whoever opens it gets the account.
mail-notice-subject = Security notice: how you sign in to { $brand } has changed
mail-notice-title = Security notice
mail-notice-when = When: { $at }
mail-notice-if-you = If this was you, there is nothing to do.
mail-notice-not-you = Wasn't you?
mail-notice-secure = Secure your account now: review how you sign in, remove anything you don't recognise, and sign out everywhere, on your account page:
mail-notice-button = Review your account
mail-notice-why = We send this notice whenever the way you sign in changes, so a change you did not make never goes unnoticed.
mail-notice-passkey-added = A passkey named “{ $name }” was added to your account.
mail-notice-passkey-removed = The passkey named “{ $name }” was removed from your account. It can no longer sign in.
mail-notice-two-step-on = Two-step sign-in was turned on for your account: signing in with your password now also asks for a code from your authenticator app.
mail-notice-two-step-off = Two-step sign-in was turned off for your account: your password alone signs in now.
mail-notice-two-step-reset = An administrator turned off two-step sign-in for your account. Set it up again on your account page.
mail-notice-recovery-codes-renewed = New recovery codes were made for your account; the old ones no longer work.
mail-notice-recovery-code-used = One of your recovery codes was used to sign in. It won't work again.
mail-notice-password-changed = The password of your account was changed.
mail-notice-profile-added = A profile was added: { $name }.
mail-notice-profile-changed = The profile { $name } was changed.
mail-notice-profile-deleted = The profile { $name } was deleted.
