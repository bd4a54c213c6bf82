//! The e-card's HTTP API end to end: apply, log in, fetch a code, a pharmacy verifies it
//! online; every credential path refused without the right one — on both backends.

mod common;

use common::*;
use serde_json::json;
use sscard_platform::auth::Role;
use sscard_platform::registry::{Action, Actor};

on_both_backends!(holder_and_pharmacy_through_http);

/// The service with the e-card routes on a port of its own; its base URL.
fn serve(h: &Harness) -> String {
    h.serve_ecard(sscard_ecard::DEFAULT_VALIDITY_SECS).0
}

fn holder_and_pharmacy_through_http(db: Db) {
    let h = Harness::new(db);
    let base = serve(&h);
    let c = card(1);
    h.register(std::slice::from_ref(&c));
    let application = json!({"ssn": c.ssn, "name": c.name, "consent_privacy_terms": true,
        "channel": "city-app", "password": "112233"});
    // Not activated: refused with the reason.
    let (status, body) = call(
        "POST",
        &format!("{base}/api/v1/ecard/applications"),
        None,
        Some(application.clone()),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("card-not-activated"))
    );
    h.rt.block_on(h.store.record_activation(
        &c.card_number,
        &activation("20240315"),
        &Actor::new("t"),
        None,
    ))
    .unwrap();
    let (status, ecard) = call(
        "POST",
        &format!("{base}/api/v1/ecard/applications"),
        None,
        Some(application),
    );
    assert_eq!(status, 200, "{ecard}");
    let id = ecard["id"].as_str().unwrap().to_owned();
    h.rt.block_on(h.store.set_settlement_link(&id, true, &Actor::new("t")))
        .unwrap();

    // Log in; a wrong password and a malformed one are refused.
    let login = |p: &str| {
        call(
            "POST",
            &format!("{base}/api/v1/ecard/login"),
            None,
            Some(json!({"ssn": c.ssn, "name": c.name, "password": p})),
        )
    };
    assert_eq!(login("000000").1["error"], "wrong-credentials");
    assert_eq!(login("12").1["error"], "invalid-request");
    let (status, session) = login("112233");
    assert_eq!(status, 200, "{session}");
    let token = session["token"].as_str().unwrap().to_owned();

    // The code needs the holder's own session.
    let qr_url = format!("{base}/api/v1/ecard/{id}/qr?purpose=payment");
    assert_eq!(call("GET", &qr_url, None, None).0, 401);
    assert_eq!(call("GET", &qr_url, Some("ssce_forged"), None).0, 401);
    let (status, code) = call("GET", &qr_url, Some(&token), None);
    assert_eq!(status, 200, "{code}");
    assert_eq!(code["validity_secs"], 60);
    let code = code["code"].as_str().unwrap().to_owned();
    let other = format!("{base}/api/v1/ecard/{}/qr", "0".repeat(32));
    assert_eq!(
        call("GET", &other, Some(&token), None).1["error"],
        "not-your-ecard"
    );

    // The pharmacy verifies: only a hospital (or admin) credential.
    let pharmacy = h.terminal("pharmacy-1", Role::Hospital);
    let outlet = h.terminal("outlet-1", Role::Outlet);
    let verify_url = format!("{base}/api/v1/ecard/verify");
    assert_eq!(
        call("POST", &verify_url, None, Some(json!({"code": code}))).0,
        401
    );
    assert_eq!(
        call(
            "POST",
            &verify_url,
            Some(&outlet),
            Some(json!({"code": code}))
        )
        .0,
        403
    );
    assert_eq!(
        call(
            "POST",
            &verify_url,
            Some(&token),
            Some(json!({"code": code}))
        )
        .0,
        401
    );
    let (status, answer) = call(
        "POST",
        &verify_url,
        Some(&pharmacy),
        Some(json!({"code": code})),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["name"], c.name.as_str());
    assert_eq!(answer["ssn"], c.ssn.as_str());
    assert!(answer["settlement_token"]
        .as_str()
        .unwrap()
        .starts_with("sspay_"));
    let (status, again) = call(
        "POST",
        &verify_url,
        Some(&pharmacy),
        Some(json!({"code": code})),
    );
    assert_eq!((status, again["error"].as_str()), (409, Some("replayed")));

    // The card reported lost: a fresh code is refused online at once, and the blacklist the
    // terminals cache lists the e-card.
    let (_, fresh) = call("GET", &qr_url, Some(&token), None);
    let fresh = fresh["code"].as_str().unwrap().to_owned();
    h.rt.block_on(h.store.change_state(
        &c.card_number,
        Action::LossFormal,
        None,
        &Actor::new("t"),
        None,
    ))
    .unwrap();
    let (_, lost) = call(
        "POST",
        &verify_url,
        Some(&pharmacy),
        Some(json!({"code": fresh})),
    );
    assert_eq!(lost["error"], "card-lost");
    let (status, list) = call(
        "GET",
        &format!("{base}/api/v1/ecard/blacklist"),
        Some(&pharmacy),
        None,
    );
    assert_eq!(status, 200);
    assert!(list.to_string().contains(&id), "{list}");
    let (status, keys) = call("GET", &format!("{base}/api/v1/ecard/keys"), None, None);
    assert_eq!(status, 200);
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
    // The pharmacy's credential revoked: the e-card routes refuse it at once, saying why.
    h.rt.block_on(h.store.revoke_terminal("pharmacy-1", &Actor::new("t")))
        .unwrap();
    let (status, refused) = call(
        "GET",
        &format!("{base}/api/v1/ecard/blacklist"),
        Some(&pharmacy),
        None,
    );
    assert_eq!(
        (status, refused["error"].as_str()),
        (401, Some("credential-revoked"))
    );
}
