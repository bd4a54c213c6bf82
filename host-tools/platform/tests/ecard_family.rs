//! Family accounts: a member joins with their own consent (16 or older) or is added by a
//! guardian (under 16); the limit holds even when adds race; a holder acts for a member only over
//! an active link, the member's code names both and charges the member; removal stops it at
//! once; every action is in the event log — on both backends.

mod common;

use std::thread;

use common::*;
use serde_json::{json, Value};
use sscard_ecard::{PlatformSecretKey, PublicKeySet, Purpose, Signer, UnixTime, VerifyPolicy};
use sscard_platform::ecard::family::{
    age_on, Consent, ConsentKind, FamilyAddition, MemberRef, Relationship, Remover,
};
use sscard_platform::ecard::{EcardPassword, EcardView};
use sscard_platform::model::*;
use sscard_platform::registry::{Action, Actor};
use sscard_platform::PlatformError;

on_both_backends!(
    an_adult_member_joins_with_their_own_password,
    a_guardian_adds_a_child_under_16,
    the_limit_holds_even_when_adds_race,
    acting_for_a_member_needs_an_active_link,
);

fn actor() -> Actor {
    Actor::new("family-test")
}

fn pw(text: &str) -> EcardPassword {
    EcardPassword::new(text).unwrap()
}

