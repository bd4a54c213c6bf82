//! The holder's page and the pharmacy's scanner page in headless Chromium: logging in, the card
//! face, a QR code that is fetched again when it expires, a wrong password; a scanned code
//! verified with the holder's identity, and tampered, replayed, expired and lost-card codes each
//! refused in their own words.

mod browser;
mod common;

use std::time::Duration;

use browser::Page;
use common::*;
use serde_json::{json, Value};
use sscard_ecard::{Purpose, UnixTime};
use sscard_platform::auth::Role;
use sscard_platform::ecard::family::{Consent, FamilyAddition, MemberRef, Relationship};
use sscard_platform::ecard::{EcardPassword, EcardView};
use sscard_platform::model::{CardRegistration, LossKind, LossRequest};
use sscard_platform::registry::Actor;

const WAIT: Duration = Duration::from_secs(20);

/// Card `i` registered and activated, with an e-card; `name` replaces the test name.
fn holder(h: &Harness, i: u32, name: Option<&str>) -> (CardRegistration, EcardView) {
    holder_born(h, i, name, None)
}

/// As [`holder`], born on 1 January `age` years ago when `age` is given.
fn holder_born(
    h: &Harness,
    i: u32,
    name: Option<&str>,
    age: Option<i32>,
) -> (CardRegistration, EcardView) {
    let mut c = card(i);
    if let Some(name) = name {
        c.name = name.into();
    }
    if let Some(age) = age {
        let year: i32 = sscard_platform::time::today()[..4].parse().unwrap();
        c.ssn = format!("110105{:04}0101{i:04}", year - age);
    }
    let e = h.ecard_holder(&c, &Actor::new("test"));
    (c, e)
}

