## The dashboard's own words (templates/admin/*.html, src/web/dashboard/). The dashboard speaks
## English only: this catalogue is required in English alone (docs/branding-and-languages.md).

## Every page: templates/admin/layout.html.

dash-signed-in-as = Signed in as { $email }
dash-sign-out = Sign out
dash-nav = Dashboard
dash-nav-overview = Overview
dash-nav-tiers = Tiers
dash-nav-products = Pay-per-view
dash-nav-people = People
dash-nav-apps = Apps
dash-nav-keys = Keys
dash-nav-audit = Audit log
# Who may open the dashboard: the page anyone else gets (403).
dash-forbidden = Administrators only
dash-forbidden-lead = This page is for administrators. An administrator can make your account one on the dashboard's People page.

## An app's secret, shown once: app_secret.html.

dash-app-registered-title = App registered
dash-app-new-secret-title = New secret
dash-app-registered-heading = { $app } is registered
dash-app-new-secret-heading = New secret for { $app }
dash-app-copy-secret = Copy the secret now and keep it somewhere safe: it is not shown again. Usher keeps only a hash of it.
dash-app-public-no-secret = A public app has no secret: it identifies itself by its client ID alone and uses PKCE.
dash-app-client-id = Client ID
dash-app-client-secret = Client secret
dash-app-previous-secret-gone = The previous secret no longer works: the app needs this one now.
dash-app-back = Back to apps

## Apps: apps.html, src/web/dashboard/apps.rs.

dash-apps = Apps
dash-apps-lead = The apps and services that sign people in with Usher (OAuth clients). Times are UTC.
dash-apps-none = No apps yet.
dash-apps-app = App
dash-apps-kind = Kind
dash-apps-grant-types = Grant types
dash-apps-scopes = Scopes
dash-apps-redirect-uris = Redirect URIs
dash-apps-created = Created
dash-apps-status = Status
dash-apps-public = Public
dash-apps-confidential = Confidential
dash-apps-first-party = First-party
dash-apps-verified = Verified
dash-apps-resource-server = Resource server
dash-apps-pkce-optional = PKCE optional
dash-apps-no-redirect-uris = None
dash-apps-disabled-since = Disabled { $date }
dash-apps-enabled = Enabled
dash-apps-rotate = Rotate secret
dash-apps-rotate-hint = A new secret replaces the current one, which stops working: update the app with the new secret right away.
dash-apps-rotate-button = Rotate the secret of { $app }
dash-apps-disable = Disable
dash-apps-disable-hint = The app can no longer sign anyone in or get tokens. This cannot be undone here.
dash-apps-disable-button = Disable { $app }
dash-apps-register = Register an app
dash-apps-name = Name
dash-apps-name-hint = Shown to people on the consent screen.
dash-apps-redirect-uris-hint = One per line, each exactly as the app sends it, e.g. https://app.example/callback or com.example.app:/oauth. Not needed for client credentials or device code alone.
dash-apps-grant-authorization-code = Authorization code: people sign in through the browser
dash-apps-grant-refresh-token = Refresh token: stay signed in
dash-apps-grant-client-credentials = Client credentials: a service acting for itself (not public apps)
dash-apps-grant-device-code = Device code: TVs and consoles, signed in on another device
dash-apps-scopes-hint = Separated by spaces. Empty means { $default }. A service using client credentials needs its own, e.g. usher:entitlements.
dash-apps-id-token-alg = ID token signature
dash-apps-rs256 = RS256 (works everywhere)
dash-apps-public-choice = Public app: cannot keep a secret
dash-apps-public-hint = Mobile, single-page and TV apps. They get no secret and must use PKCE.
dash-apps-first-party-choice = First-party app: skip the consent screen
dash-apps-first-party-hint = Only for your own apps.
dash-apps-verified-choice = Verified app: a partner's app you vouch for
dash-apps-verified-hint = Its logo is shown on the consent and TV pages, as a first-party app's is. Other apps show their name only.
dash-apps-logo = Logo address (optional)
dash-apps-logo-hint = An https address of a square image, shown small beside the app's name.
dash-apps-resource-server-choice = Resource server: may introspect every app's tokens
dash-apps-resource-server-hint = For content servers that check viewers' tokens. Other apps may introspect only their own.
dash-apps-pkce-optional-choice = PKCE optional: a legacy confidential app
dash-apps-pkce-optional-hint = Every app must use PKCE (S256) unless this is checked. Public apps always must.
dash-apps-register-button = Register app
dash-apps-grant-types-none = grant types: choose at least one
dash-apps-not-found = No such app: it may have been removed.

