//! The `usher` command line (README.md): every subcommand reads the same configuration
//! as `serve`; `--json` prints exactly one JSON object on stdout, errors go to stderr.

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use diesel::Connection;
use serde::Serialize;

use crate::app::demo;
use crate::app::server;
use crate::domain::AdminError;
use crate::domain::identity::users::{self, NewUser};
use crate::domain::oauth::clients::{self, NewClient};
use crate::domain::webhooks;
use crate::foundation::clock::Clock;
use crate::foundation::config::{Config, LogFormat};
use crate::foundation::crypto::keyring;
use crate::foundation::crypto::keys::MasterKey;
use crate::foundation::store::Store;

#[derive(Parser)]
#[command(
    name = "usher",
    version,
    about = "OAuth 2.0 / OpenID Connect identity and entitlement server"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (migrates the database and creates keys when needed).
    Serve,
    /// Run database migrations and exit.
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
    /// Demo data for trying the dashboard (not for production databases).
    #[command(subcommand)]
    Demo(DemoCommand),
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Create demo tiers, pay-per-view products, admin@example.com and people with
    /// subscriptions, grants and two weeks of sign-ins; what exists is skipped.
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
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; prints its id and, for confidential clients, its secret (once).
    Create(ClientCreate),
    /// Set where a client receives entitlement change events; prints the signing secret (once).
    Webhook(ClientWebhook),
}

#[derive(Args)]
struct ClientCreate {
    #[arg(long)]
    name: String,
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// A client that cannot keep a secret (mobile, single-page, TV apps).
    #[arg(long)]
    public: bool,
    /// Skip the consent screen.
    #[arg(long)]
    first_party: bool,
    /// Algorithm of the client's ID tokens: RS256 (default) or ES256.
    #[arg(long, value_name = "ALG")]
    id_token_alg: Option<String>,
    /// A content server: may introspect the tokens of every app, not only its own.
    #[arg(long)]
    resource_server: bool,
    /// A legacy confidential client that cannot send PKCE (S256) in the code flow.
    #[arg(long)]
    pkce_optional: bool,
    #[arg(long)]
    json: bool,
}

// --- usher client webhook ---
#[derive(Args)]
struct ClientWebhook {
    #[arg(long)]
    client_id: String,
    /// The http(s) URL events are posted to; replaces any earlier one and its secret.
    #[arg(long, required_unless_present = "remove", conflicts_with = "remove")]
    url: Option<String>,
    /// Delete the client's endpoint; deliveries still waiting are given up.
    #[arg(long)]
    remove: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct WebhookRegistered {
    client_id: String,
    url: String,
    secret: String,
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

fn client_webhook(config: &Config, clock: &Clock, args: ClientWebhook) -> anyhow::Result<()> {
    let store = Store::open(&config.database_url, 1)?;
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
    let master = MasterKey::load_or_create(&config.keys_dir)?;
    let now = clock.now();
    // Registration checks the client first: it runs its own write-first transaction, and the
    // audit entry follows it.
    let secret = store.run_blocking(|conn| {
        let secret = webhooks::register(conn, &master, &client_id, &url, now)?;
        let after = serde_json::json!({ "url": url });
        audit(conn, "webhook.register", &client_id, None, Some(after), now)?;
        Ok::<_, webhooks::WebhookError>(secret)
    })?;
    let registered = WebhookRegistered {
        client_id,
        url,
        secret,
    };
    print(args.json, &registered, || {
        format!(
            "client_id: {}\nurl: {}\nsecret: {}",
            registered.client_id, registered.url, registered.secret
        )
    })
}
// --- end usher client webhook ---

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account.
    Create(UserCreate),
}

#[derive(Args)]
struct UserCreate {
    #[arg(long)]
    email: String,
    #[arg(long)]
    name: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
    #[arg(long)]
    admin: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make new signing keys active; old public keys stay published until their tokens expire.
    Rotate {
        #[arg(long)]
        json: bool,
    },
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
    let config = Config::load()?;
    init_logging(&config);
    let clock = Clock::System;
    match cli.command {
        Command::Serve => serve(config, clock),
        Command::Migrate => {
            Store::open(&config.database_url, 1)?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Client(ClientCommand::Create(args)) => {
            let store = Store::open(&config.database_url, 1)?;
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
            };
            // What the audit log keeps of the registration: everything but the secret.
            let after = serde_json::json!({
                "name": new.name, "redirect_uris": new.redirect_uris,
                "post_logout_redirect_uris": new.post_logout_redirect_uris,
                "grant_types": new.grant_types, "scopes": new.scopes,
                "public": new.public, "first_party": new.first_party,
                "resource_server": new.resource_server, "pkce_optional": new.pkce_optional,
            });
            let created = store.run_blocking(|conn| {
                conn.transaction(|conn| {
                    let created = clients::create(conn, new, clock.now())?;
                    audit(
                        conn,
                        "client.create",
                        &created.client_id,
                        None,
                        Some(after),
                        clock.now(),
                    )?;
                    Ok::<_, AdminError>(created)
                })
            })?;
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
            let store = Store::open(&config.database_url, 1)?;
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
                conn.transaction(|conn| {
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
            let store = Store::open(&config.database_url, 1)?;
            let options = demo::Options {
                people: args.people,
                admin_password,
                session_max_secs: config.session_max_secs,
            };
            let seeded = demo::seed(&store, &clock, options)?;
            print(args.json, &seeded, || seeded.summary())
        }
        Command::Keys(KeysCommand::Rotate { json }) => {
            let store = Store::open(&config.database_url, 1)?;
            let master = MasterKey::load_or_create(&config.keys_dir)?;
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