/// A fresh code of `card`'s e-card through the holder's API, as the holder's app fetches it.
fn code_over_http(base: &str, c: &CardRegistration, ecard: &str) -> String {
    let session: Value = ureq::post(&format!("{base}/api/v1/ecard/login"))
        .send_json(json!({"ssn": c.ssn, "name": c.name, "password": ECARD_PASSWORD}))
        .unwrap()
        .into_json()
        .unwrap();
    let token = session["token"].as_str().unwrap();
    let answer: Value = ureq::get(&format!("{base}/api/v1/ecard/{ecard}/qr"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    answer["code"].as_str().unwrap().to_owned()
}

/// Logs in on the holder's page with `password`.
fn log_in(page: &mut Page, c: &CardRegistration, password: &str) {
    page.type_into("name", &c.name);
    page.type_into("ssn", &c.ssn);
    page.type_into("password", password);
    page.press_enter();
}

#[test]
#[ignore = "browser: needs chromium (scripts/test.sh runs it)"]
fn the_holder_logs_in_and_sees_the_card_and_a_code_that_refreshes() {
    let h = Harness::new(Db::Sqlite);
    // A name that would be markup if the page put data into HTML.
    let (c, e) = holder(&h, 7, Some("<b>王</b>测试"));
    let (base, _) = h.serve_ecard(3);
    let mut page = Page::open(&format!("{base}/ecard"));
    assert_eq!(page.eval("document.body.dataset.state"), "login");

    // A wrong password: the reason in words, still on the login form, no card shown.
    log_in(&mut page, &c, "999999");
    let error = page.wait_for(
        "the refusal of a wrong password",
        "document.getElementById('error').textContent",
        WAIT,
    );
    assert_eq!(
        error,
        "Not logged in: the name, social security number or password is wrong"
    );
    assert_eq!(page.eval("document.body.dataset.state"), "login");
    assert_eq!(page.eval("document.getElementById('card').hidden"), true);
    assert_eq!(
        page.eval("document.getElementById('password').value"),
        "",
        "the password does not stay in the form"
    );

    // The right one: the card face.
    log_in(&mut page, &c, ECARD_PASSWORD);
    let first = page.wait_for(
        "the first code",
        "document.body.dataset.state === 'card' && document.getElementById('qr-text').textContent",
        WAIT,
    );
    assert_eq!(page.text("face-name"), c.name);
    assert!(
        page.eval("document.getElementById('face-name').innerHTML")
            .as_str()
            .unwrap()
            .contains("&lt;b&gt;"),
        "the name is shown as text"
    );
    assert_eq!(page.text("face-ssn"), "1101**********0007");
    assert_eq!(page.text("face-card-number"), c.card_number);
    assert_eq!(page.text("face-region"), e.region);
    assert_eq!(page.text("face-validity"), "2034-01-01");
    assert_eq!(
        page.text("face-level"),
        "level 1: identification and queries"
    );
    // The QR symbol: the service's SVG, drawn (the policy lets the data: image in).
    let first = first.as_str().unwrap().to_owned();
    assert!(first.starts_with("SSC1:"), "{first}");
    page.wait_for(
        "the QR image to be drawn",
        "document.getElementById('qr-image').naturalWidth > 0",
        WAIT,
    );
    let src = page.eval("document.getElementById('qr-image').src");
    assert!(
        src.as_str().unwrap().starts_with("data:image/svg+xml"),
        "{src}"
    );
    assert!(page
        .eval("decodeURIComponent(document.getElementById('qr-image').src)")
        .as_str()
        .unwrap()
        .contains("<svg"));
    // No family members yet: the section says so.
    page.wait_for(
        "the family list",
        "document.getElementById('family').dataset.loaded === 'shown'",
        WAIT,
    );
    assert_eq!(page.text("family-limit"), "0 of at most 8 family members");
    // The session token is nowhere but in the script's memory.
    assert_eq!(
        page.eval("localStorage.length + sessionStorage.length + document.cookie.length"),
        0
    );
    assert!(!page
        .eval("location.href")
        .as_str()
        .unwrap()
        .contains("ssce_"));

    // The countdown runs down on the first code, then a new code comes with the countdown back
    // at the full validity (3 s).
    page.wait_for(
        "the countdown to run down",
        &format!(
            "['1', '2'].includes(document.getElementById('qr-countdown').textContent) \
             && document.getElementById('qr-text').textContent === {}",
            json!(first)
        ),
        WAIT,
    );
    let refreshed = page.wait_for(
        "a new code",
        &format!(
            "document.getElementById('qr-text').textContent !== {} \
             && document.getElementById('qr-text').textContent !== '' \
             && [document.getElementById('qr-text').textContent, \
                 document.getElementById('qr-countdown').textContent, \
                 document.getElementById('qr').dataset.refreshes]",
            json!(first)
        ),
        WAIT,
    );
    let second = refreshed[0].as_str().unwrap();
    assert!(second.starts_with("SSC1:"), "{second}");
    assert!(
        ["3", "2"].contains(&refreshed[1].as_str().unwrap()),
        "the countdown restarted: {refreshed}"
    );
    assert_eq!(refreshed[2], "2", "one refresh: {refreshed}");
    // The new code is the e-card's and verifies.
    let keys = ecard_keys(&base);
    let v =
        h.rt.block_on(h.store.verify_code_online(
            second,
            &keys,
            UnixTime::now(),
            &Default::default(),
            &Actor::new("test"),
        ))
        .unwrap();
    assert_eq!(v.ecard, e.id);

    // The card reported lost: the next refresh is refused, the old code taken off the screen
    // and the reason shown.
    h.admin()
        .report_loss(
            &c.card_number,
            &LossRequest {
                kind: LossKind::Temporary,
                note: None,
            },
            None,
        )
        .unwrap();
    let error = page.wait_for(
        "the refused refresh",
        "document.getElementById('qr-error').textContent",
        WAIT,
    );
    assert_eq!(
        error,
        "No code: the physical card is reported lost (temporarily)"
    );
    assert_eq!(page.text("qr-text"), "");
    assert_eq!(
        page.eval("document.getElementById('qr-image').hasAttribute('src')"),
        false
    );

    // Logging out forgets the card and the code.
    page.eval("document.getElementById('logout').click()");
    assert_eq!(page.eval("document.body.dataset.state"), "login");
    assert_eq!(page.text("qr-text"), "");
    assert_eq!(page.text("face-name"), "");
    assert_eq!(page.eval("document.getElementById('family').hidden"), true);
}

/// The platform's published key set, as a terminal fetches it.
fn ecard_keys(base: &str) -> sscard_ecard::PublicKeySet {
    ureq::get(&format!("{base}/api/v1/ecard/keys"))
        .call()
        .unwrap()
        .into_json()
        .unwrap()
}

/// Scans `code` on the scanner page; the outcome, the refusal code and the verdict in words.
fn scan(page: &mut Page, code: &str) -> (String, String, String) {
    page.eval("document.getElementById('result').dataset.outcome = 'waiting'");
    page.type_into("code", code);
    page.press_enter();
    let outcome = page.wait_for(
        "the verification's answer",
        "document.body.dataset.state === 'ready' \
         && ['accepted', 'refused'].includes(document.getElementById('result').dataset.outcome) \
         && [document.getElementById('result').dataset.outcome, \
             document.getElementById('result').dataset.reason || '', \
             document.getElementById('verdict').textContent]",
        WAIT,
    );
    let field = |i: usize| outcome[i].as_str().unwrap().to_owned();
    (field(0), field(1), field(2))
}

/// Scans `code`, which must be refused for `reason` in `words`; the verdict.
fn scan_refused(page: &mut Page, code: &str, reason: &str, words: &str) -> String {
    let (outcome, refused_for, verdict) = scan(page, code);
    assert_eq!(
        (outcome.as_str(), refused_for.as_str()),
        ("refused", reason)
    );
    assert_eq!(verdict, words);
    verdict
}

#[test]
#[ignore = "browser: needs chromium (scripts/test.sh runs it)"]
fn the_scanner_verifies_a_code_and_refuses_each_bad_one_in_its_own_words() {
    let h = Harness::new(Db::Sqlite);
    let (c, e) = holder(&h, 8, None);
    let (base, signer) = h.serve_ecard(60);
    let pharmacy = h.terminal("pharmacy-1", Role::Hospital);
    let mut page = Page::open(&format!("{base}/ecard/scanner"));
    assert_eq!(page.eval("document.body.dataset.state"), "credential");

    // A credential that is not a terminal's: the code is not looked at, the credential asked
    // for again.
    let fresh = code_over_http(&base, &c, &e.id);
    page.type_into("credential", "sscp_not-a-credential");
    page.press_enter();
    page.wait_for(
        "the code field",
        "document.body.dataset.state === 'ready'",
        WAIT,
    );
    page.type_into("code", &fresh);
    page.press_enter();
    let refusal = page.wait_for(
        "the credential's refusal",
        "document.body.dataset.state === 'credential' \
         && document.getElementById('terminal-state').textContent",
        WAIT,
    );
    assert_eq!(
        refusal,
        "The terminal credential was not accepted: the credential is not a live terminal credential"
    );

    // The pharmacy's credential, then the fresh code: the holder's identity.
    page.type_into("credential", &pharmacy);
    page.press_enter();
    page.wait_for(
        "the code field",
        "document.body.dataset.state === 'ready'",
        WAIT,
    );
    assert_eq!(
        page.eval("document.getElementById('credential').value"),
        "",
        "the credential does not stay in the form"
    );
    assert_eq!(
        page.eval("localStorage.length + sessionStorage.length + document.cookie.length"),
        0
    );
    let (outcome, _, verdict) = scan(&mut page, &fresh);
    assert_eq!(outcome, "accepted", "{verdict}");
    assert_eq!(verdict, "Verified: the e-card is genuine and works.");
    assert_eq!(page.text("id-name"), c.name);
    assert_eq!(page.text("id-ssn"), "1101**********0008");
    assert_eq!(page.text("id-card-number"), c.card_number);
    assert_eq!(page.text("id-purpose"), "identification");
    assert_eq!(page.text("id-shown-by"), "the holder");
    assert!(!page
        .eval("document.documentElement.outerHTML")
        .as_str()
        .unwrap()
        .contains(&pharmacy));

    let mut verdicts = Vec::new();
    // Tampered: one byte of the signed body changed (the nonce), the signature left.
    let mut bytes = sscard_ecard::payload::code_bytes(&code_over_http(&base, &c, &e.id)).unwrap();
    bytes[30] ^= 0x01;
    let tampered = sscard_ecard::payload::code_text(&bytes);
    let verdict = scan_refused(
        &mut page,
        &tampered,
        "bad-signature",
        "Refused: the code has been tampered with (its signature does not match).",
    );
    assert_eq!(
        page.eval("document.getElementById('identity').hidden"),
        true
    );
    verdicts.push(verdict);
    // Replayed: the code verified above, scanned again.
    verdicts.push(scan_refused(
        &mut page,
        &fresh,
        "replayed",
        "Refused: this code has already been used. Ask the holder for a new code.",
    ));
    // Cut short, as a bad scan leaves it.
    verdicts.push(scan_refused(
        &mut page,
        &fresh[..fresh.len() - 8],
        "malformed",
        "Refused: this is not a complete e-card code (damaged, cut short or altered).",
    ));
    // Expired: signed by the platform two minutes ago, valid for one.
    let old = UnixTime(UnixTime::now().secs() - 120);
    let expired =
        h.rt.block_on(
            h.store
                .issue_code(&signer, &e.id, None, Purpose::Identity, old),
        )
        .unwrap();
    verdicts.push(scan_refused(
        &mut page,
        &expired,
        "expired",
        "Refused: the code has expired. Ask the holder to show the code on their screen now.",
    ));
    // A card reported lost after its code was shown: refused at once.
    let before_loss = code_over_http(&base, &c, &e.id);
    h.admin()
        .report_loss(
            &c.card_number,
            &LossRequest {
                kind: LossKind::Formal,
                note: None,
            },
            None,
        )
        .unwrap();
    verdicts.push(scan_refused(
        &mut page,
        &before_loss,
        "card-lost",
        "Refused: the card is reported lost. Its e-card does not work.",
    ));
    let mut distinct = verdicts.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), verdicts.len(), "{verdicts:?}");
    // After a refusal the field is empty and focused for the next scan.
    assert_eq!(
        page.eval("document.activeElement.id + ':' + document.getElementById('code').value"),
        "code:"
    );
}

