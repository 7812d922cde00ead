//! One store test suite, written once in `suite` and run by `run::case`
//! on every backend (the `sqlite` and `postgres` lists): SQLite on a temporary file, and
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
            say_skipped();
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

    /// Says that this PostgreSQL test did not run, on the process's own
    /// stderr: the test harness captures `eprintln!` of a passing test, and
    /// a skip nobody sees looks like a pass.
    fn say_skipped() {
        use std::io::Write;
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("a PostgreSQL store test");
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipped: {test} ({PG_URL_VAR} is not set)"
        );
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

    use finroute_store::{
        AcceptanceClaim, ApplicationRecord, ChannelReportRecord, NewAppeal, OfferRecord,
    };

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
                risk_band: ["A", "B", "UNSCORED"][i % 3].into(),
                prior_odds: Some(0.6),
                partner_odds: (i % 2 == 0).then_some(0.9),
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
            applicant_fingerprint: vec![1; 32],
            applicant_id: unique("applicant"),
            created_at_ms: 1_700_000_000_123,
            partial: true,
            response: response.into(),
            offers,
            channel_reports,
        }
    }

    /// A fresh request id.
    pub fn request_id() -> String {
        unique("req")
    }

    /// A fresh idempotency key.
    pub fn key() -> String {
        unique("key")
    }

    /// A claim of `app`'s offer at `offer` under `key`, with a fresh
    /// acceptance id (as every request generates one).
    pub fn claim(app: &ApplicationRecord, offer: usize, key: &str, now_ms: i64) -> AcceptanceClaim {
        let o = &app.offers[offer];
        AcceptanceClaim {
            acceptance_id: unique("acc"),
            tenant: app.tenant.clone(),
            idempotency_key: key.to_owned(),
            offer_id: o.offer_id.clone(),
            application_id: app.application_id.clone(),
            adapter_id: o.adapter_id.clone(),
            partner_offer_ref: o.partner_offer_ref.clone(),
            applicant_id: app.applicant_id.clone(),
            fingerprint: (0..32u8).map(|b| b ^ 0x5A).collect(),
            now_ms,
        }
    }

    /// An appeal of `app` filed at `now_ms`, with a fresh id.
    pub fn appeal(app: &ApplicationRecord, now_ms: i64) -> NewAppeal {
        NewAppeal {
            appeal_id: unique("apl"),
            tenant: app.tenant.clone(),
            application_id: app.application_id.clone(),
            adapter_id: "adapter-0".into(),
            reason: "INCOME_CHANGED".into(),
            details: "my income went up — 收入增加".into(),
            now_ms,
            filed_by: "router-key".into(),
        }
    }
}

mod suite {
    //! The tests, each an async fn over a [`Harness`].

    pub use crate::acceptance_suite::*;
    pub use crate::appeal_suite::*;

    use std::collections::HashSet;

    use finroute_store::{
        ApplicationRecord, DuplicateKey, PeriodLimit, Reservation, StoreError, StoreStats, Usage,
    };
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