## The audit log: audit.html, src/web/dashboard/audit.rs.

dash-audit = Audit log
dash-audit-lead = Every change made by administrators, apps and the command line, newest first. Times are UTC.
dash-audit-filter-label = Filter the audit log
dash-audit-actor = Actor
dash-audit-person = Person
dash-audit-action = Action
dash-audit-from = From
dash-audit-to = To (inclusive)
dash-audit-filter = Filter
# $forms: the forms an actor takes (cli, client:ID, admin:ID), as code.
dash-audit-actor-hint = Actor: { $forms } or an administrator's email.
dash-audit-person-hint = Person: an ID or an email.
# $examples: a few actions, as code.
dash-audit-action-hint = Action: e.g. { $examples }.
dash-audit-clear = Clear the filters
dash-audit-no-match = No entries match.
dash-audit-none = No entries yet.
dash-audit-when = When
dash-audit-target = Target
dash-audit-change = Change
dash-audit-actor-admin = admin { $email }
dash-audit-before-after = Before → after
dash-audit-before = Before
dash-audit-after = After
dash-audit-newest = Newest
dash-audit-older = Older
dash-pages = Pages
dash-audit-from-date = from: must be a date like 2026-07-01
dash-audit-to-date = to: must be a date like 2026-07-01
dash-audit-to-before-from = to: must not be before from

## Signing keys: keys.html, src/web/dashboard/keys.rs.

dash-keys = Signing keys
# $jwks: the link to the published keys.
dash-keys-lead = Tokens are signed with the active key of their algorithm. Apps check them against the published keys (the JWKS at { $jwks }). Times are UTC.
dash-keys-active = Active
dash-keys-none-active = No active key: the server signs nothing until keys are rotated.
dash-keys-kid = Key ID
dash-keys-alg = Algorithm
dash-keys-created = Created
dash-keys-here = On this server
dash-keys-signing = Signing
dash-keys-not-loaded = Not yet loaded
dash-keys-retired-heading = Retired, still published
dash-keys-none-retired = None: no key was replaced recently.
dash-keys-retired-hint = They sign nothing new; tokens they signed stay valid until the key leaves the JWKS.
dash-keys-retired = Retired
dash-keys-leaves = Leaves the JWKS
dash-keys-rotate = Rotate
dash-keys-rotate-hint = Makes a new key active for every algorithm, on every server. Nobody is signed out: the current keys stay published for { $duration }, until the tokens they signed expire. A key that may have leaked stays trusted until then too.
dash-keys-rotate-button = Rotate signing keys

## The overview: overview.html, src/web/dashboard/overview.rs. A chart's name (read out in
## place of the drawing) summarises its numbers; $shown and the like are numbers as written,
## with their thousands grouped, and $count the same number for choosing the plural.

