//! The HSM service (`sscard hsm serve`'s router, the TEST keys, no token) on a loopback port of
//! its own, served by a thread of this test process, and a minimal HTTP client for its debit
//! group: the terminal programs' HSM debit goes through HTTP as a real counter's would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use host_tools::services::hsm::{hsm_router, HsmState};
use SSCardDriver::hsm::Hsm;

use super::keys;

pub struct HsmService {
    addr: SocketAddr,
}

impl HsmService {
    pub fn start() -> HsmService {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("its address");
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let backend = Arc::new(Hsm::new(keys()));
                let router = hsm_router(HsmState::insecure_without_token(backend));
                let _ = axum::serve(listener, router).await;
            });
        });
        HsmService { addr }
    }

    /// POST /api/v1/hsm/debit with Step1 and the caller's pCardInfo: the pKey for Step2.
    pub fn debit(&self, step1: &str, card_info: &str) -> String {
        let body = serde_json::json!({ "step1": step1, "cardInfo": card_info }).to_string();
        let request = format!(
            "POST /api/v1/hsm/debit HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let mut stream = TcpStream::connect(self.addr).expect("the HSM service answers");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
        let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        json["pKey"].as_str().expect("a pKey").to_owned()
    }
}