    /// A late offer is an offer of its application (found by get_offer),
    /// read back in arrival order; never stored against an application
    /// that is not recorded or is another tenant's.
    pub async fn late_offers_join_their_application(h: &Harness) {
        let app = application("tenant-a", &request_id(), 1, 1);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let late = |n: i64, arrived_at_ms: i64| finroute_store::LateOfferRecord {
            offer: finroute_store::OfferRecord {
                offer_id: format!("{}-late-{n}", app.application_id),
                rank: 0,
                ..app.offers[0].clone()
            },
            arrived_at_ms,
            wire: vec![n as u8; 40],
        };
        assert!(
            h.store
                .late_offers("tenant-a", &app.application_id)
                .await
                .expect("store call")
                .is_empty()
        );
        h.store
            .record_late_offer(late(2, 2_000))
            .await
            .expect("late 2");
        h.store
            .record_late_offer(late(1, 1_000))
            .await
            .expect("late 1");
        let stored = h
            .store
            .late_offers("tenant-a", &app.application_id)
            .await
            .expect("store call");
        let got: Vec<(i64, Vec<u8>)> = stored
            .into_iter()
            .map(|s| (s.arrived_at_ms, s.wire))
            .collect();
        assert_eq!(got, [(1_000, vec![1; 40]), (2_000, vec![2; 40])]);
        let offer = h
            .store
            .get_offer("tenant-a", &late(1, 0).offer.offer_id)
            .await
            .expect("store call")
            .expect("a late offer is an offer");
        assert_eq!(offer, late(1, 0).offer);
        // The reply's own offers are not late.
        assert_eq!(
            h.store
                .late_offers("tenant-b", &app.application_id)
                .await
                .expect("store call"),
            []
        );
        // Another tenant's application, or none: nothing written.
        let mut other = late(3, 3_000);
        other.offer.tenant = "tenant-b".into();
        let e = h.store.record_late_offer(other).await.expect_err("refused");
        assert!(matches!(e, finroute_store::StoreError::NotFound), "{e:?}");
        let mut orphan = late(4, 4_000);
        orphan.offer.application_id = "no-such-app".into();
        let e = h
            .store
            .record_late_offer(orphan)
            .await
            .expect_err("refused");
        assert!(matches!(e, finroute_store::StoreError::NotFound), "{e:?}");
        assert_eq!(
            h.store
                .late_offers("tenant-a", &app.application_id)
                .await
                .expect("store call")
                .len(),
            2
        );
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
    /// `Rejected` (not a duplicate, not a retryable failure) for that record
    /// only.
    pub async fn offer_of_another_tenant_is_rejected(h: &Harness) {
        let mut bad = application("tenant-a", "", 2, 0);
        bad.offers[1].tenant = "tenant-b".into();
        let good = application("tenant-a", "", 1, 1);
        let (rbad, rgood) = tokio::join!(
            h.store.record_application(bad.clone()),
            h.store.record_application(good.clone()),
        );
        assert!(
            matches!(rbad, Err(StoreError::Rejected { field: None, .. })),
            "{rbad:?}"
        );
        let kind = rbad.as_ref().map_err(StoreError::kind).err();
        assert_eq!(kind, Some(finroute_store::StoreErrorKind::Rejected));
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

    /// Issue 14: 640 legitimate records and, one in every 16, a record
    /// carrying a NUL byte in a text field (PostgreSQL text cannot hold
    /// one), all queued at once so that they share group commits. Every
    /// legitimate record commits; each bad one fails on its own with
    /// `Rejected` naming its field, and nothing of it is stored. Both
    /// backends answer the same (the store refuses NUL before the
    /// database sees it; a NUL that reached PostgreSQL anyway is isolated
    /// by the writer, see the store's unit tests).
    pub async fn nul_bytes_fail_only_their_own_record(h: &Harness) {
        const GOOD: usize = 640;
        /// One bad record after every 16 legitimate ones: 40 in all.
        const EVERY: usize = 16;
        let fields = [
            "applicant_id",
            "request_id",
            "offers.partner_offer_ref",
            "channel_reports.detail",
        ];
        let mut tasks = JoinSet::new();
        let mut bad_count = 0;
        for i in 0..GOOD + GOOD / EVERY {
            let mut app = application("tenant-a", &request_id(), 2, 2);
            let bad = i % (EVERY + 1) == EVERY;
            let field = fields[bad_count % fields.len()];
            if bad {
                bad_count += 1;
                match field {
                    "applicant_id" => app.applicant_id.push_str("\0x"),
                    "request_id" => app.request_id.insert(3, '\0'),
                    "offers.partner_offer_ref" => app.offers[1].partner_offer_ref.push('\0'),
                    _ => app.channel_reports[0].detail = "\0".into(),
                }
            }
            let store = h.store.clone();
            tasks.spawn(async move {
                let result = store.record_application(app.clone()).await;
                (bad.then_some(field), app, result)
            });
        }
        let mut good_ok = 0;
        let mut good_failed = Vec::new();
        let mut bad_rejected = 0;
        let mut bad_other = Vec::new();
        let mut stored_bad = Vec::new();
        let mut stored_good = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (bad, app, result) = joined.expect("task");
            match (bad, result) {
                (None, Ok(())) => {
                    good_ok += 1;
                    stored_good.push(app);
                }
                (None, Err(e)) => good_failed.push(format!("{e:?}")),
                (Some(field), Err(StoreError::Rejected { field: Some(f), .. })) if f == field => {
                    bad_rejected += 1;
                    stored_bad.push(app);
                }
                (Some(field), other) => {
                    bad_other.push(format!("{field}: {other:?}"));
                    stored_bad.push(app);
                }
            }
        }
        eprintln!(
            "NUL batch: {good_ok} of {GOOD} legitimate records committed ({} failed); \
             {bad_rejected} of {bad_count} NUL-bearing records rejected on their own",
            good_failed.len()
        );
        assert!(
            good_failed.is_empty(),
            "{} of {GOOD} legitimate records failed, e.g. {:?}",
            good_failed.len(),
            good_failed.first()
        );
        assert!(bad_other.is_empty(), "bad records answered: {bad_other:?}");
        assert_eq!(good_ok, GOOD);
        assert_eq!(bad_rejected, GOOD / EVERY);
        for app in &stored_good {
            assert_stored(h, app).await;
        }
        for app in &stored_bad {
            assert_absent(h, app).await;
        }
    }

    /// The acceptance and appeal writes (one transaction per call) refuse a
    /// NUL the same way, naming the field; lookups by a key holding one find
    /// nothing instead of failing (PostgreSQL would answer 22021); and the
    /// store keeps working for the next call.
    pub async fn nul_in_acceptances_and_appeals_is_rejected_by_field(h: &Harness) {
        use crate::fixture::{appeal, claim, key};
        use finroute_store::StoreErrorKind;

        let app = application("tenant-a", &request_id(), 1, 1);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let bad_key = format!("{}\0", key());
        let err = h
            .store
            .claim_acceptance(claim(&app, 0, &bad_key, 1))
            .await
            .expect_err("NUL key");
        assert!(
            matches!(
                err,
                StoreError::Rejected {
                    field: Some("idempotency_key"),
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.kind(), StoreErrorKind::Rejected);
        assert!(!err.is_transient());
        let mut bad_appeal = appeal(&app, 2);
        bad_appeal.details = "income \0 12345".into();
        let err = h.store.file_appeal(bad_appeal).await.expect_err("NUL");
        assert!(
            matches!(
                err,
                StoreError::Rejected {
                    field: Some("details"),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!format!("{err} {err:?}").contains("12345"));

        // Lookups by a key holding a NUL: nothing, on both backends.
        assert!(
            h.store
                .find_acceptance_by_key("tenant-a", &bad_key)
                .await
                .expect("lookup")
                .is_none()
        );
        assert!(
            h.store
                .get_application("tenant-a", "app\0x")
                .await
                .expect("lookup")
                .is_none()
        );
        assert!(
            h.store
                .find_by_request_id("tenant-a", "r\0")
                .await
                .expect("lookup")
                .is_none()
        );
        assert!(
            h.store
                .get_appeal("tenant-a", "\0")
                .await
                .expect("lookup")
                .is_none()
        );

        // The same calls without the NUL succeed.
        let good_key = key();
        assert!(matches!(
            h.store
                .claim_acceptance(claim(&app, 0, &good_key, 3))
                .await
                .expect("claim"),
            finroute_store::ClaimOutcome::Created(_)
        ));
        h.store.file_appeal(appeal(&app, 4)).await.expect("file");
    }

    /// A health ping answers on an open store and is remembered; a closed
    /// store says Closed.
    pub async fn ping_answers(h: &Harness) {
        use std::time::Duration;
        assert!(
            h.store.is_reachable(),
            "reachable until a ping says otherwise"
        );
        h.store.ping(Duration::from_secs(2)).await.expect("ping");
        h.store
            .ping(Duration::from_secs(2))
            .await
            .expect("ping again");
        assert!(h.store.is_reachable());
        let other = h.reopen().await;
        other.close().await;
        assert!(matches!(
            other.ping(Duration::from_secs(2)).await,
            Err(StoreError::Closed)
        ));
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

    /// Partner name-lists are append-only: a version is written once, the
    /// same version again with the same content changes nothing, with other
    /// content is refused and the stored one stays; every version is read
    /// back (the history survives a reopen).
    pub async fn partner_lists_are_append_only(h: &Harness) {
        use finroute_store::{DuplicateKey, PartnerListRecord, PartnerListWrite};
        let list = |version: &str, from: i64, entries: &str| PartnerListRecord {
            lender: "91310000MA1FL0000X".into(),
            version: version.into(),
            effective_from_ms: from,
            entries: entries.into(),
            loaded_at_ms: 1_800_000_000_000,
        };
        assert!(h.store.partner_lists().await.expect("read").is_empty());
        let v1 = list("2026-09", 1_000, r#"{"platforms":["P"],"guarantors":[]}"#);
        let v2 = list(
            "2026-10",
            2_000,
            r#"{"platforms":["P"],"guarantors":["G"]}"#,
        );
        assert_eq!(
            h.store.insert_partner_list(&v2).await.expect("v2"),
            PartnerListWrite::Inserted
        );
        assert_eq!(
            h.store.insert_partner_list(&v1).await.expect("v1"),
            PartnerListWrite::Inserted
        );
        let again = PartnerListRecord {
            loaded_at_ms: 1_900_000_000_000,
            ..v1.clone()
        };
        assert_eq!(
            h.store
                .insert_partner_list(&again)
                .await
                .expect("same again"),
            PartnerListWrite::Unchanged
        );
        for changed in [
            list("2026-09", 1_000, r#"{"platforms":[],"guarantors":[]}"#),
            list("2026-09", 1_500, &v1.entries),
        ] {
            let e = h
                .store
                .insert_partner_list(&changed)
                .await
                .expect_err("a stored version is never overwritten");
            assert!(
                matches!(
                    e,
                    StoreError::Duplicate {
                        key: DuplicateKey::PartnerListVersion
                    }
                ),
                "{e:?}"
            );
        }
        let other = PartnerListRecord {
            lender: "Other Bank".into(),
            ..v1.clone()
        };
        h.store
            .insert_partner_list(&other)
            .await
            .expect("other lender");
        let bad = PartnerListRecord {
            version: "v\0".into(),
            ..v1.clone()
        };
        assert!(matches!(
            h.store.insert_partner_list(&bad).await,
            Err(StoreError::Rejected {
                field: Some("version"),
                ..
            })
        ));
        // By lender (byte order), oldest first; the stored content (and
        // first load time) kept.
        let reopened = h.reopen().await;
        assert_eq!(
            reopened.partner_lists().await.expect("history"),
            vec![v1, v2, other]
        );
        reopened.close().await;
    }

    fn limits(day: &str, month: &str, quotes: (i64, i64), acc: i64) -> Vec<PeriodLimit> {
        let l = |period: &str, quotes: i64| PeriodLimit {
            period: period.into(),
            limit: Usage {
                quotes,
                acceptances: acc,
                lent_minor: 1_000_000,
            },
        };
        vec![l(day, quotes.0), l(month, quotes.1)]
    }

    pub async fn quotes_are_reserved_up_to_their_limits(h: &Harness) {
        let (d1, d2, m) = ("day:2026-12-06", "day:2026-12-07", "month:2026-12");
        for n in 1..=3 {
            match h
                .store
                .reserve_quote("bank-a", &limits(d1, m, (3, 5), 10))
                .await
                .expect("reserve")
            {
                Reservation::Reserved(after) => {
                    assert_eq!(after[0].quotes, n);
                    assert_eq!(after[1].quotes, n);
                }
                other => panic!("{n}: {other:?}"),
            }
        }
        // The day is full: nothing is counted, the month included.
        assert_eq!(
            h.store
                .reserve_quote("bank-a", &limits(d1, m, (3, 5), 10))
                .await
                .expect("reserve"),
            Reservation::AtLimit {
                period: d1.into(),
                usage: Usage {
                    quotes: 3,
                    ..Usage::default()
                }
            }
        );
        assert_eq!(h.store.usage("bank-a", m).await.expect("usage").quotes, 3);
        // Another channel is not affected.
        assert!(matches!(
            h.store
                .reserve_quote("bank-b", &limits(d1, m, (3, 5), 10))
                .await
                .expect("reserve"),
            Reservation::Reserved(_)
        ));
        // The next day has room until the month is full.
        for _ in 0..2 {
            assert!(matches!(
                h.store
                    .reserve_quote("bank-a", &limits(d2, m, (3, 5), 10))
                    .await
                    .expect("reserve"),
                Reservation::Reserved(_)
            ));
        }
        match h
            .store
            .reserve_quote("bank-a", &limits(d2, m, (3, 5), 10))
            .await
            .expect("reserve")
        {
            Reservation::AtLimit { period, usage } => {
                assert_eq!(period, m);
                assert_eq!(usage.quotes, 5);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(h.store.usage("bank-a", d2).await.expect("usage").quotes, 2);
        assert_eq!(
            h.store.usage("nobody", d2).await.expect("usage"),
            Usage::default()
        );
    }

    pub async fn acceptances_and_lent_amounts_close_a_channel(h: &Harness) {
        let (d, m) = ("day:2026-12-06", "month:2026-12");
        let periods = [d.to_owned(), m.to_owned()];
        let after = h
            .store
            .count_acceptance("bank-a", &periods, 600_000)
            .await
            .expect("count");
        assert_eq!(after[0].acceptances, 1);
        assert_eq!(after[1].lent_minor, 600_000);
        // At two acceptances a day, one more quote is still allowed...
        assert!(matches!(
            h.store
                .reserve_quote("bank-a", &limits(d, m, (100, 100), 2))
                .await
                .expect("reserve"),
            Reservation::Reserved(_)
        ));
        // ...and not once the lent amount passes its limit.
        h.store
            .count_acceptance("bank-a", &periods, 500_000)
            .await
            .expect("count");
        match h
            .store
            .reserve_quote("bank-a", &limits(d, m, (100, 100), 5))
            .await
            .expect("reserve")
        {
            Reservation::AtLimit { usage, .. } => assert_eq!(usage.lent_minor, 1_100_000),
            other => panic!("{other:?}"),
        }
        // At the acceptance limit too.
        match h
            .store
            .reserve_quote("bank-a", &limits(d, m, (100, 100), 2))
            .await
            .expect("reserve")
        {
            Reservation::AtLimit { usage, .. } => assert_eq!(usage.acceptances, 2),
            other => panic!("{other:?}"),
        }
    }

    pub async fn a_later_application_with_other_applicant_data_is_found(h: &Harness) {
        let at = |app: &mut ApplicationRecord, ms: i64, digest: u8| {
            app.applicant_id = "applicant-stale".into();
            app.created_at_ms = ms;
            app.applicant_fingerprint = vec![digest; 32];
        };
        let mut first = application("t", "", 0, 0);
        at(&mut first, 1_000, 1);
        let mut same = application("t", "", 0, 0);
        at(&mut same, 2_000, 1);
        h.store
            .record_application(first.clone())
            .await
            .expect("record");
        h.store
            .record_application(same.clone())
            .await
            .expect("record");
        // Routed again with the same data: not stale.
        assert_eq!(
            h.store
                .applicant_changed_since("t", &first.application_id)
                .await
                .expect("read"),
            None
        );
        // Then with other data: the latest application is named.
        let mut changed = application("t", "", 0, 0);
        at(&mut changed, 3_000, 2);
        h.store
            .record_application(changed.clone())
            .await
            .expect("record");
        for older in [&first, &same] {
            assert_eq!(
                h.store
                    .applicant_changed_since("t", &older.application_id)
                    .await
                    .expect("read"),
                Some(changed.application_id.clone())
            );
        }
        assert_eq!(
            h.store
                .applicant_changed_since("t", &changed.application_id)
                .await
                .expect("read"),
            None,
            "the latest is never stale"
        );
        // Another tenant's applicant of the same id is someone else; an
        // unknown digest (rows from before the digest) never differs.
        let mut other = application("u", "", 0, 0);
        at(&mut other, 4_000, 9);
        h.store.record_application(other).await.expect("record");
        let mut unknown = application("t", "", 0, 0);
        at(&mut unknown, 5_000, 0);
        unknown.applicant_fingerprint.clear();
        h.store.record_application(unknown).await.expect("record");
        assert_eq!(
            h.store
                .applicant_changed_since("t", &changed.application_id)
                .await
                .expect("read"),
            None
        );
        assert_eq!(
            h.store
                .applicant_changed_since("t", "app-unknown")
                .await
                .expect("read"),
            None
        );
    }

    pub async fn racing_reservations_never_pass_the_limit(h: &Harness) {
        let mut set = JoinSet::new();
        for _ in 0..24 {
            let store = h.store.clone();
            set.spawn(async move {
                store
                    .reserve_quote(
                        "bank-a",
                        &limits("day:2026-12-06", "month:2026-12", (7, 100), 10),
                    )
                    .await
                    .expect("reserve")
            });
        }
        let mut reserved = 0;
        while let Some(r) = set.join_next().await {
            if matches!(r.expect("task"), Reservation::Reserved(_)) {
                reserved += 1;
            }
        }
        assert_eq!(reserved, 7);
        assert_eq!(
            h.store
                .usage("bank-a", "month:2026-12")
                .await
                .expect("usage")
                .quotes,
            7
        );
    }
}

mod acceptance_suite {
    //! Acceptances: transaction 1 (claim), the outbox leases, transaction 2
    //! (complete), outcomes; `reopen` plays a second router replica.

    use std::collections::{HashMap, HashSet};

    use finroute_store::{
        AcceptanceRecord, AcceptanceState, ClaimOutcome, OutcomeCount, OutcomeRecord, Store,
        StoreError,
    };
    use tokio::task::JoinSet;

    use crate::fixture::{application, claim, key};
    use crate::harness::Harness;

    /// A clock for the tests: every time is given explicitly.
    const NOW: i64 = 1_800_000_000_000;
    const LEASE_MS: i64 = 30_000;

    fn created(outcome: ClaimOutcome) -> AcceptanceRecord {
        match outcome {
            ClaimOutcome::Created(r) => r,
            other => panic!("expected Created, got {other:?}"),
        }
    }

    pub async fn claim_existing_and_offer_taken(h: &Harness) {
        let app = application("tenant-a", "", 2, 1);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let k1 = key();
        let first = claim(&app, 0, &k1, NOW);
        let r = created(
            h.store
                .claim_acceptance(first.clone())
                .await
                .expect("claim"),
        );
        assert_eq!(r.acceptance_id, first.acceptance_id);
        assert_eq!(r.status, AcceptanceState::Pending);
        assert_eq!(r.fingerprint, first.fingerprint);
        assert_eq!(
            (r.attempts, r.created_at_ms, r.completed_at_ms),
            (0, NOW, None)
        );
        assert_eq!(r.partner_reference, "");
        // What Created returned is what is stored.
        let stored = h
            .store
            .get_acceptance("tenant-a", &r.acceptance_id)
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(stored, r);
        assert_eq!(
            h.store
                .find_acceptance_by_key("tenant-a", &k1)
                .await
                .expect("find"),
            Some(r.clone())
        );
        assert_eq!(h.store.open_acceptances().await.expect("open"), 1);

        // The same key again (a retry, with its own new acceptance id).
        let retry = claim(&app, 0, &k1, NOW + 5);
        assert_eq!(
            h.store.claim_acceptance(retry).await.expect("retry"),
            ClaimOutcome::Existing(r.clone())
        );
        // The same key on another offer: the key's acceptance, naming offer 0.
        let other_offer = claim(&app, 1, &k1, NOW + 6);
        match h.store.claim_acceptance(other_offer).await.expect("claim") {
            ClaimOutcome::Existing(e) => {
                assert_eq!(e, r);
                assert_ne!(e.offer_id, app.offers[1].offer_id);
            }
            other => panic!("expected Existing, got {other:?}"),
        }
        // Another key on the taken offer.
        let k2 = key();
        assert_eq!(
            h.store
                .claim_acceptance(claim(&app, 0, &k2, NOW + 7))
                .await
                .expect("claim"),
            ClaimOutcome::OfferTaken(r.clone())
        );
        assert!(
            h.store
                .find_acceptance_by_key("tenant-a", &k2)
                .await
                .expect("find")
                .is_none(),
            "a refused claim stores nothing"
        );
        // The other offer is free for another key.
        let r1 = created(
            h.store
                .claim_acceptance(claim(&app, 1, &k2, NOW + 8))
                .await
                .expect("claim"),
        );
        assert_eq!(
            h.store
                .acceptances_of_application("tenant-a", &app.application_id)
                .await
                .expect("list"),
            vec![r.clone(), r1]
        );
        assert_eq!(h.store.open_acceptances().await.expect("open"), 2);

        // An unknown offer.
        let mut ghost = claim(&app, 0, &key(), NOW);
        ghost.offer_id = "no-such-offer".into();
        assert!(matches!(
            h.store.claim_acceptance(ghost).await,
            Err(StoreError::NotFound)
        ));
    }

    /// 32 racing retries of one key, split across two replicas: one claim
    /// is stored, the 31 others see it, field for field.
    pub async fn concurrent_claims_of_one_key(h: &Harness) {
        let app = application("tenant-a", "", 1, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let replica = h.reopen().await;
        let k = key();
        let mut tasks = JoinSet::new();
        for i in 0..32 {
            let store = if i % 2 == 0 {
                h.store.clone()
            } else {
                replica.clone()
            };
            let c = claim(&app, 0, &k, NOW + i);
            tasks.spawn(async move { store.claim_acceptance(c).await });
        }
        let mut winners = Vec::new();
        let mut existing = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined.expect("task").expect("claim") {
                ClaimOutcome::Created(r) => winners.push(r),
                ClaimOutcome::Existing(r) => existing.push(r),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one claim is stored");
        assert_eq!(existing.len(), 31);
        for e in &existing {
            assert_eq!(e, &winners[0]);
        }
        assert_eq!(h.store.open_acceptances().await.expect("open"), 1);
        assert_eq!(
            replica
                .acceptances_of_application("tenant-a", &app.application_id)
                .await
                .expect("list")
                .len(),
            1
        );
        replica.close().await;
    }

    /// Two keys racing on one offer (from two replicas), for several
    /// offers: one Created and one OfferTaken naming it, every time.
    pub async fn keys_racing_on_one_offer(h: &Harness) {
        const OFFERS: usize = 8;
        let app = application("tenant-a", "", OFFERS, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let replica = h.reopen().await;
        for offer in 0..OFFERS {
            let (a, b) = (
                claim(&app, offer, &key(), NOW),
                claim(&app, offer, &key(), NOW),
            );
            let (sa, sb) = (h.store.clone(), replica.clone());
            let ta = tokio::spawn(async move { sa.claim_acceptance(a).await });
            let tb = tokio::spawn(async move { sb.claim_acceptance(b).await });
            let ra = ta.await.expect("task").expect("claim a");
            let rb = tb.await.expect("task").expect("claim b");
            match (ra, rb) {
                (ClaimOutcome::Created(w), ClaimOutcome::OfferTaken(t))
                | (ClaimOutcome::OfferTaken(t), ClaimOutcome::Created(w)) => assert_eq!(w, t),
                other => panic!("expected one Created and one OfferTaken, got {other:?}"),
            }
        }
        assert_eq!(
            h.store.open_acceptances().await.expect("open"),
            OFFERS as u64
        );
        replica.close().await;
    }

    /// Webhook events: one per acceptance that became final and per appeal
    /// decided, written with the change; numbered per application; only
    /// the oldest undelivered event of an application is leased, so an
    /// application's events go out in order; a released event comes back
    /// when due; acknowledged events leave the backlog.
    pub async fn webhook_events_follow_their_changes_in_order(h: &Harness) {
        use finroute_store::{ACCEPTANCE_FINAL, APPEAL_DECIDED, AppealState, NewEvent};
        let app = application("tenant-w", "", 2, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let first = created(
            h.store
                .claim_acceptance(claim(&app, 0, &key(), NOW))
                .await
                .expect("claim"),
        );
        h.store
            .complete_acceptance(
                &first.acceptance_id,
                AcceptanceState::Declined,
                "",
                "no",
                NOW + 1,
            )
            .await
            .expect("complete");
        // Completing again changes nothing, and enqueues nothing.
        h.store
            .complete_acceptance(
                &first.acceptance_id,
                AcceptanceState::Accepted,
                "x",
                "",
                NOW + 2,
            )
            .await
            .expect("complete again");
        let appeal = crate::fixture::appeal(&app, NOW + 3);
        let appeal_id = appeal.appeal_id.clone();
        h.store.file_appeal(appeal).await.expect("file");
        h.store
            .resolve_appeal("tenant-w", &appeal_id, AppealState::Upheld, "note", NOW + 4)
            .await
            .expect("resolve");
        let third = h
            .store
            .enqueue_event(NewEvent {
                tenant: "tenant-w".into(),
                application_id: app.application_id.clone(),
                kind: "offer.late".into(),
                payload: "{}".into(),
                now_ms: NOW + 5,
            })
            .await
            .expect("enqueue");

        let events = h.store.events_of_tenant("tenant-w").await.expect("events");
        let kinds: Vec<_> = events.iter().map(|e| (e.seq, e.kind.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (1, ACCEPTANCE_FINAL),
                (2, APPEAL_DECIDED),
                (3, "offer.late")
            ]
        );
        assert!(
            events[0].payload.contains("DECLINED"),
            "{}",
            events[0].payload
        );
        assert!(
            events[1].payload.contains("UPHELD"),
            "{}",
            events[1].payload
        );
        // The appellant's words and the operator's note stay out.
        assert!(!events[1].payload.contains("note"), "{}", events[1].payload);
        assert!(
            !events[1].payload.contains("income"),
            "{}",
            events[1].payload
        );
        assert_eq!(events[2].event_id, third);
        let backlog = h.store.event_backlog().await.expect("backlog");
        assert_eq!(backlog.count, 3);
        assert_eq!(backlog.oldest_created_at_ms, Some(NOW + 1));

        // Head of line: only event 1 is leased, however many are due.
        let later = NOW + 10;
        let leased = h
            .store
            .lease_due_events("w1", later, LEASE_MS, 10)
            .await
            .expect("lease");
        assert_eq!(leased.len(), 1);
        assert_eq!(leased[0].seq, 1);
        assert_eq!(leased[0].attempts, 1);
        // Leased: nobody else gets it, nor the events behind it.
        let none = h
            .store
            .lease_due_events("w2", later, LEASE_MS, 10)
            .await
            .expect("lease");
        assert!(none.is_empty(), "{none:?}");
        // Released with a backoff: not due before it.
        h.store
            .release_event(&leased[0].event_id, "w1", later + 1_000, "http status 500")
            .await
            .expect("release");
        assert!(
            h.store
                .lease_due_events("w2", later + 999, LEASE_MS, 10)
                .await
                .expect("lease")
                .is_empty()
        );
        let again = h
            .store
            .lease_due_events("w2", later + 1_000, LEASE_MS, 10)
            .await
            .expect("lease");
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].seq, again[0].attempts), (1, 2));
        // A lease that ran out (a crash) is taken over.
        let taken = h
            .store
            .lease_due_events("w3", later + 1_000 + LEASE_MS, LEASE_MS, 10)
            .await
            .expect("lease");
        assert_eq!((taken[0].seq, taken[0].attempts), (1, 3));
        assert!(
            h.store
                .ack_event(&taken[0].event_id, later + 2_000, "delivered")
                .await
                .expect("ack")
        );
        assert!(
            !h.store
                .ack_event(&taken[0].event_id, later + 2_001, "delivered")
                .await
                .expect("ack")
        );
        // Then event 2, then 3.
        for seq in [2, 3] {
            let next = h
                .store
                .lease_due_events("w1", later + 3_000, LEASE_MS, 10)
                .await
                .expect("lease");
            assert_eq!(next.len(), 1);
            assert_eq!(next[0].seq, seq);
            h.store
                .ack_event(&next[0].event_id, later + 3_000, "delivered")
                .await
                .expect("ack");
        }
        let backlog = h.store.event_backlog().await.expect("backlog");
        assert_eq!((backlog.count, backlog.oldest_created_at_ms), (0, None));
    }

    /// Acceptances of one application completing at once, on two
    /// replicas: every completion commits, and their events are numbered
    /// 1..=n without a gap or a repeat.
    pub async fn racing_completions_number_their_events_in_turn(h: &Harness) {
        const OFFERS: usize = 8;
        let app = application("tenant-r", "", OFFERS, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let mut ids = Vec::new();
        for offer in 0..OFFERS {
            let c = created(
                h.store
                    .claim_acceptance(claim(&app, offer, &key(), NOW))
                    .await
                    .expect("claim"),
            );
            ids.push(c.acceptance_id);
        }
        let replica = h.reopen().await;
        let mut tasks = JoinSet::new();
        for (i, id) in ids.into_iter().enumerate() {
            let store = if i % 2 == 0 {
                h.store.clone()
            } else {
                replica.clone()
            };
            tasks.spawn(async move {
                store
                    .complete_acceptance(&id, AcceptanceState::Accepted, "P", "", NOW + 1)
                    .await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("task").expect("every completion commits");
        }
        let mut seqs: Vec<i64> = h
            .store
            .events_of_tenant("tenant-r")
            .await
            .expect("events")
            .iter()
            .map(|e| e.seq)
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=OFFERS as i64).collect::<Vec<_>>());
        replica.close().await;
    }

    /// A DECLINED acceptance frees the offer; an ACCEPTED one does not.
    pub async fn declined_acceptance_frees_the_offer(h: &Harness) {
        let app = application("tenant-a", "", 1, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let k1 = key();
        let first = created(
            h.store
                .claim_acceptance(claim(&app, 0, &k1, NOW))
                .await
                .expect("claim"),
        );
        let declined = h
            .store
            .complete_acceptance(
                &first.acceptance_id,
                AcceptanceState::Declined,
                "",
                "limit",
                NOW + 1,
            )
            .await
            .expect("complete");
        assert_eq!(declined.status, AcceptanceState::Declined);

        let k2 = key();
        let second = created(
            h.store
                .claim_acceptance(claim(&app, 0, &k2, NOW + 2))
                .await
                .expect("a declined offer is free again"),
        );
        let accepted = h
            .store
            .complete_acceptance(
                &second.acceptance_id,
                AcceptanceState::Accepted,
                "P-2",
                "",
                NOW + 3,
            )
            .await
            .expect("complete");
        assert_eq!(accepted.status, AcceptanceState::Accepted);
        assert_eq!(
            h.store
                .claim_acceptance(claim(&app, 0, &key(), NOW + 4))
                .await
                .expect("claim"),
            ClaimOutcome::OfferTaken(accepted.clone())
        );
        // The first key still answers with its own (declined) acceptance.
        assert_eq!(
            h.store
                .claim_acceptance(claim(&app, 0, &k1, NOW + 5))
                .await
                .expect("claim"),
            ClaimOutcome::Existing(declined)
        );
        assert_eq!(h.store.open_acceptances().await.expect("open"), 0);
    }

    /// Transaction 2 happens once: a second completion (another replica's
    /// late answer) changes nothing; the outbox row is gone and one outcome
    /// is counted, with the offer's product kind and risk band.
    pub async fn complete_is_idempotent(h: &Harness) {
        let app = application("tenant-a", "", 3, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let r = created(
            h.store
                .claim_acceptance(claim(&app, 0, &key(), NOW))
                .await
                .expect("claim"),
        );
        let leased = h
            .store
            .lease_acceptance(&r.acceptance_id, "replica-1", NOW, LEASE_MS)
            .await
            .expect("lease")
            .expect("leased");
        assert_eq!(leased.attempts, 1);

        assert!(matches!(
            h.store
                .complete_acceptance(&r.acceptance_id, AcceptanceState::Pending, "", "", NOW)
                .await,
            Err(StoreError::InvalidArgument(_))
        ));
        let done = h
            .store
            .complete_acceptance(
                &r.acceptance_id,
                AcceptanceState::Accepted,
                "P-1",
                "approved",
                NOW + 10,
            )
            .await
            .expect("complete");
        assert_eq!(done.status, AcceptanceState::Accepted);
        assert_eq!(done.partner_reference, "P-1");
        assert_eq!(done.detail, "approved");
        assert_eq!(done.completed_at_ms, Some(NOW + 10));
        assert_eq!(
            done.attempts, 1,
            "the attempt count survives the outbox row"
        );
        assert_eq!(h.store.open_acceptances().await.expect("open"), 0);

        let again = h
            .store
            .complete_acceptance(
                &r.acceptance_id,
                AcceptanceState::Declined,
                "P-9",
                "late",
                NOW + 20,
            )
            .await
            .expect("complete again");
        assert_eq!(again, done, "a final acceptance is not changed");
        assert_eq!(
            h.store
                .get_acceptance("tenant-a", &r.acceptance_id)
                .await
                .expect("get"),
            Some(done.clone())
        );
        assert!(
            h.store
                .lease_acceptance(&r.acceptance_id, "replica-1", NOW + 30, LEASE_MS)
                .await
                .expect("lease")
                .is_none(),
            "nothing left to lease"
        );
        assert!(matches!(
            h.store
                .complete_acceptance("no-such-acceptance", AcceptanceState::Accepted, "", "", NOW)
                .await,
            Err(StoreError::NotFound)
        ));

        // Two more outcomes: offer 1 (band B) declined, offer 2 (band
        // UNSCORED) accepted; offer 0 is band A. One row per group.
        for (offer, state) in [
            (1, AcceptanceState::Declined),
            (2, AcceptanceState::Accepted),
        ] {
            let r = created(
                h.store
                    .claim_acceptance(claim(&app, offer, &key(), NOW))
                    .await
                    .expect("claim"),
            );
            h.store
                .complete_acceptance(&r.acceptance_id, state, "", "", NOW + 40)
                .await
                .expect("complete");
        }
        let count = |adapter: &str, band: &str, accepted, declined| OutcomeCount {
            adapter_id: adapter.into(),
            product_kind: "INSTALLMENT".into(),
            risk_band: band.into(),
            accepted,
            declined,
        };
        assert_eq!(
            h.store.outcome_counts().await.expect("counts"),
            vec![
                count("adapter-0", "A", 1, 0),
                count("adapter-1", "B", 0, 1),
                count("adapter-2", "UNSCORED", 1, 0),
            ]
        );
        // The odds model's view: each outcome with the inputs its offer was
        // shown with (partner estimates on even offers only).
        let outcome = |adapter: &str, band: &str, accepted, partner_odds| OutcomeRecord {
            adapter_id: adapter.into(),
            risk_band: band.into(),
            accepted,
            prior_odds: 0.6,
            partner_odds,
        };
        assert_eq!(
            h.store.recent_outcomes(10).await.expect("recent"),
            vec![
                outcome("adapter-0", "A", true, Some(0.9)),
                outcome("adapter-1", "B", false, None),
                outcome("adapter-2", "UNSCORED", true, Some(0.9)),
            ]
        );
        assert!(h.store.recent_outcomes(0).await.expect("none").is_empty());
    }

    /// Two replicas leasing due rows at the same time never get the same
    /// row; held leases are not re-leased; expired ones are.
    pub async fn leases_are_exclusive(h: &Harness) {
        const N: usize = 24;
        let app = application("tenant-a", "", N, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        for i in 0..N {
            created(
                h.store
                    .claim_acceptance(claim(&app, i, &key(), NOW + i as i64))
                    .await
                    .expect("claim"),
            );
        }
        let replica = h.reopen().await;

        /// Leases batches of 3 until none is due; the batches.
        async fn drain(store: Store, owner: &'static str) -> Vec<Vec<AcceptanceRecord>> {
            let mut batches = Vec::new();
            loop {
                let rows = store
                    .lease_due_acceptances(owner, NOW + 1_000, LEASE_MS, 3)
                    .await
                    .expect("lease");
                if rows.is_empty() {
                    return batches;
                }
                batches.push(rows);
                tokio::task::yield_now().await;
            }
        }
        let (a, b) = tokio::join!(
            tokio::spawn(drain(h.store.clone(), "replica-a")),
            tokio::spawn(drain(replica.clone(), "replica-b")),
        );
        let batches: Vec<Vec<AcceptanceRecord>> = a
            .expect("task")
            .into_iter()
            .chain(b.expect("task"))
            .collect();
        let mut seen = HashSet::new();
        for batch in &batches {
            assert!((1..=3).contains(&batch.len()), "limit respected");
            // Each batch comes oldest (earliest due) first.
            assert!(
                batch
                    .windows(2)
                    .all(|w| w[0].created_at_ms < w[1].created_at_ms)
            );
            for r in batch {
                assert!(seen.insert(r.acceptance_id.clone()), "leased twice: {r:?}");
                assert_eq!(r.attempts, 1);
                assert_eq!(r.status, AcceptanceState::Pending);
            }
        }
        assert_eq!(seen.len(), N, "every row leased once");

        // Held leases: nothing due, and nobody else can take one.
        assert!(
            h.store
                .lease_due_acceptances("replica-c", NOW + 2_000, LEASE_MS, 100)
                .await
                .expect("lease")
                .is_empty()
        );
        let some = &seen.iter().next().expect("one").clone();
        assert!(
            replica
                .lease_acceptance(some, "replica-c", NOW + 2_000, LEASE_MS)
                .await
                .expect("lease")
                .is_none()
        );
        // Once the leases have expired, everything is leasable again, in
        // order of claim, with a second attempt counted.
        let again = replica
            .lease_due_acceptances("replica-c", NOW + 1_000 + LEASE_MS, LEASE_MS, 100)
            .await
            .expect("lease");
        assert_eq!(again.len(), N);
        assert!(again.iter().all(|r| r.attempts == 2));
        let order: Vec<i64> = again.iter().map(|r| r.created_at_ms).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        replica.close().await;
    }

    /// lease_acceptance (drive a fresh claim now), re-leasing by the same
    /// owner, release with a backoff that lease_due respects.
    pub async fn release_with_backoff(h: &Harness) {
        let app = application("tenant-a", "", 1, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let r = created(
            h.store
                .claim_acceptance(claim(&app, 0, &key(), NOW))
                .await
                .expect("claim"),
        );
        let id = r.acceptance_id.as_str();
        let lease =
            |owner: &'static str, at: i64| h.store.lease_acceptance(id, owner, at, LEASE_MS);
        assert_eq!(
            lease("a", NOW).await.expect("lease").map(|r| r.attempts),
            Some(1)
        );
        assert!(
            lease("b", NOW + 1).await.expect("lease").is_none(),
            "held by a"
        );
        assert_eq!(
            lease("a", NOW + 2)
                .await
                .expect("lease")
                .map(|r| r.attempts),
            Some(2),
            "the owner may re-lease"
        );
        // Only the holder can release.
        h.store
            .release_acceptance(id, "b", NOW, "UNAVAILABLE")
            .await
            .expect("release by b");
        assert!(
            lease("b", NOW + 3).await.expect("lease").is_none(),
            "still a's"
        );
        h.store
            .release_acceptance(id, "a", NOW + 5_000, "UNAVAILABLE")
            .await
            .expect("release");
        for at in [NOW + 3, NOW + 4_999] {
            assert!(
                h.store
                    .lease_due_acceptances("b", at, LEASE_MS, 10)
                    .await
                    .expect("lease")
                    .is_empty(),
                "not due before the backoff ends"
            );
        }
        let due = h
            .store
            .lease_due_acceptances("b", NOW + 5_000, LEASE_MS, 10)
            .await
            .expect("lease");
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].acceptance_id.as_str(), due[0].attempts), (id, 3));

        // lease_acceptance ignores the backoff (a fresh claim is driven at once).
        h.store
            .release_acceptance(id, "b", NOW + 60_000, "TIMEOUT")
            .await
            .expect("release");
        assert_eq!(
            lease("c", NOW + 5_001)
                .await
                .expect("lease")
                .map(|r| r.attempts),
            Some(4)
        );
        assert!(
            h.store
                .lease_acceptance("no-such-acceptance", "c", NOW, LEASE_MS)
                .await
                .expect("lease")
                .is_none()
        );
    }

    /// The crash-restart shape: a replica claims, leases and dies (the
    /// store closes); after a restart the claim is still there, the key
    /// still answers with it, and once the lease has expired another
    /// replica leases and completes it.
    pub async fn claims_survive_restart(h: &Harness) {
        let app = application("tenant-a", "", 2, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let k = key();
        let leased = created(
            h.store
                .claim_acceptance(claim(&app, 0, &k, NOW))
                .await
                .expect("claim"),
        );
        h.store
            .lease_acceptance(&leased.acceptance_id, "dead-replica", NOW, LEASE_MS)
            .await
            .expect("lease")
            .expect("leased");
        // A claim made just before the crash, never leased.
        let unleased = created(
            h.store
                .claim_acceptance(claim(&app, 1, &key(), NOW + 1))
                .await
                .expect("claim"),
        );
        h.store.close().await;

        let restarted = h.reopen().await;
        assert_eq!(restarted.open_acceptances().await.expect("open"), 2);
        match restarted
            .claim_acceptance(claim(&app, 0, &k, NOW + 2))
            .await
            .expect("retry")
        {
            ClaimOutcome::Existing(r) => {
                assert_eq!(r.acceptance_id, leased.acceptance_id);
                assert_eq!(r.attempts, 1);
            }
            other => panic!("expected Existing, got {other:?}"),
        }
        // At start-up only the unleased row is due; the dead replica's
        // lease still runs.
        let now = restarted
            .lease_due_acceptances("new-replica", NOW + 10, LEASE_MS, 10)
            .await
            .expect("lease");
        assert_eq!(
            now.iter()
                .map(|r| r.acceptance_id.as_str())
                .collect::<Vec<_>>(),
            [unleased.acceptance_id.as_str()]
        );
        let later = restarted
            .lease_due_acceptances("new-replica", NOW + LEASE_MS, LEASE_MS, 10)
            .await
            .expect("lease");
        assert_eq!(
            later
                .iter()
                .map(|r| r.acceptance_id.as_str())
                .collect::<Vec<_>>(),
            [leased.acceptance_id.as_str()]
        );
        assert_eq!(later[0].attempts, 2);
        for r in now.iter().chain(&later) {
            restarted
                .complete_acceptance(&r.acceptance_id, AcceptanceState::Accepted, "P", "", NOW)
                .await
                .expect("complete");
        }
        assert_eq!(restarted.open_acceptances().await.expect("open"), 0);
        restarted.close().await;
    }

    /// Another tenant sees nothing of tenant-a's acceptances and cannot
    /// claim its offers; keys are per tenant.
    pub async fn acceptances_are_tenant_scoped(h: &Harness) {
        let a = application("tenant-a", "", 1, 0);
        let b = application("tenant-b", "", 1, 0);
        for app in [&a, &b] {
            h.store
                .record_application(app.clone())
                .await
                .expect("record");
        }
        let k = key();
        let ra = created(
            h.store
                .claim_acceptance(claim(&a, 0, &k, NOW))
                .await
                .expect("claim"),
        );
        assert!(
            h.store
                .get_acceptance("tenant-b", &ra.acceptance_id)
                .await
                .expect("get")
                .is_none()
        );
        assert!(
            h.store
                .find_acceptance_by_key("tenant-b", &k)
                .await
                .expect("find")
                .is_none()
        );
        assert!(
            h.store
                .acceptances_of_application("tenant-b", &a.application_id)
                .await
                .expect("list")
                .is_empty()
        );
        // tenant-b naming tenant-a's offer (with its own or tenant-a's key).
        for k in [key(), k.clone()] {
            let mut c = claim(&a, 0, &k, NOW);
            c.tenant = "tenant-b".into();
            assert!(matches!(
                h.store.claim_acceptance(c).await,
                Err(StoreError::NotFound)
            ));
        }
        // The same key is tenant-b's own to use.
        let rb = created(
            h.store
                .claim_acceptance(claim(&b, 0, &k, NOW))
                .await
                .expect("claim"),
        );
        let by_key: HashMap<&str, AcceptanceRecord> = [("tenant-a", ra), ("tenant-b", rb)].into();
        for (tenant, r) in &by_key {
            assert_eq!(
                h.store
                    .find_acceptance_by_key(tenant, &k)
                    .await
                    .expect("find")
                    .as_ref(),
                Some(r)
            );
        }
    }

    /// Partner outcomes: recorded once per event id, ordered by the
    /// partner's time whatever the arrival order, refused for an
    /// acceptance that is not ACCEPTED or of another tenant or adapter.
    pub async fn partner_outcomes_are_idempotent_and_ordered(h: &Harness) {
        use finroute_store::{DuplicateKey, OutcomeEvent, OutcomeKind, OutcomeWrite};

        let app = application("tenant-a", "", 2, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let accepted = created(
            h.store
                .claim_acceptance(claim(&app, 0, &key(), NOW))
                .await
                .expect("claim"),
        );
        let pending = created(
            h.store
                .claim_acceptance(claim(&app, 1, &key(), NOW))
                .await
                .expect("claim"),
        );
        h.store
            .complete_acceptance(
                &accepted.acceptance_id,
                AcceptanceState::Accepted,
                "P-1",
                "",
                NOW + 1,
            )
            .await
            .expect("complete");
        let event = |id: &str, kind: OutcomeKind, at: i64| OutcomeEvent {
            tenant: accepted.tenant.clone(),
            acceptance_id: accepted.acceptance_id.clone(),
            event_id: id.into(),
            adapter_id: accepted.adapter_id.clone(),
            kind,
            occurred_at_ms: at,
            received_at_ms: NOW + 100,
            amount_minor: if kind == OutcomeKind::Funded {
                500_000
            } else {
                0
            },
            currency: if kind == OutcomeKind::Funded {
                "CNY".into()
            } else {
                String::new()
            },
            funded_on: String::new(),
            decline_reason: String::new(),
            days_past_due: 0,
            text: String::new(),
            seq: 0,
        };
        assert_eq!(
            h.store
                .credit_decision(&accepted.acceptance_id)
                .await
                .expect("read"),
            None
        );
        let funded = event("ev-1", OutcomeKind::Funded, NOW + 50);
        let first = h.store.report_outcome(&funded).await.expect("report");
        assert!(matches!(first, OutcomeWrite::Recorded(_)), "{first:?}");
        assert_eq!(first.history().len(), 1);
        assert_eq!(first.history()[0].seq, 1);

        // The same event again, received later: a duplicate, nothing added.
        let mut again = funded.clone();
        again.received_at_ms = NOW + 200;
        let dup = h.store.report_outcome(&again).await.expect("report");
        assert!(matches!(dup, OutcomeWrite::Duplicate(_)), "{dup:?}");
        assert_eq!(dup.history().len(), 1);
        assert_eq!(dup.history()[0].received_at_ms, NOW + 100);

        // The same id with other content is refused.
        let mut changed = funded.clone();
        changed.amount_minor = 1;
        assert!(matches!(
            h.store.report_outcome(&changed).await,
            Err(StoreError::Duplicate {
                key: DuplicateKey::OutcomeEventId
            })
        ));

        assert_eq!(
            h.store
                .credit_decision(&accepted.acceptance_id)
                .await
                .expect("read"),
            Some(OutcomeKind::Funded)
        );
        // An older decline (arriving late) does not replace the later
        // FUNDED as the credit decision.
        let mut late_decline = event("ev-d", OutcomeKind::DeclinedAfterReview, NOW + 20);
        late_decline.decline_reason = "DECLINE_REASON_CAPACITY".into();
        h.store.report_outcome(&late_decline).await.expect("report");
        assert_eq!(
            h.store
                .credit_decision(&accepted.acceptance_id)
                .await
                .expect("read"),
            Some(OutcomeKind::Funded)
        );

        // A later event, then an older one arriving last: ordered by time.
        let repaid = event("ev-3", OutcomeKind::Repaid, NOW + 90);
        h.store.report_outcome(&repaid).await.expect("report");
        let older = event("ev-0", OutcomeKind::Withdrawn, NOW + 10);
        let w = h.store.report_outcome(&older).await.expect("report");
        let order: Vec<(&str, i64)> = w
            .history()
            .iter()
            .map(|e| (e.event_id.as_str(), e.seq))
            .collect();
        assert_eq!(order, [("ev-0", 4), ("ev-d", 2), ("ev-1", 1), ("ev-3", 3)]);
        // Same time: arrival decides.
        let tie = event("ev-4", OutcomeKind::Defaulted, NOW + 90);
        let t = h.store.report_outcome(&tie).await.expect("report");
        assert_eq!(
            t.history().last().map(|e| e.event_id.as_str()),
            Some("ev-4")
        );
        assert_eq!(
            h.store
                .outcomes_of_application("tenant-a", &app.application_id)
                .await
                .expect("read")
                .len(),
            5
        );
        assert_eq!(
            h.store
                .outcomes_of_acceptance("tenant-a", &accepted.acceptance_id)
                .await
                .expect("read"),
            t.history()
        );
        assert!(
            h.store
                .outcomes_of_application("tenant-b", &app.application_id)
                .await
                .expect("read")
                .is_empty()
        );

        // Another tenant, another adapter, a PENDING acceptance: not found.
        let mut foreign = event("ev-5", OutcomeKind::Repaid, NOW);
        foreign.tenant = "tenant-b".into();
        assert!(matches!(
            h.store.report_outcome(&foreign).await,
            Err(StoreError::NotFound)
        ));
        let mut other_adapter = event("ev-5", OutcomeKind::Repaid, NOW);
        other_adapter.adapter_id = "someone-else".into();
        assert!(matches!(
            h.store.report_outcome(&other_adapter).await,
            Err(StoreError::NotFound)
        ));
        let mut not_accepted = event("ev-5", OutcomeKind::Repaid, NOW);
        not_accepted.acceptance_id = pending.acceptance_id.clone();
        assert!(matches!(
            h.store.report_outcome(&not_accepted).await,
            Err(StoreError::NotFound)
        ));
        // A NUL in the text is refused by name before the database sees it.
        let mut nul = event("ev-6", OutcomeKind::Repaid, NOW);
        nul.text = "a\0b".into();
        assert!(matches!(
            h.store.report_outcome(&nul).await,
            Err(StoreError::Rejected {
                field: Some("text"),
                ..
            })
        ));
    }
}

mod appeal_suite {
    //! Appeals: filing, review, decisions (raced), history, keyset pages.

    use std::collections::HashSet;

    use finroute_store::{
        AppealCursor, AppealEventKind, AppealRecord, AppealState, AppealStep, ResolveOutcome,
        StepOutcome, StepRefusal, StoreError,
    };

    use crate::fixture::{appeal, application};
    use crate::harness::Harness;

    const NOW: i64 = 1_800_000_000_000;
    const LAPSE: i64 = 30 * 60 * 1000;

    /// Two operators on two replicas claim one appeal at once: exactly one
    /// wins, the other is refused naming the winner's key id; one CLAIMED
    /// event. Several times.
    pub async fn claim_race(h: &Harness) {
        let app = application("tenant-a", "", 0, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let replica = h.reopen().await;
        for i in 0..8 {
            let a = h
                .store
                .file_appeal(appeal(&app, NOW + i))
                .await
                .expect("file");
            let (s1, s2) = (h.store.clone(), replica.clone());
            let (id1, id2) = (a.appeal_id.clone(), a.appeal_id.clone());
            let t1 = tokio::spawn(async move {
                s1.appeal_step(
                    "tenant-a",
                    &id1,
                    AppealStep::Claim,
                    "ops-a",
                    NOW + 50,
                    LAPSE,
                )
                .await
            });
            let t2 = tokio::spawn(async move {
                s2.appeal_step(
                    "tenant-a",
                    &id2,
                    AppealStep::Claim,
                    "ops-b",
                    NOW + 60,
                    LAPSE,
                )
                .await
            });
            let r1 = t1.await.expect("task").expect("claim");
            let r2 = t2.await.expect("task").expect("claim");
            match (r1, r2) {
                (
                    StepOutcome::Done(w),
                    StepOutcome::Refused(StepRefusal::ClaimedByOther(by), l),
                )
                | (
                    StepOutcome::Refused(StepRefusal::ClaimedByOther(by), l),
                    StepOutcome::Done(w),
                ) => {
                    assert_eq!(w, l);
                    assert_eq!(w.status, AppealState::InReview);
                    assert_eq!(by, w.assignee);
                    assert!(by == "ops-a" || by == "ops-b", "{by}");
                }
                other => panic!("expected one Done, one ClaimedByOther: {other:?}"),
            }
            let history = h
                .store
                .appeal_history("tenant-a", &a.appeal_id)
                .await
                .expect("history");
            let kinds: Vec<_> = history.iter().map(|e| e.kind).collect();
            assert_eq!(kinds, [AppealEventKind::Filed, AppealEventKind::Claimed]);
        }
        replica.close().await;
    }

    /// The audit trail is append-only in the database itself: an UPDATE or
    /// DELETE of an event, by any statement, is refused.
    pub async fn appeal_events_are_append_only(h: &Harness) {
        use sqlx::Connection;
        let app = application("tenant-a", "", 0, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let a = h.store.file_appeal(appeal(&app, NOW)).await.expect("file");
        let update = "UPDATE appeal_events SET note = 'rewritten'";
        let delete = "DELETE FROM appeal_events";
        let errors: Vec<String> = match h.store.backend() {
            finroute_store::Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&h.url).await.expect("open");
                let u = sqlx::query(update)
                    .execute(&mut c)
                    .await
                    .expect_err("update");
                let d = sqlx::query(delete)
                    .execute(&mut c)
                    .await
                    .expect_err("delete");
                vec![u.to_string(), d.to_string()]
            }
            finroute_store::Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&h.url).await.expect("open");
                let u = sqlx::query(update)
                    .execute(&mut c)
                    .await
                    .expect_err("update");
                let d = sqlx::query(delete)
                    .execute(&mut c)
                    .await
                    .expect_err("delete");
                vec![u.to_string(), d.to_string()]
            }
        };
        for e in errors {
            assert!(e.contains("append-only"), "{e}");
        }
        let history = h
            .store
            .appeal_history("tenant-a", &a.appeal_id)
            .await
            .expect("history");
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].note, "");
    }

    /// Claims lapse, release, four eyes (the filer, the proposer and the
    /// approver differ), and the audit trail of every step in order.
    pub async fn review_workflow(h: &Harness) {
        let app = application("tenant-a", "", 0, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let a = h.store.file_appeal(appeal(&app, NOW)).await.expect("file");
        assert_eq!(a.filed_by, "router-key");
        let id = a.appeal_id.as_str();
        let step = |s: AppealStep, actor: &'static str, at: i64| {
            let store = h.store.clone();
            let id = id.to_owned();
            async move {
                store
                    .appeal_step("tenant-a", &id, s, actor, at, LAPSE)
                    .await
                    .expect("step")
            }
        };
        let done = |o: StepOutcome| match o {
            StepOutcome::Done(a) => a,
            other => panic!("expected Done, got {other:?}"),
        };
        let refused = |o: StepOutcome| match o {
            StepOutcome::Refused(why, _) => why,
            other => panic!("expected Refused, got {other:?}"),
        };
        let claimed = done(step(AppealStep::Claim, "ops-a", NOW + 1).await);
        assert_eq!(
            (claimed.assignee.as_str(), claimed.claimed_at_ms),
            ("ops-a", Some(NOW + 1))
        );
        assert_eq!(
            refused(step(AppealStep::Claim, "ops-b", NOW + LAPSE).await),
            StepRefusal::ClaimedByOther("ops-a".into())
        );
        assert_eq!(
            refused(step(AppealStep::Release, "ops-b", NOW + 2).await),
            StepRefusal::NotClaimedByYou
        );
        // At claimed_at + lapse the claim has run out.
        let taken = done(step(AppealStep::Claim, "ops-b", NOW + 1 + LAPSE).await);
        assert_eq!(taken.assignee, "ops-b");
        let released = done(step(AppealStep::Release, "ops-b", NOW + 1 + LAPSE + 1).await);
        assert_eq!(
            (released.assignee.as_str(), released.claimed_at_ms),
            ("", None)
        );
        done(step(AppealStep::Claim, "ops-a", NOW + 2 * LAPSE).await);
        let overturn = |note: &str| AppealStep::Decide {
            decision: AppealState::Overturned,
            reason_code: "NEW_EVIDENCE".into(),
            note: note.into(),
            needs_approval: true,
        };
        let proposed = done(step(overturn("payslips seen"), "ops-a", NOW + 2 * LAPSE + 1).await);
        assert_eq!(proposed.status, AppealState::InReview);
        assert_eq!(proposed.pending_decision, Some(AppealState::Overturned));
        assert_eq!(proposed.proposed_by, "ops-a");
        assert_eq!(
            refused(step(overturn("again"), "ops-a", NOW + 2 * LAPSE + 2).await),
            StepRefusal::ProposalPending
        );
        let approve = |note: &str| AppealStep::Approve { note: note.into() };
        assert_eq!(
            refused(step(approve("me"), "ops-a", NOW + 2 * LAPSE + 3).await),
            StepRefusal::SameOperator("proposer")
        );
        assert_eq!(
            refused(step(approve("me"), "router-key", NOW + 2 * LAPSE + 3).await),
            StepRefusal::SameOperator("filer")
        );
        let rejected = done(
            step(
                AppealStep::Reject {
                    note: "ask for bank statements".into(),
                },
                "ops-b",
                NOW + 2 * LAPSE + 4,
            )
            .await,
        );
        assert_eq!(rejected.pending_decision, None);
        assert_eq!(rejected.status, AppealState::InReview);
        done(step(overturn("statements seen"), "ops-a", NOW + 2 * LAPSE + 5).await);
        let approved = done(step(approve("agreed"), "ops-b", NOW + 2 * LAPSE + 6).await);
        assert_eq!(approved.status, AppealState::Overturned);
        assert_eq!(approved.resolved_by, "ops-b");
        assert_eq!(approved.resolution_reason_code, "NEW_EVIDENCE");
        assert_eq!(approved.resolution_note, "statements seen");
        assert_eq!(approved.resolved_at_ms, Some(NOW + 2 * LAPSE + 6));
        assert_eq!(
            refused(step(AppealStep::Claim, "ops-c", NOW + 3 * LAPSE).await),
            StepRefusal::AlreadyDecided
        );
        assert_eq!(
            h.store.get_appeal("tenant-a", id).await.expect("get"),
            Some(approved.clone())
        );
        let history = h
            .store
            .appeal_history("tenant-a", id)
            .await
            .expect("history");
        use AppealEventKind as K;
        use AppealState as S;
        let steps: Vec<_> = history
            .iter()
            .map(|e| {
                (
                    e.seq,
                    e.kind,
                    e.actor.as_str(),
                    e.from_status,
                    e.status,
                    e.at_ms,
                )
            })
            .collect();
        let t = NOW + 2 * LAPSE;
        assert_eq!(
            steps,
            [
                (1, K::Filed, "router-key", None, S::Open, NOW),
                (2, K::Claimed, "ops-a", Some(S::Open), S::InReview, NOW + 1),
                (
                    3,
                    K::Lapsed,
                    "ops-a",
                    Some(S::InReview),
                    S::InReview,
                    NOW + 1 + LAPSE
                ),
                (
                    4,
                    K::Claimed,
                    "ops-b",
                    Some(S::InReview),
                    S::InReview,
                    NOW + 1 + LAPSE
                ),
                (
                    5,
                    K::Released,
                    "ops-b",
                    Some(S::InReview),
                    S::InReview,
                    NOW + 2 + LAPSE
                ),
                (6, K::Claimed, "ops-a", Some(S::InReview), S::InReview, t),
                (
                    7,
                    K::Proposed,
                    "ops-a",
                    Some(S::InReview),
                    S::InReview,
                    t + 1
                ),
                (
                    8,
                    K::Rejected,
                    "ops-b",
                    Some(S::InReview),
                    S::InReview,
                    t + 4
                ),
                (
                    9,
                    K::Proposed,
                    "ops-a",
                    Some(S::InReview),
                    S::InReview,
                    t + 5
                ),
                (
                    10,
                    K::Approved,
                    "ops-b",
                    Some(S::InReview),
                    S::Overturned,
                    t + 6
                ),
            ]
        );
        assert_eq!(history[6].reason_code, "NEW_EVIDENCE");
        assert_eq!(history[7].note, "ask for bank statements");
        // Other tenants see nothing and change nothing.
        assert_eq!(
            h.store
                .appeal_step("tenant-b", id, AppealStep::Claim, "ops-x", NOW, LAPSE)
                .await
                .expect("step"),
            StepOutcome::NotFound
        );
    }

    pub async fn appeal_lifecycle(h: &Harness) {
        let app = application("tenant-a", "", 1, 1);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let new = appeal(&app, NOW);
        let filed = h.store.file_appeal(new.clone()).await.expect("file");
        assert_eq!(filed.status, AppealState::Open);
        assert_eq!(filed.details, new.details);
        assert_eq!(
            (filed.resolved_at_ms, filed.resolution_note.as_str()),
            (None, "")
        );
        let id = filed.appeal_id.as_str();
        assert_eq!(
            h.store.get_appeal("tenant-a", id).await.expect("get"),
            Some(filed.clone())
        );
        assert_eq!(
            h.store
                .appeals_of_application("tenant-a", &app.application_id)
                .await
                .expect("list"),
            vec![filed.clone()]
        );
        assert!(matches!(
            h.store.file_appeal(new.clone()).await,
            Err(StoreError::Duplicate { .. })
        ));

        let reviewing = match h
            .store
            .start_review("tenant-a", id, "picked up", NOW + 1)
            .await
            .expect("review")
        {
            ResolveOutcome::Resolved(a) => a,
            other => panic!("expected Resolved, got {other:?}"),
        };
        assert_eq!(reviewing.status, AppealState::InReview);
        assert_eq!(
            h.store
                .start_review("tenant-a", id, "again", NOW + 2)
                .await
                .expect("review"),
            ResolveOutcome::AlreadyResolved(reviewing.clone())
        );
        assert!(matches!(
            h.store
                .resolve_appeal("tenant-a", id, AppealState::InReview, "x", NOW)
                .await,
            Err(StoreError::InvalidArgument(_))
        ));
        let decided = match h
            .store
            .resolve_appeal(
                "tenant-a",
                id,
                AppealState::Overturned,
                "income verified",
                NOW + 3,
            )
            .await
            .expect("resolve")
        {
            ResolveOutcome::Resolved(a) => a,
            other => panic!("expected Resolved, got {other:?}"),
        };
        assert_eq!(decided.status, AppealState::Overturned);
        assert_eq!(decided.resolved_at_ms, Some(NOW + 3));
        assert_eq!(decided.resolution_note, "income verified");
        assert_eq!(
            h.store.get_appeal("tenant-a", id).await.expect("get"),
            Some(decided.clone())
        );
        for outcome in [
            h.store
                .resolve_appeal("tenant-a", id, AppealState::Upheld, "late", NOW + 4)
                .await,
            h.store.start_review("tenant-a", id, "late", NOW + 4).await,
        ] {
            assert_eq!(
                outcome.expect("change"),
                ResolveOutcome::AlreadyResolved(decided.clone())
            );
        }
        let history = h
            .store
            .appeal_history("tenant-a", id)
            .await
            .expect("history");
        let steps: Vec<(AppealState, i64, &str)> = history
            .iter()
            .map(|e| (e.status, e.at_ms, e.note.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                (AppealState::Open, NOW, ""),
                (AppealState::InReview, NOW + 1, "picked up"),
                (AppealState::Overturned, NOW + 3, "income verified"),
            ]
        );

        // Unknown appeal and unknown application.
        assert_eq!(
            h.store
                .resolve_appeal("tenant-a", "no-such-appeal", AppealState::Upheld, "x", NOW)
                .await
                .expect("resolve"),
            ResolveOutcome::NotFound
        );
        let mut orphan = appeal(&app, NOW);
        orphan.application_id = "no-such-application".into();
        assert!(matches!(
            h.store.file_appeal(orphan).await,
            Err(StoreError::NotFound)
        ));
        // Straight from OPEN to a decision.
        let direct = h
            .store
            .file_appeal(appeal(&app, NOW + 9))
            .await
            .expect("file");
        assert!(matches!(
            h.store
                .resolve_appeal(
                    "tenant-a",
                    &direct.appeal_id,
                    AppealState::Upheld,
                    "ok",
                    NOW + 10
                )
                .await
                .expect("resolve"),
            ResolveOutcome::Resolved(AppealRecord {
                status: AppealState::Upheld,
                ..
            })
        ));
        assert_eq!(
            h.store
                .appeal_history("tenant-a", &direct.appeal_id)
                .await
                .expect("history")
                .len(),
            2
        );
    }

    /// Two operators (on two replicas) deciding one appeal at once: one
    /// decision wins, the other sees it; one decision event. Several times.
    pub async fn resolve_race(h: &Harness) {
        let app = application("tenant-a", "", 0, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        let replica = h.reopen().await;
        for i in 0..8 {
            let a = h
                .store
                .file_appeal(appeal(&app, NOW + i))
                .await
                .expect("file");
            if i % 2 == 1 {
                h.store
                    .start_review("tenant-a", &a.appeal_id, "", NOW + i)
                    .await
                    .expect("review");
            }
            let (s1, s2) = (h.store.clone(), replica.clone());
            let (id1, id2) = (a.appeal_id.clone(), a.appeal_id.clone());
            let t1 = tokio::spawn(async move {
                s1.resolve_appeal("tenant-a", &id1, AppealState::Upheld, "one", NOW + 100)
                    .await
            });
            let t2 = tokio::spawn(async move {
                s2.resolve_appeal("tenant-a", &id2, AppealState::Overturned, "two", NOW + 200)
                    .await
            });
            let r1 = t1.await.expect("task").expect("resolve");
            let r2 = t2.await.expect("task").expect("resolve");
            match (r1, r2) {
                (ResolveOutcome::Resolved(w), ResolveOutcome::AlreadyResolved(l))
                | (ResolveOutcome::AlreadyResolved(l), ResolveOutcome::Resolved(w)) => {
                    assert_eq!(w, l);
                    assert!(w.status.is_final());
                }
                other => panic!("expected one Resolved, one AlreadyResolved: {other:?}"),
            }
            let history = h
                .store
                .appeal_history("tenant-a", &a.appeal_id)
                .await
                .expect("history");
            let finals = history.iter().filter(|e| e.status.is_final()).count();
            assert_eq!(finals, 1, "{history:?}");
        }
        replica.close().await;
    }

    /// Keyset pages of 3 over 7 appeals (two pairs filed in the same
    /// millisecond): 3 + 3 + 1, in (filed_at_ms, appeal_id) order, no
    /// repeats, no gaps; with a status filter too; other tenants see none.
    pub async fn appeals_paginate(h: &Harness) {
        let app = application("tenant-a", "", 0, 0);
        h.store
            .record_application(app.clone())
            .await
            .expect("record");
        // Filed out of order, with ties.
        let times = [NOW + 5, NOW + 1, NOW + 3, NOW + 1, NOW + 3, NOW + 7, NOW];
        let mut all = Vec::new();
        for t in times {
            all.push(h.store.file_appeal(appeal(&app, t)).await.expect("file"));
        }
        // Resolve two of them (so the OPEN filter has 5).
        for a in [&all[1], &all[5]] {
            h.store
                .resolve_appeal("tenant-a", &a.appeal_id, AppealState::Upheld, "n", NOW + 50)
                .await
                .expect("resolve");
        }
        let mut expected: Vec<(i64, String)> = all
            .iter()
            .map(|a| (a.filed_at_ms, a.appeal_id.clone()))
            .collect();
        expected.sort();

        async fn pages(
            h: &Harness,
            status: Option<AppealState>,
            size: u32,
        ) -> (Vec<usize>, Vec<AppealRecord>) {
            let mut sizes = Vec::new();
            let mut rows: Vec<AppealRecord> = Vec::new();
            let mut cursor: Option<AppealCursor> = None;
            loop {
                let page = h
                    .store
                    .list_appeals("tenant-a", status, cursor.as_ref(), size)
                    .await
                    .expect("list");
                if page.is_empty() {
                    return (sizes, rows);
                }
                sizes.push(page.len());
                let last = page.last().expect("non-empty");
                cursor = Some(AppealCursor {
                    filed_at_ms: last.filed_at_ms,
                    appeal_id: last.appeal_id.clone(),
                });
                rows.extend(page);
            }
        }

        let (sizes, rows) = pages(h, None, 3).await;
        assert_eq!(sizes, [3, 3, 1]);
        let got: Vec<(i64, String)> = rows
            .iter()
            .map(|a| (a.filed_at_ms, a.appeal_id.clone()))
            .collect();
        assert_eq!(got, expected, "in order, no repeats, no gaps");
        let ids: HashSet<&str> = rows.iter().map(|a| a.appeal_id.as_str()).collect();
        assert_eq!(ids.len(), 7);
        // The same pages again: a stable order.
        assert_eq!(pages(h, None, 3).await.1, rows);

        let (sizes, open) = pages(h, Some(AppealState::Open), 3).await;
        assert_eq!(sizes, [3, 2]);
        assert!(open.iter().all(|a| a.status == AppealState::Open));
        let expected_open: Vec<&AppealRecord> = rows
            .iter()
            .filter(|a| a.status == AppealState::Open)
            .collect();
        assert_eq!(open.iter().collect::<Vec<_>>(), expected_open);
        let (_, upheld) = pages(h, Some(AppealState::Upheld), 1).await;
        assert_eq!(upheld.len(), 2);
        assert!(pages(h, Some(AppealState::InReview), 3).await.1.is_empty());
        assert!(
            h.store
                .list_appeals("tenant-a", None, None, 0)
                .await
                .expect("list")
                .is_empty()
        );
        assert_eq!(
            h.store
                .appeals_of_application("tenant-a", &app.application_id)
                .await
                .expect("list"),
            rows
        );

        // Another tenant: nothing to list, get, resolve or append to.
        assert!(
            h.store
                .list_appeals("tenant-b", None, None, 10)
                .await
                .expect("list")
                .is_empty()
        );
        let id = &rows[0].appeal_id;
        assert!(
            h.store
                .get_appeal("tenant-b", id)
                .await
                .expect("get")
                .is_none()
        );
        assert!(
            h.store
                .appeal_history("tenant-b", id)
                .await
                .expect("history")
                .is_empty()
        );
        assert_eq!(
            h.store
                .resolve_appeal("tenant-b", id, AppealState::Upheld, "x", NOW)
                .await
                .expect("resolve"),
            ResolveOutcome::NotFound
        );
        assert_eq!(
            h.store
                .start_review("tenant-b", id, "x", NOW)
                .await
                .expect("review"),
            ResolveOutcome::NotFound
        );
        let mut foreign = appeal(&app, NOW);
        foreign.tenant = "tenant-b".into();
        assert!(matches!(
            h.store.file_appeal(foreign).await,
            Err(StoreError::NotFound)
        ));
    }
}

mod run {
    //! Running one test of `suite` on one backend.

    use finroute_store::StoreOptions;

    use crate::harness::{self, Harness};

    /// The backend a test runs on.
    #[derive(Debug, Clone, Copy)]
    pub enum Backend {
        /// A new SQLite file in a temporary directory.
        Sqlite,
        /// A new schema of the database `FINROUTE_TEST_DATABASE_URL` names.
        Postgres,
    }

    /// Opens a store on `backend` with `opts`, runs `test` on it, then
    /// closes it and drops its database. On PostgreSQL with the variable
    /// unset, says so and returns; set but unreachable, panics.
    pub async fn case(backend: Backend, opts: StoreOptions, test: impl AsyncFnOnce(&Harness)) {
        let opened = match backend {
            Backend::Sqlite => harness::sqlite(opts).await,
            Backend::Postgres => harness::postgres(opts).await,
        };
        let Some(h) = opened else {
            return;
        };
        test(&h).await;
        h.finish().await;
    }
}

// Every test of `suite`, on each backend. Races run on two worker threads,
// so that tasks really run at once. A new test of the suite goes in both
// lists (`every_suite_test_runs_on_both_backends` checks).

mod sqlite {
    //! The suite on SQLite.

    use finroute_store::StoreOptions;

    use crate::run::{Backend::Sqlite, case};
    use crate::suite;

    #[tokio::test]
    async fn record_then_get() {
        case(Sqlite, StoreOptions::default(), suite::record_then_get).await;
    }

    #[tokio::test]
    async fn late_offers_join_their_application() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::late_offers_join_their_application,
        )
        .await;
    }

    #[tokio::test]
    async fn tenant_isolation() {
        case(Sqlite, StoreOptions::default(), suite::tenant_isolation).await;
    }

    #[tokio::test]
    async fn empty_request_ids_do_not_collide() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::empty_request_ids_do_not_collide,
        )
        .await;
    }

    #[tokio::test]
    async fn duplicate_request_id_fails_alone_in_its_batch() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::duplicate_request_id_fails_alone_in_its_batch,
        )
        .await;
    }

    #[tokio::test]
    async fn duplicate_within_one_batch() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::duplicate_within_one_batch,
        )
        .await;
    }

    #[tokio::test]
    async fn duplicate_application_and_offer_ids() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::duplicate_application_and_offer_ids,
        )
        .await;
    }

    #[tokio::test]
    async fn offer_of_another_tenant_is_rejected() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::offer_of_another_tenant_is_rejected,
        )
        .await;
    }