#[test]
fn the_pages_are_served_with_a_policy_that_allows_nothing_from_elsewhere() {
    let h = Harness::new(Db::Sqlite);
    let (base, _) = h.serve_ecard(60);
    for (path, kind) in [
        ("/ecard", "text/html"),
        ("/ecard/scanner", "text/html"),
        ("/ecard/holder.js", "text/javascript"),
        ("/ecard/scanner.js", "text/javascript"),
        ("/ecard/pages.css", "text/css"),
    ] {
        let response = ureq::get(&format!("{base}{path}")).call().unwrap();
        assert!(response.content_type().starts_with(kind), "{path}");
        let policy = response.header("content-security-policy").unwrap_or("");
        assert_eq!(
            policy,
            sscard_platform::ecard::pages::CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        let body = response.into_string().unwrap();
        // No resource from another origin, no inline script or handler, no innerHTML.
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path}"
        );
        assert!(
            !body.contains("innerHTML") && !body.contains("onclick="),
            "{path}"
        );
        if kind == "text/html" {
            assert!(
                !body.contains("<script>") && !body.contains("style="),
                "{path}"
            );
        }
    }
    // The code with its SVG, for the holder's page; an unknown rendering is refused.
    let (c, e) = holder(&h, 9, None);
    let session: Value = ureq::post(&format!("{base}/api/v1/ecard/login"))
        .send_json(json!({"ssn": c.ssn, "name": c.name, "password": ECARD_PASSWORD}))
        .unwrap()
        .into_json()
        .unwrap();
    let bearer = format!("Bearer {}", session["token"].as_str().unwrap());
    let answer: Value = ureq::get(&format!("{base}/api/v1/ecard/{}/qr?render=svg", e.id))
        .set("Authorization", &bearer)
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let svg = answer["svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
    assert!(answer["code"].as_str().unwrap().starts_with("SSC1:"));
    let plain: Value = ureq::get(&format!("{base}/api/v1/ecard/{}/qr", e.id))
        .set("Authorization", &bearer)
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert!(plain.get("svg").is_none(), "{plain}");
    match ureq::get(&format!("{base}/api/v1/ecard/{}/qr?render=png", e.id))
        .set("Authorization", &bearer)
        .call()
    {
        Err(ureq::Error::Status(422, r)) => {
            let body: Value = r.into_json().unwrap();
            assert_eq!(body["error"], "invalid-request");
        }
        other => panic!("render=png: {other:?}"),
    }
}

