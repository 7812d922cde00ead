//! Raw HTTP/2 bytes for abuse tests and the flood benchmark: frames written
//! by hand over a plain socket, for the cases no well-behaved client sends
//! (half a HEADERS block, a WINDOW_UPDATE flood on a closed stream).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub const HEADERS: u8 = 0x1;
pub const SETTINGS: u8 = 0x4;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const END_STREAM: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

/// One HTTP/2 frame.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn hpack_string(block: &mut Vec<u8>, s: &str) {
    assert!(s.len() < 127);
    block.push(s.len() as u8);
    block.extend_from_slice(s.as_bytes());
}

/// The HPACK block of a gRPC request to `path` (no Huffman, no dynamic table).
pub fn grpc_request_block(path: &str) -> Vec<u8> {
    let mut b = vec![0x83, 0x86]; // :method POST, :scheme http (static table)
    b.push(0x04); // :path, literal value without indexing
    hpack_string(&mut b, path);
    b.push(0x01); // :authority
    hpack_string(&mut b, "localhost");
    b.extend_from_slice(&[0x0f, 0x10]); // content-type (static index 31)
    hpack_string(&mut b, "application/grpc");
    b.push(0x00); // te: a new name
    hpack_string(&mut b, "te");
    hpack_string(&mut b, "trailers");
    b
}

/// One connection flooding WINDOW_UPDATE frames, as fast as the socket
/// takes them, on a stream it opened and ended at once (a Health/Check
/// without a message): an OS thread of its own, off any runtime.
pub struct WindowUpdateFlood {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl WindowUpdateFlood {
    /// Connects to `addr` and starts flooding.
    pub fn start(addr: SocketAddr) -> WindowUpdateFlood {
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, written) = (stop.clone(), written.clone());
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut s = std::net::TcpStream::connect(addr)?;
                s.set_write_timeout(Some(Duration::from_millis(50)))?;
                let mut hello = PREFACE.to_vec();
                hello.extend(frame(SETTINGS, 0, 0, &[]));
                hello.extend(frame(
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    1,
                    &grpc_request_block("/grpc.health.v1.Health/Check"),
                ));
                s.write_all(&hello)?;
                std::thread::sleep(Duration::from_millis(100));
                let one = frame(WINDOW_UPDATE, 0, 1, &1u32.to_be_bytes());
                let burst: Vec<u8> = one
                    .iter()
                    .copied()
                    .cycle()
                    .take(one.len() * 5_000)
                    .collect();
                let mut off = 0;
                while !stop.load(Ordering::Relaxed) {
                    match s.write(&burst[off..]) {
                        Ok(n) => {
                            written.fetch_add(n as u64, Ordering::Relaxed);
                            // A partial write: go on from there, frames stay whole.
                            off = (off + n) % burst.len();
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            })
        };
        WindowUpdateFlood {
            stop,
            written,
            thread,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Stops the flood; an error if the connection failed before (the
    /// router closed it, say).
    pub fn stop(self) -> std::io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("flooder thread panicked")))
    }
}
