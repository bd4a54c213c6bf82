//! The e-card in the registry: issuance only for an activated, normal card, one e-card per
//! card (even when applications race), the password, levels, channels, loss and replacement —
//! on both backends.

mod common;

use std::thread;

use common::*;
use sscard_platform::ecard::{EcardApplication, EcardPassword, EcardView, Level};
use sscard_platform::model::*;
use sscard_platform::registry::{Action, Actor};
use sscard_platform::PlatformError;

on_both_backends!(
    issuance_needs_an_activated_normal_card_and_consent,
    two_applications_for_one_card_make_one_ecard,
    password_guards_login_and_channels,
    a_lost_or_cancelled_card_stops_the_ecard_at_once,
    the_ecard_follows_the_replacement_once_activated,
    settlement_link_sets_the_level,
);

fn pw(text: &str) -> EcardPassword {
    EcardPassword::new(text).unwrap()
}

fn application(c: &CardRegistration) -> EcardApplication {
    EcardApplication {
        ssn: c.ssn.clone(),
        name: c.name.clone(),
        consent_privacy_terms: true,
        channel: "city-app".into(),
        password: pw("135790"),
    }
}

fn actor() -> Actor {
    Actor::new("ecard-test")
}

fn refusal_code<T: std::fmt::Debug>(result: Result<T, PlatformError>) -> String {
    match result {
        Err(e @ PlatformError::Refused { .. }) => e.code(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn activate(h: &Harness, card: &str) {
    h.rt.block_on(
        h.store
            .record_activation(card, &activation("20240315"), &actor(), None),
    )
    .unwrap();
}

fn apply(h: &Harness, a: &EcardApplication) -> Result<EcardView, PlatformError> {
    h.rt.block_on(h.store.apply_ecard(a, &actor()))
}

fn ecard_rows(h: &Harness) -> i64 {
    h.rt.block_on(async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM ecards")
            .fetch_one(&raw_pool(&h.url).await)
            .await
            .unwrap()
    })
}

fn events_of_kind(h: &Harness, card: &str, kind: &str) -> usize {
    h.rt.block_on(h.store.history(card))
        .unwrap()
        .iter()
        .filter(|e| e.kind == kind)
        .count()
}

fn issuance_needs_an_activated_normal_card_and_consent(db: Db) {
    let h = Harness::new(db);
    let c = card(1);
    h.register(std::slice::from_ref(&c));
    // Issued, not activated: refused with the reason, nothing written.
    let before = h.counts();
    assert_eq!(
        refusal_code(apply(&h, &application(&c))),
        "card-not-activated"
    );
    assert_eq!(h.counts(), before);
    assert_eq!(ecard_rows(&h), 0);
    activate(&h, &c.card_number);
    let mut no_consent = application(&c);
    no_consent.consent_privacy_terms = false;
    assert_eq!(refusal_code(apply(&h, &no_consent)), "consent-required");
    let mut wrong_name = application(&c);
    wrong_name.name = "别人".into();
    assert_eq!(refusal_code(apply(&h, &wrong_name)), "data-mismatch");
    let mut unknown = application(&c);
    unknown.ssn = "110105199001019999".into();
    assert!(matches!(
        apply(&h, &unknown),
        Err(PlatformError::UnknownPerson(_))
    ));
    assert_eq!(ecard_rows(&h), 0);

    let e = apply(&h, &application(&c)).unwrap();
    assert_eq!(e.card_number, c.card_number);
    assert_eq!(e.id.len(), 32);
    assert!(e.works);
    assert_eq!(e.level, Level::Identity);
    assert_eq!(e.channels, vec!["city-app".to_owned()]);
    assert_eq!(events_of_kind(&h, &c.card_number, "ecard-issued"), 1);
    // The password is stored as a salted Argon2id hash, never as the digits.
    let stored: String = h.rt.block_on(async {
        sqlx::query_scalar("SELECT password_hash FROM ecards")
            .fetch_one(&raw_pool(&h.url).await)
            .await
            .unwrap()
    });
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains("135790"));
    // A second application for the same card.
    assert_eq!(refusal_code(apply(&h, &application(&c))), "ecard-exists");

    // Each state other than activated refuses issuance with its own reason.
    for (i, action, code) in [
        (2, Some(Action::LossTemporary), "card-temporarily-lost"),
        (3, Some(Action::LossFormal), "card-lost"),
        (4, Some(Action::Cancel), "card-cancelled"),
        (5, Some(Action::Seal), "card-sealed"),
    ] {
        let c = card(i);
        h.register(std::slice::from_ref(&c));
        activate(&h, &c.card_number);
        if let Some(action) = action {
            h.rt.block_on(
                h.store
                    .change_state(&c.card_number, action, None, &actor(), None),
            )
            .unwrap();
        }
        assert_eq!(refusal_code(apply(&h, &application(&c))), code);
    }
    let mut expired = card(6);
    expired.expiry_date = "20240601".into();
    h.register(std::slice::from_ref(&expired));
    activate(&h, &expired.card_number);
    assert_eq!(
        refusal_code(apply(&h, &application(&expired))),
        "card-expired"
    );
    assert_eq!(ecard_rows(&h), 1);
}

fn two_applications_for_one_card_make_one_ecard(db: Db) {
    let h = Harness::new(db);
    let cards: Vec<_> = (1..=6).map(card).collect();
    h.register(&cards);
    for c in &cards {
        activate(&h, &c.card_number);
    }
    for c in &cards {
        let results: Vec<_> = thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| apply(&h, &application(c))))
                .collect();
            handles.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let issued: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(issued.len(), 1, "{results:?}");
        for r in &results {
            if let Err(e) = r {
                assert_eq!(e.code(), "ecard-exists", "{e}");
            }
        }
        assert_eq!(events_of_kind(&h, &c.card_number, "ecard-issued"), 1);
    }
    assert_eq!(ecard_rows(&h), 6);
    // The database itself refuses a second e-card for a card, whatever the code does: another
    // person (without an e-card) cannot be given one on the same card.
    let other = card(7);
    h.register(std::slice::from_ref(&other));
    let e =
        h.rt.block_on(h.store.ecard_of_person(&cards[0].ssn))
            .unwrap()
            .unwrap();
    let second = h.rt.block_on(async {
        sqlx::query(
            "INSERT INTO ecards (id, card_number, person_id, password_hash, privacy_terms,
                consented_at, created_at, updated_at)
             SELECT 'ffffffffffffffffffffffffffffffff', e.card_number, c.person_id, 'x', 'x',
                'x', 'x', 'x' FROM ecards e, cards c WHERE e.id = $1 AND c.card_number = $2",
        )
        .bind(&e.id)
        .bind(&other.card_number)
        .execute(&raw_pool(&h.url).await)
        .await
    });
    let error = second.expect_err("a second e-card for one card was stored");
    assert!(error.to_string().contains("card_number"), "{error}");
}

