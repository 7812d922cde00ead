//! SQLite's WAL is checkpointed in the background, off the group-commit
//! writer's path: pages reach the database file well before the writer's
//! own checkpoint threshold (1 000 WAL pages) would have copied them.

use std::time::Duration;

use tokio::time::Instant;

use finroute_store::{ApplicationRecord, Store};

/// `len` bytes that LZ4 cannot shrink (so the store keeps them whole).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8 | 1
        })
        .collect()
}

fn record(i: u64) -> ApplicationRecord {
    ApplicationRecord {
        application_id: format!("app_ckpt_{i}"),
        tenant: "t".into(),
        request_id: String::new(),
        request_fingerprint: vec![1; 32],
        applicant_id: "applicant".into(),
        applicant_fingerprint: vec![2; 32],
        created_at_ms: 1_700_000_000_000,
        partial: false,
        response: noise(i + 7, 64 * 1024).into(),
        offers: Vec::new(),
        channel_reports: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_checkpointed_in_the_background() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("store.db");
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open the store");
    // 24 x 64 KB: ~400 WAL pages of 4 KB, under the writer's 1 000.
    for i in 0..24 {
        store
            .record_application(record(i))
            .await
            .expect("record an application");
    }
    let data = 24 * 64 * 1024;
    let started = Instant::now();
    loop {
        let len = std::fs::metadata(&path).expect("the database file").len();
        if len >= data {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the database file holds {len} bytes after 5 s: the WAL was not checkpointed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Everything still reads back, from the database file and the WAL.
    for i in 0..24 {
        let app = store
            .get_application("t", &format!("app_ckpt_{i}"))
            .await
            .expect("read")
            .expect("present");
        assert_eq!(app.response, noise(i + 7, 64 * 1024));
    }
    store.close().await;
}
