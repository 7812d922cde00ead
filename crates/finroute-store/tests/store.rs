//! One store test suite, written once in `suite` and instantiated by
//! `store_suite!` for every backend: SQLite on a temporary file, and
//! PostgreSQL when `FINROUTE_TEST_DATABASE_URL` is set (each test in a fresh
//! schema, so tests run concurrently and repeatedly on one database). With
//! the variable unset the PostgreSQL tests say so and return; with it set
//! and the database unreachable they fail.

mod harness {
    //! Opening a store per test on each backend, reopening it, cleaning up.

    use finroute_store::{Store, StoreOptions};
    use sqlx::{AssertSqlSafe, Connection, PgConnection};

    /// The variable naming the PostgreSQL test database.
    pub const PG_URL_VAR: &str = "FINROUTE_TEST_DATABASE_URL";

    /// A store under test, and what it takes to reopen and drop its database.
    pub struct Harness {
        pub store: Store,
        pub url: String,
        cleanup: Cleanup,
    }

    enum Cleanup {
        Sqlite(#[allow(dead_code)] tempfile::TempDir),
        Postgres { admin_url: String, schema: String },
    }

    /// A store on a new SQLite file in a temporary directory.
    pub async fn sqlite(opts: StoreOptions) -> Option<Harness> {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::connect_with(&url, opts)
            .await
            .expect("open a SQLite store");
        Some(Harness {
            store,
            url,
            cleanup: Cleanup::Sqlite(dir),
        })
    }

    /// A store in a new schema of the PostgreSQL test database, or `None`
    /// (with a line saying so) when the variable is unset.
    pub async fn postgres(opts: StoreOptions) -> Option<Harness> {
        let Ok(admin_url) = std::env::var(PG_URL_VAR) else {
            eprintln!("skipped: PostgreSQL store test ({PG_URL_VAR} is not set)");
            return None;
        };
        let schema = format!("finroute_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but PostgreSQL is unreachable: {e}"));
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        admin.close().await.expect("close the admin connection");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options[search_path]={schema}");
        let store = Store::connect_with(&url, opts)
            .await
            .expect("open a PostgreSQL store");
        Some(Harness {
            store,
            url,
            cleanup: Cleanup::Postgres { admin_url, schema },
        })
    }

    impl Harness {
        /// A second store on the same database.
        pub async fn reopen(&self) -> Store {
            Store::connect(&self.url).await.expect("reopen the store")
        }

        /// Closes the store and drops the test's database.
        pub async fn finish(self) {
            self.store.close().await;
            match self.cleanup {
                Cleanup::Sqlite(_dir) => {}
                Cleanup::Postgres { admin_url, schema } => {
                    let mut admin = PgConnection::connect(&admin_url)
                        .await
                        .expect("reconnect to drop the test schema");
                    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                        .execute(&mut admin)
                        .await
                        .expect("drop the test schema");
                    let _ = admin.close().await;
                }
            }
        }
    }
}

mod fixture {
    //! Records with unique ids and every field set to something checkable.

    use finroute_store::{ApplicationRecord, ChannelReportRecord, OfferRecord};

    fn unique(prefix: &str) -> String {
        format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
    }

    /// An application of `tenant` with `offers` offers and `reports`
    /// channel reports; `request_id` may be empty.
    pub fn application(
        tenant: &str,
        request_id: &str,
        offers: usize,
        reports: usize,
    ) -> ApplicationRecord {
        let application_id = unique("app");
        // Every byte value, then a length that is not a round number.
        let mut response: Vec<u8> = (0..=255u8).collect();
        response.extend(application_id.bytes().cycle().take(70_001));
        let offers = (0..offers)
            .map(|i| OfferRecord {
                offer_id: unique("offer"),
                application_id: application_id.clone(),
                tenant: tenant.to_owned(),
                adapter_id: format!("adapter-{i}"),
                partner_offer_ref: format!("ref-{i}-é✓"),
                product_kind: "INSTALLMENT".into(),
                currency: "CNY".into(),
                principal_minor: 1_234_567_890_123 + i as i64,
                term_months: 12 + i as i32,
                apr_bps: -5 + i as i32 * 1000,
                approval_odds: 0.123_456_789_012_345_6,
                rank: i as i32,
                expires_at_ms: 1_900_000_000_000 + i as i64,
            })
            .collect();
        let channel_reports = (0..reports)
            .map(|i| ChannelReportRecord {
                adapter_id: format!("adapter-{i}"),
                product_kind: "SECURED_LOAN".into(),
                status: if i % 2 == 0 { "OK" } else { "TIMEOUT" }.into(),
                latency_ms: 700 + i as i64,
                offers_returned: 3,
                offers_rejected: 1,
                detail: format!("detail {i}"),
            })
            .collect();
        ApplicationRecord {
            application_id,
            tenant: tenant.to_owned(),
            request_id: request_id.to_owned(),
            request_fingerprint: (0..32u8).map(|b| b.wrapping_mul(7)).collect(),
            applicant_id: unique("applicant"),
            created_at_ms: 1_700_000_000_123,
            partial: true,
            response,
            offers,
            channel_reports,
        }
    }