    #[tokio::test]
    async fn errors_do_not_echo_row_data() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::errors_do_not_echo_row_data,
        )
        .await;
    }

    #[tokio::test]
    async fn concurrent_records_are_batched() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::concurrent_records_are_batched,
        )
        .await;
    }

    #[tokio::test]
    async fn nul_bytes_fail_only_their_own_record() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::nul_bytes_fail_only_their_own_record,
        )
        .await;
    }

    #[tokio::test]
    async fn nul_in_acceptances_and_appeals_is_rejected_by_field() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::nul_in_acceptances_and_appeals_is_rejected_by_field,
        )
        .await;
    }

    #[tokio::test]
    async fn ping_answers() {
        case(Sqlite, StoreOptions::default(), suite::ping_answers).await;
    }

    #[tokio::test]
    async fn close_flushes_queued_records() {
        let opts = StoreOptions {
            max_batch: 8,
            ..StoreOptions::default()
        };
        case(Sqlite, opts, suite::close_flushes_queued_records).await;
    }

    #[tokio::test]
    async fn reopen_sees_data() {
        case(Sqlite, StoreOptions::default(), suite::reopen_sees_data).await;
    }

    #[tokio::test]
    async fn migrate_is_idempotent() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::migrate_is_idempotent,
        )
        .await;
    }

    #[tokio::test]
    async fn claim_existing_and_offer_taken() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::claim_existing_and_offer_taken,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims_of_one_key() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::concurrent_claims_of_one_key,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_racing_on_one_offer() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::keys_racing_on_one_offer,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_completions_number_their_events_in_turn() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::racing_completions_number_their_events_in_turn,
        )
        .await;
    }

    #[tokio::test]
    async fn webhook_events_follow_their_changes_in_order() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::webhook_events_follow_their_changes_in_order,
        )
        .await;
    }

    #[tokio::test]
    async fn declined_acceptance_frees_the_offer() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::declined_acceptance_frees_the_offer,
        )
        .await;
    }

    #[tokio::test]
    async fn complete_is_idempotent() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::complete_is_idempotent,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leases_are_exclusive() {
        case(Sqlite, StoreOptions::default(), suite::leases_are_exclusive).await;
    }

    #[tokio::test]
    async fn release_with_backoff() {
        case(Sqlite, StoreOptions::default(), suite::release_with_backoff).await;
    }

    #[tokio::test]
    async fn claims_survive_restart() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::claims_survive_restart,
        )
        .await;
    }

    #[tokio::test]
    async fn acceptances_are_tenant_scoped() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::acceptances_are_tenant_scoped,
        )
        .await;
    }

    #[tokio::test]
    async fn appeal_lifecycle() {
        case(Sqlite, StoreOptions::default(), suite::appeal_lifecycle).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn resolve_race() {
        case(Sqlite, StoreOptions::default(), suite::resolve_race).await;
    }

    #[tokio::test]
    async fn appeals_paginate() {
        case(Sqlite, StoreOptions::default(), suite::appeals_paginate).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn claim_race() {
        case(Sqlite, StoreOptions::default(), suite::claim_race).await;
    }

    #[tokio::test]
    async fn review_workflow() {
        case(Sqlite, StoreOptions::default(), suite::review_workflow).await;
    }

    #[tokio::test]
    async fn appeal_events_are_append_only() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::appeal_events_are_append_only,
        )
        .await;
    }

    #[tokio::test]
    async fn partner_lists_are_append_only() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::partner_lists_are_append_only,
        )
        .await;
    }

    #[tokio::test]
    async fn quotes_are_reserved_up_to_their_limits() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::quotes_are_reserved_up_to_their_limits,
        )
        .await;
    }

    #[tokio::test]
    async fn acceptances_and_lent_amounts_close_a_channel() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::acceptances_and_lent_amounts_close_a_channel,
        )
        .await;
    }

    #[tokio::test]
    async fn racing_reservations_never_pass_the_limit() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::racing_reservations_never_pass_the_limit,
        )
        .await;
    }

    #[tokio::test]
    async fn a_later_application_with_other_applicant_data_is_found() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::a_later_application_with_other_applicant_data_is_found,
        )
        .await;
    }
    #[tokio::test]
    async fn partner_outcomes_are_idempotent_and_ordered() {
        case(
            Sqlite,
            StoreOptions::default(),
            suite::partner_outcomes_are_idempotent_and_ordered,
        )
        .await;
    }
}

