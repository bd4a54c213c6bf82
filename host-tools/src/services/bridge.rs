//! The web bridge: a WebSocket on loopback through which a browser page (a hospital's HIS) calls
//! the national interface's functions, in either of the two shapes the field's pages send:
//!
//! ```text
//! {"function": "iReadCardBas", "iType": 3, "pCardInfo": ..., "pFileAddr": ..., "pKey": ...}
//!     -> {"functionName": "iReadCardBas", "success": <return code: 0 or negative>, "pOutInfo": "..."}
//! {"func": "iReadCardBas", "in": ["3"]}
//!     -> {"result": "<return code>", "out": ["<pOutInfo>"]}
//! ```
//!
//! The socket and the counter page share the path `/` (pages connect to `ws://127.0.0.1:12342`).
//! Who may connect ([`OriginPolicy`]): a request must name a loopback host (no DNS rebinding); a
//! browser's `Origin` must be the bridge's own page or one the operator allowed; programs that
//! send no `Origin` are local processes and allowed. Messages are at most [`MESSAGE_MAX`] bytes;
//! a call is answered within the bound it was given ([`BridgeState::call_timeout`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use super::Refusal;
use crate::interface::api::{self, Driver};

/// The default address of `sscard bridge serve` (the port the field's pages use).
pub const BRIDGE_DEFAULT_LISTEN: &str = "127.0.0.1:12342";
/// The largest message a page may send (a pWriteData of a whole file fits with room).
pub const MESSAGE_MAX: usize = 64 * 1024;
/// The longest function name.
const NAME_MAX: usize = 64;
/// The return code for a request the bridge cannot pass on (the interface's "bad parameter").
pub const BAD_PARAMETER: i64 = -14;
/// The return code when a call did not finish within its bound (the interface's "no connection").
pub const CALL_TIMED_OUT: i64 = -12;

/// The counter page, served at `/`.
pub const COUNTER_PAGE: &str = include_str!("counter.html");

/// The functions behind the bridge (the national interface's Rust API). Calls block (a card, a
/// PIN pad): the bridge runs them on a blocking thread.
pub trait NationalInterface: Send + Sync + 'static {
    /// The function's parameter names in C order, pOutInfo excluded (`["iType", "pCardInfo"]`);
    /// None for a name the interface does not have.
    fn parameters(&self, function: &str) -> Option<Vec<&'static str>>;
    /// Calls the function with its parameters as text (ints in decimal; None: a null pointer):
    /// the return code and pOutInfo.
    fn call(&self, function: &str, args: &[Option<&str>]) -> (i64, String);
}

/// Which browser pages may use the bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    /// Origins allowed besides the bridge's own page, exactly as browsers send them
    /// (`http://his.example:8080`; `null` for pages opened from files).
    pub allowed: Vec<String>,
}

impl OriginPolicy {
    /// Whether a request whose Host and Origin are these may use the bridge on `port`.
    pub fn admits(
        &self,
        host: Option<&str>,
        origin: Option<&str>,
        port: u16,
    ) -> Result<(), String> {
        let host = host.ok_or("the request names no Host")?;
        if !is_loopback_authority(host) {
            return Err(format!(
                "the bridge answers requests for 127.0.0.1, localhost or [::1] only, not {host:?}"
            ));
        }
        let Some(origin) = origin else {
            // Browsers always send Origin on a WebSocket; a program that does not is local.
            return Ok(());
        };
        if self.allowed.iter().any(|a| a == origin) {
            return Ok(());
        }
        let own = ["http://", "https://"].iter().any(|scheme| {
            origin.strip_prefix(scheme).is_some_and(|authority| {
                is_loopback_authority(authority)
                    && authority.rsplit_once(':').map(|(_, p)| p) == Some(&*port.to_string())
            })
        });
        if own {
            Ok(())
        } else {
            Err(format!(
                "pages from {origin:?} may not use the card reader (sscard bridge serve --allow-origin)"
            ))
        }
    }
}

/// `127.0.0.1[:port]`, `localhost[:port]`, `[::1][:port]`.
fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split_once(']').map(|(h, _)| h).unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

/// The bridge's state.
#[derive(Clone)]
pub struct BridgeState {
    interface: Arc<dyn NationalInterface>,
    policy: Arc<OriginPolicy>,
    port: u16,
    call_timeout: Duration,
}

impl BridgeState {
    /// A bridge listening on `port` (its own page's origin) calling `interface`, each call bounded
    /// by `call_timeout`.
    pub fn new(
        interface: Arc<dyn NationalInterface>,
        policy: OriginPolicy,
        port: u16,
        call_timeout: Duration,
    ) -> Self {
        BridgeState {
            interface,
            policy: Arc::new(policy),
            port,
            call_timeout,
        }
    }

    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }
}