    /// A fresh request id.
    pub fn request_id() -> String {
        unique("req")
    }
}

mod suite {
    //! The tests, each an async fn over a [`Harness`].

    use std::collections::HashSet;

    use finroute_store::{ApplicationRecord, DuplicateKey, StoreError, StoreStats};
    use tokio::task::JoinSet;

    use crate::fixture::{application, request_id};
    use crate::harness::Harness;

    async fn assert_stored(h: &Harness, app: &ApplicationRecord) {
        let stored = h
            .store
            .get_application(&app.tenant, &app.application_id)
            .await
            .expect("get_application")
            .unwrap_or_else(|| panic!("{} is not stored", app.application_id));
        assert_eq!(stored.response, app.response);
    }

    async fn assert_absent(h: &Harness, app: &ApplicationRecord) {
        let found = h
            .store
            .get_application(&app.tenant, &app.application_id)
            .await
            .expect("get_application");
        assert!(
            found.is_none(),
            "{} should not be stored",
            app.application_id
        );
        for offer in &app.offers {
            let found = h
                .store
                .get_offer(&offer.tenant, &offer.offer_id)
                .await
                .expect("get_offer");
            assert!(
                found.is_none(),
                "offer {} should not be stored",
                offer.offer_id
            );
        }
    }

    fn delta(before: StoreStats, after: StoreStats) -> StoreStats {
        StoreStats {
            batches: after.batches - before.batches,
            records: after.records - before.records,
        }
    }

    pub async fn record_then_get(h: &Harness) {
        let app = application("tenant-a", &request_id(), 3, 2);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");

        let stored = h
            .store
            .get_application("tenant-a", &app.application_id)
            .await
            .expect("get_application")
            .expect("stored");
        assert_eq!(stored.application_id, app.application_id);
        assert_eq!(stored.tenant, app.tenant);
        assert_eq!(stored.request_id, app.request_id);
        assert_eq!(stored.request_fingerprint, app.request_fingerprint);
        assert_eq!(stored.applicant_id, app.applicant_id);
        assert_eq!(stored.created_at_ms, app.created_at_ms);
        assert_eq!(stored.response.len(), app.response.len());
        assert_eq!(stored.response, app.response);

        let by_request = h
            .store
            .find_by_request_id("tenant-a", &app.request_id)
            .await
            .expect("find_by_request_id")
            .expect("found by request_id");
        assert_eq!(by_request, stored);

        for offer in &app.offers {
            let got = h
                .store
                .get_offer("tenant-a", &offer.offer_id)
                .await
                .expect("get_offer")
                .expect("offer stored");
            // Every field, the f64 bit for bit.
            assert_eq!(&got, offer);
            assert_eq!(got.approval_odds.to_bits(), offer.approval_odds.to_bits());
        }
        assert!(
            h.store
                .get_offer("tenant-a", "no-such-offer")
                .await
                .expect("get_offer")
                .is_none()
        );
        assert!(
            h.store
                .get_application("tenant-a", "no-such-app")
                .await
                .expect("get_application")
                .is_none()
        );
    }

