//! The `usher` binary as operators and scripts run it: each test starts the real executable in
//! a temporary working directory of its own, with only the configuration the test names.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::sql_types::{Nullable, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use usher::foundation::crypto::hashing::sha256_hex;

/// How long any command-line invocation may take before the test calls it hung.
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);
/// A bad database URL must fail at once, well before any pool timeout.
const FAIL_FAST_DEADLINE: Duration = Duration::from_secs(10);
/// How long `usher serve` may take to answer `/healthz`.
const SERVE_DEADLINE: Duration = Duration::from_secs(20);

/// A temporary working directory with its own database and keys directory.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace whose database exists, as after `usher migrate`: administrative commands
    /// refuse to create one.
    fn new() -> Self {
        let workspace = Self::without_database();
        run(workspace.usher(&["migrate"])).assert_success();
        workspace
    }

    fn without_database() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn db_path(&self) -> PathBuf {
        self.path().join("usher.db")
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}", self.db_path().display())
    }

    /// `usher ARGS` in this directory with USHER_DATABASE_URL and USHER_KEYS_DIR pointing into it.
    fn usher(&self, args: &[&str]) -> Command {
        let mut command = self.bare_usher(args);
        command
            .env("USHER_DATABASE_URL", self.database_url())
            .env("USHER_KEYS_DIR", self.path().join("keys"));
        command
    }

    /// `usher ARGS` in this directory with no USHER_* variable at all.
    fn bare_usher(&self, args: &[&str]) -> Command {
        bare_usher_in(self.path(), args)
    }

    fn db(&self) -> SqliteConnection {
        SqliteConnection::establish(&self.db_path().to_string_lossy()).expect("open the SQLite file")
    }
}

/// The binary with a clean environment (no stray USHER_* from the parent), run in `cwd`.
fn bare_usher_in(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_usher"));
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd);
    command
}

struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn assert_success(&self) {
        assert!(
            self.status.success(),
            "exit {:?}\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
    }

    /// Standard error without the line naming the database every command opens.
    fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| !line.starts_with("database: "))
            .collect()
    }

    fn assert_failure(&self) {
        assert!(
            !self.status.success(),
            "expected a failure, got {:?}\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
    }

    /// Parses stdout as exactly one JSON object, and nothing else.
    fn json_object(&self) -> serde_json::Map<String, serde_json::Value> {
        let values: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&self.stdout)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {:?}", self.stdout));
        assert_eq!(
            values.len(),
            1,
            "exactly one JSON value on stdout: {:?}",
            self.stdout
        );
        match values.into_iter().next() {
            Some(serde_json::Value::Object(object)) => object,
            other => panic!("stdout is not a JSON object: {other:?}"),
        }
    }
}

/// Runs `command` to completion, feeding it `stdin`; kills it and fails once `deadline` passes.
fn run_within(mut command: Command, stdin: Option<&str>, deadline: Duration) -> Outcome {
    let started = Instant::now();
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("usher starts");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("write stdin");
        // Dropping the pipe closes it: the password ends at end of input.
    }
    let stdout = read_in_background(child.stdout.take().expect("stdout"));
    let stderr = read_in_background(child.stderr.take().expect("stderr"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("usher did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn run(command: Command) -> Outcome {
    run_within(command, None, COMMAND_DEADLINE)
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

#[derive(QueryableByName)]
struct ClientRow {
    #[diesel(sql_type = Text)]
    client_id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    secret_hash: Option<String>,
    #[diesel(sql_type = Text)]
    redirect_uris: String,
    #[diesel(sql_type = Text)]
    post_logout_redirect_uris: String,
    #[diesel(sql_type = Text)]
    grant_types: String,
    #[diesel(sql_type = Text)]
    scopes: String,
}

impl ClientRow {
    fn text_columns(&self) -> Vec<&str> {
        vec![
            &self.client_id,
            &self.name,
            self.secret_hash.as_deref().unwrap_or_default(),
            &self.redirect_uris,
            &self.post_logout_redirect_uris,
            &self.grant_types,
            &self.scopes,
        ]
    }
}

fn client_rows(workspace: &Workspace) -> Vec<ClientRow> {
    diesel::sql_query(
        "SELECT client_id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, \
         scopes FROM clients",
    )
    .load(&mut workspace.db())
    .expect("read clients")
}

#[derive(QueryableByName)]
struct UserRow {
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Nullable<Text>)]
    password_hash: Option<String>,
}

fn user_rows(workspace: &Workspace) -> Vec<UserRow> {
    diesel::sql_query("SELECT email, password_hash FROM users")
        .load(&mut workspace.db())
        .expect("read users")
}

#[derive(QueryableByName)]
struct AuditRow {
    #[diesel(sql_type = Text)]
    actor: String,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Text)]
    target: String,
    #[diesel(sql_type = Nullable<Text>)]
    after: Option<String>,
}

fn audit_rows(workspace: &Workspace) -> Vec<AuditRow> {
    diesel::sql_query("SELECT actor, action, target, after FROM audit_log ORDER BY id")
        .load(&mut workspace.db())
        .expect("read the audit log")
}