dash-overview = Overview
dash-overview-lead = { $count ->
    [one] { $shown } person, as of { $date }.
   *[other] { $shown } people, as of { $date }.
}
dash-overview-numbers = Numbers
dash-overview-tiers = People by tier
dash-overview-tiers-hint = A tier counts while its subscription is not canceled and its period has not ended.
dash-overview-tier = Tier
dash-overview-people = People
dash-overview-no-tier = No tier
dash-overview-subscriptions = Active subscriptions
dash-overview-subscriptions-figure = active, trialing or past due, period not ended
dash-overview-status = Status
dash-overview-subscriptions-column = Subscriptions
dash-status-active = Active
dash-status-trialing = Trialing
dash-status-past-due = Past due
dash-overview-grants = Pay-per-view, last { $count } days
dash-overview-grants-none = No pay-per-view grants in the last { $count } days.
dash-overview-grants-hint = Grants created per product, including any revoked since.
dash-overview-product = Product
dash-overview-grants-column = Grants
dash-overview-other-products = { $count ->
    [one] { $count } other product
   *[other] { $count } other products
}
dash-overview-sign-ins = Sign-ins, last { $count } days
dash-overview-sign-ins-none = No sign-ins in the last { $count } days.
dash-overview-sign-ins-hint = Per day (UTC) by how the sign-in began; a second step counts under the first.
dash-overview-day = Day
dash-overview-all = All
dash-method-password = Password
dash-method-link = Sign-in link
dash-method-passkey = Passkey
dash-method-other = Other
dash-overview-streams = Concurrent streams
dash-overview-streams-figure = playing now
dash-overview-streams-none = No counts recorded in the last 24 hours.
dash-overview-streams-hint = Live streams counted once a minute over the last 24 hours (UTC); the line breaks where nothing was counted.
dash-overview-hour = Hour (UTC)
dash-overview-most-at-once = Most at once
# A chart's items in its name: "Free 12, Premium 30".
dash-chart-item = { $label } { $count }
dash-chart-bars = { $title }: { $items }.
dash-chart-bars-none = { $title }: none.
dash-chart-subscriptions = { $count ->
    [one] { $shown } current subscription by status
   *[other] { $shown } current subscriptions by status
}
dash-chart-grants = Pay-per-view grants in the last { $count } days by product
dash-chart-sign-ins = Sign-ins per day by method, { $first } to { $last }: { $total } in all; { $methods }; most on { $busiest }, { $most }.
dash-chart-sign-ins-none = Sign-ins per day by method, { $first } to { $last }: 0 in all.
dash-chart-streams = Concurrent streams per minute, last 24 hours (UTC): { $now } now; most { $most } at { $time }.
dash-chart-streams-none = Concurrent streams per minute, last 24 hours (UTC): { $now } now; no counts recorded.

## People: people.html, src/web/dashboard/people.rs.

dash-people = People
dash-people-search = Email contains
dash-people-search-button = Search
dash-people-none = Nobody matches.
dash-people-email = Email
dash-people-name = Name
dash-people-note = Note
dash-people-disabled = Disabled
dash-people-administrator = Administrator
dash-people-next = Next page

## A person's page: person.html, src/web/dashboard/people.rs.

