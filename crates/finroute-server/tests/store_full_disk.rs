//! Fault matrix (c): SQLite on a full disk. A real router whose SQLite file
//! lives on a small tmpfs of its own; the test fills the tmpfs with a
//! filler file and routes until commits fail, then deletes the filler.
//!
//! Needs to mount a tmpfs (root, as in CI); says "skipped" when it cannot.
//! (A file-size limit, RLIMIT_FSIZE, would need a child process and only
//! limits one file's size; a real full file system is what operators meet.)

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::time::Instant;

use finroute_proto::v1 as pb;
use finroute_testkit::{TestRouter, config_with, refused_borrower, with_timeout};
use sqlx::{Connection, SqliteConnection};
use tonic::Code;
use tonic_types::StatusExt;

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes zeros to `path` until the file system is full; returns how many
/// bytes it took.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
                break;
            }
        }
    }
    // The last partial block may still fit.
    loop {
        match f.write(&[0u8; 512]) {
            Ok(n) if n > 0 => written += n as u64,
            _ => break,
        }
    }
    let _ = f.sync_all();
    written
}

fn reason(s: &tonic::Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_fails_clearly_and_recovers() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let tmpfs = match Tmpfs::mount("8m") {
        Ok(t) => t,
        Err(why) => {
            eprintln!("skipped: cannot mount a tmpfs for the full-disk test ({why}); run as root");
            return;
        }
    };
    let db_path: PathBuf = tmpfs.path().join("finroute.db");
    let mut config = config_with(finroute_testkit::builtin_specs());
    config.store.url = format!("sqlite://{}", db_path.display());
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;

    let mut answered = Vec::new();
    for _ in 0..20 {
        let r = client.route_financing(refused_borrower()).await.unwrap();
        answered.push(r.into_inner().application_id);
    }

    let filler = tmpfs.path().join("filler");
    let filled = fill(&filler);

    // Route until a commit fails for want of space.
    let started = Instant::now();
    let mut failure = None;
    let mut ok_while_full = 0;
    for _ in 0..5_000 {
        match client
            .route_financing(with_timeout(refused_borrower(), 5_000))
            .await
        {
            Ok(r) => {
                ok_while_full += 1;
                answered.push(r.into_inner().application_id);
            }
            Err(s) => {
                failure = Some((s, started.elapsed()));
                break;
            }
        }
    }
    let (status, after) = failure.expect("a commit must fail on a full disk");
    eprintln!(
        "full disk: filler {filled} bytes; {ok_while_full} routes still committed (into space \
         SQLite already had), then: {:?} {:?} reason {} after {after:?}",
        status.code(),
        status.message(),
        reason(&status)
    );
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(&status), "STORE_FULL");
    assert!(!status.message().contains(&db_path.display().to_string()));

    // More calls while full: the same clear answer, fast, and the router
    // keeps serving reads.
    let t = Instant::now();
    let again = client
        .route_financing(refused_borrower())
        .await
        .unwrap_err();
    let again_took = t.elapsed();
    assert_eq!(again.code(), Code::ResourceExhausted, "{again:?}");
    assert_eq!(reason(&again), "STORE_FULL");
    for id in &answered {
        client
            .get_application(pb::GetApplicationRequest {
                application_id: id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("{id} answered OK before but unreadable: {s:?}"));
    }

    // The database is intact.
    let mut raw = SqliteConnection::connect(&format!("sqlite://{}", db_path.display()))
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    raw.close().await.unwrap();

    // Space returns: routes succeed again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    let mut recovered = None;
    for _ in 0..100 {
        match client.route_financing(refused_borrower()).await {
            Ok(r) => {
                answered.push(r.into_inner().application_id);
                recovered = Some(freed.elapsed());
                break;
            }
            Err(s) => {
                assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let recovered = recovered.expect("routes succeed once space returns");
    for _ in 0..20 {
        let r = client.route_financing(refused_borrower()).await.unwrap();
        answered.push(r.into_inner().application_id);
    }
    eprintln!(
        "full disk: a second call while full refused in {again_took:?}; first route OK \
         {recovered:?} after the filler was deleted; {} applications readable",
        answered.len()
    );
    for id in &answered {
        client
            .get_application(pb::GetApplicationRequest {
                application_id: id.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    router.stop().await.unwrap();

    let mut raw = SqliteConnection::connect(&format!("sqlite://{}", db_path.display()))
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        check, "ok",
        "after the restart-free recovery and a clean stop"
    );
    raw.close().await.unwrap();
}