#[test]
fn administrative_commands_are_written_to_the_audit_log() {
    let workspace = Workspace::new();
    let client = run(workspace.usher(&[
        "client",
        "create",
        "--name",
        "app",
        "--redirect-uri",
        "https://app.example/cb",
        "--json",
    ]));
    client.assert_success();
    let client_id = client.json_object()["client_id"].as_str().unwrap().to_owned();
    run(workspace.usher(&["keys", "rotate", "--json"])).assert_success();
    let rows = audit_rows(&workspace);
    let seen: Vec<(&str, &str)> = rows
        .iter()
        .map(|row| (row.actor.as_str(), row.action.as_str()))
        .collect();
    assert_eq!(seen, vec![("cli", "client.create"), ("cli", "keys.rotate")]);
    assert_eq!(rows[0].target, client_id);
    let after: serde_json::Value = serde_json::from_str(rows[0].after.as_deref().unwrap()).unwrap();
    assert_eq!(after["name"], "app");
    assert!(
        !rows[0].after.as_deref().unwrap().contains("secret"),
        "the secret is never logged"
    );
}

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).expect("a JSON list of strings")
}

// ---------------------------------------------------------------------------------------------
// client create

#[test]
fn client_create_json_prints_exactly_one_object_with_a_256_bit_secret() {
    let workspace = Workspace::new();
    let outcome = run(workspace.usher(&[
        "client",
        "create",
        "--name",
        "catalog service",
        "--grant-type",
        "client_credentials",
        "--scope",
        "catalog:read",
        "--json",
    ]));
    outcome.assert_success();
    let object = outcome.json_object();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["client_id", "client_secret"]);
    assert!(object["client_id"].as_str().is_some_and(|id| !id.is_empty()));
    let secret = object["client_secret"].as_str().expect("secret is a string");
    assert_eq!(secret.len(), 43, "base64url of 32 bytes, unpadded: {secret}");
    assert_eq!(URL_SAFE_NO_PAD.decode(secret).expect("base64url").len(), 32);
}

#[test]
fn client_create_stores_only_the_sha256_of_the_secret() {
    let workspace = Workspace::new();
    let outcome = run(workspace.usher(&[
        "client",
        "create",
        "--name",
        "catalog service",
        "--grant-type",
        "client_credentials",
        "--scope",
        "catalog:read",
        "--json",
    ]));
    outcome.assert_success();
    let object = outcome.json_object();
    let client_id = object["client_id"].as_str().expect("client_id");
    let secret = object["client_secret"].as_str().expect("client_secret");

    let rows = client_rows(&workspace);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.client_id, client_id);
    assert_eq!(row.name, "catalog service");
    assert_eq!(
        row.secret_hash.as_deref(),
        Some(sha256_hex(secret.as_bytes()).as_str())
    );
    for column in row.text_columns() {
        assert!(!column.contains(secret), "the secret itself is stored: {column}");
    }
    assert_eq!(json_list(&row.grant_types), vec!["client_credentials"]);
    assert_eq!(json_list(&row.scopes), vec!["catalog:read"]);
}

#[test]
fn client_create_public_prints_no_secret_and_defaults_to_authorization_code_and_refresh_token() {
    let workspace = Workspace::new();
    let outcome = run(workspace.usher(&[
        "client",
        "create",
        "--name",
        "tv app",
        "--public",
        "--redirect-uri",
        "https://tv.example.com/callback",
        "--json",
    ]));
    outcome.assert_success();
    let object = outcome.json_object();
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["client_id"], "a public client has no secret");

    let rows = client_rows(&workspace);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].secret_hash, None);
    assert_eq!(
        json_list(&rows[0].grant_types),
        vec!["authorization_code", "refresh_token"]
    );
    assert_eq!(
        json_list(&rows[0].redirect_uris),
        vec!["https://tv.example.com/callback"]
    );
}

/// Runs `client create` for a client with a redirect URI and `extra` arguments that must be
/// refused because of `field`.
fn assert_client_create_refused(extra: &[&str], field: &str) {
    assert_client_create_with_refused(
        &[&["--redirect-uri", "https://app.example/cb"][..], extra].concat(),
        field,
    );
}

/// Runs `client create` with only `args` that must be refused because of `field`.
fn assert_client_create_with_refused(args: &[&str], field: &str) {
    let workspace = Workspace::new();
    let args = [&["client", "create", "--name", "refused", "--json"][..], args].concat();
    let outcome = run(workspace.usher(&args));
    outcome.assert_failure();
    assert_eq!(outcome.stdout, "", "nothing on stdout on failure");
    assert!(
        outcome.stderr.contains(field),
        "stderr names {field}: {:?}",
        outcome.stderr
    );
    assert_eq!(
        outcome.error_lines().len(),
        1,
        "one line of error: {:?}",
        outcome.stderr
    );
    assert!(client_rows(&workspace).is_empty(), "no client was written");
}

#[test]
fn client_create_refuses_a_short_grant_type_suggesting_the_full_urn() {
    assert_client_create_refused(
        &["--grant-type", "device_code"],
        "did you mean urn:ietf:params:oauth:grant-type:device_code",
    );
}

#[test]
fn client_create_refuses_authorization_code_without_a_redirect_uri() {
    assert_client_create_with_refused(&[], "needs a redirect URI");
}

#[test]
fn client_create_refuses_refresh_token_without_a_grant_that_issues_one() {
    assert_client_create_refused(&["--grant-type", "refresh_token"], "refresh_token needs");
}

#[test]
fn client_create_refuses_administrative_scopes_for_a_client_people_sign_in_to() {
    assert_client_create_refused(
        &["--scope", "usher:admin"],
        "usher:admin is for services using client_credentials",
    );
}

#[test]
fn client_create_refuses_a_redirect_uri_that_is_not_a_url() {
    assert_client_create_refused(&["--redirect-uri", "not-a-url"], "redirect_uri");
}