dash-person-joined = Joined { $date }
dash-person-id = Id
dash-person-email-verified = Email verified
dash-yes = Yes
dash-no = No
dash-person-entitlement-version = Entitlement version
dash-person-remove-admin = Remove administrator
dash-person-make-admin = Make administrator
dash-person-subscription = Subscription
dash-person-tier = Tier { $tier }
dash-person-no-subscription = No subscription.
dash-person-tier-field = Tier
dash-person-status-field = Status
dash-person-period-end = Current period ends (UTC)
dash-person-save-subscription = Save subscription
dash-person-end-subscription = End subscription
dash-person-no-products = No products.
dash-person-revoke = Revoke
dash-person-revoke-label = Revoke { $product }
dash-person-grant-until = Valid until (UTC, optional)
dash-person-grant = Grant product
dash-family = Family
# $holder: a link to the holder's page, named by their email.
dash-family-member-of = Member of the family of { $holder }.
dash-family-remove-self = Remove from this family
dash-family-holds = Holds a family: { $members } and { $invitations } of { $places }.
dash-family-members = { $count ->
    [one] { $count } member
   *[other] { $count } members
}
dash-family-open-invitations = { $count ->
    [one] { $count } open invitation
   *[other] { $count } open invitations
}
dash-family-places = { $count ->
    [one] { $count } place
   *[other] { $count } places
}
dash-family-remove = Remove
dash-family-remove-label = Remove { $email } from the family
dash-family-invited = Invited:
dash-family-invitation = { $email } (until { $until })
dash-profiles = Profiles
dash-profiles-none = No profiles.
dash-profiles-kids = Kids
dash-profiles-pin = PIN
dash-profiles-remove-pin = Remove PIN
dash-profiles-remove-pin-label = Remove the PIN of { $profile }
dash-profiles-delete = Delete
dash-profiles-delete-label = Delete the profile { $profile }
dash-profiles-new-name = New profile's name
dash-profiles-rating = Age rating
dash-profiles-kids-choice = Kids profile
dash-profiles-add = Add profile
dash-profiles-pin-hint = Only the account holder sets PINs, on their account page.
dash-person-sign-in = Sign-in
dash-person-two-step-on = Two-step sign-in: on since { $date }
dash-person-two-step-off = Two-step sign-in: off
dash-person-passkeys = Passkeys: { $names }
dash-person-no-passkeys = Passkeys: none
dash-person-reset-two-step = Reset two-step sign-in
dash-person-reset-two-step-hint = For someone who lost their authenticator app. They are told by mail.
dash-person-watching = Watching now
dash-person-nothing-playing = Nothing playing.
dash-person-since = Since { $date }
dash-person-stop-stream = Stop playback on { $device }
dash-person-devices = Signed-in devices
dash-person-no-devices = None.
dash-person-sign-out-everywhere = Sign out everywhere
dash-person-enable = Enable account
dash-person-disable = Disable account
# How a session signed in, its methods joined by " + ".
dash-sign-in-password = password
dash-sign-in-link = sign-in link
dash-sign-in-code = authenticator code
dash-sign-in-passkey = passkey
# Why a change on a person's page was refused.
dash-person-period-end-invalid = current period end: must be a date and time (UTC)
dash-person-grant-until-invalid = valid until: must be a date and time (UTC)
dash-person-profile-limit = { $count ->
    [one] Their plan allows { $count } profile.
   *[other] Their plan allows { $count } profiles.
}
dash-person-own-admin = You cannot remove your own administrator rights.
dash-person-own-account = You cannot disable your own account here.

## Pay-per-view products: products.html, product.html, src/web/dashboard/products.rs.

dash-slug = Slug
dash-products-lead = Events and films people buy one by one. Times are UTC.
dash-products-none = No products yet.
dash-products-on-sale = On sale
dash-products-rental = Rental
dash-products-new = New product
dash-product-title = Title
dash-product-starts = Available from (UTC)
dash-product-ends = Available until (UTC)
dash-product-rental-hours = Rental hours
dash-products-rental-hint = Leave the times empty for no limit. A rental runs from purchase (or the opening, if later) for this many hours; empty means until the window closes.
dash-product-household = Shared with the household: members of a family plan may watch it when its holder bought it
dash-products-create = Create product
dash-product-lead = Slug { $slug }. Times are UTC.
dash-product-save = Save product
dash-product-no-grants = Nobody has this product yet.
dash-product-valid = Valid
dash-product-state = State
dash-product-grants-shown = The most recent { $count }.
# A product's rental, in the list.
dash-product-rental-until-close = Until the window closes
dash-product-rental-hours-short = { $count } h
# A time window: when a product is on sale, or a grant valid.
dash-window-always = Always
dash-window-from = From { $start }
dash-window-until = Until { $end }
dash-window-between = { $start } – { $end }
# Where a grant stands.
dash-grant-active = Active
dash-grant-not-yet-on-sale = Not yet on sale: starts { $date }
dash-grant-starts = Starts { $date }
dash-grant-ended = Ended
dash-grant-revoked = Revoked
dash-product-starts-invalid = starts at: must be a date and time (UTC)
dash-product-ends-invalid = ends at: must be a date and time (UTC)
dash-product-rental-invalid = rental hours: must be a whole number