fn password_guards_login_and_channels(db: Db) {
    let h = Harness::new(db);
    let c = card(1);
    h.register(std::slice::from_ref(&c));
    activate(&h, &c.card_number);
    let e = apply(&h, &application(&c)).unwrap();
    assert!(EcardPassword::new("12345").is_err());
    assert!(EcardPassword::new("12345a").is_err());
    assert!(EcardPassword::new("1234567").is_err());
    assert_eq!(format!("{:?}", pw("135790")), "EcardPassword(<redacted>)");

    let login = |name: &str, p: &str| h.rt.block_on(h.store.ecard_login(&c.ssn, name, &pw(p)));
    assert_eq!(login(&c.name, "135790").unwrap().id, e.id);
    assert_eq!(refusal_code(login(&c.name, "000000")), "wrong-credentials");
    assert_eq!(refusal_code(login("别人", "135790")), "wrong-credentials");

    // Channels need the password.
    let add = |p: &str, ch: &str| {
        h.rt.block_on(h.store.add_channel(&e.id, &pw(p), ch, &actor()))
    };
    let remove = |p: &str, ch: &str| {
        h.rt.block_on(h.store.remove_channel(&e.id, &pw(p), ch, &actor()))
    };
    assert_eq!(refusal_code(add("000000", "bank-app")), "wrong-credentials");
    let v = add("135790", "bank-app").unwrap();
    assert_eq!(
        v.channels,
        vec!["bank-app".to_owned(), "city-app".to_owned()]
    );
    assert_eq!(refusal_code(add("135790", "bank-app")), "channel-exists");
    assert_eq!(
        refusal_code(remove("000000", "bank-app")),
        "wrong-credentials"
    );
    assert_eq!(refusal_code(remove("135790", "nope")), "unknown-channel");
    let v = remove("135790", "bank-app").unwrap();
    assert_eq!(v.channels, vec!["city-app".to_owned()]);
    assert_eq!(events_of_kind(&h, &c.card_number, "ecard-channel-added"), 1);
    assert_eq!(
        events_of_kind(&h, &c.card_number, "ecard-channel-removed"),
        1
    );

    // Wrong passwords in a row lock it, even the right one then; the admin lifts the lock.
    for _ in 0..sscard_platform::ecard::MAX_FAILED_PASSWORDS {
        let _ = login(&c.name, "999999");
    }
    assert_eq!(refusal_code(login(&c.name, "135790")), "password-locked");
    assert_eq!(refusal_code(add("135790", "x")), "password-locked");
    h.rt.block_on(h.store.reset_password_lock(&e.id, &actor()))
        .unwrap();
    assert!(login(&c.name, "135790").is_ok());
}

