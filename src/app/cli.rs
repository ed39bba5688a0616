//! The `usher` command line (README.md): every subcommand reads the same configuration
//! as `serve`; `--json` prints exactly one JSON object on stdout, errors go to stderr.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::app::demo;
use crate::app::server;
use crate::domain::AdminError;
use crate::domain::core::LocalViews;
use crate::domain::entitlements::manage::Actor;
use crate::domain::identity::people::{self, AccountAction};
use crate::domain::identity::users::{self, NewUser};
use crate::domain::oauth::clients::{self, NewClient};
use crate::domain::streams::LiveStreams;
use crate::domain::tokens::revoked::RevokedTokens;
use crate::domain::webhooks;
use crate::foundation::clock::Clock;
use crate::foundation::config::{Config, LogFormat};
use crate::foundation::crypto::keyring::{self, Withdrawal};
use crate::foundation::crypto::keys::MasterKey;
use crate::foundation::store::transaction;
use crate::foundation::store::{self, Store};
use crate::foundation::time::rfc3339;

/// Where every command finds its configuration, shown under each `--help`.
const CONFIGURATION_HELP: &str = "\
Configuration (the same for every command): --config PATH or USHER_CONFIG, else ./usher.toml
when it exists, then USHER_* variables. The database is USHER_DATABASE_URL (default
sqlite://./data/usher.db, relative to the current directory), the keys USHER_KEYS_DIR (default
./keys). Only `serve`, `migrate` and `demo seed` create a database that is not there yet.
Every setting: docs/configuration.md.";

/// The grant types `client create` takes, for its help.
const GRANT_TYPES_HELP: &str = "Grant type, repeatable: authorization_code, refresh_token, \
client_credentials, urn:ietf:params:oauth:grant-type:device_code (TVs). Default: \
authorization_code and refresh_token";

/// The scopes `client create` takes, for its help.
const SCOPES_HELP: &str = "Scope the client may ask for, repeatable: openid, profile, email, \
offline_access, entitlements (the default is these five); usher:admin and usher:entitlements \
(services with client_credentials only); or your own, such as catalog:read";

#[derive(Parser)]
#[command(
    name = "usher",
    version,
    about = "OAuth 2.0 / OpenID Connect identity and entitlement server",
    after_help = CONFIGURATION_HELP
)]
pub(crate) struct Cli {
    /// Configuration file (TOML) to read; overrides USHER_CONFIG. Default: ./usher.toml when
    /// it exists.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (creates and migrates the database and creates keys when needed).
    #[command(after_help = "\
Port: USHER_BIND=HOST:PORT (default 127.0.0.1:8080), or bind = \"HOST:PORT\" in usher.toml.
Database: USHER_DATABASE_URL=sqlite://PATH or postgres://USER@HOST:PORT/DB (default
sqlite://./data/usher.db), or database_url in usher.toml. Another file: --config PATH.

Example: USHER_BIND=0.0.0.0:9000 USHER_DATABASE_URL=sqlite:///var/lib/usher/usher.db usher serve")]
    Serve,
    /// Create the database when it is not there, run its migrations, and exit.
    #[command(after_help = "Example: USHER_DATABASE_URL=sqlite:///var/lib/usher/usher.db usher migrate")]
    Migrate,
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage people's accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Copy a SQLite database to a new file, consistently, while servers run (PostgreSQL:
    /// use pg_dump).
    #[command(after_help = "Example: usher backup /var/backups/usher-2024-05-01.db")]
    Backup {
        /// The new file to write; an existing file is never overwritten.
        path: PathBuf,
    },
    /// Demo data for trying the dashboard (not for production databases).
    #[command(subcommand)]
    Demo(DemoCommand),
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Create demo tiers, pay-per-view products, admin@example.com and people with
    /// subscriptions, grants and two weeks of sign-ins; what exists is skipped.
    #[command(after_help = "Example: usher demo seed --people 200")]
    Seed(DemoSeed),
}