#[test]
fn client_create_refuses_client_credentials_for_a_public_client() {
    assert_client_create_refused(&["--public", "--grant-type", "client_credentials"], "grant_type");
}

#[test]
fn client_create_refuses_an_unknown_grant_type() {
    assert_client_create_refused(&["--grant-type", "password"], "grant_type");
}

#[test]
fn client_create_refuses_a_public_client_without_pkce() {
    assert_client_create_refused(&["--public", "--pkce-optional"], "pkce_optional");
}

#[test]
fn client_create_registers_a_resource_server_and_a_client_without_pkce() {
    let workspace = Workspace::new();
    for (name, flag) in [("cdn", "--resource-server"), ("legacy", "--pkce-optional")] {
        run(workspace.usher(&[
            "client",
            "create",
            "--name",
            name,
            "--redirect-uri",
            "https://app.example/cb",
            flag,
            "--json",
        ]))
        .assert_success();
    }
    #[derive(QueryableByName)]
    struct Roles {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        resource_server: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        pkce_optional: bool,
    }
    let roles: Vec<Roles> =
        diesel::sql_query("SELECT name, resource_server, pkce_optional FROM clients ORDER BY name")
            .load(&mut workspace.db())
            .expect("read clients");
    let roles: Vec<(&str, bool, bool)> = roles
        .iter()
        .map(|row| (row.name.as_str(), row.resource_server, row.pkce_optional))
        .collect();
    assert_eq!(roles, vec![("cdn", true, false), ("legacy", false, true)]);
}

#[test]
fn client_create_refuses_a_name_with_a_bidi_override() {
    let workspace = Workspace::new();
    let outcome = run(workspace.usher(&[
        "client",
        "create",
        "--name",
        "\u{202E}ppa",
        "--redirect-uri",
        "https://app.example/cb",
        "--json",
    ]));
    outcome.assert_failure();
    assert_eq!(outcome.stdout, "");
    assert!(outcome.stderr.contains("name: "), "{:?}", outcome.stderr);
    assert!(client_rows(&workspace).is_empty(), "no client was written");
}

// ---------------------------------------------------------------------------------------------
// user create

#[test]
fn user_create_reads_the_password_from_stdin_lowercases_the_email_and_stores_argon2id() {
    let workspace = Workspace::new();
    let outcome = run_within(
        workspace.usher(&[
            "user",
            "create",
            "--email",
            "A@Example.com",
            "--name",
            "Ada",
            "--password-stdin",
            "--json",
        ]),
        Some("correct horse battery staple\n"),
        COMMAND_DEADLINE,
    );
    outcome.assert_success();
    let object = outcome.json_object();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["email", "id"]);
    assert_eq!(object["email"], "a@example.com");
    assert!(object["id"].as_str().is_some_and(|id| !id.is_empty()));

    let users = user_rows(&workspace);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].email, "a@example.com");
    let hash = users[0].password_hash.as_deref().expect("a password hash");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "argon2id with OWASP parameters: {hash}"
    );
    assert!(!hash.contains("correct horse"));
}

#[test]
fn user_create_with_an_email_that_exists_in_any_case_fails_with_already_exists() {
    let workspace = Workspace::new();
    run(workspace.usher(&["user", "create", "--email", "A@Example.com", "--json"])).assert_success();

    let again = run(workspace.usher(&["user", "create", "--email", "a@EXAMPLE.com", "--json"]));
    again.assert_failure();
    assert_eq!(again.stdout, "");
    assert!(again.stderr.contains("already exists"), "{:?}", again.stderr);
    assert_eq!(user_rows(&workspace).len(), 1);
}

#[test]
fn user_create_refuses_a_name_with_a_bidi_override() {
    let workspace = Workspace::new();
    let outcome = run(workspace.usher(&[
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--name",
        "\u{202E}adA",
        "--json",
    ]));
    outcome.assert_failure();
    assert_eq!(outcome.stdout, "");
    assert!(outcome.stderr.contains("name: "), "{:?}", outcome.stderr);
    assert!(user_rows(&workspace).is_empty(), "no account was written");
}

// ---------------------------------------------------------------------------------------------
// migrate and database URLs

#[test]
fn migrate_creates_the_sqlite_database_and_its_directory() {
    let workspace = Workspace::new();
    let db_path = workspace.path().join("nested").join("dir").join("usher.db");
    let mut command = workspace.bare_usher(&["migrate"]);
    command.env("USHER_DATABASE_URL", format!("sqlite://{}", db_path.display()));
    run(command).assert_success();
    assert!(db_path.is_file(), "{} was created", db_path.display());

    let mut conn = SqliteConnection::establish(&db_path.to_string_lossy()).expect("open");
    let clients: Vec<ClientRow> = diesel::sql_query(
        "SELECT client_id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, \
         scopes FROM clients",
    )
    .load(&mut conn)
    .expect("the clients table exists");
    assert!(clients.is_empty());
}

/// `usher migrate` against `url` fails quickly with one line on stderr, which it returns.
fn migrate_fails_fast_with_one_line(url: &str) -> String {
    let workspace = Workspace::without_database();
    let mut command = workspace.bare_usher(&["migrate"]);
    command.env("USHER_DATABASE_URL", url);
    let started = Instant::now();
    let outcome = run_within(command, None, FAIL_FAST_DEADLINE);
    outcome.assert_failure();
    assert!(started.elapsed() < FAIL_FAST_DEADLINE);
    assert_eq!(outcome.stdout, "");
    let message = outcome.stderr.trim();
    assert!(!message.is_empty());
    assert!(!message.contains('\n'), "one line of stderr: {message:?}");
    message.to_owned()
}