/// The bridge: the counter page and the WebSocket, both at `/`.
pub fn bridge_router(state: BridgeState) -> Router {
    Router::new().route("/", get(root)).with_state(state)
}

async fn root(
    State(state): State<BridgeState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Err(reason) = state
        .policy
        .admits(text(header::HOST), text(header::ORIGIN), state.port)
    {
        return Refusal::new(StatusCode::FORBIDDEN, "origin", reason).into_response();
    }
    match upgrade {
        Ok(upgrade) => upgrade
            .max_message_size(MESSAGE_MAX)
            .max_frame_size(MESSAGE_MAX)
            .on_upgrade(move |socket| converse(socket, state)),
        Err(_) => page(),
    }
}

fn page() -> Response {
    let mut response = Html(COUNTER_PAGE).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// One page's conversation: each message is a call, answered in order.
async fn converse(mut socket: WebSocket, state: BridgeState) {
    while let Some(Ok(message)) = socket.recv().await {
        let text = match message {
            Message::Text(text) => text.as_str().to_owned(),
            Message::Binary(bytes) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) => text,
                Err(_) => {
                    let reply = unreadable("a message is JSON text in UTF-8");
                    if socket.send(Message::text(reply.to_string())).await.is_err() {
                        return;
                    }
                    continue;
                }
            },
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let reply = answer(&state, &text).await;
        if socket.send(Message::text(reply.to_string())).await.is_err() {
            return;
        }
    }
}

/// A request the bridge understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub shape: Shape,
    pub function: String,
    pub args: Vec<Option<String>>,
}

/// Which of the field's request shapes a request used (the reply uses the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"function": ..., "iType": ..., ...}` → `{"functionName", "success", "pOutInfo"}`.
    Named,
    /// `{"func": ..., "in": [...]}` → `{"result", "out"}`.
    Positional,
}

/// The national interface of this library ([`crate::interface`]): one [`Driver`] for the bridge,
/// calls serialised (a call that panicked leaves it usable, its open HSM exchange dropped).
pub struct DriverInterface {
    driver: Mutex<Driver>,
}

impl DriverInterface {
    pub fn new(driver: Driver) -> Self {
        DriverInterface {
            driver: Mutex::new(driver),
        }
    }
}

impl NationalInterface for DriverInterface {
    fn parameters(&self, function: &str) -> Option<Vec<&'static str>> {
        api::signature(function).map(|s| s.params.iter().map(|p| p.name()).collect())
    }

    fn call(&self, function: &str, args: &[Option<&str>]) -> (i64, String) {
        let mut driver = self.driver.lock().unwrap_or_else(|poisoned| {
            self.driver.clear_poison();
            poisoned.into_inner()
        });
        let reply = driver.call_text(function, args);
        (reply.code, reply.out)
    }
}

/// The reply to a request that is not JSON or neither shape.
fn unreadable(reason: &str) -> Value {
    json!({ "functionName": Value::Null, "success": BAD_PARAMETER, "pOutInfo": reason })
}

/// The reply in a request's shape.
pub fn reply(shape: Shape, function: &str, code: i64, out: &str) -> Value {
    match shape {
        Shape::Named => json!({ "functionName": function, "success": code, "pOutInfo": out }),
        Shape::Positional => json!({ "result": code.to_string(), "out": [out] }),
    }
}

/// A JSON value as the text of an argument: strings as they are, numbers in decimal, null as a
/// null pointer; anything else is not an argument.
fn arg_text(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(format!("an argument is a string or a number, not {other}")),
    }
}

/// Reads a request in either shape; `Err` carries the shape (if known), the function name and
/// the reason.
pub fn parse(
    interface: &dyn NationalInterface,
    text: &str,
) -> Result<Call, (Shape, String, String)> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        (
            Shape::Named,
            String::new(),
            format!("the message is not JSON: {e}"),
        )
    })?;
    let Some(object) = value.as_object() else {
        return Err((
            Shape::Named,
            String::new(),
            "the message is a JSON object".into(),
        ));
    };
    if let Some(function) = object.get("function") {
        let function = name(function).map_err(|r| (Shape::Named, String::new(), r))?;
        let args = named_args(interface, &function, object)
            .map_err(|r| (Shape::Named, function.clone(), r))?;
        return Ok(Call {
            shape: Shape::Named,
            function,
            args,
        });
    }
    if let Some(function) = object.get("func") {
        let function = name(function).map_err(|r| (Shape::Positional, String::new(), r))?;
        let args = match object.get("in") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(arg_text)
                .collect::<Result<_, _>>()
                .map_err(|r| (Shape::Positional, function.clone(), r))?,
            Some(_) => {
                return Err((
                    Shape::Positional,
                    function,
                    "\"in\" is an array of the arguments".into(),
                ))
            }
        };
        return Ok(Call {
            shape: Shape::Positional,
            function,
            args,
        });
    }
    Err((
        Shape::Named,
        String::new(),
        "the message names no function (\"function\" or \"func\")".into(),
    ))
}

