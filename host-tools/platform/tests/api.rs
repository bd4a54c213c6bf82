//! The API's edges: every bad request is a 4xx with a reason and changes nothing; the OpenAPI
//! description lists exactly the routes served.

mod common;

use common::*;
use sscard_platform::api::{MAX_BODY_BYTES, OPENAPI_JSON, ROUTES};
use sscard_platform::auth::Role;

/// (status, error code, reason) of a raw request.
fn raw(
    h: &Harness,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> (u16, String, String) {
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(20))
        .build();
    let mut request = agent.request(method, &format!("{}{path}", h.base));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let result = match body {
        Some(body) => request
            .set("Content-Type", "application/json")
            .send_bytes(body),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (
        status,
        json["error"].as_str().unwrap_or("").to_owned(),
        json["reason"].as_str().unwrap_or(&text).to_owned(),
    )
}

on_both_backends!(bad_requests_get_a_4xx_with_a_reason_and_change_nothing);

fn bad_requests_get_a_4xx_with_a_reason_and_change_nothing(db: Db) {
    let h = Harness::new(db);
    h.register(&[card(1)]);
    let outlet = h.terminal("outlet-1", Role::Outlet);
    let before = h.counts();
    let activation = "/api/v1/cards/T00000001/activation";
    let good = br#"{"date":"20240315","outlet":"B","terminal":"T"}"#;
    let forged = format!("sscp_{}", "0".repeat(64));
    let huge = vec![b' '; MAX_BODY_BYTES + 10];
    // (what, path, credential, body, status, error code)
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a [u8]>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "no credential",
            activation,
            None,
            Some(good),
            401,
            "credential-missing",
        ),
        (
            "forged credential",
            activation,
            Some(&forged),
            Some(good),
            401,
            "credential-invalid",
        ),
        (
            "malformed JSON",
            activation,
            Some(&outlet),
            Some(b"{\"date\":"),
            400,
            "malformed-json",
        ),
        (
            "wrong fields",
            activation,
            Some(&outlet),
            Some(br#"{"date":1}"#),
            422,
            "malformed-json",
        ),
        (
            "bad date",
            activation,
            Some(&outlet),
            Some(br#"{"date":"2024-03-15","outlet":"B","terminal":"T"}"#),
            422,
            "invalid-request",
        ),
        (
            "oversized body",
            activation,
            Some(&outlet),
            Some(&huge),
            413,
            "body-too-large",
        ),
        (
            "unknown card",
            "/api/v1/cards/T99999999/activation",
            Some(&outlet),
            Some(good),
            404,
            "unknown-card",
        ),
        (
            "bad card number",
            "/api/v1/cards/T%27%3B--/activation",
            Some(&outlet),
            Some(good),
            422,
            "invalid-request",
        ),
        (
            "role",
            "/api/v1/cards/T00000001/cancellation",
            Some(&outlet),
            Some(br#"{"reason":"x"}"#),
            403,
            "role-not-allowed",
        ),
        (
            "bad query",
            "/api/v1/blacklist?since=abc",
            Some(&outlet),
            None,
            400,
            "invalid-query",
        ),
        (
            "no such endpoint",
            "/api/v1/nothing",
            Some(&outlet),
            None,
            404,
            "no-such-endpoint",
        ),
    ];
    for (what, path, token, body, status, code) in cases {
        let method = if body.is_some() { "POST" } else { "GET" };
        let (got, got_code, reason) = raw(&h, method, path, token, body);
        assert_eq!((got, got_code.as_str()), (status, code), "{what}: {reason}");
        assert!(!reason.is_empty(), "{what}: no reason");
        assert_eq!(h.counts(), before, "{what} changed something");
    }
    // The good request goes through afterwards.
    let (status, _, reason) = raw(&h, "POST", activation, Some(&outlet), Some(good));
    assert_eq!(status, 200, "{reason}");
}

#[test]
fn the_openapi_description_lists_exactly_the_routes() {
    let spec: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    let mut described = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            described.push((method.clone(), path.clone()));
        }
    }
    let mut served: Vec<(String, String)> = ROUTES
        .iter()
        .chain(sscard_platform::ecard::api::ROUTES)
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    described.sort();
    served.sort();
    assert_eq!(described, served);
    // Every schema reference resolves.
    let text = OPENAPI_JSON;
    for reference in text.split("\"#/components/").skip(1) {
        let name = reference.split('"').next().unwrap();
        let mut node = &spec["components"];
        for part in name.split('/') {
            node = &node[part];
        }
        assert!(!node.is_null(), "dangling reference {name}");
    }
}

#[test]
fn the_service_serves_its_description_and_the_admin_page() {
    let h = Harness::new(Db::Sqlite);
    let (status, _, text) = raw(&h, "GET", "/api/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    assert!(text.contains("\"openapi\""), "{text}");
    let page = ureq::get(&format!("{}/admin", h.base)).call().unwrap();
    assert_eq!(page.content_type(), "text/html");
    assert!(page.into_string().unwrap().contains("Events"));
    let health: serde_json::Value = ureq::get(&format!("{}/api/v1/health", h.base))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(health["schema_version"], 3);
}
