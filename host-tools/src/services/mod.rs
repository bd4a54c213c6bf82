//! The local network services of a terminal and of the back office, over HTTP/1 on loopback:
//!
//! - [`hsm`]: the HSM service (持卡库 / encryption machine) answering the national interface's
//!   Step1 strings with the Step2 `pKey` (`sscard hsm serve`), a router the back office can mount;
//! - [`bridge`]: the web bridge, a WebSocket that lets a browser page call the national
//!   interface's functions (`sscard bridge serve`), and the counter page it serves;
//! - [`auth`]: the HSM's bearer token;
//! - [`listener`]: bounds on connections (how many, how long idle) that every service uses.
//!
//! Both services are written against small traits ([`hsm::HsmBackend`],
//! [`bridge::NationalInterface`]) so the transport of a request is tested apart from the card
//! work behind it. See docs/reader-interface.md ("The HSM service", "The web bridge").

pub mod auth;
pub mod bridge;
pub mod hsm;
pub mod listener;

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A service refuses to listen beyond this machine unless told so: both answer for secrets and
/// for the card in the reader.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// A refused request: its status, a short machine-readable kind, a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub kind: &'static str,
    pub reason: String,
}

impl Refusal {
    pub fn new(status: StatusCode, kind: &'static str, reason: impl Into<String>) -> Self {
        Refusal {
            status,
            kind,
            reason: reason.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": { "kind": self.kind, "reason": self.reason } }));
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