    pub async fn tenant_isolation(h: &Harness) {
        let rid = request_id();
        let a = application("tenant-a", &rid, 1, 1);
        h.store
            .record_application(a.clone())
            .await
            .expect("record a");

        let other = "tenant-b";
        assert!(
            h.store
                .get_application(other, &a.application_id)
                .await
                .expect("get")
                .is_none()
        );
        assert!(
            h.store
                .find_by_request_id(other, &rid)
                .await
                .expect("find")
                .is_none()
        );
        assert!(
            h.store
                .get_offer(other, &a.offers[0].offer_id)
                .await
                .expect("offer")
                .is_none()
        );

        // The same request_id is free in another tenant.
        let b = application(other, &rid, 1, 0);
        h.store
            .record_application(b.clone())
            .await
            .expect("record b");
        let found_b = h
            .store
            .find_by_request_id(other, &rid)
            .await
            .expect("find")
            .expect("b");
        assert_eq!(found_b.application_id, b.application_id);
        let found_a = h
            .store
            .find_by_request_id("tenant-a", &rid)
            .await
            .expect("find")
            .expect("a");
        assert_eq!(found_a.application_id, a.application_id);
    }

    pub async fn empty_request_ids_do_not_collide(h: &Harness) {
        let a = application("tenant-a", "", 1, 1);
        let b = application("tenant-a", "", 1, 1);
        h.store
            .record_application(a.clone())
            .await
            .expect("record a");
        h.store
            .record_application(b.clone())
            .await
            .expect("record b");
        assert_stored(h, &a).await;
        assert_stored(h, &b).await;
        assert!(
            h.store
                .find_by_request_id("tenant-a", "")
                .await
                .expect("find")
                .is_none()
        );
    }

    /// Runs on a current-thread runtime: `join!` queues both records before
    /// the writer task can run, so they share one group commit.
    pub async fn duplicate_request_id_fails_alone_in_its_batch(h: &Harness) {
        let rid = request_id();
        let first = application("tenant-a", &rid, 2, 1);
        h.store
            .record_application(first.clone())
            .await
            .expect("first");

        let good = application("tenant-a", &request_id(), 2, 2);
        let dup = application("tenant-a", &rid, 2, 2);
        let before = h.store.stats();
        let (good_result, dup_result) = tokio::join!(
            h.store.record_application(good.clone()),
            h.store.record_application(dup.clone()),
        );
        let d = delta(before, h.store.stats());

        good_result.expect("the good record commits");
        match dup_result {
            Err(StoreError::Duplicate { key }) => assert_eq!(key, DuplicateKey::RequestId),
            other => panic!("expected Duplicate(RequestId), got {other:?}"),
        }
        assert_eq!(
            d,
            StoreStats {
                batches: 1,
                records: 1
            },
            "one group commit, one record"
        );
        assert_stored(h, &good).await;
        for offer in &good.offers {
            assert!(
                h.store
                    .get_offer("tenant-a", &offer.offer_id)
                    .await
                    .expect("offer")
                    .is_some()
            );
        }
        // Nothing of the duplicate, and the first holder of the key unchanged.
        assert_absent(h, &dup).await;
        let holder = h
            .store
            .find_by_request_id("tenant-a", &rid)
            .await
            .expect("find")
            .expect("first");
        assert_eq!(holder.application_id, first.application_id);
    }

    /// Two records racing on one new request_id in the same batch: the first
    /// queued wins, the second is a Duplicate, a third unrelated one commits.
    pub async fn duplicate_within_one_batch(h: &Harness) {
        let rid = request_id();
        let a = application("tenant-a", &rid, 1, 1);
        let b = application("tenant-a", &rid, 1, 1);
        let c = application("tenant-a", "", 1, 1);
        let before = h.store.stats();
        let (ra, rb, rc) = tokio::join!(
            h.store.record_application(a.clone()),
            h.store.record_application(b.clone()),
            h.store.record_application(c.clone()),
        );
        let d = delta(before, h.store.stats());
        ra.expect("a commits");
        rc.expect("c commits");
        assert!(
            matches!(
                rb,
                Err(StoreError::Duplicate {
                    key: DuplicateKey::RequestId
                })
            ),
            "{rb:?}"
        );
        assert_eq!(
            d,
            StoreStats {
                batches: 1,
                records: 2
            }
        );
        assert_stored(h, &a).await;
        assert_stored(h, &c).await;
        assert_absent(h, &b).await;
    }

