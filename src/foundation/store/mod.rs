//! Persistence: one diesel code path over SQLite and PostgreSQL.
//!
//! The backend is chosen from the URL scheme by us, not by diesel's generic `establish`, so a
//! user sees the real cause of a connection failure. Every query runs on tokio's blocking pool
//! through [`Store::run`], never on an async executor thread.

pub(crate) mod changes;
pub(crate) mod clients;
pub mod codes;
pub mod consents;
pub(crate) mod dashboard;
pub(crate) mod devices;
pub mod entitlements;
pub(crate) mod held_sign_ins;
pub mod households;
pub(crate) mod issued_tokens;
pub(crate) mod keys;
pub(crate) mod links;
pub mod passkeys;
pub mod profiles;
pub mod refresh_tokens;
pub mod revocations;
pub mod schema;
pub mod sessions;
pub(crate) mod shared_limits;
pub mod streams;
pub(crate) mod totp;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::foundation::{priority, private_files};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Errors of the storage layer. Request paths map them to `server_error`; start-up prints them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL {url:?} is not supported: use sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    UnsupportedUrl { url: String },
    #[error("database URL {path:?} is a file path, not a URL: write sqlite://{path}")]
    BarePath { path: String },
    #[error(
        "no database at {target}: this command does not create one. Point it at the server's \
         database with USHER_DATABASE_URL or --config (it reads the same configuration as \
         `usher serve`), or create it with `usher migrate`"
    )]
    NoSuchDatabase { target: String },
    #[error("cannot open database {target}: {cause}")]
    Connect { target: String, cause: String },
    #[error("cannot prepare SQLite directory {path}: {cause}")]
    SqliteDirectory { path: String, cause: String },
    #[error("database migration failed: {0}")]
    Migration(String),
    /// No connection within the acquire timeout: the database is unreachable, or every
    /// connection is busy. Requests answer 503 with `Retry-After`.
    #[error("no database connection available: {0}")]
    Unavailable(String),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database task was cancelled")]
    TaskCancelled,
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the database could not be reached, as opposed to a query or data fault: worth
    /// a retry later, so answered 503 with `Retry-After`, never 500.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(
            self,
            Self::Unavailable(_)
                | Self::Query(Error::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                ))
        )
    }
}

#[derive(Clone, Debug)]
enum Target {
    Sqlite { path: PathBuf },
    Postgres { url: String },
}

impl Target {
    fn parse(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::UnsupportedUrl { url: url.to_owned() });
            }
            return Ok(Self::Sqlite {
                path: PathBuf::from(path),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres { url: url.to_owned() });
        }
        if looks_like_a_path(url) {
            return Err(StoreError::BarePath { path: url.to_owned() });
        }
        Err(StoreError::UnsupportedUrl {
            url: redact_password(url),
        })
    }

    fn describe(&self) -> String {
        match self {
            Self::Sqlite { path } => format!("sqlite://{}", path.display()),
            Self::Postgres { url } => redact_password(url),
        }
    }

    /// As [`Target::describe`], with a relative SQLite path made absolute: which file a
    /// command run from some directory really opened.
    fn describe_resolved(&self) -> String {
        match self {
            Self::Sqlite { path } => match std::path::absolute(path) {
                Ok(absolute) => format!("sqlite://{}", absolute.display()),
                Err(_) => self.describe(),
            },
            Self::Postgres { .. } => self.describe(),
        }
    }

    fn establish(&self) -> Result<DbConnection, StoreError> {
        let connect_error = |error: ConnectionError| StoreError::Connect {
            target: self.describe(),
            cause: one_line(&error.to_string()),
        };
        match self {
            Self::Sqlite { path } => {
                let path_text = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&path_text).map_err(connect_error)?;
                // WAL lets readers proceed while one writer commits; the busy timeout makes
                // concurrent writers wait instead of failing with "database is locked". It comes
                // first: switching the journal mode itself takes a lock another process may hold.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(|error| StoreError::Connect {
                    target: self.describe(),
                    cause: one_line(&error.to_string()),
                })?;
                Ok(DbConnection::Sqlite(conn))
            }
            Self::Postgres { url } => Ok(DbConnection::Postgres(
                PgConnection::establish(url).map_err(connect_error)?,
            )),
        }
    }
}

/// Whether `url` names a SQLite database.
pub fn is_sqlite_url(url: &str) -> bool {
    url.starts_with("sqlite://")
}

