//! How a store is opened: [`StoreOptions`] and the [`Backend`] it runs on.

/// Options of [`Store::connect_with`](crate::Store::connect_with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Most records written in one group commit (one transaction). The queue
    /// in front of the writer holds four times as many; callers beyond that
    /// wait. 0 is taken as 1. Default 256.
    pub max_batch: usize,
    /// SQLite only: `synchronous=FULL` instead of `NORMAL`. In WAL mode
    /// NORMAL survives a crash of the process but a power loss or OS crash
    /// may undo the last commits; FULL syncs the WAL on every commit
    /// (durable against power loss, slower). Default false (NORMAL).
    pub sqlite_synchronous_full: bool,
    /// Size of the read pool (SQLite, file databases) or of the whole pool
    /// (PostgreSQL, where the writer takes one connection per batch).
    /// Default 8.
    pub max_connections: u32,
    /// PostgreSQL: how long a call (or the writer) waits for a connection
    /// of the pool, including the reconnects when the database went away.
    /// A store that cannot be reached then fails the call with
    /// [`StoreErrorKind::Unavailable`](crate::StoreErrorKind) after this
    /// long, rather than holding it. Default 2 s (was 10 s: no caller of
    /// the router waits that long; its default deadline is 800 ms).
    pub acquire_timeout: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_batch: 256,
            sqlite_synchronous_full: false,
            max_connections: 8,
            acquire_timeout: std::time::Duration::from_secs(2),
        }
    }
}

/// The database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Embedded SQLite (one router replica).
    Sqlite,
    /// PostgreSQL (several replicas sharing one database).
    Postgres,
}

impl Backend {
    /// `"sqlite"` or `"postgres"`, for logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The backend a URL names: `sqlite:` or `postgres://` / `postgresql://`.
    pub(crate) fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