fn refusal_code<T: std::fmt::Debug>(result: Result<T, PlatformError>) -> String {
    match result {
        Err(e @ PlatformError::Refused { .. }) => e.code(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A social security number for someone born on 1 January, `age` years before this year: that
/// age today, whatever the day.
fn ssn_aged(age: i32, serial: u32) -> String {
    let year: i32 = sscard_platform::time::today()[..4].parse().unwrap();
    format!("110105{:04}0101{serial:04}", year - age)
}

/// Person `i` aged `age`, card activated, with an e-card (level 2: payment).
fn person(h: &Harness, i: u32, age: i32) -> (CardRegistration, EcardView) {
    let mut c = card(i);
    c.ssn = ssn_aged(age, i);
    let e = h.ecard_holder(&c, &actor());
    h.link_settlement(&e.id, &actor());
    (c, e)
}

fn own(member: &EcardView, relationship: Relationship, password: &str) -> FamilyAddition {
    FamilyAddition {
        member: MemberRef::Ecard(member.id.clone()),
        relationship,
        consent: Consent::Own(pw(password)),
    }
}

fn guardian(member: &EcardView, relationship: Relationship) -> FamilyAddition {
    FamilyAddition {
        member: MemberRef::Ecard(member.id.clone()),
        relationship,
        consent: Consent::Guardian,
    }
}

fn add(
    h: &Harness,
    holder: &EcardView,
    addition: &FamilyAddition,
) -> Result<sscard_platform::ecard::family::FamilyMember, PlatformError> {
    h.rt.block_on(h.store.add_family_member(&holder.id, addition, &actor()))
}

fn active_links(h: &Harness) -> i64 {
    h.rt.block_on(async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM ecard_family WHERE removed_at IS NULL")
            .fetch_one(&raw_pool(&h.url).await)
            .await
            .unwrap()
    })
}

fn an_adult_member_joins_with_their_own_password(db: Db) {
    let h = Harness::new(db);
    let (hc, holder) = person(&h, 1, 40);
    let (mc, mother) = person(&h, 2, 68);
    let (_, son) = person(&h, 3, 17);

    // A wrong password is refused, counts toward the member's lockout, and is logged.
    assert_eq!(
        refusal_code(add(
            &h,
            &holder,
            &own(&mother, Relationship::Parent, "000000")
        )),
        "wrong-credentials"
    );
    assert_eq!(active_links(&h), 0);
    let refused = h.events(&hc.card_number, "ecard-family-add-refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["refusal"], "wrong-credentials");
    for _ in 0..4 {
        add(&h, &holder, &own(&mother, Relationship::Parent, "000000")).unwrap_err();
    }
    // Five wrong in a row: the member's own login is locked too, the right password refused.
    assert_eq!(
        refusal_code(h.rt.block_on(h.store.ecard_login(&mc.ssn, &mc.name, &pw(ECARD_PASSWORD)))),
        "password-locked"
    );
    assert_eq!(
        refusal_code(add(
            &h,
            &holder,
            &own(&mother, Relationship::Parent, ECARD_PASSWORD)
        )),
        "password-locked"
    );
    h.rt.block_on(h.store.reset_password_lock(&mother.id, &actor()))
        .unwrap();

    // The right password: the mother joins, by social security number and name.
    let by_person = FamilyAddition {
        member: MemberRef::Person {
            ssn: mc.ssn.clone(),
            name: mc.name.clone(),
        },
        relationship: Relationship::Parent,
        consent: Consent::Own(pw(ECARD_PASSWORD)),
    };
    let added = add(&h, &holder, &by_person).unwrap();
    assert_eq!(
        (added.ecard_id.as_str(), added.consent),
        (mother.id.as_str(), ConsentKind::Own)
    );
    assert_eq!(refusal_code(add(&h, &holder, &by_person)), "already-member");
    // A name that is not the registry's finds nobody.
    let wrong_name = FamilyAddition {
        member: MemberRef::Person {
            ssn: mc.ssn.clone(),
            name: "别人".into(),
        },
        ..by_person.clone()
    };
    assert_eq!(
        refusal_code(add(&h, &holder, &wrong_name)),
        "unknown-member"
    );
    // Nobody is their own family member.
    assert_eq!(
        refusal_code(add(
            &h,
            &holder,
            &own(&holder, Relationship::Spouse, ECARD_PASSWORD)
        )),
        "self-link"
    );
    // A 17-year-old consents for themselves: the guardian way is refused.
    assert_eq!(
        refusal_code(add(&h, &holder, &guardian(&son, Relationship::Child))),
        "own-consent-required"
    );
    add(&h, &holder, &own(&son, Relationship::Child, ECARD_PASSWORD)).unwrap();

    let family = h.rt.block_on(h.store.family(&holder.id)).unwrap();
    assert_eq!(family.limit, 8);
    let ids: Vec<_> = family.members.iter().map(|m| m.ecard_id.as_str()).collect();
    assert_eq!(ids, [mother.id.as_str(), son.id.as_str()]);
    assert_eq!(family.members[0].name, mc.name);
    assert_eq!(family.members[0].relationship, Relationship::Parent);

    // The add is in both cards' histories.
    for card in [&hc.card_number, &mc.card_number] {
        let added: Vec<_> = h
            .events(card, "ecard-family-member-added")
            .into_iter()
            .filter(|d| d["member"] == mother.id.as_str())
            .collect();
        assert_eq!(added.len(), 1, "{card}");
        assert_eq!(added[0]["holder"], holder.id.as_str());
        assert_eq!(added[0]["consent"], "own");
    }

    // A member of 16 or more leaves by themselves; then may be added again.
    h.rt.block_on(
        h.store
            .remove_family_member(&holder.id, &mother.id, Remover::Member, &actor()),
    )
    .unwrap();
    assert_eq!(
        refusal_code(h.rt.block_on(h.store.remove_family_member(
            &holder.id,
            &mother.id,
            Remover::Holder,
            &actor()
        ))),
        "not-a-member"
    );
    assert_eq!(
        h.events(&mc.card_number, "ecard-family-member-removed")[0]["by"],
        "member"
    );
    add(
        &h,
        &holder,
        &own(&mother, Relationship::Parent, ECARD_PASSWORD),
    )
    .unwrap();

    // A member whose card is lost cannot join.
    let (lc, lost) = person(&h, 4, 30);
    h.rt.block_on(
        h.store
            .change_state(&lc.card_number, Action::LossFormal, None, &actor(), None),
    )
    .unwrap();
    assert_eq!(
        refusal_code(add(
            &h,
            &holder,
            &own(&lost, Relationship::Sibling, ECARD_PASSWORD)
        )),
        "member-ecard-not-working"
    );

    // Behind the code's back, the database refuses a self-link and a second active link.
    h.rt.block_on(async {
        let pool = raw_pool(&h.url).await;
        for (holder_id, member_id) in [(&holder.id, &holder.id), (&holder.id, &son.id)] {
            let result = sqlx::query(
                "INSERT INTO ecard_family (holder_ecard_id, member_ecard_id, relationship,
                    consent, added_at) VALUES ($1, $2, 'sibling', 'own', 'now')",
            )
            .bind(holder_id)
            .bind(member_id)
            .execute(&pool)
            .await;
            assert!(result.is_err(), "{holder_id} -> {member_id} stored");
        }
    });
}

fn a_guardian_adds_a_child_under_16(db: Db) {
    let h = Harness::new(db);
    let (hc, parent) = person(&h, 1, 38);
    let (cc, child) = person(&h, 2, 15);
    let (_, teenager) = person(&h, 3, 16);
    let (_, minor_holder) = person(&h, 4, 17);
    let (_, sibling) = person(&h, 5, 9);
    assert_eq!(age_on(&cc.ssn, &sscard_platform::time::today()), Some(15));

    // Under 16: the child's own password is not consent, and only a parent or guardian adds.
    assert_eq!(
        refusal_code(add(
            &h,
            &parent,
            &own(&child, Relationship::Child, ECARD_PASSWORD)
        )),
        "guardian-consent-required"
    );
    assert_eq!(
        refusal_code(add(
            &h,
            &parent,
            &guardian(&child, Relationship::Grandchild)
        )),
        "relationship-not-guardian"
    );
    // A guardian is an adult.
    assert_eq!(
        refusal_code(add(
            &h,
            &minor_holder,
            &guardian(&sibling, Relationship::Ward)
        )),
        "guardian-not-adult"
    );
    // Exactly 16: the guardian way is refused.
    assert_eq!(
        refusal_code(add(&h, &parent, &guardian(&teenager, Relationship::Child))),
        "own-consent-required"
    );
    let added = add(&h, &parent, &guardian(&child, Relationship::Child)).unwrap();
    assert_eq!(added.consent, ConsentKind::Guardian);
    add(&h, &parent, &guardian(&sibling, Relationship::Ward)).unwrap();

    // The guardian's details are stored with the link.
    let stored: Vec<(String, Option<String>, Option<String>)> = h.rt.block_on(async {
        sqlx::query_as(
            "SELECT consent, guardian_ecard_id, guardian_name FROM ecard_family
             WHERE member_ecard_id = $1",
        )
        .bind(&child.id)
        .fetch_all(&raw_pool(&h.url).await)
        .await
        .unwrap()
    });
    assert_eq!(
        stored,
        [(
            "guardian".to_owned(),
            Some(parent.id.clone()),
            Some(hc.name.clone())
        )]
    );
    // The database refuses a guardian link for a relationship that is not a guardian's.
    let refused = h.rt.block_on(async {
        sqlx::query(
            "INSERT INTO ecard_family (holder_ecard_id, member_ecard_id, relationship, consent,
                guardian_ecard_id, guardian_name, added_at)
             VALUES ($1, $2, 'spouse', 'guardian', $1, 'x', 'now')",
        )
        .bind(&parent.id)
        .bind(&teenager.id)
        .execute(&raw_pool(&h.url).await)
        .await
    });
    assert!(refused.is_err());

    // A child under 16 does not leave by themselves; the guardian removes them.
    assert_eq!(
        refusal_code(h.rt.block_on(h.store.remove_family_member(
            &parent.id,
            &child.id,
            Remover::Member,
            &actor()
        ))),
        "guardian-removes"
    );
    h.rt.block_on(
        h.store
            .remove_family_member(&parent.id, &child.id, Remover::Holder, &actor()),
    )
    .unwrap();
    let removed = h.events(&cc.card_number, "ecard-family-member-removed");
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["by"], "holder");
    let family = h.rt.block_on(h.store.family(&parent.id)).unwrap();
    assert_eq!(family.members.len(), 1);
    assert_eq!(family.members[0].ecard_id, sibling.id);
}