/// Runs `work` in a transaction, committed when it returns `Ok` and rolled back otherwise: every
/// transaction of the server goes through here (clippy refuses diesel's own). On SQLite the
/// outermost one starts with `BEGIN IMMEDIATE`, which takes the write lock first and waits the
/// busy timeout for it. A plain `BEGIN` starts as a reader, and in WAL mode a reader that writes
/// after another connection has committed fails at once with "database is locked": its
/// snapshot is stale, and no timeout helps. On PostgreSQL, and for a transaction nested in
/// another (a savepoint), this is diesel's `transaction`.
#[allow(clippy::disallowed_methods)]
pub fn transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConnection::Sqlite(sqlite) = &mut *conn else {
        return conn.transaction(work);
    };
    if AnsiTransactionManager::transaction_manager_status_mut(sqlite)
        .transaction_depth()?
        .is_some()
    {
        return conn.transaction(work);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match work(conn) {
        Ok(value) => {
            DbConnection::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match DbConnection::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// A file path typed where a URL belongs (`/var/lib/usher.db`, `./data/usher.db`): nothing
/// with a scheme, and nothing like libpq's `key=value` strings, which may hold a password.
fn looks_like_a_path(url: &str) -> bool {
    !url.contains("://")
        && !url.contains('=')
        && !url.contains(char::is_whitespace)
        && (url.starts_with('/') || url.starts_with("./") || url.starts_with("../") || url.ends_with(".db"))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The URL as it may appear in messages: a password in the user-info part or in libpq's
/// `password` query parameter is replaced by `***`; what is not a URL at all (a libpq
/// key=value string may hold a password) is not shown.
fn redact_password(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<unparseable URL>".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(name, _)| name == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if name == "password" {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SQLite store of two connections with a table of its own to write to.
    fn store_with_a_scratch_table(root: &tempfile::TempDir) -> Store {
        let store = Store::open(&format!("sqlite://{}", root.path().join("usher.db").display()), 2).unwrap();
        store
            .run_blocking(|conn| Ok::<_, StoreError>(conn.batch_execute("CREATE TABLE scratch (n INTEGER)")?))
            .unwrap();
        store
    }

    /// A transaction that reads, waits while another connection writes, then writes itself:
    /// returns what the transaction and the other connection's write ended with.
    fn read_then_write_around_another_write(store: &Store, begin: Transaction) -> (QueryResult, QueryResult) {
        let (has_read, wait_for_read) = std::sync::mpsc::channel();
        let (other_wrote, wait_for_other) = std::sync::mpsc::channel();
        let reader = store.clone();
        let transaction = std::thread::spawn(move || {
            reader.run_blocking(|conn| {
                begin(conn, &mut |conn| {
                    conn.batch_execute("SELECT count(*) FROM scratch")?;
                    let _ = has_read.send(());
                    // The other write commits now, or waits for this transaction's lock.
                    let _ = wait_for_other.recv_timeout(Duration::from_millis(500));
                    Ok(conn.batch_execute("INSERT INTO scratch VALUES (1)")?)
                })
            })
        });
        let _ = wait_for_read.recv();
        let other = store.run_blocking(|conn| Ok(conn.batch_execute("INSERT INTO scratch VALUES (2)")?));
        let _ = other_wrote.send(());
        (transaction.join().unwrap(), other)
    }

    type QueryResult = Result<(), StoreError>;
    /// A way to run work in a transaction.
    type Transaction = fn(&mut DbConnection, &mut dyn FnMut(&mut DbConnection) -> QueryResult) -> QueryResult;

    #[test]
    fn on_sqlite_a_transaction_that_reads_then_writes_waits_for_another_write_instead_of_failing() {
        let root = tempfile::tempdir().unwrap();
        let store = store_with_a_scratch_table(&root);
        let (transaction_result, other) =
            read_then_write_around_another_write(&store, |conn, work| transaction(conn, |conn| work(conn)));
        assert!(transaction_result.is_ok(), "{transaction_result:?}");
        assert!(other.is_ok(), "{other:?}");
    }

    /// What `transaction` is for: diesel's own, a plain `BEGIN`, fails in that case. If this
    /// starts passing, SQLite or diesel changed and the workaround may go.
    #[test]
    #[allow(clippy::disallowed_methods)]
    fn on_sqlite_a_plain_begin_that_reads_then_writes_fails_after_another_write() {
        let root = tempfile::tempdir().unwrap();
        let store = store_with_a_scratch_table(&root);
        let (transaction_result, other) =
            read_then_write_around_another_write(&store, |conn, work| conn.transaction(|conn| work(conn)));
        assert!(other.is_ok(), "{other:?}");
        let message = transaction_result
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(message.contains("locked"), "{message}");
    }

    #[test]
    fn a_new_sqlite_database_and_its_directory_are_private() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("data/usher.db");
        Store::open(&format!("sqlite://{}", path.display()), 1).unwrap();
        assert!(!private_files::open_to_others(&path), "the database file");
        assert!(
            !private_files::open_to_others(&root.path().join("data")),
            "its directory"
        );
    }

    #[test]
    fn passwords_never_appear_in_described_urls() {
        let described =
            redact_password("postgres://usher:hunter2@db:5432/x?password=hunter3&sslmode=require");
        assert!(!described.contains("hunter"), "{described}");
        assert!(described.contains("sslmode=require"), "{described}");
    }

    #[test]
    fn a_bare_path_as_database_url_is_shown_with_the_url_to_write_instead() {
        let refused = Target::parse("/tmp/x.db").err().map(|error| error.to_string());
        assert!(
            refused.as_deref().is_some_and(
                |message| message.contains("\"/tmp/x.db\"") && message.contains("sqlite:///tmp/x.db")
            ),
            "{refused:?}"
        );
    }

    #[test]
    fn a_missing_sqlite_file_is_not_created_when_opening_an_existing_database() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("data/usher.db");
        let refused = Store::open_existing(&format!("sqlite://{}", path.display()), 1).err();
        assert!(
            matches!(refused, Some(StoreError::NoSuchDatabase { .. })),
            "{refused:?}"
        );
        assert!(!root.path().join("data").exists(), "nothing was created");
    }

    /// A server's store over a fresh SQLite file with `pool_size` connections in turn, whose
    /// requests wait `acquire_timeout` for one while none comes free.
    fn serving_store(root: &tempfile::TempDir, pool_size: u32, acquire_timeout: Duration) -> Store {
        let url = format!("sqlite://{}", root.path().join("usher.db").display());
        Store::open_serving(&url, pool_size)
            .unwrap()
            .with_acquire_timeout(acquire_timeout)
    }

    /// Takes the store's one ordinary turn and keeps it until the returned sender is dropped.
    async fn hold_the_ordinary_turn(store: &Store) -> std::sync::mpsc::Sender<()> {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (taken, is_taken) = tokio::sync::oneshot::channel();
        let holder = store.clone();
        tokio::spawn(async move {
            holder
                .run(move |_conn| {
                    let _ = taken.send(());
                    let _ = released.recv();
                    Ok::<_, StoreError>(())
                })
                .await
        });
        is_taken.await.unwrap();
        release
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_wait_in_line_past_the_acquire_timeout_while_connections_come_free() {
        let root = tempfile::tempdir().unwrap();
        let store = serving_store(&root, 1, Duration::from_millis(400));
        let queued: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .run(|_conn| {
                            std::thread::sleep(Duration::from_millis(100));
                            Ok::<_, StoreError>(())
                        })
                        .await
                })
            })
            .collect();
        for request in queued {
            request.await.unwrap().unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_gives_up_when_no_connection_comes_free_within_the_acquire_timeout() {
        let root = tempfile::tempdir().unwrap();
        let store = serving_store(&root, 1, Duration::from_millis(200));
        let release = hold_the_ordinary_turn(&store).await;
        let waited = store.run(|_conn| Ok::<_, StoreError>(())).await;
        assert!(waited.is_err_and(|error| error.is_unavailable()));
        drop(release);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn urgent_work_does_not_wait_behind_the_queue() {
        let root = tempfile::tempdir().unwrap();
        let store = serving_store(&root, 1, Duration::from_secs(30));
        let release = hold_the_ordinary_turn(&store).await;
        let queued = {
            let store = store.clone();
            tokio::spawn(async move { store.run(|_conn| Ok::<_, StoreError>(())).await })
        };
        let urgent = tokio::time::timeout(
            Duration::from_secs(10),
            store.run_urgent(|_conn| Ok::<_, StoreError>("read")),
        )
        .await;
        assert_eq!(urgent.ok().and_then(Result::ok), Some("read"));
        assert!(!queued.is_finished(), "the ordinary request still waits its turn");
        drop(release);
        queued.await.unwrap().unwrap();
    }

    #[test]
    fn a_url_of_another_database_is_refused_by_name() {
        let refused = Target::parse("mysql://root:pw@host/db")
            .err()
            .map(|error| error.to_string());
        assert!(refused.is_some_and(|message| message.contains("not supported") && !message.contains("pw@")));
    }
}

struct ConnectionManager {
    target: Target,
    /// Set when the last attempt to connect failed, cleared by the next that succeeds.
    unreachable: Arc<AtomicBool>,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = StoreError;

    fn connect(&self) -> Result<DbConnection, StoreError> {
        let connection = self.target.establish();
        self.unreachable.store(connection.is_err(), Ordering::Relaxed);
        connection
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        conn.batch_execute("SELECT 1").map_err(StoreError::Query)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// How long the command line waits for a connection: nothing else is waiting on it.
const COMMAND_LINE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections beyond `db_pool_size`, kept for the reads a hot path waits on
/// ([`Store::run_urgent`]).
const URGENT_CONNECTIONS: u32 = 2;
/// The longest a request waits in the queue for a connection while connections keep coming
/// free (a burst beyond what the database can serve), unless the acquire timeout is longer.
const LONGEST_TURN_WAIT: Duration = Duration::from_secs(5);
/// How long a request waits for a connection before it looks again at whether the database
/// is reachable: an outage is noticed within this, however long a busy pool may be waited for.
const ACQUIRE_SLICE: Duration = Duration::from_millis(100);

/// Handle to the database: a connection pool plus the blocking-pool bridge.
#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager>,
    acquire_timeout: Duration,
    /// How long a request waits for its database work once it has a connection; `None`:
    /// as long as it takes.
    work_timeout: Option<Duration>,
    /// Threads of their own for request work, ordinary work at a priority of its own
    /// (src/foundation/priority.rs); `None`: the caller's blocking pool.
    database_threads: Option<Arc<DatabaseThreads>>,
    unreachable: Arc<AtomicBool>,
    /// Turns at the pool, one per connection: requests beyond them wait here, on no thread,
    /// in arrival order. Waiting on blocking threads instead, a burst kept a hundred threads
    /// waking to look for a connection, and together they outweighed the threads they were
    /// meant to run below (src/foundation/priority.rs).
    turns: Arc<Turns>,
    /// What was opened, for messages: the SQLite path made absolute, passwords hidden.
    described: Arc<str>,
    sqlite: bool,
}

impl Store {
    /// Opens the database named by `url` as [`Store::open`] does, but refuses to create a
    /// SQLite file that is not there: administrative commands run from the wrong directory
    /// would otherwise work on a new, empty database nothing else reads.
    pub fn open_existing(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        let target = Target::parse(url)?;
        if let Target::Sqlite { path } = &target
            && !path.exists()
        {
            return Err(StoreError::NoSuchDatabase {
                target: target.describe_resolved(),
            });
        }
        Self::open(url, pool_size)
    }

    /// The database opened, as messages name it: a SQLite path absolute, no password.
    pub fn describe(&self) -> &str {
        &self.described
    }

    /// Copies the whole database, consistently, into a new SQLite file at `destination`
    /// (`VACUUM INTO`: safe while servers write). SQLite only: PostgreSQL has `pg_dump`.
    pub fn backup_sqlite(&self, destination: &Path) -> Result<(), BackupError> {
        if !self.sqlite {
            return Err(BackupError::NotSqlite);
        }
        if destination.exists() {
            return Err(BackupError::Exists(destination.display().to_string()));
        }
        let destination_text = destination.to_string_lossy().into_owned();
        self.run_blocking(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("VACUUM INTO $1")
                .bind::<diesel::sql_types::Text, _>(destination_text)
                .execute(conn)
                .map_err(StoreError::Query)
        })?;
        private_files::restrict(destination).map_err(|error| BackupError::Private(error.to_string()))?;
        Ok(())
    }

    /// Opens the database named by `url`, creating the SQLite file and its directory when
    /// needed, and runs pending migrations. Fails with the real cause on a bad URL.
    pub fn open(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        Self::open_with(url, pool_size, 0)
    }

    /// Opens the database as [`Store::open`] does for a server: `pool_size` connections in
    /// turn, and [`URGENT_CONNECTIONS`] more kept for [`Store::run_urgent`].
    pub fn open_serving(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        Self::open_with(url, pool_size, URGENT_CONNECTIONS)
    }

    fn open_with(url: &str, pool_size: u32, urgent: u32) -> Result<Self, StoreError> {
        let target = Target::parse(url)?;
        let new_sqlite_file = match &target {
            Target::Sqlite { path } => prepare_sqlite_file(path)?,
            Target::Postgres { .. } => None,
        };
        // A first connection made directly, so the error is the driver's own and immediate
        // instead of r2d2's "timed out waiting for connection" after 30 seconds.
        let mut first = target.establish()?;
        if let Some(path) = new_sqlite_file {
            private_files::restrict(&path).map_err(|error| StoreError::SqliteDirectory {
                path: path.display().to_string(),
                cause: error.to_string(),
            })?;
        }
        run_migrations(&mut first)?;
        drop(first);

        let unreachable = Arc::new(AtomicBool::new(false));
        let described = target.describe_resolved().into();
        let sqlite = matches!(target, Target::Sqlite { .. });
        let pool_size = pool_size.max(1);
        let pool = Pool::builder()
            .max_size(pool_size.saturating_add(urgent))
            .min_idle(Some(1))
            .connection_timeout(COMMAND_LINE_ACQUIRE_TIMEOUT)
            .build_unchecked(ConnectionManager {
                target,
                unreachable: Arc::clone(&unreachable),
            });
        Ok(Self {
            pool,
            acquire_timeout: COMMAND_LINE_ACQUIRE_TIMEOUT,
            work_timeout: None,
            database_threads: None,
            unreachable,
            turns: Arc::new(Turns::new(pool_size, urgent)),
            described,
            sqlite,
        })
    }

    /// The same store, with requests waiting at most `timeout` for a connection: the server
    /// answers 503 rather than hold a request while the database is away.
    pub fn with_acquire_timeout(self, timeout: Duration) -> Self {
        Self {
            acquire_timeout: timeout,
            ..self
        }
    }

    /// The same store, with a PostgreSQL request's database work (connection in hand) given
    /// up on after `timeout`: a database that stops answering (frozen, or a lock held for
    /// long) answers 503 instead of holding the request for the whole outage. The work itself
    /// goes on, as nothing can interrupt a query the server does not answer, and commits or
    /// not as it would have. SQLite is in the process and waits out its own busy timeout.
    pub fn with_work_timeout(self, timeout: Duration) -> Self {
        Self {
            work_timeout: (!self.sqlite).then_some(timeout),
            ..self
        }
    }

    /// The same store, its request work done on threads of its own: ordinary work at the
    /// priority `nice`, urgent work ([`Store::run_urgent`]) at the caller's, so that the reads
    /// introspection waits on are not held back with the rest. A thread is born with the
    /// priority of the thread that started it, and the actix workers that call this store may
    /// run below `nice`: threads they started would be stuck below it (a process without
    /// `CAP_SYS_NICE` cannot raise a thread again). These are started by runtime threads of
    /// their own, the ordinary ones lowered to `nice` as they start.
    pub fn with_thread_nice(self, nice: i32) -> Result<Self, StoreError> {
        let cannot_start = |error: std::io::Error| {
            StoreError::Unavailable(format!("cannot start the database threads: {error}"))
        };
        let ordinary = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("usher-database")
            .on_thread_start(move || priority::set_this_thread(Some(nice)))
            .build()
            .map_err(cannot_start)?;
        let urgent = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("usher-db-urgent")
            .build()
            .map_err(cannot_start)?;
        Ok(Self {
            database_threads: Some(Arc::new(DatabaseThreads {
                ordinary: Some(ordinary),
                urgent: Some(urgent),
            })),
            ..self
        })
    }

    /// The same store waiting as long as the command line does: for start-up, where nothing
    /// is waiting for an answer and giving up would stop the server from starting.
    pub(crate) fn patient(&self) -> Self {
        Self {
            work_timeout: None,
            ..self.clone().with_acquire_timeout(COMMAND_LINE_ACQUIRE_TIMEOUT)
        }
    }

    /// Whether the last attempt to open a connection failed.
    pub(crate) fn seems_unreachable(&self) -> bool {
        self.unreachable.load(Ordering::Relaxed)
    }

    /// A pooled connection, waited for in slices: a busy pool is waited for up to the acquire
    /// timeout, an unreachable database is given up on after one slice.
    fn connection(&self) -> Result<PooledConnection<ConnectionManager>, StoreError> {
        let deadline = std::time::Instant::now() + self.acquire_timeout;
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            match self.pool.get_timeout(remaining.min(ACQUIRE_SLICE)) {
                Ok(connection) => return Ok(connection),
                Err(error) if remaining <= ACQUIRE_SLICE || self.seems_unreachable() => {
                    return Err(StoreError::Unavailable(one_line(&error.to_string())));
                }
                Err(_) => {}
            }
        }
    }

    /// A turn at the pool. Waited for as long as turns keep being handed out (a busy pool is
    /// a queue, served in order) up to [`LONGEST_TURN_WAIT`], but given up on once none has
    /// been for the acquire timeout (the database stopped answering), or after one slice once
    /// the database is unreachable.
    async fn turn(&self, urgency: Urgency) -> Result<OwnedSemaphorePermit, StoreError> {
        let started = tokio::time::Instant::now();
        let longest = self.acquire_timeout.max(LONGEST_TURN_WAIT);
        let mut handed_out = self.turns.handed_out.load(Ordering::Relaxed);
        let mut last_progress = started;
        // One waiter for the whole wait, so that slices do not lose its place in the queue.
        let waiting = self.turns.take(urgency);
        tokio::pin!(waiting);
        loop {
            if let Ok(turn) = tokio::time::timeout(ACQUIRE_SLICE, &mut waiting).await {
                return turn;
            }
            let now = tokio::time::Instant::now();
            let handed_out_now = self.turns.handed_out.load(Ordering::Relaxed);
            if handed_out_now != handed_out {
                (handed_out, last_progress) = (handed_out_now, now);
            }
            let stuck = now.duration_since(last_progress) >= self.acquire_timeout;
            if stuck || now.duration_since(started) >= longest || self.seems_unreachable() {
                return Err(StoreError::Unavailable(format!(
                    "waited {} ms in line, the last {} ms without a connection coming free",
                    now.duration_since(started).as_millis(),
                    now.duration_since(last_progress).as_millis()
                )));
            }
        }
    }

    /// Runs `work` with a pooled connection on the blocking thread pool, once it has a turn.
    /// `work` may fail with any error a [`StoreError`] converts into, so callers that mix
    /// queries with other fallible steps (unsealing keys) keep their own error type.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        self.run_as(Urgency::InTurn, work).await
    }

    /// Runs `work` as [`Store::run`] does, ahead of the queue: for the reads a hot path
    /// (introspection) waits on, which must not queue behind a burst of sign-ins and writes.
    pub async fn run_urgent<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        self.run_as(Urgency::Urgent, work).await
    }

    async fn run_as<T, E, F>(&self, urgency: Urgency, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let turn = self.turn(urgency).await?;
        let store = self.clone();
        let with_connection = move || {
            let _turn = turn;
            work(&mut *store.connection()?)
        };
        let task = match self
            .database_threads
            .as_ref()
            .and_then(|threads| threads.for_work(urgency))
        {
            None => tokio::task::spawn_blocking(with_connection),
            // Spawned from that runtime's own thread, so a new blocking thread is born at its
            // priority.
            Some(runtime) => runtime.spawn(async move {
                tokio::task::spawn_blocking(with_connection)
                    .await
                    .map_err(|_| StoreError::TaskCancelled)?
            }),
        };
        let joined = match self.work_timeout {
            // The acquire timeout first: waiting for a connection has its own bound.
            Some(timeout) => tokio::time::timeout(self.acquire_timeout + timeout, task)
                .await
                .map_err(|_| {
                    StoreError::Unavailable(format!(
                        "the database did not answer within {} ms",
                        timeout.as_millis()
                    ))
                })?,
            None => task.await,
        };
        joined.map_err(|_| StoreError::TaskCancelled)?
    }

    /// Runs `work` on the calling thread, waiting for a connection as [`Store::patient`] does:
    /// for the command line and start-up, never for request handlers.
    pub fn run_blocking<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        work(&mut *self.patient().connection()?)
    }

    /// Whether the database answers a trivial query right now. Waits at most a second for a
    /// connection, so a readiness probe gets its answer before its own timeout.
    pub(crate) async fn ping(&self) -> bool {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            pool.get_timeout(Duration::from_secs(1))
                .is_ok_and(|mut conn| conn.batch_execute("SELECT 1").is_ok())
        })
        .await
        .unwrap_or(false)
    }
}

