//! The web bridge's WebSocket and page, in process, over a recording interface: both request
//! shapes reach the interface with the arguments in C order and come back in their own shape;
//! malformed and oversized messages change nothing; foreign origins and hosts are refused.

mod services_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use host_tools::services::bridge::{
    bridge_router, BridgeState, NationalInterface, OriginPolicy, MESSAGE_MAX,
};
use serde_json::{json, Value};
use services_support::{exchange, get};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Records calls; iReadCardBas answers a holder, "iSlow" takes two seconds, others −13.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(String, Vec<Option<String>>)>>,
}

const BAS: &str = "110100|110105199001010010|T0000001X|110100D156000005544553540000000A|张测试|0081544C308684110154455354|3.00|20240101|20340101|000000000000||";

impl NationalInterface for Recorder {
    fn parameters(&self, function: &str) -> Option<Vec<&'static str>> {
        match function {
            "iReadCardBas" | "iSlow" => Some(vec!["iType"]),
            "iReadCard" => Some(vec!["iType", "iAuthType", "pCardInfo", "pFileAddr"]),
            _ => None,
        }
    }

    fn call(&self, function: &str, args: &[Option<&str>]) -> (i64, String) {
        self.calls.lock().unwrap().push((
            function.to_owned(),
            args.iter().map(|a| a.map(str::to_owned)).collect(),
        ));
        match function {
            "iReadCardBas" => (0, BAS.to_owned()),
            "iSlow" => {
                std::thread::sleep(Duration::from_secs(2));
                (0, String::new())
            }
            "iReadCard" => (-2, "no card in the reader".to_owned()),
            _ => (-13, format!("no function named {function:?}")),
        }
    }
}

struct Bridge {
    addr: SocketAddr,
    recorder: Arc<Recorder>,
}

impl Bridge {
    async fn start(allowed: &[&str]) -> Self {
        let recorder = Arc::new(Recorder::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        // The state needs the port its page is served from: take a port, then serve on it.
        let state = BridgeState::new(
            recorder.clone(),
            OriginPolicy {
                allowed: allowed.iter().map(|s| s.to_string()).collect(),
            },
            addr.port(),
            Duration::from_millis(500),
        );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(
                host_tools::services::listener::BoundedListener::new(
                    listener,
                    services_support::LIMITS,
                ),
                bridge_router(state),
            )
            .await;
        });
        Bridge { addr, recorder }
    }

    fn calls(&self) -> Vec<(String, Vec<Option<String>>)> {
        self.recorder.calls.lock().unwrap().clone()
    }

    async fn connect(
        &self,
        headers: &[(&str, &str)],
    ) -> Result<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        tokio_tungstenite::tungstenite::Error,
    > {
        let mut request = format!("ws://{}/", self.addr)
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            let name =
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .unwrap();
            request.headers_mut().insert(name, value.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request)
            .await
            .map(|(ws, _)| ws)
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ask(ws: &mut Socket, request: &str) -> Value {
    ws.send(Message::text(request)).await.unwrap();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an answer within 5 s")
            .expect("the socket is open")
            .expect("a message");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).expect("the answer is JSON");
        }
    }
}