#[test]
fn a_refused_postgres_connection_is_reported_as_such_at_once() {
    let message = migrate_fails_fast_with_one_line("postgres://postgres@127.0.0.1:1/x");
    assert!(
        message.to_lowercase().contains("connection refused"),
        "the driver's cause: {message}"
    );
    assert!(
        !message.to_lowercase().contains("invalid connection url"),
        "not diesel's generic error: {message}"
    );
}

#[test]
fn an_unsupported_database_scheme_is_named_as_unsupported() {
    let message = migrate_fails_fast_with_one_line("mysql://x");
    assert!(message.contains("mysql://x"), "{message}");
    assert!(message.contains("not supported"), "{message}");
}

#[test]
fn a_bare_path_as_database_url_is_shown_as_typed_with_the_sqlite_url_to_write() {
    let message = migrate_fails_fast_with_one_line("/tmp/x.db");
    assert!(message.contains("\"/tmp/x.db\""), "what was typed: {message}");
    assert!(
        message.contains("sqlite:///tmp/x.db"),
        "the URL to write: {message}"
    );
    assert!(!message.contains("unparseable"), "{message}");
}

#[test]
fn a_sqlite_path_whose_directory_cannot_be_created_is_reported() {
    let message = migrate_fails_fast_with_one_line("sqlite:///proc/nope/usher.db");
    assert!(message.contains("/proc/nope"), "names the path: {message}");
}

// ---------------------------------------------------------------------------------------------
// keys rotate