mod postgres {
    //! The suite on PostgreSQL (when `FINROUTE_TEST_DATABASE_URL` is set).

    use finroute_store::StoreOptions;

    use crate::run::{Backend::Postgres, case};
    use crate::suite;

    #[tokio::test]
    async fn record_then_get() {
        case(Postgres, StoreOptions::default(), suite::record_then_get).await;
    }

    #[tokio::test]
    async fn late_offers_join_their_application() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::late_offers_join_their_application,
        )
        .await;
    }

    #[tokio::test]
    async fn tenant_isolation() {
        case(Postgres, StoreOptions::default(), suite::tenant_isolation).await;
    }

    #[tokio::test]
    async fn empty_request_ids_do_not_collide() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::empty_request_ids_do_not_collide,
        )
        .await;
    }

    #[tokio::test]
    async fn duplicate_request_id_fails_alone_in_its_batch() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::duplicate_request_id_fails_alone_in_its_batch,
        )
        .await;
    }

    #[tokio::test]
    async fn duplicate_within_one_batch() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::duplicate_within_one_batch,
        )
        .await;
    }

    #[tokio::test]
    async fn duplicate_application_and_offer_ids() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::duplicate_application_and_offer_ids,
        )
        .await;
    }

    #[tokio::test]
    async fn offer_of_another_tenant_is_rejected() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::offer_of_another_tenant_is_rejected,
        )
        .await;
    }

    #[tokio::test]
    async fn errors_do_not_echo_row_data() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::errors_do_not_echo_row_data,
        )
        .await;
    }

    #[tokio::test]
    async fn concurrent_records_are_batched() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::concurrent_records_are_batched,
        )
        .await;
    }

    #[tokio::test]
    async fn nul_bytes_fail_only_their_own_record() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::nul_bytes_fail_only_their_own_record,
        )
        .await;
    }

    #[tokio::test]
    async fn nul_in_acceptances_and_appeals_is_rejected_by_field() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::nul_in_acceptances_and_appeals_is_rejected_by_field,
        )
        .await;
    }

    #[tokio::test]
    async fn ping_answers() {
        case(Postgres, StoreOptions::default(), suite::ping_answers).await;
    }

    #[tokio::test]
    async fn close_flushes_queued_records() {
        let opts = StoreOptions {
            max_batch: 8,
            ..StoreOptions::default()
        };
        case(Postgres, opts, suite::close_flushes_queued_records).await;
    }

    #[tokio::test]
    async fn reopen_sees_data() {
        case(Postgres, StoreOptions::default(), suite::reopen_sees_data).await;
    }

    #[tokio::test]
    async fn migrate_is_idempotent() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::migrate_is_idempotent,
        )
        .await;
    }

    #[tokio::test]
    async fn claim_existing_and_offer_taken() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::claim_existing_and_offer_taken,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims_of_one_key() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::concurrent_claims_of_one_key,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_racing_on_one_offer() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::keys_racing_on_one_offer,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_completions_number_their_events_in_turn() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::racing_completions_number_their_events_in_turn,
        )
        .await;
    }

    #[tokio::test]
    async fn webhook_events_follow_their_changes_in_order() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::webhook_events_follow_their_changes_in_order,
        )
        .await;
    }

    #[tokio::test]
    async fn declined_acceptance_frees_the_offer() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::declined_acceptance_frees_the_offer,
        )
        .await;
    }

    #[tokio::test]
    async fn complete_is_idempotent() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::complete_is_idempotent,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leases_are_exclusive() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::leases_are_exclusive,
        )
        .await;
    }

    #[tokio::test]
    async fn release_with_backoff() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::release_with_backoff,
        )
        .await;
    }

    #[tokio::test]
    async fn claims_survive_restart() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::claims_survive_restart,
        )
        .await;
    }

    #[tokio::test]
    async fn acceptances_are_tenant_scoped() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::acceptances_are_tenant_scoped,
        )
        .await;
    }

    #[tokio::test]
    async fn appeal_lifecycle() {
        case(Postgres, StoreOptions::default(), suite::appeal_lifecycle).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn resolve_race() {
        case(Postgres, StoreOptions::default(), suite::resolve_race).await;
    }

    #[tokio::test]
    async fn appeals_paginate() {
        case(Postgres, StoreOptions::default(), suite::appeals_paginate).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn claim_race() {
        case(Postgres, StoreOptions::default(), suite::claim_race).await;
    }

    #[tokio::test]
    async fn review_workflow() {
        case(Postgres, StoreOptions::default(), suite::review_workflow).await;
    }

    #[tokio::test]
    async fn appeal_events_are_append_only() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::appeal_events_are_append_only,
        )
        .await;
    }

    #[tokio::test]
    async fn partner_lists_are_append_only() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::partner_lists_are_append_only,
        )
        .await;
    }

    #[tokio::test]
    async fn quotes_are_reserved_up_to_their_limits() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::quotes_are_reserved_up_to_their_limits,
        )
        .await;
    }

    #[tokio::test]
    async fn acceptances_and_lent_amounts_close_a_channel() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::acceptances_and_lent_amounts_close_a_channel,
        )
        .await;
    }

    #[tokio::test]
    async fn racing_reservations_never_pass_the_limit() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::racing_reservations_never_pass_the_limit,
        )
        .await;
    }

    #[tokio::test]
    async fn a_later_application_with_other_applicant_data_is_found() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::a_later_application_with_other_applicant_data_is_found,
        )
        .await;
    }
    #[tokio::test]
    async fn partner_outcomes_are_idempotent_and_ordered() {
        case(
            Postgres,
            StoreOptions::default(),
            suite::partner_outcomes_are_idempotent_and_ordered,
        )
        .await;
    }
}