fn name(value: &Value) -> Result<String, String> {
    match value.as_str() {
        Some(n)
            if !n.is_empty()
                && n.len() <= NAME_MAX
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Ok(n.to_owned())
        }
        _ => Err("the function is named by its C name (iReadCardBas)".into()),
    }
}

/// The arguments of a named request in C order, from the fields named like the C parameters.
fn named_args(
    interface: &dyn NationalInterface,
    function: &str,
    object: &Map<String, Value>,
) -> Result<Vec<Option<String>>, String> {
    let Some(parameters) = interface.parameters(function) else {
        // The interface answers an unknown name itself (−13).
        return Ok(Vec::new());
    };
    parameters
        .iter()
        .map(|p| object.get(*p).map_or(Ok(None), arg_text))
        .collect()
}

/// Answers one message.
pub async fn answer(state: &BridgeState, text: &str) -> Value {
    let call = match parse(state.interface.as_ref(), text) {
        Ok(call) => call,
        Err((shape, function, reason)) => return reply(shape, &function, BAD_PARAMETER, &reason),
    };
    let interface = Arc::clone(&state.interface);
    let Call {
        shape,
        function,
        args,
    } = call;
    let name = function.clone();
    let work = tokio::task::spawn_blocking(move || {
        let args: Vec<Option<&str>> = args.iter().map(Option::as_deref).collect();
        interface.call(&name, &args)
    });
    let (code, out) = match tokio::time::timeout(state.call_timeout, work).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => (
            CALL_TIMED_OUT,
            "the call failed inside the bridge; the card was left as it was".to_owned(),
        ),
        Err(_) => (
            CALL_TIMED_OUT,
            format!(
                "the call did not finish within {} s",
                state.call_timeout.as_secs()
            ),
        ),
    };
    reply(shape, &function, code, &out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Table;

    impl NationalInterface for Table {
        fn parameters(&self, function: &str) -> Option<Vec<&'static str>> {
            (function == "iReadCard").then(|| vec!["iType", "iAuthType", "pCardInfo", "pFileAddr"])
        }

        fn call(&self, _: &str, _: &[Option<&str>]) -> (i64, String) {
            (0, String::new())
        }
    }

    #[test]
    fn origins_and_hosts() {
        let policy = OriginPolicy {
            allowed: vec!["http://his.example".into()],
        };
        let ok = |host, origin| policy.admits(Some(host), origin, 12342).is_ok();
        assert!(ok("127.0.0.1:12342", None));
        assert!(ok("localhost:12342", Some("http://localhost:12342")));
        assert!(ok("[::1]:12342", Some("http://[::1]:12342")));
        assert!(ok("127.0.0.1:12342", Some("http://his.example")));
        assert!(!ok("127.0.0.1:12342", Some("http://his.example:80")));
        assert!(!ok("127.0.0.1:12342", Some("http://127.0.0.1:12343")));
        assert!(!ok("127.0.0.1:12342", Some("http://127.0.0.1")));
        assert!(!ok("127.0.0.1:12342", Some("file://")));
        assert!(!ok("localhost.evil.example:12342", None));
        assert!(!ok("[::1.evil]:12342", None));
        assert!(policy.admits(None, None, 12342).is_err());
    }

    proptest! {
        /// Whatever a page sends, the reader answers or refuses; a call names a function by a C
        /// identifier and has at most as many arguments as were sent (or the named parameters).
        #[test]
        fn parse_never_panics(text in ".{0,200}", function in "[A-Za-z_ ]{0,12}", n in 0i64..10) {
            for message in [
                text.clone(),
                format!(r#"{{"function": {function:?}, "iType": {n}, "pCardInfo": {text:?}}}"#),
                format!(r#"{{"func": {function:?}, "in": [{n}, {text:?}, null]}}"#),
            ] {
                if let Ok(call) = parse(&Table, &message) {
                    prop_assert!(call.function.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
                    prop_assert!(call.args.len() <= 4);
                }
            }
        }
    }
}