#[derive(Args)]
struct DemoSeed {
    /// How many people: person0001@example.com and on.
    #[arg(long, default_value_t = demo::DEFAULT_PEOPLE,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    people: u32,
    /// Read admin@example.com's password from standard input; otherwise one is generated
    /// and printed. Ignored when the account exists.
    #[arg(long)]
    admin_password_stdin: bool,
    /// Print one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; prints its id and, for confidential clients, its secret (once).
    #[command(after_help = "\
Examples:
  usher client create --name \"Streamly Web\" --redirect-uri https://streamly.example/callback --json
  usher client create --name catalog --grant-type client_credentials --scope catalog:read --json")]
    Create(ClientCreate),
    /// List every registered client.
    #[command(after_help = "Example: usher client list --json")]
    List {
        /// Print one JSON object, {"clients": [...]}, on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Show one client's registration.
    #[command(after_help = "Example: usher client show Xb4J7cGzQmWJ1o0p9yT2lA --json")]
    Show {
        /// The client's id (client_id).
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Disable a client: it gets no new tokens and every token it holds is revoked.
    #[command(after_help = "Example: usher client disable Xb4J7cGzQmWJ1o0p9yT2lA")]
    Disable {
        /// The client's id (client_id).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Give a confidential client a new secret, printed once; the old one stops working.
    #[command(after_help = "Example: usher client rotate-secret Xb4J7cGzQmWJ1o0p9yT2lA --json")]
    RotateSecret {
        /// The client's id (client_id).
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// Print one JSON object, {"client_id", "client_secret"}, on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Set where a client receives entitlement change events; prints the signing secret (once).
    #[command(
        after_help = "Example: usher client webhook --client-id Xb4J7cGzQmWJ1o0p9yT2lA --url https://streamly.example/usher-events"
    )]
    Webhook(ClientWebhook),
}

#[derive(Args)]
struct ClientCreate {
    /// The name people see on the consent screen and administrators in lists.
    #[arg(long)]
    name: String,
    /// Where authorization responses may be sent, exactly as the app sends it; repeatable.
    /// Needed with authorization_code.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Where the app may ask to land after signing out; repeatable.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    #[arg(long = "grant-type", value_name = "TYPE", help = GRANT_TYPES_HELP)]
    grant_types: Vec<String>,
    #[arg(long = "scope", value_name = "SCOPE", help = SCOPES_HELP)]
    scopes: Vec<String>,
    /// A client that cannot keep a secret (mobile, single-page, TV apps).
    #[arg(long)]
    public: bool,
    /// Skip the consent screen.
    #[arg(long)]
    first_party: bool,
    /// The app's logo (an https URL), shown on the consent and TV pages of first-party and
    /// --verified apps.
    #[arg(long, value_name = "URL")]
    logo_uri: Option<String>,
    /// The platform vouches for this app (a partner's): its logo is shown.
    #[arg(long)]
    verified: bool,
    /// Algorithm of the client's ID tokens: RS256 (default) or ES256.
    #[arg(long, value_name = "ALG")]
    id_token_alg: Option<String>,
    /// A content server: may introspect the tokens of every app, not only its own.
    #[arg(long)]
    resource_server: bool,
    /// A legacy confidential client that cannot send PKCE (S256) in the code flow.
    #[arg(long)]
    pkce_optional: bool,
    /// Print one JSON object, {"client_id", "client_secret"}, on standard output.
    #[arg(long)]
    json: bool,
}

// --- usher client webhook ---
#[derive(Args)]
struct ClientWebhook {
    /// The client whose events these are.
    #[arg(long, allow_hyphen_values = true)]
    client_id: String,
    /// The http(s) URL events are posted to; replaces any earlier one and its secret (the
    /// replaced secret signs beside the new one for webhook_secret_overlap_secs).
    #[arg(long, required_unless_present = "remove", conflicts_with = "remove")]
    url: Option<String>,
    /// Delete the client's endpoint; deliveries still waiting are given up.
    #[arg(long)]
    remove: bool,
    /// Print one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct WebhookRegistered {
    client_id: String,
    url: String,
    /// The Standard Webhooks secret, `whsec_…`.
    secret: String,
    /// Until when (RFC 3339) the secret this one replaced keeps signing beside it; null when
    /// it replaced none or the overlap is off.
    previous_secret_until: Option<String>,
}

#[derive(Serialize)]
struct WebhookRemoved {
    client_id: String,
    removed: bool,
}

/// Records an administrative action taken on the command line in the audit log.
fn audit(
    conn: &mut crate::foundation::store::DbConnection,
    action: &str,
    target: &str,
    user_id: Option<&str>,
    after: Option<serde_json::Value>,
    now: i64,
) -> Result<(), crate::foundation::store::StoreError> {
    crate::foundation::store::entitlements::audit(
        conn,
        &crate::foundation::store::entitlements::NewAuditEntry {
            at: now,
            actor: "cli",
            action,
            user_id,
            target,
            before: None,
            after: after.map(|after| after.to_string()),
        },
    )
}

/// The master key that seals what a command adds. Made only for a database holding nothing
/// sealed yet (before the first `usher serve`); once keys are stored, a missing file means
/// the command was pointed at another keys directory than the servers', and anything it
/// sealed there no server could open.
fn master_key(config: &Config, store: &Store) -> anyhow::Result<MasterKey> {
    let sealed = store.run_blocking(crate::foundation::store::keys::count_all)?;
    Ok(if sealed == 0 {
        MasterKey::load_or_create(&config.keys_dir)?
    } else {
        MasterKey::load_existing(&config.keys_dir)?
    })
}

fn client_webhook(config: &Config, clock: &Clock, args: ClientWebhook) -> anyhow::Result<()> {
    let store = open_existing(config)?;
    let client_id = args.client_id;
    // clap lets through exactly one of --url and --remove.
    let Some(url) = args.url else {
        let removed = store.run_blocking(|conn| {
            let removed = webhooks::remove(conn, &client_id)?;
            audit(conn, "webhook.remove", &client_id, None, None, clock.now())?;
            Ok::<_, webhooks::WebhookError>(removed)
        })?;
        let outcome = WebhookRemoved { client_id, removed };
        return print(args.json, &outcome, || {
            if outcome.removed {
                format!("webhook endpoint of {} removed", outcome.client_id)
            } else {
                format!("{} had no webhook endpoint", outcome.client_id)
            }
        });
    };
    // The URL as stored (normalised), so what is printed is what will be called.
    let url = webhooks::check_url(&url)?;
    let master = master_key(config, &store)?;
    let now = clock.now();
    // Registration checks the client first: it runs its own write-first transaction, and the
    // audit entry follows it.
    let overlap_secs = config.webhook_secret_overlap_secs;
    let outcome = store.run_blocking(|conn| {
        let outcome = webhooks::register(conn, &master, &client_id, &url, overlap_secs, now)?;
        let after = serde_json::json!({ "url": url });
        audit(conn, "webhook.register", &client_id, None, Some(after), now)?;
        Ok::<_, webhooks::WebhookError>(outcome)
    })?;
    let registered = WebhookRegistered {
        client_id,
        url,
        secret: outcome.secret,
        previous_secret_until: outcome.previous_secret_until.map(rfc3339::format),
    };
    print(args.json, &registered, || {
        let mut text = format!(
            "client_id: {}\nurl: {}\nsecret: {}",
            registered.client_id, registered.url, registered.secret
        );
        if let Some(until) = &registered.previous_secret_until {
            text.push_str(&format!("\nprevious secret signs too until: {until}"));
        }
        text
    })
}
// --- end usher client webhook ---

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account.
    #[command(
        after_help = "Example: echo 'a long password' | usher user create --email me@example.com --password-stdin --json"
    )]
    Create(UserCreate),
    /// List every account.
    #[command(after_help = "Example: usher user list --json")]
    List {
        /// Print one JSON object, {"users": [...]}, on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: it signs in nowhere and is signed out everywhere.
    #[command(after_help = "Example: usher user disable someone@example.com")]
    Disable {
        /// The account's email address.
        email: String,
    },
    /// Make an account an administrator of the dashboard, or (--remove) take it back.
    #[command(after_help = "Example: usher user admin me@example.com")]
    Admin {
        /// The account's email address.
        email: String,
        /// Take administration away instead.
        #[arg(long)]
        remove: bool,
    },
}

