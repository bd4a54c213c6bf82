//! Headless Chromium (Debian's `chromium`) driven through the DevTools protocol, for the tests of
//! pages a person uses: open a page, run JavaScript in it, wait for a condition, type as a
//! keyboard (or a USB scanner) does. Every wait has a bound; the browser and its profile are
//! removed when the page is dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

/// How long one DevTools answer may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// One browser showing one page.
pub struct Page {
    child: Child,
    profile: std::path::PathBuf,
    socket: WebSocket<TcpStream>,
    next_id: u64,
}

impl Drop for Page {
    /// Closes the browser (killed after 5 s), then removes its profile: a killed browser's
    /// helper processes may still write into it for a moment, so the removal is tried again.
    fn drop(&mut self) {
        self.next_id += 1;
        let close = json!({ "id": self.next_id, "method": "Browser.close" });
        let _ = self.socket.send(Message::text(close.to_string()));
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for _ in 0..20 {
            if std::fs::remove_dir_all(&self.profile).is_ok() || !self.profile.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Page {
    /// Starts Chromium on `url` and connects to the page's DevTools socket.
    pub fn open(url: &str) -> Page {
        let profile = std::env::temp_dir().join(format!(
            "sscard-page-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let mut child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                // Timers of a page in the background are not slowed: the countdown is real time.
                "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium (Debian package chromium; scripts/browser-stack.sh)");
        let stderr = child.stderr.take().expect("chromium's stderr");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("DevTools listening on ws://").nth(1) {
                    let _ = tx.send(rest.split('/').next().unwrap_or("").to_owned());
                }
            }
        });
        let devtools = match rx.recv_timeout(ANSWER_TIMEOUT) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not say where DevTools listens within 30 s");
            }
        };
        let mut page = None;
        let started = Instant::now();
        while page.is_none() && started.elapsed() < ANSWER_TIMEOUT {
            let targets: Value = ureq::get(&format!("http://{devtools}/json/list"))
                .timeout(Duration::from_secs(5))
                .call()
                .ok()
                .and_then(|r| r.into_json().ok())
                .unwrap_or(Value::Null);
            page = targets.as_array().and_then(|targets| {
                targets
                    .iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
            });
            if page.is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let page = page.expect("chromium opened a page within 30 s");
        let address = page
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .expect("a ws:// address")
            .parse()
            .expect("a socket address");
        let stream = TcpStream::connect_timeout(&address, Duration::from_secs(10))
            .expect("the page's DevTools socket");
        stream.set_read_timeout(Some(ANSWER_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(ANSWER_TIMEOUT)).unwrap();
        let (socket, _) = tungstenite::client(page.as_str(), stream).expect("a WebSocket");
        let mut page = Page {
            child,
            profile,
            socket,
            next_id: 0,
        };
        page.wait_for(
            "the page to load",
            &format!(
                "location.href.startsWith({}) && document.readyState === 'complete'",
                json!(url)
            ),
            ANSWER_TIMEOUT,
        );
        page
    }

    /// Sends one DevTools command and returns its result.
    pub fn command(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(request.to_string()))
            .expect("the DevTools socket takes a command");
        let started = Instant::now();
        loop {
            assert!(
                started.elapsed() < ANSWER_TIMEOUT,
                "no answer to {method} within 30 s"
            );
            let message = self.socket.read().expect("an answer from DevTools");
            if let Message::Text(text) = message {
                let answer: Value = serde_json::from_str(text.as_str()).expect("JSON");
                if answer["id"] == id {
                    assert!(answer.get("error").is_none(), "{method}: {answer}");
                    return answer["result"].clone();
                }
            }
        }
    }

    /// The value of a JavaScript expression in the page (a promise is awaited).
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.command(
            "Runtime.evaluate",
            json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Polls `expression` every 50 ms until it is truthy, and returns its value; fails the test
    /// after `timeout`, naming `what` was awaited and what the page showed.
    pub fn wait_for(&mut self, what: &str, expression: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let value = self.eval(&format!(
                "(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
            ));
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            if started.elapsed() > timeout {
                let body = self.eval("document.body ? document.body.innerText : ''");
                panic!("waited {timeout:?} for {what}; the page shows: {body}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The text of the element with `id` (its textContent), "" when there is none.
    pub fn text(&mut self, id: &str) -> String {
        self.eval(&format!(
            "(document.getElementById({}) || {{}}).textContent || ''",
            json!(id)
        ))
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Types `text` into the input with `id` as a keyboard would (after clearing it).
    pub fn type_into(&mut self, id: &str, text: &str) {
        self.eval(&format!(
            "(() => {{ const e = document.getElementById({}); e.value = ''; e.focus(); return true; }})()",
            json!(id)
        ));
        self.command("Input.insertText", json!({ "text": text }));
    }

    /// Presses Enter in the focused element: a form's implicit submission, as a USB scanner ends
    /// a code.
    pub fn press_enter(&mut self) {
        for kind in ["keyDown", "keyUp"] {
            self.command(
                "Input.dispatchKeyEvent",
                json!({ "type": kind, "key": "Enter", "code": "Enter",
                        "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13, "text": "\r" }),
            );
        }
    }

    /// Loads `url` in this page and waits for it.
    pub fn navigate(&mut self, url: &str) {
        self.command("Page.navigate", json!({ "url": url }));
        self.wait_for(
            "the page to load",
            &format!(
                "location.href.startsWith({}) && document.readyState === 'complete'",
                json!(url)
            ),
            ANSWER_TIMEOUT,
        );
    }
}