fn the_limit_holds_even_when_adds_race(db: Db) {
    let h = Harness::new(db);
    let (hc, holder) = person(&h, 1, 45);
    let (_, racer) = person(&h, 2, 45);
    let members: Vec<EcardView> = (0..9).map(|i| person(&h, 10 + i, 8).1).collect();

    for m in &members[..8] {
        add(&h, &holder, &guardian(m, Relationship::Child)).unwrap();
    }
    assert_eq!(
        refusal_code(add(
            &h,
            &holder,
            &guardian(&members[8], Relationship::Child)
        )),
        "family-limit"
    );
    let refused = h.events(&hc.card_number, "ecard-family-add-refused");
    assert_eq!(refused.last().unwrap()["refusal"], "family-limit");
    // Behind the code's back the database's trigger refuses a ninth link too.
    let ninth = h.rt.block_on(async {
        sqlx::query(
            "INSERT INTO ecard_family (holder_ecard_id, member_ecard_id, relationship, consent,
                guardian_ecard_id, guardian_name, added_at) VALUES ($1, $2, 'child', 'guardian',
                $1, 'x', 'now')",
        )
        .bind(&holder.id)
        .bind(&members[8].id)
        .execute(&raw_pool(&h.url).await)
        .await
    });
    assert!(ninth.is_err());

    // The setting: 3 places, nine adds at once for another holder; exactly 3 get in.
    h.rt.block_on(h.store.set_family_max_members(3, &actor()))
        .unwrap();
    assert!(h
        .rt
        .block_on(h.store.set_family_max_members(11, &actor()))
        .is_err());
    let outcomes: Vec<Result<_, PlatformError>> = thread::scope(|scope| {
        let handles: Vec<_> = members
            .iter()
            .map(|m| {
                let (h, racer) = (&h, &racer);
                scope.spawn(move || add(h, racer, &guardian(m, Relationship::Ward)))
            })
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let admitted = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(admitted, 3, "{outcomes:?}");
    for refused in outcomes.into_iter().filter(Result::is_err) {
        assert_eq!(refusal_code(refused), "family-limit");
    }
    let family = h.rt.block_on(h.store.family(&racer.id)).unwrap();
    assert_eq!((family.limit, family.members.len()), (3, 3));
    // Lowering the limit removes nobody.
    assert_eq!(
        h.rt.block_on(h.store.family(&holder.id))
            .unwrap()
            .members
            .len(),
        8
    );
}

/// The service with the e-card routes on a port of its own; its base URL and the key set.
fn serve(h: &Harness) -> (String, PublicKeySet) {
    let platform = PlatformKeys::generate();
    (h.serve_ecard_with(&platform), platform.keys)
}

/// (status, body) of a request with `token` as the bearer credential.
fn call(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    common::call(method, url, Some(token), body)
}

fn session(base: &str, c: &CardRegistration) -> String {
    let (status, body) = call(
        "POST",
        &format!("{base}/api/v1/ecard/login"),
        "",
        Some(json!({"ssn": c.ssn, "name": c.name, "password": ECARD_PASSWORD})),
    );
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

fn acting_for_a_member_needs_an_active_link(db: Db) {
    let h = Harness::new(db);
    let (base, keys) = serve(&h);
    let (hc, holder) = person(&h, 1, 40);
    let (mc, member) = person(&h, 2, 70);
    let (_, child) = person(&h, 3, 6);
    let token = session(&base, &hc);
    let member_token = session(&base, &mc);
    let ecard = |id: &str| format!("{base}/api/v1/ecard/{id}");

    // No link: neither the member's e-card nor their code; each attempt logged.
    let (status, body) = call("GET", &ecard(&member.id), &token, None);
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("not-your-ecard"))
    );
    assert_eq!(
        call("GET", &format!("{}/qr", ecard(&member.id)), &token, None).0,
        403
    );
    assert_eq!(
        call(
            "GET",
            &format!("{}/qr?member={}", ecard(&holder.id), member.id),
            &token,
            None
        )
        .0,
        403
    );
    assert_eq!(
        h.events(&mc.card_number, "ecard-family-act-refused").len(),
        3
    );
    // The family of another e-card is not the session's to see or change.
    assert_eq!(
        call(
            "GET",
            &format!("{}/family", ecard(&member.id)),
            &token,
            None
        )
        .0,
        403
    );

    // Adds over HTTP: an invalid body, a wrong password, then the member's consent.
    let family_url = format!("{}/family", ecard(&holder.id));
    let add_over_http = |body: Value| call("POST", &family_url, &token, Some(body));
    let (status, body) = add_over_http(
        json!({"member_ecard_id": member.id, "relationship": "parent",
            "consent": {"password": ECARD_PASSWORD, "guardian": true}}),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid-request"))
    );
    let (status, body) = add_over_http(
        json!({"member_ecard_id": member.id, "relationship": "parent",
            "consent": {"password": "999999"}}),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("wrong-credentials"))
    );
    let (status, body) = add_over_http(
        json!({"member_ssn": mc.ssn, "member_name": mc.name, "relationship": "parent",
            "consent": {"password": ECARD_PASSWORD}}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["ecard_id"], member.id.as_str());
    let (status, body) =
        add_over_http(json!({"member_ecard_id": child.id, "relationship": "child",
            "consent": {"guardian": true}}));
    assert_eq!(status, 201, "{body}");

    // The list, in exactly the shape the holder's page reads.
    let (status, list) = call("GET", &family_url, &token, None);
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["limit"], 8);
    let first = list["members"][0].as_object().unwrap();
    let mut keys_seen: Vec<_> = first.keys().map(String::as_str).collect();
    keys_seen.sort_unstable();
    assert_eq!(
        keys_seen,
        ["added_at", "consent", "ecard_id", "name", "relationship"]
    );
    assert_eq!(
        (
            first["ecard_id"].as_str(),
            first["relationship"].as_str(),
            first["consent"].as_str()
        ),
        (Some(member.id.as_str()), Some("parent"), Some("own"))
    );
    assert_eq!(list["members"][1]["consent"], "guardian");

    // With the link: the holder queries for the member and shows the member's payment code.
    let (status, shown) = call("GET", &ecard(&member.id), &token, None);
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["name"], mc.name.as_str());
    let (status, code) = call(
        "GET",
        &format!("{}/qr?purpose=payment", ecard(&member.id)),
        &token,
        None,
    );
    assert_eq!(status, 200, "{code}");
    let code = code["code"].as_str().unwrap().to_owned();
    let acted = h.events(&mc.card_number, "ecard-family-acted-for");
    let actions: Vec<_> = acted
        .iter()
        .map(|d| d["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["show", "payment-code"]);
    assert!(acted.iter().all(|d| d["holder"] == holder.id.as_str()));

    // The pharmacy's verification names the member (charged) and the holder (who showed it).
    let verified =
        h.rt.block_on(h.store.verify_code_online(
            &code,
            &keys,
            UnixTime::now(),
            &VerifyPolicy::default(),
            &Actor::new("pharmacy-1"),
        ))
        .unwrap();
    assert_eq!(verified.ecard, member.id);
    assert_eq!(verified.shown_by.as_deref(), Some(holder.id.as_str()));
    assert_eq!(
        (verified.name.as_str(), verified.ssn.as_str()),
        (mc.name.as_str(), mc.ssn.as_str())
    );
    assert_eq!(verified.card_number, mc.card_number);
    let token_row: (String, String) = h.rt.block_on(async {
        sqlx::query_as("SELECT ecard_id, holder_ecard_id FROM ecard_settlement_tokens")
            .fetch_one(&raw_pool(&h.url).await)
            .await
            .unwrap()
    });
    assert_eq!(token_row, (member.id.clone(), holder.id.clone()));

    // A code shown before the removal; then the holder removes the member.
    let (_, before) = call("GET", &format!("{}/qr", ecard(&member.id)), &token, None);
    let before = before["code"].as_str().unwrap().to_owned();
    let remove_url = format!("{family_url}/{}", member.id);
    let (status, removed) = call("DELETE", &remove_url, &token, None);
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["member"], member.id.as_str());
    // At once: no more code, no more query, and the code shown before is refused online.
    assert_eq!(
        call("GET", &format!("{}/qr", ecard(&member.id)), &token, None).0,
        403
    );
    assert_eq!(call("GET", &ecard(&member.id), &token, None).0, 403);
    assert_eq!(
        refusal_code(h.rt.block_on(h.store.verify_code_online(
            &before,
            &keys,
            UnixTime::now(),
            &VerifyPolicy::default(),
            &Actor::new("pharmacy-1"),
        ))),
        "no-family-link"
    );
    // Nor can the store mint one behind the API's back.
    let signer = Signer::new(&PlatformSecretKey::generate().unwrap()).unwrap();
    assert_eq!(
        refusal_code(h.rt.block_on(h.store.issue_code(
            &signer,
            &holder.id,
            Some(&member.id),
            Purpose::Identity,
            UnixTime::now()
        ))),
        "no-family-link"
    );
    assert_eq!(
        call("DELETE", &remove_url, &token, None).1["error"],
        "not-a-member"
    );

    // The member, added again, removes themselves with their own session; a stranger cannot.
    let (status, _) = add_over_http(
        json!({"member_ecard_id": member.id, "relationship": "parent",
            "consent": {"password": ECARD_PASSWORD}}),
    );
    assert_eq!(status, 201);
    let (sc, _) = person(&h, 4, 30);
    let stranger_token = session(&base, &sc);
    assert_eq!(call("DELETE", &remove_url, &stranger_token, None).0, 403);
    let (status, removed) = call("DELETE", &remove_url, &member_token, None);
    assert_eq!(status, 200, "{removed}");
    let removals = h.events(&hc.card_number, "ecard-family-member-removed");
    let by: Vec<_> = removals.iter().map(|d| d["by"].as_str().unwrap()).collect();
    assert_eq!(by, ["holder", "member"]);
}
