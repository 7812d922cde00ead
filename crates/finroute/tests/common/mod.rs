//! The `finroute` binary as a child process, for the tests that kill it.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use finroute_proto::v1 as pb;
use pb::financing_router_client::FinancingRouterClient;
use tonic::transport::Channel;

/// A `finroute serve` child process.
pub struct RouterProcess {
    child: Child,
    pub addr: SocketAddr,
    /// The metrics endpoint's address, from the ready line.
    pub metrics: Option<SocketAddr>,
}

impl RouterProcess {
    /// Starts `finroute serve --config FILE --listen 127.0.0.1:0` and waits
    /// for the ready line naming the port.
    pub fn start(config: &Path) -> RouterProcess {
        RouterProcess::try_start(config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`RouterProcess::start`], with what went wrong instead of a panic.
    pub fn try_start(config: &Path) -> Result<RouterProcess, String> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_finroute"));
        command
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0"]);
        RouterProcess::spawn(command)
    }

    /// `finroute serve ARGS` with `dir` as its working directory (where the
    /// embedded default keeps `finroute.db`).
    pub fn start_in(dir: &Path, args: &[&str]) -> RouterProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_finroute"));
        command.arg("serve").args(args).current_dir(dir);
        RouterProcess::spawn(command).unwrap_or_else(|e| panic!("{e}"))
    }

    fn spawn(mut command: Command) -> Result<RouterProcess, String> {
        let mut child = command
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn finroute: {e}"))?;
        let Some(stderr) = child.stderr.take() else {
            return Err("finroute's stderr is not piped".into());
        };
        let (tx, rx) = mpsc::channel();
        // Reads the log to the end (so the child never blocks on a full pipe).
        std::thread::spawn(move || {
            let mut sent = false;
            let echo = std::env::var_os("FINROUTE_TEST_ECHO_LOGS").is_some();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("[router] {line}");
                }
                if !sent && let Some(i) = line.find("listening on ") {
                    let rest = &line[i + "listening on ".len()..];
                    let addr: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                        .collect();
                    if let Ok(addr) = addr.parse::<SocketAddr>() {
                        let metrics = line.find("metrics=http://").and_then(|i| {
                            line[i + "metrics=http://".len()..]
                                .split('/')
                                .next()?
                                .parse::<SocketAddr>()
                                .ok()
                        });
                        let _ = tx.send((addr, metrics));
                        sent = true;
                    }
                }
            }
        });
        // Dropped on error: the child is killed.
        let mut process = RouterProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics: None,
        };
        (process.addr, process.metrics) = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| "finroute printed no ready line within 60 s".to_string())?;
        Ok(process)
    }

    pub async fn client(&self) -> FinancingRouterClient<Channel> {
        FinancingRouterClient::connect(format!("http://{}", self.addr))
            .await
            .unwrap()
    }

    /// SIGKILL: no drain, no flush, nothing.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends signal `name` (`HUP`, `TERM`...) with `kill`, and returns at once.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// SIGHUP (the router reloads its partner lists).
    pub fn hangup(&self) {
        self.signal("HUP");
    }

    /// SIGTERM, and the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