    pub async fn duplicate_application_and_offer_ids(h: &Harness) {
        let a = application("tenant-a", "", 1, 1);
        h.store.record_application(a.clone()).await.expect("a");

        let mut same_id = application("tenant-a", "", 0, 0);
        same_id.application_id = a.application_id.clone();
        match h.store.record_application(same_id).await {
            Err(StoreError::Duplicate { key }) => assert_eq!(key, DuplicateKey::ApplicationId),
            other => panic!("expected Duplicate(ApplicationId), got {other:?}"),
        }

        let mut same_offer = application("tenant-a", "", 1, 1);
        same_offer.offers[0].offer_id = a.offers[0].offer_id.clone();
        match h.store.record_application(same_offer.clone()).await {
            Err(StoreError::Duplicate { key }) => assert_eq!(key, DuplicateKey::OfferId),
            other => panic!("expected Duplicate(OfferId), got {other:?}"),
        }
        // All or nothing: the application row of the failed record is gone too.
        assert!(
            h.store
                .get_application("tenant-a", &same_offer.application_id)
                .await
                .expect("get")
                .is_none()
        );
        // The original is untouched.
        let offer = h
            .store
            .get_offer("tenant-a", &a.offers[0].offer_id)
            .await
            .expect("get");
        assert_eq!(offer.as_ref(), Some(&a.offers[0]));
    }

    /// An offer naming another tenant violates the composite foreign key:
    /// a database error (not a duplicate) for that record only.
    pub async fn offer_of_another_tenant_is_rejected(h: &Harness) {
        let mut bad = application("tenant-a", "", 2, 0);
        bad.offers[1].tenant = "tenant-b".into();
        let good = application("tenant-a", "", 1, 1);
        let (rbad, rgood) = tokio::join!(
            h.store.record_application(bad.clone()),
            h.store.record_application(good.clone()),
        );
        assert!(matches!(rbad, Err(StoreError::Database(_))), "{rbad:?}");
        rgood.expect("the good record commits");
        assert_absent(h, &bad).await;
        assert!(
            h.store
                .get_offer("tenant-b", &bad.offers[1].offer_id)
                .await
                .expect("get")
                .is_none()
        );
        assert_stored(h, &good).await;
    }

    /// Error texts (Display and Debug) carry no row values.
    pub async fn errors_do_not_echo_row_data(h: &Harness) {
        let a = application("tenant-a", &request_id(), 1, 0);
        h.store.record_application(a.clone()).await.expect("a");
        let mut dup = application("tenant-a", &a.request_id, 0, 0);
        dup.application_id = a.application_id.clone();
        let mut fk = application("tenant-a", "", 1, 0);
        fk.offers[0].application_id = "ghost-application-id-xyz".into();
        for (record, needle) in [
            (dup, a.application_id.clone()),
            (fk, "ghost-application-id-xyz".to_owned()),
        ] {
            let err = h
                .store
                .record_application(record)
                .await
                .expect_err("must fail");
            let texts = [err.to_string(), format!("{err:?}")];
            for text in texts {
                assert!(!text.contains(&needle), "error text leaks a value: {text}");
                assert!(
                    !text.contains("tenant-a"),
                    "error text leaks a value: {text}"
                );
            }
        }
    }

    pub async fn concurrent_records_are_batched(h: &Harness) {
        const N: usize = 500;
        let before = h.store.stats();
        let mut tasks = JoinSet::new();
        for i in 0..N {
            let store = h.store.clone();
            let rid = if i % 2 == 0 {
                request_id()
            } else {
                String::new()
            };
            let app = application("tenant-a", &rid, 2, 2);
            tasks.spawn(async move { store.record_application(app.clone()).await.map(|()| app) });
        }
        let mut apps = Vec::with_capacity(N);
        while let Some(joined) = tasks.join_next().await {
            apps.push(joined.expect("task").expect("record"));
        }
        let d = delta(before, h.store.stats());
        assert_eq!(d.records, N as u64);
        assert!(
            d.batches > 0 && d.batches * 4 <= N as u64,
            "expected group commits of 4+ records on average, got {} batches for {N}",
            d.batches
        );
        let ids: HashSet<&str> = apps.iter().map(|a| a.application_id.as_str()).collect();
        assert_eq!(ids.len(), N);
        for app in &apps {
            assert_stored(h, app).await;
            let offer = h
                .store
                .get_offer("tenant-a", &app.offers[1].offer_id)
                .await
                .expect("get");
            assert_eq!(offer.as_ref(), Some(&app.offers[1]));
        }
        // And from a second store on the same database: really committed.
        let other = h.reopen().await;
        for app in apps.iter().step_by(50) {
            assert!(
                other
                    .get_application("tenant-a", &app.application_id)
                    .await
                    .expect("get")
                    .is_some()
            );
        }
        other.close().await;
    }