#[derive(Args)]
struct UserCreate {
    /// The address the person signs in with (stored lower-case).
    #[arg(long)]
    email: String,
    /// The name shown to the person and to apps.
    #[arg(long)]
    name: Option<String>,
    /// Read the password from standard input; without it the account signs in by emailed link
    /// or passkey only.
    #[arg(long)]
    password_stdin: bool,
    /// Make the account an administrator of the dashboard.
    #[arg(long)]
    admin: bool,
    /// Print one JSON object, {"id", "email"}, on standard output.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make new signing keys active; old public keys stay published until their tokens expire.
    #[command(after_help = "Example: usher keys rotate --json")]
    Rotate {
        /// Print one JSON object, {"active_kids": [...]}, on standard output.
        #[arg(long)]
        json: bool,
    },
    /// List the published signing keys (the JWKS), oldest first.
    #[command(after_help = "Example: usher keys list --json")]
    List {
        /// Print one JSON object, {"keys": [...]}, on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a retired key from the JWKS at once: tokens it signed stop verifying. The
    /// active key of an algorithm cannot be revoked: rotate first.
    #[command(after_help = "Example: usher keys rotate && usher keys revoke <old kid from usher keys list>")]
    Revoke {
        /// The key's id, as `usher keys list` shows it (it may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

/// The command line's name in the audit log.
fn cli_actor() -> Actor {
    Actor("cli".to_owned())
}

/// Opens the configured database for a command that must not create it: run from the wrong
/// directory, a relative SQLite path would otherwise make a new, empty database.
fn open_existing(config: &Config) -> anyhow::Result<Store> {
    let store = Store::open_existing(&config.database_url, 1)?;
    eprintln!("database: {}", store.describe());
    Ok(store)
}

/// Opens the configured database, creating it when it is not there.
fn open_or_create(config: &Config) -> anyhow::Result<Store> {
    let store = Store::open(&config.database_url, 1)?;
    eprintln!("database: {}", store.describe());
    Ok(store)
}

/// A client as `client list` and `client show` print it; never its secret.
#[derive(Serialize)]
struct ClientView {
    client_id: String,
    name: String,
    public: bool,
    first_party: bool,
    verified: bool,
    logo_uri: Option<String>,
    resource_server: bool,
    pkce_optional: bool,
    grant_types: Vec<String>,
    scopes: Vec<String>,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    id_token_alg: String,
    created_at: i64,
    disabled_at: Option<i64>,
}

impl From<store::clients::Client> for ClientView {
    fn from(client: store::clients::Client) -> Self {
        Self {
            public: client.is_public(),
            client_id: client.client_id,
            name: client.name,
            first_party: client.first_party,
            verified: client.verified,
            logo_uri: client.logo_uri,
            resource_server: client.resource_server,
            pkce_optional: client.pkce_optional,
            grant_types: client.grant_types,
            scopes: client.scopes,
            redirect_uris: client.redirect_uris,
            post_logout_redirect_uris: client.post_logout_redirect_uris,
            id_token_alg: client.id_token_alg,
            created_at: client.created_at,
            disabled_at: client.disabled_at,
        }
    }
}

impl ClientView {
    fn line(&self) -> String {
        let state = if self.disabled_at.is_some() {
            "  (disabled)"
        } else {
            ""
        };
        format!(
            "{}  {}  {}{state}",
            self.client_id,
            self.name,
            self.grant_types.join(",")
        )
    }

    fn details(&self) -> String {
        let flag = |on: bool| if on { "yes" } else { "no" };
        format!(
            "client_id: {}\nname: {}\npublic: {}\nfirst_party: {}\nverified: {}\nlogo_uri: {}\n\
             resource_server: {}\npkce_optional: {}\ngrant_types: {}\nscopes: {}\nredirect_uris: {}\n\
             post_logout_redirect_uris: {}\nid_token_alg: {}\ncreated: {}\ndisabled: {}",
            self.client_id,
            self.name,
            flag(self.public),
            flag(self.first_party),
            flag(self.verified),
            self.logo_uri.as_deref().unwrap_or("none"),
            flag(self.resource_server),
            flag(self.pkce_optional),
            self.grant_types.join(" "),
            self.scopes.join(" "),
            self.redirect_uris.join(" "),
            self.post_logout_redirect_uris.join(" "),
            self.id_token_alg,
            crate::foundation::time::format_utc(self.created_at),
            self.disabled_at
                .map_or_else(|| "no".to_owned(), crate::foundation::time::format_utc),
        )
    }
}

#[derive(Serialize)]
struct ClientList {
    clients: Vec<ClientView>,
}

fn client_list(config: &Config, json: bool) -> anyhow::Result<()> {
    let store = open_existing(config)?;
    let clients = store.run_blocking(store::clients::list)?;
    let list = ClientList {
        clients: clients.into_iter().map(ClientView::from).collect(),
    };
    print(json, &list, || {
        list.clients
            .iter()
            .map(ClientView::line)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn find_client(store: &Store, client_id: &str) -> anyhow::Result<store::clients::Client> {
    store
        .run_blocking(|conn| store::clients::find(conn, client_id))?
        .ok_or_else(|| anyhow::anyhow!("no client with id {client_id:?} (usher client list shows them)"))
}

fn client_show(config: &Config, client_id: &str, json: bool) -> anyhow::Result<()> {
    let store = open_existing(config)?;
    let view = ClientView::from(find_client(&store, client_id)?);
    print(json, &view, || view.details())
}

fn client_disable(config: &Config, clock: &Clock, client_id: &str) -> anyhow::Result<()> {
    let store = open_existing(config)?;
    // Read first, outside: the transaction starts with the write.
    let client = find_client(&store, client_id)?;
    let now = clock.now();
    // This process keeps no view of revoked tokens: servers learn them from the change feed.
    let revoked = RevokedTokens::default();
    store.run_blocking(|conn| {
        clients::disable(
            &revoked,
            conn,
            &cli_actor(),
            &client,
            now,
            config.longest_token_lifetime_secs(),
        )
    })?;
    println!(
        "client {client_id} ({}) disabled; its tokens are revoked",
        client.name
    );
    Ok(())
}

fn client_rotate_secret(config: &Config, clock: &Clock, client_id: &str, json: bool) -> anyhow::Result<()> {
    let store = open_existing(config)?;
    let client = find_client(&store, client_id)?;
    let now = clock.now();
    let rotated = store.run_blocking(|conn| clients::rotate_secret(conn, &cli_actor(), &client, now))?;
    let rotated = rotated.ok_or_else(|| anyhow::anyhow!("no client with id {client_id:?}"))?;
    print(json, &rotated, || match &rotated.client_secret {
        Some(secret) => format!("client_id: {}\nclient_secret: {secret}", rotated.client_id),
        None => format!("client_id: {}", rotated.client_id),
    })
}

/// An account as `user list` prints it.
#[derive(Serialize)]
struct UserView {
    id: String,
    email: String,
    name: Option<String>,
    admin: bool,
    created_at: i64,
    disabled_at: Option<i64>,
}

#[derive(Serialize)]
struct UserList {
    users: Vec<UserView>,
}

fn user_list(config: &Config, json: bool) -> anyhow::Result<()> {
    let store = open_existing(config)?;
    let people = store.run_blocking(store::dashboard::all_people)?;
    let list = UserList {
        users: people
            .into_iter()
            .map(|person| UserView {
                id: person.id,
                email: person.email,
                name: person.name,
                admin: person.is_admin,
                created_at: person.created_at,
                disabled_at: person.disabled_at,
            })
            .collect(),
    };
    print(json, &list, || {
        list.users
            .iter()
            .map(|user| {
                let admin = if user.admin { "  (administrator)" } else { "" };
                let disabled = if user.disabled_at.is_some() {
                    "  (disabled)"
                } else {
                    ""
                };
                format!("{}  {}{admin}{disabled}", user.id, user.email)
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn find_person(store: &Store, email: &str) -> anyhow::Result<store::users::User> {
    let email = users::normalize_email(email)?;
    store
        .run_blocking(|conn| store::users::find_by_email(conn, &email))?
        .ok_or_else(|| anyhow::anyhow!("no account with email {email:?} (usher user list shows them)"))
}

/// This process keeps no in-memory views of revoked tokens or streams: servers learn of what
/// a command ends from the change feed.
fn detached_views() -> (RevokedTokens, LiveStreams) {
    (RevokedTokens::default(), LiveStreams::new(1))
}

fn user_disable(config: &Config, clock: &Clock, email: &str) -> anyhow::Result<()> {
    let store = open_existing(config)?;
    let person = find_person(&store, email)?;
    let (revoked, streams) = detached_views();
    let outcome = store.run_blocking(|conn| {
        people::act(
            LocalViews {
                revoked: &revoked,
                streams: &streams,
            },
            conn,
            &cli_actor(),
            &person.id,
            AccountAction::Disable,
            clock.now(),
        )
    })?;
    match outcome {
        Some((_, true)) => println!("{} disabled and signed out everywhere", person.email),
        Some((_, false)) => println!("{} was already disabled", person.email),
        None => anyhow::bail!("no account with email {:?}", person.email),
    }
    Ok(())
}

fn user_admin(config: &Config, clock: &Clock, email: &str, remove: bool) -> anyhow::Result<()> {
    let store = open_existing(config)?;
    let person = find_person(&store, email)?;
    let action = if remove {
        AccountAction::RemoveAdmin
    } else {
        AccountAction::MakeAdmin
    };
    let (revoked, streams) = detached_views();
    let views = LocalViews {
        revoked: &revoked,
        streams: &streams,
    };
    let changed = store
        .run_blocking(|conn| people::act(views, conn, &cli_actor(), &person.id, action, clock.now()))?
        .is_some_and(|(_, changed)| changed);
    let now_is = if remove {
        "not an administrator"
    } else {
        "an administrator"
    };
    if changed {
        println!("{} is now {now_is}", person.email);
    } else {
        println!("{} already was {now_is}", person.email);
    }
    Ok(())
}

/// A published signing key as `keys list` prints it.
#[derive(Serialize)]
struct KeyView {
    kid: String,
    alg: String,
    active: bool,
    created_at: i64,
    retired_at: Option<i64>,
    publish_until: Option<i64>,
}

#[derive(Serialize)]
struct KeyList {
    keys: Vec<KeyView>,
}

fn keys_list(config: &Config, clock: &Clock, json: bool) -> anyhow::Result<()> {
    let store = open_existing(config)?;
    let now = clock.now();
    let keys = store.run_blocking(|conn| keyring::published(conn, now))?;
    let list = KeyList {
        keys: keys
            .into_iter()
            .map(|key| KeyView {
                active: key.retired_at.is_none(),
                kid: key.kid,
                alg: key.alg,
                created_at: key.created_at,
                retired_at: key.retired_at,
                publish_until: key.publish_until,
            })
            .collect(),
    };
    print(json, &list, || {
        list.keys
            .iter()
            .map(|key| {
                let state = match key.publish_until {
                    None => "active".to_owned(),
                    Some(until) => format!(
                        "retired, published until {}",
                        crate::foundation::time::format_utc(until)
                    ),
                };
                format!("{}  {}  {state}", key.kid, key.alg)
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn keys_revoke(config: &Config, clock: &Clock, kid: &str) -> anyhow::Result<()> {
    let store = open_existing(config)?;
    let now = clock.now();
    let withdrawal = store.run_blocking(|conn| {
        transaction(conn, |conn| {
            let withdrawal = keyring::withdraw(conn, kid, now)?;
            if withdrawal == Withdrawal::Withdrawn {
                audit(conn, "keys.revoke", kid, None, None, now)?;
            }
            Ok::<_, keyring::KeyringError>(withdrawal)
        })
    })?;
    match withdrawal {
        Withdrawal::Withdrawn => {
            println!("key {kid} withdrawn from the JWKS: tokens it signed no longer verify");
            Ok(())
        }
        Withdrawal::Active { alg } => anyhow::bail!(
            "key {kid} is the active {alg} key and signs every new {alg} token: run \
             `usher keys rotate` first, then revoke it"
        ),
        Withdrawal::NotPublished => {
            anyhow::bail!("no published key {kid:?} (usher keys list shows them)")
        }
    }
}

fn backup(config: &Config, destination: &Path) -> anyhow::Result<()> {
    if !store::is_sqlite_url(&config.database_url) {
        return Err(store::BackupError::NotSqlite.into());
    }
    let store = open_existing(config)?;
    store.backup_sqlite(destination)?;
    println!("{} copied to {}", store.describe(), destination.display());
    Ok(())
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: Cli) -> anyhow::Result<()> {
    let loaded = Config::load(cli.config.as_deref())?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let config = loaded.config;
    init_logging(&config);
    let clock = Clock::System;
    match cli.command {
        Command::Serve => serve(config, clock),
        Command::Migrate => {
            open_or_create(&config)?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Backup { path } => backup(&config, &path),
        Command::Client(ClientCommand::List { json }) => client_list(&config, json),
        Command::Client(ClientCommand::Show { id, json }) => client_show(&config, &id, json),
        Command::Client(ClientCommand::Disable { id }) => client_disable(&config, &clock, &id),
        Command::Client(ClientCommand::RotateSecret { id, json }) => {
            client_rotate_secret(&config, &clock, &id, json)
        }
        Command::User(UserCommand::List { json }) => user_list(&config, json),
        Command::User(UserCommand::Disable { email }) => user_disable(&config, &clock, &email),
        Command::User(UserCommand::Admin { email, remove }) => user_admin(&config, &clock, &email, remove),
        Command::Keys(KeysCommand::List { json }) => keys_list(&config, &clock, json),
        Command::Keys(KeysCommand::Revoke { kid }) => keys_revoke(&config, &clock, &kid),
        Command::Client(ClientCommand::Create(args)) => {
            let json = args.json;
            let new = NewClient {
                name: args.name,
                redirect_uris: args.redirect_uris,
                post_logout_redirect_uris: args.post_logout_redirect_uris,
                grant_types: args.grant_types,
                scopes: args.scopes,
                public: args.public,
                first_party: args.first_party,
                id_token_alg: args.id_token_alg,
                resource_server: args.resource_server,
                pkce_optional: args.pkce_optional,
                logo_uri: args.logo_uri,
                verified: args.verified,
            };
            clients::check_usable(&new)?;
            let store = open_existing(&config)?;
            let created =
                store.run_blocking(|conn| clients::register(conn, &cli_actor(), new, clock.now()))?;
            print(json, &created, || match &created.client_secret {
                Some(secret) => format!("client_id: {}\nclient_secret: {secret}", created.client_id),
                None => format!("client_id: {}", created.client_id),
            })
        }
        Command::Client(ClientCommand::Webhook(args)) => client_webhook(&config, &clock, args),
        Command::User(UserCommand::Create(args)) => {
            let password = if args.password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let store = open_existing(&config)?;
            let new = NewUser {
                email: args.email,
                name: args.name,
                password,
                admin: args.admin,
            };
            let after = serde_json::json!({ "email": new.email, "name": new.name, "admin": new.admin });
            // argon2 before the transaction: no database lock is held while it hashes.
            let prepared = users::prepare(new)?;
            let created = store.run_blocking(|conn| {
                transaction(conn, |conn| {
                    let user = users::insert(conn, prepared, clock.now())?;
                    audit(
                        conn,
                        "user.create",
                        &user.id,
                        Some(&user.id),
                        Some(after),
                        clock.now(),
                    )?;
                    Ok::<_, AdminError>(users::CreatedUser {
                        id: user.id,
                        email: user.email,
                    })
                })
            })?;
            print(args.json, &created, || {
                format!("id: {}\nemail: {}", created.id, created.email)
            })
        }
        Command::Demo(DemoCommand::Seed(args)) => {
            let admin_password = if args.admin_password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let store = open_or_create(&config)?;
            let options = demo::Options {
                people: args.people,
                admin_password,
                session_max_secs: config.session_max_secs,
            };
            let seeded = demo::seed(&store, &clock, options)?;
            print(args.json, &seeded, || seeded.summary())
        }
        Command::Keys(KeysCommand::Rotate { json }) => {
            let store = open_existing(&config)?;
            let master = master_key(&config, &store)?;
            let now = clock.now();
            let kids = store.run_blocking(|conn| {
                // Refuse to add keys sealed under a master key the running servers lack.
                let kids = keyring::load(conn, &master, now).and_then(|_| {
                    keyring::rotate(conn, &master, now, config.longest_token_lifetime_secs())
                })?;
                let after = serde_json::json!({ "active_kids": kids });
                audit(conn, "keys.rotate", &kids.join(" "), None, Some(after), now)?;
                Ok::<_, keyring::KeyringError>(kids)
            })?;
            #[derive(Serialize)]
            struct Rotated {
                active_kids: Vec<String>,
            }
            let rotated = Rotated { active_kids: kids };
            print(json, &rotated, || {
                format!("active keys: {}", rotated.active_kids.join(", "))
            })
        }
    }
}

fn serve(config: Config, clock: Clock) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let server = server::start(config, clock).await?;
        eprintln!("database: {}", server.state.store.describe());
        eprintln!("usher serving {} on http://{}", server.issuer(), server.addr);
        server.wait().await?;
        Ok(())
    })
}

fn read_password() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let password = input.strip_suffix('\n').unwrap_or(&input);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_owned())
}

fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    } else {
        println!("{}", human());
    }
    Ok(())
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every subcommand that runs (has no subcommands of its own), with its path.
    fn leaves(command: &clap::Command, path: String) -> Vec<(String, clap::Command)> {
        if command.get_subcommands().next().is_none() {
            return vec![(path, command.clone())];
        }
        command
            .get_subcommands()
            .filter(|sub| sub.get_name() != "help")
            .flat_map(|sub| leaves(sub, format!("{path} {}", sub.get_name())))
            .collect()
    }

    #[test]
    fn ids_that_begin_with_a_dash_are_values_not_options() {
        let revoke = Cli::try_parse_from(["usher", "keys", "revoke", "-3ulrpVtRGc5HyAmWZ"]).unwrap();
        assert!(
            matches!(revoke.command, Command::Keys(KeysCommand::Revoke { kid }) if kid == "-3ulrpVtRGc5HyAmWZ")
        );
        for command in [
            vec!["usher", "client", "show", "-xfWcPNL7X0G"],
            vec!["usher", "client", "disable", "-xfWcPNL7X0G"],
            vec![
                "usher",
                "client",
                "webhook",
                "--client-id",
                "-xfWcPNL7X0G",
                "--remove",
            ],
        ] {
            assert!(Cli::try_parse_from(&command).is_ok(), "{command:?}");
        }
    }

    #[test]
    fn every_option_of_every_subcommand_is_described_and_every_subcommand_has_an_example() {
        let mut root = Cli::command();
        root.build();
        for (path, command) in leaves(&root, "usher".to_owned()) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "{path}: --{id} has no description");
            }
            let after = command
                .get_after_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(after.contains("Example"), "{path} has no example");
        }
    }

    #[test]
    fn serve_help_says_how_to_change_the_port_and_the_database() {
        let mut root = Cli::command();
        root.build();
        let serve = root.find_subcommand_mut("serve").expect("serve");
        let help = serve.render_long_help().to_string();
        for needed in ["USHER_BIND", "USHER_DATABASE_URL", "--config"] {
            assert!(help.contains(needed), "serve --help names {needed}:\n{help}");
        }
    }

    #[test]
    fn client_create_help_lists_the_grant_types_and_scopes() {
        let mut root = Cli::command();
        root.build();
        let create = root
            .find_subcommand_mut("client")
            .and_then(|client| client.find_subcommand_mut("create"))
            .expect("client create");
        let help = create.render_long_help().to_string();
        for grant in clients::known_grant_types() {
            assert!(help.contains(grant), "{grant}:\n{help}");
        }
        for scope in [
            "openid",
            "offline_access",
            "entitlements",
            "usher:admin",
            "usher:entitlements",
        ] {
            assert!(help.contains(scope), "{scope}:\n{help}");
        }
    }
}