mod lists {
    //! The suite is listed once per backend above: a test missing from a
    //! list would silently not run there.

    use std::collections::BTreeSet;

    /// The names of the `async fn`s (those declared `pub` when `public`)
    /// of the inline module `name` of this file.
    fn functions(source: &str, name: &str, public: bool) -> BTreeSet<String> {
        let start = source
            .find(&format!("\nmod {name} {{\n"))
            .unwrap_or_else(|| panic!("mod {name} not found"));
        let body = &source[start + 1..];
        let end = body.find("\n}\n").unwrap_or(body.len());
        let prefix = if public { "pub async fn " } else { "async fn " };
        body[..end]
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix(prefix))
            .filter_map(|rest| rest.split('(').next())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_suite_test_runs_on_both_backends() {
        let source = include_str!("store.rs");
        let mut suite = functions(source, "suite", true);
        suite.append(&mut functions(source, "acceptance_suite", true));
        suite.append(&mut functions(source, "appeal_suite", true));
        assert!(suite.len() >= 27, "{suite:?}");
        assert_eq!(functions(source, "sqlite", false), suite, "sqlite list");
        assert_eq!(functions(source, "postgres", false), suite, "postgres list");
    }
}

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

    /// In memory, reads and writes share one connection: the acceptance
    /// and appeal paths must not wait for a second one.
    #[tokio::test]
    async fn in_memory_sqlite_acceptances_and_appeals() {
        use finroute_store::{AcceptanceState, AppealState, ClaimOutcome, ResolveOutcome};

        let store = Store::connect("sqlite::memory:").await.expect("open");
        let app = crate::fixture::application("t", "", 1, 0);
        store.record_application(app.clone()).await.expect("record");
        let c = crate::fixture::claim(&app, 0, "k", 1);
        let ClaimOutcome::Created(r) = store.claim_acceptance(c).await.expect("claim") else {
            panic!("expected Created");
        };
        let leased = store
            .lease_due_acceptances("o", 1, 1_000, 10)
            .await
            .expect("lease");
        assert_eq!(leased.len(), 1);
        let done = store
            .complete_acceptance(&r.acceptance_id, AcceptanceState::Accepted, "P", "", 2)
            .await
            .expect("complete");
        assert_eq!(done.status, AcceptanceState::Accepted);
        let a = store
            .file_appeal(crate::fixture::appeal(&app, 3))
            .await
            .expect("file");
        assert!(matches!(
            store
                .resolve_appeal("t", &a.appeal_id, AppealState::Upheld, "n", 4)
                .await
                .expect("resolve"),
            ResolveOutcome::Resolved(_)
        ));
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

    use finroute_store::{
        AcceptanceClaim, AcceptanceState, AppealState, ApplicationRecord, NewAppeal, Store,
        StoreError,
    };

    fn assert_send<T: Send>(_: &T) {}

    /// The server awaits these inside tonic handlers and spawned tasks,
    /// which need `Send` futures; `Store` is shared across tasks.
    #[allow(dead_code)]
    fn futures_are_send(
        store: &Store,
        app: ApplicationRecord,
        claim: AcceptanceClaim,
        appeal: NewAppeal,
    ) {
        fn clone_send_sync<T: Clone + Send + Sync + 'static>() {}
        clone_send_sync::<Store>();
        fn error<T: std::error::Error + Send + Sync + 'static>() {}
        error::<StoreError>();
        assert_send(&store.record_application(app));
        assert_send(&store.get_application("t", "a"));
        assert_send(&store.find_by_request_id("t", "r"));
        assert_send(&store.get_offer("t", "o"));
        assert_send(&store.claim_acceptance(claim));
        assert_send(&store.get_acceptance("t", "a"));
        assert_send(&store.find_acceptance_by_key("t", "k"));
        assert_send(&store.acceptances_of_application("t", "a"));
        assert_send(&store.lease_due_acceptances("o", 0, 1, 1));
        assert_send(&store.lease_acceptance("a", "o", 0, 1));
        assert_send(&store.complete_acceptance("a", AcceptanceState::Accepted, "", "", 0));
        assert_send(&store.release_acceptance("a", "o", 0, ""));
        assert_send(&store.open_acceptances());
        assert_send(&store.outcome_counts());
        assert_send(&store.file_appeal(appeal));
        assert_send(&store.get_appeal("t", "a"));
        assert_send(&store.appeals_of_application("t", "a"));
        assert_send(&store.list_appeals("t", None, None, 1));
        assert_send(&store.start_review("t", "a", "", 0));
        assert_send(&store.resolve_appeal("t", "a", AppealState::Upheld, "", 0));
        assert_send(&store.appeal_history("t", "a"));
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