#[derive(Clone, Copy)]
enum Urgency {
    InTurn,
    Urgent,
}

/// The pool's connections as turns: some for everyone in arrival order, the others kept for
/// urgent work, which also takes an ordinary turn when one comes first.
struct Turns {
    anyone: Arc<Semaphore>,
    urgent_only: Arc<Semaphore>,
    /// How many turns were taken: waiters that see it move know the queue is moving.
    handed_out: AtomicU64,
}

impl Turns {
    fn new(ordinary: u32, urgent: u32) -> Self {
        let permits = |count: u32| Arc::new(Semaphore::new(usize::try_from(count).unwrap_or(usize::MAX)));
        Self {
            anyone: permits(ordinary),
            urgent_only: permits(urgent),
            handed_out: AtomicU64::new(0),
        }
    }

    async fn take(&self, urgency: Urgency) -> Result<OwnedSemaphorePermit, StoreError> {
        let ordinary = Arc::clone(&self.anyone).acquire_owned();
        let taken = match urgency {
            Urgency::InTurn => ordinary.await,
            Urgency::Urgent => tokio::select! {
                biased;
                ordinary = ordinary => ordinary,
                kept = Arc::clone(&self.urgent_only).acquire_owned() => kept,
            },
        };
        self.handed_out.fetch_add(1, Ordering::Relaxed);
        taken.map_err(|_| StoreError::TaskCancelled)
    }
}