## Tiers: tiers.html, tier.html, src/web/dashboard/tiers.rs.

dash-tiers-lead = What each subscription unlocks. A higher rank is a better tier.
dash-tiers-none = No tiers yet.
dash-tiers-streams = Streams
dash-tiers-members = Family members
dash-tiers-new = New tier
dash-tier-name = Name
dash-tier-rank = Rank
dash-tier-max-streams = Max streams
dash-tier-max-profiles = Max profiles
dash-tier-max-devices = Max devices
dash-tier-max-members = Max members
dash-tier-max-devices-hint = Max devices: how many phones, TVs and browsers may stay signed in at once; empty for no limit.
dash-tier-max-members-hint = Max members: how many people a subscriber may invite into their family (household) to share the tier; 0 or empty for none.
dash-tier-policy = At the stream limit
dash-tier-policy-refuse = Refuse the new stream
dash-tier-policy-end-oldest = End the oldest stream
# $claim: the claim's name, as code.
dash-tiers-slug-hint = The slug is what tokens carry ({ $claim }): lower-case letters, digits and dashes. It cannot change later.
dash-tier-features = Features
dash-tiers-features-hint = Separated by commas, e.g. hd, 4k, offline-downloads.
dash-tiers-create = Create tier
dash-tier-heading = Tier { $tier }
dash-tier-lead = Slug { $slug }. Saving changes what every subscriber of this tier may watch, at once.
dash-tier-features-hint = Separated by commas.
dash-tier-save = Save tier
dash-tier-delete = Delete
dash-tier-delete-hint = Only a tier no subscription uses can be deleted.
dash-tier-delete-button = Delete tier { $tier }
dash-tier-rank-invalid = rank: must be a whole number
dash-tier-max-streams-invalid = max streams: must be a whole number
dash-tier-max-devices-invalid = max devices: must be a whole number
dash-tier-max-profiles-invalid = max profiles: must be a whole number
dash-tier-max-members-invalid = max members: must be a whole number

## What a page says after a change (its address carries `?done=`), and why a change was refused.

dash-notice-app-disabled = The app is disabled. Its tokens no longer work.
dash-notice-product-created = The product was created.
dash-notice-product-saved = The product was saved.
dash-notice-keys-rotated = New signing keys are active. The keys they replace stay published until their tokens expire.
dash-notice-keys-rotated-soon = New signing keys are active. This server starts using them within a minute.
dash-notice-tier-created = The tier was created.
dash-notice-tier-saved = The tier was saved.
dash-notice-tier-deleted = The tier was deleted.
dash-notice-subscription-set = The subscription was saved.
dash-notice-subscription-ended = Subscription ended.
dash-notice-product-granted = The pay-per-view product was granted.
dash-notice-grant-revoked = Grant revoked.
dash-notice-signed-out = Signed out everywhere.
dash-notice-account-disabled = Account disabled and signed out everywhere.
dash-notice-account-enabled = Account enabled.
dash-notice-two-step-reset = Two-step sign-in was reset.
dash-notice-made-admin = The account is an administrator now. Without a second factor it is asked to add one at its next sign-in.
dash-notice-admin-removed = The account is no longer an administrator.
dash-notice-stream-stopped = The stream was stopped. Its player stops at its next heartbeat.
dash-notice-stream-over = That stream had already ended.
dash-notice-member-removed = They are no longer in the family: what they shared with it is gone.
dash-notice-profile-added = The profile was added.
dash-notice-profile-deleted = The profile was deleted: its tokens no longer work.
dash-notice-profile-pin-cleared = The profile's PIN was removed. The account holder is told by mail.
# A service's refusal: the field and its reason are the service's own words (the admin API
# and the command line give the same).
dash-problem-field = { $field }: { $reason }
dash-problem-no-such = No such { $what }.
