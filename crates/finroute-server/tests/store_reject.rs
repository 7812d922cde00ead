//! Issue 14 over gRPC: a request carrying a NUL character (which
//! PostgreSQL text cannot hold) is refused on its own with INVALID_ARGUMENT
//! naming the field, whichever layer catches it (the API edge's validation,
//! or the store's own check behind it), while the legitimate requests sent
//! at the same time all succeed. SQLite always; PostgreSQL when
//! `FINROUTE_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

use finroute_server::Config;
use finroute_testkit::{PgSchema, TestRouter, refused_borrower};
use tonic::Code;
use tonic_types::StatusExt;

async fn nul_requests_fail_alone(router: &TestRouter) {
    let client = router.client().await;
    let mut calls = Vec::new();
    for i in 0..68 {
        let mut req = refused_borrower();
        let bad = i % 17 == 16;
        if bad {
            req.applicant.as_mut().unwrap().applicant_id = "app-\0-7f3a9c".into();
        } else {
            req.request_id = format!("req-{i}-{}", uuid_like(i));
        }
        let mut c = client.clone();
        calls.push((
            bad,
            tokio::spawn(async move { c.route_financing(req).await }),
        ));
    }
    let (mut ok, mut refused) = (0, 0);
    for (bad, call) in calls {
        match (bad, call.await.unwrap()) {
            (false, Ok(_)) => ok += 1,
            (false, Err(s)) => panic!("a legitimate request failed: {s:?}"),
            (true, Err(s)) => {
                assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
                let details = s.get_error_details();
                let br = details.bad_request().expect("a BadRequest detail");
                assert!(
                    br.field_violations
                        .iter()
                        .any(|v| v.field.contains("applicant_id")),
                    "{br:?}"
                );
                assert!(!s.message().contains("7f3a9c"), "{}", s.message());
                refused += 1;
            }
            (true, Ok(r)) => panic!("a NUL-bearing request was routed: {r:?}"),
        }
    }
    eprintln!("over gRPC: {ok} of 64 legitimate routed, {refused} of 4 NUL-bearing refused");
    assert_eq!((ok, refused), (64, 4));
}

fn uuid_like(i: usize) -> String {
    format!("{:016x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_a_nul_alone() {
    let router = TestRouter::embedded().await;
    nul_requests_fail_alone(&router).await;
    router.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_nul_alone() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let mut config = Config::default();
    config.store.url = schema.url.clone();
    let router = TestRouter::start(config).await;
    nul_requests_fail_alone(&router).await;
    router.stop().await.unwrap();
    schema.drop_schema().await;
}
