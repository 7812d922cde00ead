//! The `finroute` binary out of file descriptors: a child router under
//! `ulimit -n 64`, its descriptors filled with sockets that never send a
//! byte. The accept loop backs off (and says so) instead of spinning a
//! core, the silent sockets are closed after the first-request timeout,
//! and a legitimate client is then served.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use tonic::transport::Channel;

async fn check(channel: Channel) -> Result<(), tonic::Status> {
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|_| ())
}

fn clock_ticks_per_second() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn fds_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

struct Child64 {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Child64 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `finroute serve` with at most 64 open files.
fn start_with_64_fds(config: &std::path::Path) -> Child64 {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" serve --config \"$1\" --listen 127.0.0.1:0")
        .arg(env!("CARGO_BIN_EXE_finroute"))
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn finroute under ulimit -n 64");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    {
        let log = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(i) = line.find("listening on ") {
                    let addr: String = line[i + "listening on ".len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                        .collect();
                    let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                    sent = true;
                }
                log.lock().unwrap().push(line);
            }
        });
    }
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("finroute printed its ready line");
    Child64 { child, addr, log }
}

#[tokio::test]
async fn out_of_file_descriptors_the_router_backs_off_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("finroute.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nmetrics_listen = \"127.0.0.1:0\"\nfirst_request_timeout_ms = 2000\n\
             max_connections = 1000\n\n[store]\nurl = \"sqlite://{}\"\n",
            dir.path().join("finroute.db").display()
        ),
    )
    .unwrap();
    let router = start_with_64_fds(&config);
    let pid = router.child.id();
    let idle_fds = fds_of(pid);

    // More silent sockets than the router has descriptors left: the rest
    // wait in the listen backlog, and accept fails with EMFILE.
    let mut silent = Vec::new();
    for _ in 0..(64 - idle_fds + 40) {
        silent.push(tokio::net::TcpStream::connect(router.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let full_fds = fds_of(pid);
    let ticks = clock_ticks_per_second();
    let (c0, t0) = (cpu_ticks(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu = (cpu_ticks(pid) - c0) as f64 / ticks / t0.elapsed().as_secs_f64();

    // The silent sockets time out in waves; a legitimate client, queued
    // behind them in the backlog, is then served.
    let t = Instant::now();
    let served = tokio::time::timeout(Duration::from_secs(20), async {
        let channel = Channel::from_shared(format!("http://{}", router.addr))
            .unwrap()
            .connect()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        check(channel).await
    })
    .await;
    let log = router.log.lock().unwrap().join("\n");
    eprintln!(
        "ulimit -n 64: {idle_fds} fds idle, {full_fds} with {} silent sockets; router CPU {:.0} % of a core over 2 s; legitimate call {} after {:?}",
        silent.len(),
        cpu * 100.0,
        match &served {
            Ok(Ok(())) => "served",
            Ok(Err(_)) => "failed",
            Err(_) => "not served",
        },
        t.elapsed()
    );
    assert!(full_fds >= 60, "the descriptors were filled: {full_fds}");
    assert!(
        log.contains("accept failed: backing off"),
        "the backoff is logged:\n{log}"
    );
    assert!(cpu < 0.3, "the accept loop spins: {:.0} %", cpu * 100.0);
    served
        .expect("a legitimate call is served once the silent sockets time out")
        .unwrap();
    // Every silent socket was closed by the router: EOF or a reset after
    // the router's SETTINGS frame (the later waves within two more rounds
    // of the timeout).
    let closed = futures::future::join_all(silent.iter_mut().map(|s| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 256];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }))
    .await;
    assert!(closed.iter().all(|c| *c), "{closed:?}");
}