fn a_lost_or_cancelled_card_stops_the_ecard_at_once(db: Db) {
    let h = Harness::new(db);
    for (i, action, code) in [
        (1, Action::LossTemporary, "card-temporarily-lost"),
        (2, Action::LossFormal, "card-lost"),
        (3, Action::Cancel, "card-cancelled"),
    ] {
        let c = card(i);
        h.register(std::slice::from_ref(&c));
        activate(&h, &c.card_number);
        let e = apply(&h, &application(&c)).unwrap();
        assert!(h.rt.block_on(h.store.working_ecard(&e.id)).is_ok());
        h.rt.block_on(
            h.store
                .change_state(&c.card_number, action, None, &actor(), None),
        )
        .unwrap();
        assert_eq!(
            refusal_code(h.rt.block_on(h.store.working_ecard(&e.id))),
            code
        );
        let view = h.rt.block_on(h.store.ecard_view(&e.id)).unwrap();
        assert!(!view.works);
        assert_eq!(
            refusal_code(h.rt.block_on(h.store.ecard_login(&c.ssn, &c.name, &pw("135790")))),
            code
        );
        if action == Action::LossTemporary {
            // Found again: the e-card works again.
            h.rt.block_on(h.store.change_state(
                &c.card_number,
                Action::Found,
                None,
                &actor(),
                None,
            ))
            .unwrap();
            assert!(h.rt.block_on(h.store.working_ecard(&e.id)).is_ok());
        }
    }
}

fn the_ecard_follows_the_replacement_once_activated(db: Db) {
    let h = Harness::new(db);
    let old = card(1);
    h.register(std::slice::from_ref(&old));
    activate(&h, &old.card_number);
    let e = apply(&h, &application(&old)).unwrap();
    h.rt.block_on(
        h.store
            .change_state(&old.card_number, Action::LossFormal, None, &actor(), None),
    )
    .unwrap();
    let mut new = card(1);
    new.card_number = "R00000001".into();
    new.card_id_code = "110100D156000005544553540000FFFF".into();
    new.issue_date = "20250101".into();
    new.supersedes = Some(old.card_number.clone());
    h.register(std::slice::from_ref(&new));
    // Registered, not yet activated: the e-card still names the old card and does not work.
    let v = h.rt.block_on(h.store.ecard_view(&e.id)).unwrap();
    assert_eq!(v.card_number, old.card_number);
    assert!(!v.works);
    // A new application is refused: the holder keeps the one e-card.
    assert_eq!(refusal_code(apply(&h, &application(&new))), "ecard-exists");
    h.rt.block_on(h.store.record_activation(
        &new.card_number,
        &activation("20250105"),
        &actor(),
        None,
    ))
    .unwrap();
    let v = h.rt.block_on(h.store.ecard_view(&e.id)).unwrap();
    assert_eq!(v.id, e.id);
    assert_eq!(v.card_number, new.card_number);
    assert!(v.works, "{v:?}");
    assert_eq!(
        events_of_kind(&h, &new.card_number, "ecard-followed-replacement"),
        1
    );
    // The same password still logs in.
    assert!(h
        .rt
        .block_on(h.store.ecard_login(&new.ssn, &new.name, &pw("135790")))
        .is_ok());
}

fn settlement_link_sets_the_level(db: Db) {
    let h = Harness::new(db);
    let c = card(1);
    h.register(std::slice::from_ref(&c));
    activate(&h, &c.card_number);
    let e = apply(&h, &application(&c)).unwrap();
    assert_eq!(e.level, Level::Identity);
    let v =
        h.rt.block_on(h.store.set_settlement_link(&e.id, true, &actor()))
            .unwrap();
    assert_eq!(v.level, Level::Payment);
    let v =
        h.rt.block_on(h.store.set_settlement_link(&e.id, false, &actor()))
            .unwrap();
    assert_eq!(v.level, Level::Identity);
    assert_eq!(
        events_of_kind(&h, &c.card_number, "ecard-settlement-linked"),
        1
    );
    assert_eq!(
        events_of_kind(&h, &c.card_number, "ecard-settlement-unlinked"),
        1
    );
    assert_eq!(
        refusal_code(h.rt.block_on(h.store.set_settlement_link(
            "00000000000000000000000000000000",
            true,
            &actor()
        ))),
        "unknown-ecard"
    );
}