#[tokio::test]
async fn both_request_shapes_reach_the_interface_and_come_back_in_their_shape() {
    let b = Bridge::start(&[]).await;
    let mut ws = b.connect(&[]).await.expect("a local program connects");
    let a = ask(&mut ws, r#"{"function": "iReadCardBas", "iType": 3}"#).await;
    assert_eq!(
        a,
        json!({ "functionName": "iReadCardBas", "success": 0, "pOutInfo": BAS })
    );
    let a = ask(&mut ws, r#"{"func": "iReadCardBas", "in": ["3"]}"#).await;
    assert_eq!(a, json!({ "result": "0", "out": [BAS] }));
    // Named fields go in C order whatever their order in the message; absent ones are null.
    let a = ask(
        &mut ws,
        r#"{"pFileAddr": "DF01EF05|01|$", "iType": "1", "function": "iReadCard", "pKey": "ignored"}"#,
    )
    .await;
    assert_eq!(
        a,
        json!({ "functionName": "iReadCard", "success": -2, "pOutInfo": "no card in the reader" })
    );
    let a = ask(
        &mut ws,
        r#"{"func": "iReadCard", "in": [1, "2", null, "DF01EF05|01|$"]}"#,
    )
    .await;
    assert_eq!(
        a,
        json!({ "result": "-2", "out": ["no card in the reader"] })
    );
    // An unknown function is the interface's to answer (−13).
    let a = ask(&mut ws, r#"{"function": "iFormatCard", "iType": 3}"#).await;
    assert_eq!(a["success"], -13);
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        b.calls(),
        vec![
            ("iReadCardBas".into(), vec![some("3")]),
            ("iReadCardBas".into(), vec![some("3")]),
            (
                "iReadCard".into(),
                vec![some("1"), None, None, some("DF01EF05|01|$")]
            ),
            (
                "iReadCard".into(),
                vec![some("1"), some("2"), None, some("DF01EF05|01|$")]
            ),
            ("iFormatCard".into(), vec![]),
        ]
    );
}

#[tokio::test]
async fn malformed_messages_get_a_parameter_error_and_call_nothing() {
    let b = Bridge::start(&[]).await;
    let mut ws = b.connect(&[]).await.unwrap();
    for (message, shape_b) in [
        ("not json", false),
        ("[1, 2]", false),
        (r#"{"iType": 3}"#, false),
        (r#"{"function": 7}"#, false),
        (r#"{"function": "i ReadCardBas"}"#, false),
        (r#"{"function": "iReadCardBas", "iType": {"n": 3}}"#, false),
        (r#"{"func": "iReadCardBas", "in": "3"}"#, true),
        (r#"{"func": "iReadCardBas", "in": [[3]]}"#, true),
    ] {
        let a = ask(&mut ws, message).await;
        if shape_b {
            assert_eq!(a["result"], "-14", "{message}: {a}");
            assert!(!a["out"][0].as_str().unwrap().is_empty());
        } else {
            assert_eq!(a["success"], -14, "{message}: {a}");
            assert!(!a["pOutInfo"].as_str().unwrap().is_empty());
        }
    }
    assert!(b.calls().is_empty());
    // The connection is still usable.
    let a = ask(&mut ws, r#"{"function": "iReadCardBas", "iType": 3}"#).await;
    assert_eq!(a["success"], 0);
}

#[tokio::test]
async fn an_oversized_message_closes_the_connection_and_calls_nothing() {
    let b = Bridge::start(&[]).await;
    let mut ws = b.connect(&[]).await.unwrap();
    let big = format!(
        r#"{{"function": "iReadCardBas", "iType": 3, "pWriteData": "{}"}}"#,
        "A".repeat(MESSAGE_MAX)
    );
    let _ = ws.send(Message::text(big)).await;
    let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("the bridge reacts within 5 s");
    assert!(
        !matches!(next, Some(Ok(Message::Text(_)))),
        "an oversized message was answered: {next:?}"
    );
    assert!(b.calls().is_empty());
    let mut again = b.connect(&[]).await.unwrap();
    assert_eq!(
        ask(&mut again, r#"{"func": "iReadCardBas", "in": ["3"]}"#).await["result"],
        "0"
    );
}

#[tokio::test]
async fn a_call_that_takes_too_long_is_answered_at_the_bound() {
    let b = Bridge::start(&[]).await;
    let mut ws = b.connect(&[]).await.unwrap();
    let started = std::time::Instant::now();
    let a = ask(&mut ws, r#"{"function": "iSlow", "iType": 3}"#).await;
    assert_eq!(a["success"], -12, "{a}");
    assert!(a["pOutInfo"].as_str().unwrap().contains("did not finish"));
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn foreign_pages_and_hosts_are_refused_own_and_allowed_origins_admitted() {
    let b = Bridge::start(&["http://his.example:8080"]).await;
    let own = format!("http://127.0.0.1:{}", b.addr.port());
    let own_by_name = format!("http://localhost:{}", b.addr.port());
    for origin in [
        own.as_str(),
        own_by_name.as_str(),
        "http://his.example:8080",
    ] {
        let mut ws = b
            .connect(&[("Origin", origin)])
            .await
            .unwrap_or_else(|e| panic!("{origin} is refused: {e}"));
        assert_eq!(
            ask(&mut ws, r#"{"func": "iReadCardBas", "in": ["3"]}"#).await["result"],
            "0"
        );
    }
    let other_port = format!("http://127.0.0.1:{}", b.addr.port().wrapping_add(1));
    for origin in [
        "http://evil.example",
        "http://his.example:8081",
        "null",
        other_port.as_str(),
        "http://127.0.0.1.evil.example",
    ] {
        match b.connect(&[("Origin", origin)]).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{origin}")
            }
            other => panic!("{origin}: {other:?}"),
        }
    }
    // A name that resolves here but is not loopback by name (DNS rebinding) is refused.
    match b.connect(&[("Host", "attacker.example")]).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(b.calls().len(), 3);
}

#[tokio::test]
async fn the_counter_page_is_served_at_the_root() {
    let b = Bridge::start(&[]).await;
    let host = format!("Host: 127.0.0.1:{}", b.addr.port());
    let a = exchange(b.addr, &get("/", &[&host])).await;
    assert_eq!(a.status, 200);
    assert!(a.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(a.header("x-frame-options"), Some("DENY"));
    let page = String::from_utf8(a.body).unwrap();
    assert!(page.contains("iReadCardBas") && page.contains("textContent"));
    assert!(!page.contains("innerHTML"), "card data is never HTML");
    let a = exchange(b.addr, &get("/", &["Host: attacker.example"])).await;
    assert_eq!(a.status, 403);
}