    /// Run with `max_batch` 8 (so a queue of 32): most of the 32 records are
    /// still queued when `close` is called; all of them commit before it
    /// returns.
    pub async fn close_flushes_queued_records(h: &Harness) {
        const N: usize = 32;
        let mut tasks = JoinSet::new();
        let mut apps = Vec::with_capacity(N);
        for _ in 0..N {
            let store = h.store.clone();
            let app = application("tenant-a", &request_id(), 1, 1);
            apps.push(app.clone());
            tasks.spawn(async move { store.record_application(app).await });
        }
        // Let every task queue its record (current-thread runtime: each runs
        // up to its wait for the answer).
        tokio::task::yield_now().await;
        h.store.close().await;
        let stats = h.store.stats();
        while let Some(joined) = tasks.join_next().await {
            joined
                .expect("task")
                .expect("queued before close, so committed");
        }
        assert_eq!(
            stats.records, N as u64,
            "all committed by the time close returned"
        );
        assert!(
            stats.batches >= (N / 8) as u64,
            "max_batch respected: {stats:?}"
        );

        let late = application("tenant-a", "", 0, 0);
        assert!(matches!(
            h.store.record_application(late).await,
            Err(StoreError::Closed)
        ));
        assert!(matches!(
            h.store
                .get_application("tenant-a", &apps[0].application_id)
                .await,
            Err(StoreError::Closed)
        ));
        h.store.close().await; // idempotent

        let reopened = h.reopen().await;
        for app in &apps {
            let got = reopened
                .get_application("tenant-a", &app.application_id)
                .await
                .expect("get");
            assert!(got.is_some(), "{} lost", app.application_id);
        }
        reopened.close().await;
    }

    pub async fn reopen_sees_data(h: &Harness) {
        let app = application("tenant-a", &request_id(), 2, 2);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        h.store.close().await;

        // Connecting again runs the migrations again: a no-op.
        let reopened = h.reopen().await;
        let stored = reopened
            .get_application("tenant-a", &app.application_id)
            .await
            .expect("get")
            .expect("still there");
        assert_eq!(stored.response, app.response);
        assert_eq!(stored.request_fingerprint, app.request_fingerprint);
        let offer = reopened
            .get_offer("tenant-a", &app.offers[0].offer_id)
            .await
            .expect("get");
        assert_eq!(offer.as_ref(), Some(&app.offers[0]));
        // The unique index survived too.
        let dup = application("tenant-a", &app.request_id, 0, 0);
        assert!(matches!(
            reopened.record_application(dup).await,
            Err(StoreError::Duplicate {
                key: DuplicateKey::RequestId
            })
        ));
        reopened.close().await;
    }

    pub async fn migrate_is_idempotent(h: &Harness) {
        finroute_store::Store::migrate(&h.url)
            .await
            .expect("migrate once more");
        finroute_store::Store::migrate(&h.url)
            .await
            .expect("and again");
        let app = application("tenant-a", "", 1, 1);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        assert_stored(h, &app).await;
    }
}

/// Instantiates every test of `suite` for one backend of `harness`.
macro_rules! store_suite {
    ($backend:ident) => {
        mod $backend {
            use finroute_store::StoreOptions;

            macro_rules! case {
                ($name:ident) => {
                    case!($name, StoreOptions::default());
                };
                ($name:ident, $opts:expr) => {
                    #[tokio::test]
                    async fn $name() {
                        let Some(h) = crate::harness::$backend($opts).await else {
                            return;
                        };
                        crate::suite::$name(&h).await;
                        h.finish().await;
                    }
                };
            }

            case!(record_then_get);
            case!(tenant_isolation);
            case!(empty_request_ids_do_not_collide);
            case!(duplicate_request_id_fails_alone_in_its_batch);
            case!(duplicate_within_one_batch);
            case!(duplicate_application_and_offer_ids);
            case!(offer_of_another_tenant_is_rejected);
            case!(errors_do_not_echo_row_data);
            case!(concurrent_records_are_batched);
            case!(
                close_flushes_queued_records,
                StoreOptions {
                    max_batch: 8,
                    ..StoreOptions::default()
                }
            );
            case!(reopen_sees_data);
            case!(migrate_is_idempotent);
        }
    };
}