/// The runtimes whose threads do a store's request work when it has threads of its own.
struct DatabaseThreads {
    ordinary: Option<tokio::runtime::Runtime>,
    urgent: Option<tokio::runtime::Runtime>,
}

impl DatabaseThreads {
    fn for_work(&self, urgency: Urgency) -> Option<&tokio::runtime::Runtime> {
        match urgency {
            Urgency::InTurn => self.ordinary.as_ref(),
            Urgency::Urgent => self.urgent.as_ref(),
        }
    }
}

impl Drop for DatabaseThreads {
    /// Dropped by the last clone of its store, possibly on an async task: a runtime dropped
    /// there would block, so it is told to stop without waiting for its threads.
    fn drop(&mut self) {
        for runtime in [self.ordinary.take(), self.urgent.take()].into_iter().flatten() {
            runtime.shutdown_background();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "usher backup copies SQLite databases only: back up PostgreSQL with pg_dump \
         (docs/operations.md, Backups)"
    )]
    NotSqlite,
    #[error("{0} already exists: usher backup never overwrites a file; name a new one")]
    Exists(String),
    #[error("the backup was written but could not be made private: {0}")]
    Private(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates the directory of a SQLite database (private, when new) and returns the database's
/// path when the file does not exist yet, so it can be made private once SQLite created it.
/// An existing database that others can read is reported.
fn prepare_sqlite_file(path: &Path) -> Result<Option<PathBuf>, StoreError> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        private_files::create_dir(parent).map_err(|error| StoreError::SqliteDirectory {
            path: parent.display().to_string(),
            cause: error.to_string(),
        })?;
    }
    if path.exists() {
        private_files::warn_if_open_to_others(path, "the database");
        return Ok(None);
    }
    Ok(Some(path.to_owned()))
}

fn run_migrations(conn: &mut DbConnection) -> Result<(), StoreError> {
    let result = match conn {
        DbConnection::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        DbConnection::Postgres(conn) => {
            // Instances sharing a database may start together: the advisory lock makes
            // exactly one of them migrate while the others wait, then find nothing to do.
            conn.batch_execute("SELECT pg_advisory_lock(7262001)")?;
            let outcome = conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ());
            conn.batch_execute("SELECT pg_advisory_unlock(7262001)")?;
            outcome
        }
    };
    result.map_err(|error| StoreError::Migration(one_line(&error.to_string())))
}

/// Decodes a JSON list of strings stored in a TEXT column.
pub(crate) fn decode_list(column: &str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("{column}: {error}")))
}

pub(crate) fn encode_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}