#[test]
#[ignore = "browser: needs chromium (scripts/test.sh runs it)"]
fn the_holder_shows_a_family_members_live_code_and_the_pharmacy_verifies_it() {
    let h = Harness::new(Db::Sqlite);
    let (c, e) = holder(&h, 10, None);
    let (_, parent) = holder_born(&h, 11, Some("测试父亲"), Some(62));
    let (_, child) = holder_born(&h, 12, Some("<i>测试</i>孩子"), Some(9));
    for addition in [
        FamilyAddition {
            member: MemberRef::Ecard(parent.id.clone()),
            relationship: Relationship::Parent,
            consent: Consent::Own(EcardPassword::new(ECARD_PASSWORD).unwrap()),
        },
        FamilyAddition {
            member: MemberRef::Ecard(child.id.clone()),
            relationship: Relationship::Child,
            consent: Consent::Guardian,
        },
    ] {
        h.rt.block_on(
            h.store
                .add_family_member(&e.id, &addition, &Actor::new("test")),
        )
        .unwrap();
    }
    let (base, _) = h.serve_ecard(4);
    let pharmacy = h.terminal("pharmacy-2", Role::Hospital);
    let mut page = Page::open(&format!("{base}/ecard"));
    log_in(&mut page, &c, ECARD_PASSWORD);
    page.wait_for(
        "the family list",
        "document.getElementById('family').dataset.loaded === 'shown'",
        WAIT,
    );
    assert_eq!(page.eval("document.getElementById('family').hidden"), false);
    assert_eq!(page.text("family-limit"), "2 of at most 8 family members");
    let members =
        page.eval("[...document.querySelectorAll('#members li.member')].map(li => li.textContent)");
    assert_eq!(
        members,
        json!([
            "测试父亲 (parent, with their own consent) Show code",
            "<i>测试</i>孩子 (child, added by a guardian) Show code"
        ])
    );
    assert_eq!(
        page.eval("document.querySelectorAll('#members i').length"),
        0
    );

    // The child's code: shown, drawn, and fetched again when it expires.
    page.eval(&format!(
        "document.querySelector('li.member[data-ecard={}] button.show-code').click()",
        json!(child.id)
    ));
    let first = page.wait_for(
        "the member's code",
        "document.getElementById('member-qr').hidden === false \
         && document.getElementById('member-qr-text').textContent",
        WAIT,
    );
    let first = first.as_str().unwrap().to_owned();
    assert_eq!(page.text("member-qr-name"), "<i>测试</i>孩子");
    page.wait_for(
        "the member's QR image",
        "document.getElementById('member-qr-image').naturalWidth > 0",
        WAIT,
    );
    let second = page.wait_for(
        "the member's next code",
        &format!(
            "document.getElementById('member-qr-text').textContent !== {} \
             && document.getElementById('member-qr-text').textContent",
            json!(first)
        ),
        WAIT,
    );
    let second = second.as_str().unwrap().to_owned();
    assert!(second.starts_with("SSC1:"), "{second}");
    // The holder's own code is still there, apart from the member's.
    assert_ne!(page.text("qr-text"), "");
    assert_ne!(page.text("qr-text"), second);

    // At the pharmacy: the child's identity, shown from the holder's app.
    page.navigate(&format!("{base}/ecard/scanner"));
    page.type_into("credential", &pharmacy);
    page.press_enter();
    page.wait_for(
        "the code field",
        "document.body.dataset.state === 'ready'",
        WAIT,
    );
    let (outcome, _, verdict) = scan(&mut page, &second);
    assert_eq!(outcome, "accepted", "{verdict}");
    assert_eq!(page.text("id-name"), "<i>测试</i>孩子");
    assert_eq!(
        page.text("id-shown-by"),
        format!("a family account: the app of e-card {}", e.id)
    );
}
