//! Shared by the service tests: serve a router on a fresh loopback port, and a minimal HTTP/1.1
//! client that sends exactly the bytes a test wants (so malformed and oversized requests can be
//! made) and reads one answer.
#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use host_tools::services::listener::{BoundedListener, ConnectionLimits};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const LIMITS: ConnectionLimits = ConnectionLimits {
    max_connections: 16,
    idle: Duration::from_secs(5),
};

/// Serves `router` on 127.0.0.1 at a port of its own, with `limits`.
pub async fn serve_with(router: Router, limits: ConnectionLimits) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let _ = axum::serve(BoundedListener::new(listener, limits), router).await;
    });
    addr
}

pub async fn serve(router: Router) -> SocketAddr {
    serve_with(router, LIMITS).await
}

/// An answer: status, headers (lower-case names), body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The error kind of a refusal (`{"error": {"kind": ...}}`).
    pub fn kind(&self) -> String {
        self.json()["error"]["kind"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

/// Sends `raw` and reads the answer: to its Content-Length, else to the end of the connection
/// (requests say `Connection: close`).
pub async fn exchange(addr: SocketAddr, raw: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer (413) and close before all of a large body is sent.
    let _ = stream.write_all(raw).await;
    let mut bytes = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            }
            if let Some(head) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                let length = String::from_utf8_lossy(&bytes[..head])
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok());
                if length.is_some_and(|n| bytes.len() >= head + 4 + n) {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the answer comes within 10 s");
    parse(&bytes)
}

fn parse(bytes: &[u8]) -> Answer {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = bytes[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&bytes[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&bytes[end + 2..end + 2 + size]);
        bytes = &bytes[end + 2 + size + 2..];
    }
    out
}

/// A POST with a JSON body (or any body) and optional extra header lines.
pub fn post(path: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        raw.push_str(h);
        raw.push_str("\r\n");
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    raw
}

pub fn get(path: &str, headers: &[&str]) -> Vec<u8> {
    let mut raw = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    for h in headers {
        raw.push_str(h);
        raw.push_str("\r\n");
    }
    raw.push_str("\r\n");
    raw.into_bytes()
}

/// A card image of the sample holder (national `version`, TEST keys, or `keys`), and the
/// terminal's PSAM image, in a scratch directory; driver configurations naming them.
pub struct Images {
    pub dir: host_tools::testdir::TestDir,
    pub card: std::path::PathBuf,
    pub psam: std::path::PathBuf,
}

pub fn test_keys() -> file_structures::personalise::IssuerKeys {
    file_structures::personalise::IssuerKeys::test_keys().expect("the test keys load")
}

impl Images {
    pub fn new(label: &str, version: &str) -> Self {
        Images::with_keys(label, version, &test_keys())
    }

    /// A card personalised with `keys` (another issuer's: a card the HSM's keys did not make).
    pub fn with_keys(
        label: &str,
        version: &str,
        keys: &file_structures::personalise::IssuerKeys,
    ) -> Self {
        use host_tools::transport::sim::SimTransport;
        let dir = host_tools::testdir::TestDir::new(label);
        let card = dir.path().join("card.card");
        let psam = dir.path().join("psam.card");
        let layout = file_structures::layout::national(version).expect("the national layout");
        let storage = host_tools::transport::simcard::personalised_card(
            &layout,
            &host_tools::transport::simcard::sample_holder(),
            keys,
        )
        .expect("the sample card personalises")
        .0;
        SimTransport::create_image(&card, &storage).expect("the card image is saved");
        let psam_layout = file_structures::layout::national("3.0").expect("the national layout");
        let psam_storage = host_tools::jobs::activation::psam::psam_image(
            &psam_layout,
            &test_keys(),
            &[0x11, 0x01, 0x00],
        )
        .expect("the PSAM image is made");
        SimTransport::create_image(&psam, &psam_storage).expect("the PSAM image is saved");
        Images { dir, card, psam }
    }

    /// A driver configuration's text: this card (or `card` instead), the PSAM when `with_psam`.
    pub fn config_text(&self, card: Option<&std::path::Path>, with_psam: bool) -> String {
        let card = card.unwrap_or(&self.card);
        let mut text = format!("[card]\nimage = {:?}\n", card.display().to_string());
        if with_psam {
            text.push_str(&format!(
                "[psam]\nimage = {:?}\n",
                self.psam.display().to_string()
            ));
        }
        text.push_str("[terminal]\ndevice_number = \"COUNTER-1\"\n[pin]\nsource = \"script:\"\n");
        text
    }

    pub fn config(&self, with_psam: bool) -> host_tools::interface::Config {
        self.config_with_pins(with_psam, "")
    }

    /// As [`Images::config`], the scripted PIN pad entering `pins` (comma-separated) in turn.
    pub fn config_with_pins(&self, with_psam: bool, pins: &str) -> host_tools::interface::Config {
        let text = self.config_text(None, with_psam).replace(
            "source = \"script:\"",
            &format!("source = \"script:{pins}\""),
        );
        host_tools::interface::Config::parse(&self.dir.path().join("SSCardDriver.toml"), &text)
            .expect("the configuration parses")
    }

    /// Writes a configuration file and returns its path.
    pub fn config_file(&self, name: &str, text: &str) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("the configuration is written");
        path
    }
}

/// An `sscard ... serve` process started on port 0; killed when dropped.
pub struct Served {
    child: std::process::Child,
    pub addr: SocketAddr,
}

impl Served {
    /// Starts `sscard args...` and reads the address from its first line (within 20 s).
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Served {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut command = Command::new(env!("CARGO_BIN_EXE_sscard"));
        command
            .args(args)
            .env_remove("SSCARD_HSM_TOKEN")
            .env_remove("SSCARD_DRIVER_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("sscard starts");
        let stdout = child.stdout.take().expect("its stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok());
        match addr {
            Some(addr) => Served { child, addr },
            None => {
                let _ = child.kill();
                let output = child.wait_with_output().expect("its output");
                panic!(
                    "sscard {args:?} did not say where it listens: {line:?} {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `sscard args...` to its end (within 20 s): exit code, stdout, stderr.
pub fn run_sscard(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sscard"));
    command
        .args(args)
        .env_remove("SSCARD_HSM_TOKEN")
        .env_remove("SSCARD_DRIVER_CONFIG")
        .stdin(std::process::Stdio::null());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sscard runs");
    let started = std::time::Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("sscard's output");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