fn rotate(workspace: &Workspace) -> Vec<String> {
    let outcome = run(workspace.usher(&["keys", "rotate", "--json"]));
    outcome.assert_success();
    let object = outcome.json_object();
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["active_kids"]);
    object["active_kids"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|kid| kid.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn keys_rotate_json_prints_the_two_new_active_kids() {
    let workspace = Workspace::new();
    let kids = rotate(&workspace);
    assert_eq!(kids.len(), 2, "one ES256 and one RS256 key: {kids:?}");
    assert!(kids.iter().all(|kid| !kid.is_empty()));
    assert_ne!(kids[0], kids[1]);
}

#[test]
fn keys_rotate_pointed_at_another_keys_directory_refuses_and_makes_no_master_key() {
    let workspace = Workspace::new();
    rotate(&workspace);
    let elsewhere = workspace.path().join("other-keys");
    let mut command = workspace.usher(&["keys", "rotate"]);
    command.env("USHER_KEYS_DIR", &elsewhere);
    let outcome = run(command);
    assert!(!outcome.status.success());
    assert!(outcome.stderr.contains("no master key at "), "{}", outcome.stderr);
    assert!(!elsewhere.join("master.key").exists(), "no stray master key");
}

#[test]
fn keys_rotate_twice_activates_different_kids() {
    let workspace = Workspace::new();
    let first = rotate(&workspace);
    let second = rotate(&workspace);
    assert_eq!(second.len(), 2);
    assert!(
        second.iter().all(|kid| !first.contains(kid)),
        "{first:?} then {second:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_signs_with_keys_rotated_by_the_command_line_within_a_second() {
    let db = common::TestDb::new(common::Backend::Sqlite);
    let config = db.config();
    let server =
        common::TestServer::start_with(config.clone(), usher::foundation::clock::Clock::System).await;
    let client = server.service_client(&["catalog:read"]).await;
    let before = common::issue_token(&server, &client, None).await;
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();

    let mut command = bare_usher_in(db.dir.path(), &["keys", "rotate", "--json"]);
    command
        .env("USHER_DATABASE_URL", &config.database_url)
        .env("USHER_KEYS_DIR", &config.keys_dir);
    let outcome = tokio::task::spawn_blocking(move || run(command)).await.unwrap();
    outcome.assert_success();
    let rotated_at = Instant::now();
    let active_kids: Vec<String> = outcome.json_object()["active_kids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kid| kid.as_str().unwrap().to_owned())
        .collect();
    assert!(!active_kids.contains(&old_kid));

    let deadline = rotated_at + Duration::from_secs(1);
    loop {
        let token = common::issue_token(&server, &client, None).await;
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
        if active_kids.contains(&kid) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still signing with {kid} a second after rotation to {active_kids:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// configuration and serve

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A `usher serve` child process, killed when dropped; its output goes to a log file.
struct ServeGuard {
    child: Child,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl ServeGuard {
    fn spawn(mut command: Command) -> Self {
        let log_dir = tempfile::tempdir().expect("temp dir");
        let log = log_dir.path().join("serve.log");
        let file = std::fs::File::create(&log).expect("log file");
        let child = command
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("usher serve starts");
        Self {
            child,
            log,
            _log_dir: log_dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `GET /healthz` on `port` until it answers 200.
    async fn wait_healthy(&mut self, port: u16) {
        let deadline = Instant::now() + SERVE_DEADLINE;
        let url = format!("http://127.0.0.1:{port}/healthz");
        loop {
            if let Ok(response) = common::http().get(&url).send().await
                && response.status() == 200
            {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("usher serve exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "/healthz did not answer within {SERVE_DEADLINE:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ServeGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn discovery(port: u16) -> serde_json::Value {
    common::http()
        .get(format!(
            "http://127.0.0.1:{port}/.well-known/openid-configuration"
        ))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_no_configuration_creates_its_database_and_keys_and_answers() {
    let workspace = Workspace::new();
    let port = free_port();
    let mut command = workspace.bare_usher(&[]);
    command.env("USHER_BIND", format!("127.0.0.1:{port}"));
    let mut server = ServeGuard::spawn(command);
    server.wait_healthy(port).await;

    assert!(
        workspace.path().join("data/usher.db").is_file(),
        "./data/usher.db"
    );
    let master_key = workspace.path().join("keys/master.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&master_key)
            .expect("./keys/master.key")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "master key mode {mode:o}");

    let ready = common::http()
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(ready.status(), 200);
    assert_eq!(
        discovery(port).await["issuer"],
        format!("http://localhost:{port}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usher_toml_in_the_working_directory_is_read() {
    let workspace = Workspace::new();
    let port = free_port();
    std::fs::write(
        workspace.path().join("usher.toml"),
        format!("bind = \"127.0.0.1:{port}\"\nissuer = \"https://id.example.com\"\n"),
    )
    .expect("write usher.toml");
    let mut server = ServeGuard::spawn(workspace.bare_usher(&[]));
    server.wait_healthy(port).await;
    assert_eq!(discovery(port).await["issuer"], "https://id.example.com");
}

#[test]
fn usher_config_names_a_file_elsewhere_that_is_read() {
    let workspace = Workspace::new();
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let config_file = elsewhere.path().join("production.toml");
    let db_path = elsewhere.path().join("from-config.db");
    std::fs::write(
        &config_file,
        format!("database_url = \"sqlite://{}\"\n", db_path.display()),
    )
    .expect("write config");
    let mut command = workspace.bare_usher(&["migrate"]);
    command.env("USHER_CONFIG", &config_file);
    run(command).assert_success();
    assert!(db_path.is_file(), "the file's database_url was used");
    assert!(
        !workspace.path().join("data").exists(),
        "not the default database"
    );
}

#[test]
fn environment_variables_override_usher_toml() {
    let workspace = Workspace::new();
    std::fs::write(
        workspace.path().join("usher.toml"),
        "database_url = \"sqlite://./from-file/usher.db\"\n",
    )
    .expect("write usher.toml");
    let mut command = workspace.bare_usher(&["migrate"]);
    command.env("USHER_DATABASE_URL", "sqlite://./from-env/usher.db");
    run(command).assert_success();
    assert!(workspace.path().join("from-env/usher.db").is_file());
    assert!(!workspace.path().join("from-file").exists());
}

#[test]
fn a_missing_usher_config_file_fails_with_a_clear_message() {
    let workspace = Workspace::new();
    let mut command = workspace.bare_usher(&["migrate"]);
    command.env("USHER_CONFIG", "/nonexistent.toml");
    let outcome = run_within(command, None, FAIL_FAST_DEADLINE);
    outcome.assert_failure();
    assert_eq!(outcome.stdout, "");
    let message = outcome.stderr.trim();
    assert!(message.contains("/nonexistent.toml"), "{message}");
    assert!(message.contains("does not exist"), "{message}");
    assert!(!message.contains('\n'), "{message:?}");
    assert!(!workspace.path().join("data").exists(), "nothing was created");
}

#[test]
fn a_bare_port_as_bind_asks_for_host_and_port() {
    let workspace = Workspace::without_database();
    let mut command = workspace.usher(&["migrate"]);
    command.env("USHER_BIND", "8080");
    let outcome = run_within(command, None, FAIL_FAST_DEADLINE);
    outcome.assert_failure();
    assert!(outcome.stderr.contains("HOST:PORT"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("127.0.0.1:8080"), "{}", outcome.stderr);
}

#[test]
fn a_keys_directory_that_is_a_file_is_reported_as_a_file() {
    let workspace = Workspace::new();
    let file = workspace.path().join("keys-file");
    std::fs::write(&file, "").expect("write");
    let mut command = workspace.usher(&["keys", "rotate"]);
    command.env("USHER_KEYS_DIR", &file);
    let outcome = run(command);
    outcome.assert_failure();
    assert!(
        outcome.stderr.contains("is a file, not a directory"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_misspelt_key_in_usher_toml_stops_the_command_naming_it() {
    let workspace = Workspace::without_database();
    std::fs::write(
        workspace.path().join("usher.toml"),
        "databse_url = \"sqlite://./elsewhere.db\"\n",
    )
    .expect("write usher.toml");
    let outcome = run_within(workspace.bare_usher(&["migrate"]), None, FAIL_FAST_DEADLINE);
    outcome.assert_failure();
    assert!(outcome.stderr.contains("\"databse_url\""), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("\"database_url\""), "{}", outcome.stderr);
    assert!(!workspace.path().join("data").exists(), "nothing was created");
}

#[test]
fn an_unknown_usher_variable_is_warned_about_with_the_setting_meant() {
    let workspace = Workspace::without_database();
    let mut command = workspace.usher(&["migrate"]);
    command.env("USHER_DATABSE_URL", "sqlite://./elsewhere.db");
    let outcome = run(command);
    outcome.assert_success();
    assert!(
        outcome.stderr.contains(
            "warning: USHER_DATABSE_URL is not a setting and is ignored (did you mean USHER_DATABASE_URL?)"
        ),
        "{}",
        outcome.stderr
    );
}

#[test]
fn the_config_option_names_the_configuration_file_as_usher_config_does() {
    let workspace = Workspace::without_database();
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let config_file = elsewhere.path().join("production.toml");
    let db_path = elsewhere.path().join("from-option.db");
    std::fs::write(
        &config_file,
        format!("database_url = \"sqlite://{}\"\n", db_path.display()),
    )
    .expect("write config");
    let mut command = workspace.bare_usher(&["migrate", "--config"]);
    command.arg(&config_file);
    command.env("USHER_CONFIG", "/nonexistent.toml");
    run(command).assert_success();
    assert!(db_path.is_file(), "the option's file was read, over USHER_CONFIG");
}

// ---------------------------------------------------------------------------------------------
// which database

#[test]
fn administrative_commands_refuse_to_create_a_missing_database_and_say_where_they_looked() {
    let workspace = Workspace::without_database();
    for args in [
        &[
            "client",
            "create",
            "--name",
            "app",
            "--grant-type",
            "client_credentials",
            "--json",
        ][..],
        &["user", "create", "--email", "me@example.com", "--json"],
        &["keys", "rotate", "--json"],
    ] {
        let outcome = run(workspace.usher(args));
        outcome.assert_failure();
        assert_eq!(outcome.stdout, "", "{args:?}");
        let expected = format!("no database at sqlite://{}", workspace.db_path().display());
        assert!(outcome.stderr.contains(&expected), "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains("USHER_DATABASE_URL"),
            "{}",
            outcome.stderr
        );
        assert!(outcome.stderr.contains("--config"), "{}", outcome.stderr);
        assert!(!workspace.db_path().exists(), "{args:?} created no database");
    }
}

#[test]
fn every_command_names_the_database_it_opened_on_stderr_and_keeps_stdout_json() {
    let workspace = Workspace::without_database();
    let expected = format!("database: sqlite://{}", workspace.db_path().display());
    let migrated = run(workspace.usher(&["migrate"]));
    migrated.assert_success();
    assert!(migrated.stderr.contains(&expected), "{}", migrated.stderr);
    let listed = run(workspace.usher(&["client", "list", "--json"]));
    listed.assert_success();
    assert!(listed.stderr.contains(&expected), "{}", listed.stderr);
    assert_eq!(listed.json_object()["clients"], serde_json::json!([]));
}

#[test]
fn a_relative_sqlite_path_is_named_as_the_absolute_file_it_resolved_to() {
    let workspace = Workspace::without_database();
    let mut command = workspace.bare_usher(&["migrate"]);
    command.env("USHER_DATABASE_URL", "sqlite://./data/usher.db");
    let outcome = run(command);
    outcome.assert_success();
    let absolute = workspace.path().join("data/usher.db");
    assert!(
        outcome
            .stderr
            .contains(&format!("database: sqlite://{}", absolute.display())),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_server_whose_master_key_differs_from_the_databases_refuses_to_start() {
    let workspace = Workspace::new();
    rotate(&workspace);
    let port = free_port();
    let mut command = workspace.usher(&["serve"]);
    command
        .env("USHER_KEYS_DIR", workspace.path().join("other-keys"))
        .env("USHER_BIND", format!("127.0.0.1:{port}"));
    let outcome = run_within(command, None, SERVE_DEADLINE);
    outcome.assert_failure();
    assert!(
        outcome.stderr.contains("master key differs"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("USHER_KEYS_DIR"), "{}", outcome.stderr);
}

// ---------------------------------------------------------------------------------------------
// backup

#[test]
fn backup_copies_the_sqlite_database_into_a_new_file() {
    let workspace = Workspace::new();
    let created = run(workspace.usher(&[
        "client",
        "create",
        "--name",
        "app",
        "--grant-type",
        "client_credentials",
        "--json",
    ]));
    created.assert_success();
    let destination = workspace.path().join("backup.db");
    run(workspace.usher(&["backup", &destination.to_string_lossy()])).assert_success();
    let mut copy = SqliteConnection::establish(&destination.to_string_lossy()).expect("open the copy");
    let clients: Vec<ClientRow> = diesel::sql_query(
        "SELECT client_id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, \
         scopes FROM clients",
    )
    .load(&mut copy)
    .expect("the copy holds the clients");
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0].name, "app");
}

#[test]
fn backup_never_overwrites_an_existing_file() {
    let workspace = Workspace::new();
    let destination = workspace.path().join("backup.db");
    std::fs::write(&destination, "precious").expect("write");
    let outcome = run(workspace.usher(&["backup", &destination.to_string_lossy()]));
    outcome.assert_failure();
    assert!(outcome.stderr.contains("already exists"), "{}", outcome.stderr);
    assert_eq!(std::fs::read_to_string(&destination).expect("read"), "precious");
}

#[test]
fn backup_of_a_postgres_database_points_to_pg_dump() {
    let workspace = Workspace::without_database();
    let mut command = workspace.bare_usher(&["backup", "copy.db"]);
    command.env("USHER_DATABASE_URL", "postgres://postgres@127.0.0.1:1/x");
    let outcome = run_within(command, None, FAIL_FAST_DEADLINE);
    outcome.assert_failure();
    assert!(outcome.stderr.contains("pg_dump"), "{}", outcome.stderr);
}

// ---------------------------------------------------------------------------------------------
// client list, show, rotate-secret, disable

fn create_service(workspace: &Workspace) -> (String, String) {
    let created = run(workspace.usher(&[
        "client",
        "create",
        "--name",
        "catalog",
        "--grant-type",
        "client_credentials",
        "--json",
    ]));
    created.assert_success();
    let object = created.json_object();
    (
        object["client_id"].as_str().unwrap().to_owned(),
        object["client_secret"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn client_list_and_show_print_the_registration_without_any_secret() {
    let workspace = Workspace::new();
    let (client_id, secret) = create_service(&workspace);
    let listed = run(workspace.usher(&["client", "list", "--json"]));
    listed.assert_success();
    let clients = listed.json_object()["clients"].clone();
    assert_eq!(clients[0]["client_id"], client_id.as_str());
    assert_eq!(
        clients[0]["grant_types"],
        serde_json::json!(["client_credentials"])
    );
    let shown = run(workspace.usher(&["client", "show", &client_id, "--json"]));
    shown.assert_success();
    assert_eq!(shown.json_object()["name"], "catalog");
    for outcome in [&listed, &shown] {
        assert!(!outcome.stdout.contains(&secret), "never the secret");
        assert!(
            !outcome.stdout.contains(&sha256_hex(secret.as_bytes())),
            "nor its hash"
        );
    }
    run(workspace.usher(&["client", "show", "nope"])).assert_failure();
}

#[test]
fn client_create_records_a_verified_apps_logo() {
    let workspace = Workspace::new();
    let created = run(workspace.usher(&[
        "client",
        "create",
        "--name",
        "Aurora TV",
        "--redirect-uri",
        "https://tv.aurora.example/cb",
        "--logo-uri",
        "https://cdn.aurora.example/tv.png",
        "--verified",
        "--json",
    ]));
    created.assert_success();
    let client_id = created.json_object()["client_id"].as_str().unwrap().to_owned();
    let shown = run(workspace.usher(&["client", "show", &client_id, "--json"]));
    shown.assert_success();
    assert_eq!(
        shown.json_object()["logo_uri"],
        "https://cdn.aurora.example/tv.png"
    );
    assert_eq!(shown.json_object()["verified"], true);
    let details = run(workspace.usher(&["client", "show", &client_id]));
    assert!(details.stdout.contains("verified: yes"), "{}", details.stdout);
    assert!(
        details
            .stdout
            .contains("logo_uri: https://cdn.aurora.example/tv.png"),
        "{}",
        details.stdout
    );
}

#[test]
fn client_create_refuses_a_logo_that_is_not_on_https() {
    assert_client_create_refused(&["--logo-uri", "http://cdn.example/logo.png"], "logo_uri");
}

#[test]
fn a_server_whose_brand_colour_fails_wcag_aa_refuses_to_start() {
    let workspace = Workspace::new();
    let mut command = workspace.usher(&["serve"]);
    command
        .env("USHER_BRAND_COLOR", "#ffcc00")
        .env("USHER_BIND", format!("127.0.0.1:{}", free_port()));
    let outcome = run_within(command, None, SERVE_DEADLINE);
    outcome.assert_failure();
    assert!(
        outcome.stderr.contains("brand_color #ffcc00 fails WCAG AA"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("4.5:1"), "{}", outcome.stderr);
}

/// `setpriv` (util-linux) takes `CAP_SYS_NICE` from the server, as for a process that is not
/// root; the test command runs as root with no `RLIMIT_RTPRIO`.
#[test]
fn a_server_the_kernel_refuses_real_time_refuses_a_content_realtime_priority_at_start() {
    let workspace = Workspace::new();
    let mut command = Command::new("setpriv");
    command
        .args([
            "--inh-caps=-sys_nice",
            "--bounding-set=-sys_nice",
            "--",
            env!("CARGO_BIN_EXE_usher"),
            "serve",
        ])
        .current_dir(workspace.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("USHER_DATABASE_URL", workspace.database_url())
        .env("USHER_KEYS_DIR", workspace.path().join("keys"))
        .env("USHER_BIND", format!("127.0.0.1:{}", free_port()))
        .env("USHER_CONTENT_BIND", format!("127.0.0.1:{}", free_port()))
        .env("USHER_CONTENT_REALTIME_PRIORITY", "1");
    let outcome = run_within(command, None, SERVE_DEADLINE);
    outcome.assert_failure();
    assert!(
        outcome
            .stderr
            .contains("content_realtime_priority = 1: the kernel refused the real-time class"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("CAP_SYS_NICE"), "{}", outcome.stderr);
}

#[test]
fn client_rotate_secret_prints_a_new_secret_and_stores_only_its_hash() {
    let workspace = Workspace::new();
    let (client_id, old_secret) = create_service(&workspace);
    let rotated = run(workspace.usher(&["client", "rotate-secret", &client_id, "--json"]));
    rotated.assert_success();
    let object = rotated.json_object();
    assert_eq!(object["client_id"], client_id.as_str());
    let new_secret = object["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);
    let stored = client_rows(&workspace).remove(0).secret_hash.unwrap();
    assert_eq!(stored, sha256_hex(new_secret.as_bytes()));
    let audited: Vec<String> = audit_rows(&workspace).into_iter().map(|row| row.action).collect();
    assert!(
        audited.contains(&"client.rotate_secret".to_owned()),
        "{audited:?}"
    );
}

#[test]
fn client_disable_disables_the_client_once_and_is_audited() {
    let workspace = Workspace::new();
    let (client_id, _) = create_service(&workspace);
    run(workspace.usher(&["client", "disable", &client_id])).assert_success();
    let shown = run(workspace.usher(&["client", "show", &client_id, "--json"]));
    assert!(shown.json_object()["disabled_at"].is_i64());
    let again = run(workspace.usher(&["client", "disable", &client_id]));
    again.assert_failure();
    assert!(again.stderr.contains("already disabled"), "{}", again.stderr);
    let rows = audit_rows(&workspace);
    let disabled = rows
        .iter()
        .find(|row| row.action == "client.disable")
        .expect("audited");
    assert_eq!(
        (disabled.actor.as_str(), disabled.target.as_str()),
        ("cli", client_id.as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// user list, disable, admin

fn create_person(workspace: &Workspace, email: &str) -> String {
    let created = run(workspace.usher(&["user", "create", "--email", email, "--json"]));
    created.assert_success();
    created.json_object()["id"].as_str().unwrap().to_owned()
}

fn listed_people(workspace: &Workspace) -> Vec<serde_json::Value> {
    let listed = run(workspace.usher(&["user", "list", "--json"]));
    listed.assert_success();
    listed.json_object()["users"].as_array().unwrap().clone()
}

#[test]
fn user_admin_makes_an_administrator_and_remove_takes_it_back_audited() {
    let workspace = Workspace::new();
    let id = create_person(&workspace, "me@example.com");
    assert_eq!(listed_people(&workspace)[0]["admin"], false);
    run(workspace.usher(&["user", "admin", "ME@example.com"])).assert_success();
    assert_eq!(listed_people(&workspace)[0]["admin"], true);
    run(workspace.usher(&["user", "admin", "me@example.com", "--remove"])).assert_success();
    assert_eq!(listed_people(&workspace)[0]["admin"], false);
    let actions: Vec<(String, String)> = audit_rows(&workspace)
        .into_iter()
        .filter(|row| row.action.ends_with("_admin"))
        .map(|row| (row.action, row.target))
        .collect();
    let target = format!("user:{id}");
    assert_eq!(
        actions,
        vec![
            ("user.make_admin".to_owned(), target.clone()),
            ("user.remove_admin".to_owned(), target)
        ]
    );
}

#[test]
fn user_disable_disables_the_account_audited() {
    let workspace = Workspace::new();
    create_person(&workspace, "someone@example.com");
    run(workspace.usher(&["user", "disable", "someone@example.com"])).assert_success();
    assert!(listed_people(&workspace)[0]["disabled_at"].is_i64());
    assert!(
        audit_rows(&workspace)
            .iter()
            .any(|row| row.action == "user.disable" && row.actor == "cli")
    );
    run(workspace.usher(&["user", "disable", "nobody@example.com"])).assert_failure();
}

// ---------------------------------------------------------------------------------------------
// keys list, revoke

fn listed_kids(workspace: &Workspace) -> Vec<(String, bool)> {
    let listed = run(workspace.usher(&["keys", "list", "--json"]));
    listed.assert_success();
    listed.json_object()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| {
            (
                key["kid"].as_str().unwrap().to_owned(),
                key["active"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn keys_revoke_refuses_the_active_key_and_withdraws_a_retired_one_audited() {
    let workspace = Workspace::new();
    let first = rotate(&workspace);
    let refused = run(workspace.usher(&["keys", "revoke", &first[0]]));
    refused.assert_failure();
    assert!(refused.stderr.contains("usher keys rotate"), "{}", refused.stderr);
    let second = rotate(&workspace);
    assert!(
        listed_kids(&workspace).contains(&(first[0].clone(), false)),
        "retired, still published"
    );
    run(workspace.usher(&["keys", "revoke", &first[0]])).assert_success();
    let kids: Vec<String> = listed_kids(&workspace).into_iter().map(|(kid, _)| kid).collect();
    assert!(!kids.contains(&first[0]), "withdrawn: {kids:?}");
    assert!(kids.contains(&first[1]) && kids.contains(&second[0]), "{kids:?}");
    assert!(
        audit_rows(&workspace)
            .iter()
            .any(|row| row.action == "keys.revoke" && row.target == first[0])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_by_a_revoked_key_stops_verifying_on_a_running_server() {
    let db = common::TestDb::new(common::Backend::Sqlite);
    let config = db.config();
    let server =
        common::TestServer::start_with(config.clone(), usher::foundation::clock::Clock::System).await;
    let client = server.service_client(&["catalog:read"]).await;
    let token = common::issue_token(&server, &client, None).await;
    assert_eq!(common::introspect(&server, &client, &token).await["active"], true);
    let old_kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();

    let cli = |args: &[&str]| {
        let mut command = bare_usher_in(db.dir.path(), args);
        command
            .env("USHER_DATABASE_URL", &config.database_url)
            .env("USHER_KEYS_DIR", &config.keys_dir);
        command
    };
    let (rotate_command, revoke_command) = (cli(&["keys", "rotate"]), cli(&["keys", "revoke", &old_kid]));
    tokio::task::spawn_blocking(move || {
        run(rotate_command).assert_success();
        run(revoke_command).assert_success();
    })
    .await
    .unwrap();

    let deadline = Instant::now() + Duration::from_secs(2);
    while common::introspect(&server, &client, &token).await["active"] == true {
        assert!(
            Instant::now() < deadline,
            "still active two seconds after revoking {old_kid}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[test]
fn several_user_creations_at_once_all_succeed_on_sqlite() {
    let workspace = Workspace::new();
    run(workspace.usher(&["migrate"])).assert_success();
    let children: Vec<std::process::Child> = (0..6)
        .map(|n| {
            let mut command = workspace.usher(&[
                "user",
                "create",
                "--email",
                &format!("person{n}@example.com"),
                "--json",
            ]);
            command
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("usher runs")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("usher exits");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(user_rows(&workspace).len(), 6);
}