store_suite!(sqlite);
store_suite!(postgres);

mod url {
    //! Backend-independent: URL handling and the in-memory database.

    use finroute_store::{Backend, Store, StoreError};

    #[tokio::test]
    async fn unknown_scheme_is_invalid_and_not_echoed() {
        let err = Store::connect("mysql://user:hunter2@db/x")
            .await
            .expect_err("unsupported");
        assert!(matches!(err, StoreError::InvalidUrl(_)), "{err:?}");
        assert!(!err.to_string().contains("hunter2"));
        assert!(!format!("{err:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn in_memory_sqlite_works() {
        let store = Store::connect("sqlite::memory:").await.expect("open");
        assert_eq!(store.backend(), Backend::Sqlite);
        let app = crate::fixture::application("t", "r-1", 1, 1);
        store.record_application(app.clone()).await.expect("record");
        let got = store
            .find_by_request_id("t", "r-1")
            .await
            .expect("find")
            .expect("found");
        assert_eq!(got.application_id, app.application_id);
        store.close().await;
    }

    #[tokio::test]
    async fn postgres_backend_is_reported() {
        let Some(h) = crate::harness::postgres(Default::default()).await else {
            return;
        };
        assert_eq!(h.store.backend(), Backend::Postgres);
        h.finish().await;
    }
}

mod api {
    //! Compile-time checks of what the server relies on.

    use finroute_store::{ApplicationRecord, Store, StoreError};

    fn assert_send<T: Send>(_: &T) {}

    /// The server awaits these inside tonic handlers and spawned tasks,
    /// which need `Send` futures; `Store` is shared across tasks.
    #[allow(dead_code)]
    fn futures_are_send(store: &Store, app: ApplicationRecord) {
        fn clone_send_sync<T: Clone + Send + Sync + 'static>() {}
        clone_send_sync::<Store>();
        fn error<T: std::error::Error + Send + Sync + 'static>() {}
        error::<StoreError>();
        assert_send(&store.record_application(app));
        assert_send(&store.get_application("t", "a"));
        assert_send(&store.find_by_request_id("t", "r"));
        assert_send(&store.get_offer("t", "o"));
        assert_send(&store.close());
        assert_send(&Store::connect("sqlite::memory:"));
        assert_send(&Store::migrate("sqlite::memory:"));
    }

    #[test]
    fn backend_names() {
        assert_eq!(finroute_store::Backend::Sqlite.name(), "sqlite");
        assert_eq!(finroute_store::Backend::Postgres.to_string(), "postgres");
    }
}

mod sqlite_only {
    //! SQLite settings the suite cannot see: WAL, and waiting out another
    //! process's write lock instead of failing.

    use std::time::Duration;

    use finroute_store::{Store, StoreOptions};
    use sqlx::{Connection, SqliteConnection};

    #[tokio::test]
    async fn file_database_is_in_wal_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("wal.db").display());
        let opts = StoreOptions {
            sqlite_synchronous_full: true,
            ..StoreOptions::default()
        };
        let store = Store::connect_with(&url, opts).await.expect("open");
        let mut raw = SqliteConnection::connect(&url)
            .await
            .expect("raw connection");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut raw)
            .await
            .expect("journal_mode");
        assert_eq!(mode, "wal");
        raw.close().await.expect("close raw");
        store.close().await;
    }

    /// Another connection holds the write lock for 300 ms: the group commit
    /// waits for it (busy_timeout) and succeeds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writer_waits_for_a_foreign_write_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("busy.db").display());
        let store = Store::connect(&url).await.expect("open");
        let mut raw = SqliteConnection::connect(&url)
            .await
            .expect("raw connection");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut raw)
            .await
            .expect("take the write lock");

        let app = crate::fixture::application("t", "", 1, 1);
        let writer = {
            let store = store.clone();
            let app = app.clone();
            tokio::spawn(async move { store.record_application(app).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!writer.is_finished(), "the write must wait for the lock");
        sqlx::query("COMMIT")
            .execute(&mut raw)
            .await
            .expect("release the lock");

        writer
            .await
            .expect("task")
            .expect("committed after the lock was released");
        assert!(
            store
                .get_application("t", &app.application_id)
                .await
                .expect("get")
                .is_some()
        );
        raw.close().await.expect("close raw");
        store.close().await;
    }
}
