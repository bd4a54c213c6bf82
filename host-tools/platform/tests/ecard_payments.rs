//! Paying with a QR code's settlement token: the account debited once, a repeated terminal
//! transaction answered with the same payment, every refusal with its own code and nothing
//! changed by it, one payment per token under concurrency — on both backends; and the HTTP
//! endpoint with its roles.

mod common;

use std::thread;

use common::*;
use sscard_ecard::{Purpose, UnixTime, VerifyPolicy};
use sscard_platform::auth::Role;
use sscard_platform::ecard::family::{Consent, FamilyAddition, MemberRef, Relationship};
use sscard_platform::ecard::online::SETTLEMENT_TOKEN_SECS;
use sscard_platform::ecard::payments::{EcardPayment, PaymentRequest};
use sscard_platform::ecard::{EcardPassword, EcardView};
use sscard_platform::model::*;
use sscard_platform::registry::{Action, Actor};
use sscard_platform::PlatformError;

on_both_backends!(
    a_payment_debits_once_and_a_repeated_transaction_gets_the_same_payment,
    an_expired_or_unknown_token_is_refused,
    a_card_lost_between_verification_and_payment_is_refused,
    an_insufficient_balance_is_refused_and_changes_nothing,
    the_account_must_be_online_and_linked,
    concurrent_spends_of_one_token_make_one_payment,
    a_family_member_s_code_charges_the_member_s_own_account,
    through_http_a_pharmacy_pays_and_an_outlet_may_not,
);

const PHARMACY: &str = "pharmacy-1";

fn actor() -> Actor {
    Actor::new(PHARMACY)
}

fn refusal_code<T: std::fmt::Debug>(result: Result<T, PlatformError>) -> String {
    match result {
        Err(e @ PlatformError::Refused { .. }) => e.code(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Card `i` registered, activated, with a level 2 e-card and an online account of `balance`.
fn holder(h: &Harness, i: u32, balance: i64) -> (CardRegistration, EcardView) {
    let c = card(i);
    let e = h.ecard_holder(&c, &actor());
    h.link_settlement(&e.id, &actor());
    set_account(h, &c, true, balance);
    (c, e)
}

fn set_account(h: &Harness, c: &CardRegistration, online_mode: bool, balance_fen: i64) {
    h.rt.block_on(h.store.change_account(
        &c.card_number,
        &AccountChange {
            online_mode,
            balance_fen,
        },
        &actor(),
    ))
    .unwrap();
}

/// A payment code of `e`, verified online by the pharmacy: its settlement token.
fn token(h: &Harness, p: &PlatformKeys, e: &EcardView, now: UnixTime) -> String {
    shown_token(h, p, e, None, now)
}

/// A payment code of `member` (or of `shower` itself), shown from `shower`'s phone and verified
/// online by the pharmacy: its settlement token.
fn shown_token(
    h: &Harness,
    p: &PlatformKeys,
    shower: &EcardView,
    member: Option<&EcardView>,
    now: UnixTime,
) -> String {
    let code =
        h.rt.block_on(h.store.issue_code(
            &p.signer,
            &shower.id,
            member.map(|m| m.id.as_str()),
            Purpose::Payment,
            now,
        ))
        .unwrap();
    h.rt.block_on(h.store.verify_code_online(
        &code,
        &p.keys,
        now,
        &VerifyPolicy::default(),
        &actor(),
    ))
    .unwrap()
    .settlement_token
    .expect("a payment code answers a settlement token")
}

fn request(token: &str, amount_fen: i64, txn: &str) -> PaymentRequest {
    PaymentRequest {
        token: token.into(),
        amount_fen,
        self_pay_fen: 300,
        terminal_id: "till-3".into(),
        terminal_txn_id: txn.into(),
    }
}

fn pay(
    h: &Harness,
    request: &PaymentRequest,
    now: UnixTime,
) -> Result<EcardPayment, PlatformError> {
    h.rt.block_on(h.store.pay_with_token(request, now, &actor()))
}

fn balance(h: &Harness, c: &CardRegistration) -> i64 {
    h.rt.block_on(h.store.card_status(&c.card_number, None, None))
        .unwrap()
        .account_balance_fen
}

/// Payments, spent tokens and payment events: what a refusal must leave as it was.
fn payment_counts(h: &Harness) -> (i64, i64, i64) {
    h.rt.block_on(async {
        let pool = raw_pool(&h.url).await;
        let n = |sql: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        (
            n("SELECT COUNT(*) FROM ecard_payments").await,
            n("SELECT COUNT(*) FROM ecard_settlement_tokens WHERE spent_at IS NOT NULL").await,
            n("SELECT COUNT(*) FROM events WHERE kind = 'ecard-payment'").await,
        )
    })
}

fn a_payment_debits_once_and_a_repeated_transaction_gets_the_same_payment(db: Db) {
    let h = Harness::new(db);
    let p = PlatformKeys::generate();
    let (c, e) = holder(&h, 1, 10_000);
    let now = UnixTime::now();
    let t = token(&h, &p, &e, now);
    let paid = pay(&h, &request(&t, 1250, "txn-1"), now).unwrap();
    assert!(paid.payment_id.starts_with("pay_"), "{paid:?}");
    assert_eq!(paid.ecard, e.id);
    assert_eq!(paid.shown_by, None);
    assert_eq!(paid.card_number, c.card_number);
    assert_eq!(paid.name, c.name);
    assert_eq!(
        (paid.amount_fen, paid.self_pay_fen),
        (1250, 300),
        "{paid:?}"
    );
    assert_eq!(
        (paid.balance_before_fen, paid.balance_after_fen),
        (10_000, 8750)
    );
    assert_eq!(paid.terminal_id, "till-3");
    assert_eq!(balance(&h, &c), 8750);
    assert_eq!(payment_counts(&h), (1, 1, 1));
    // The answer lost, the same transaction sent again: the same payment, nothing charged.
    let again = pay(&h, &request(&t, 1250, "txn-1"), now).unwrap();
    assert_eq!(again, paid);
    assert_eq!(balance(&h, &c), 8750);
    assert_eq!(payment_counts(&h), (1, 1, 1));
    // Another transaction with the spent token.
    assert_eq!(
        refusal_code(pay(&h, &request(&t, 1250, "txn-2"), now)),
        "token-spent"
    );
    // The transaction id of this payment for another amount or token.
    assert_eq!(
        refusal_code(pay(&h, &request(&t, 99, "txn-1"), now)),
        "txn-reused"
    );
    let fresh = token(&h, &p, &e, now);
    assert_eq!(
        refusal_code(pay(&h, &request(&fresh, 1250, "txn-1"), now)),
        "txn-reused"
    );
    assert_eq!(balance(&h, &c), 8750);
    assert_eq!(payment_counts(&h), (1, 1, 1));
    // The payment is in the card's event log.
    let events = h.rt.block_on(h.store.history(&c.card_number)).unwrap();
    let event = events.iter().find(|ev| ev.kind == "ecard-payment").unwrap();
    assert_eq!(event.actor, PHARMACY);
    assert!(event.detail.to_string().contains(&paid.payment_id));
    let listed = h.rt.block_on(h.store.ecard_payments(&e.id, 10)).unwrap();
    assert_eq!(listed, vec![paid]);
}

fn an_expired_or_unknown_token_is_refused(db: Db) {
    let h = Harness::new(db);
    let p = PlatformKeys::generate();
    let (c, e) = holder(&h, 1, 10_000);
    let now = UnixTime::now();
    let t = token(&h, &p, &e, now);
    let before = (h.counts(), payment_counts(&h));
    let expired = UnixTime(now.secs() + SETTLEMENT_TOKEN_SECS);
    assert_eq!(
        refusal_code(pay(&h, &request(&t, 100, "txn-1"), expired)),
        "token-expired"
    );
    let made_up = format!("sspay_{}", "ab".repeat(32));
    assert_eq!(
        refusal_code(pay(&h, &request(&made_up, 100, "txn-2"), now)),
        "token-unknown"
    );
    // A token minted for another terminal is unknown to this one.
    let other = h.rt.block_on(h.store.pay_with_token(
        &request(&t, 100, "txn-3"),
        now,
        &Actor::new("pharmacy-2"),
    ));
    assert_eq!(refusal_code(other), "token-unknown");
    assert_eq!((h.counts(), payment_counts(&h)), before);
    assert_eq!(balance(&h, &c), 10_000);
    // Malformed requests never reach the database.
    for bad in [
        request(&t, -1, "txn-4"),
        request(&t, i64::from(u32::MAX) + 1, "txn-4"),
        PaymentRequest {
            self_pay_fen: 0,
            ..request(&t, 0, "txn-4")
        },
        request(&t, 100, "txn with spaces"),
        request(&t, 100, ""),
        request(&"x".repeat(200), 100, "txn-4"),
    ] {
        let result = pay(&h, &bad, now);
        assert!(
            matches!(result, Err(PlatformError::Invalid { .. })),
            "{bad:?}: {result:?}"
        );
    }
    // Still unexpired and unspent, it pays once.
    assert!(pay(&h, &request(&t, 100, "txn-5"), now).is_ok());
}

fn a_card_lost_between_verification_and_payment_is_refused(db: Db) {
    let h = Harness::new(db);
    let p = PlatformKeys::generate();
    for (i, action, reason) in [
        (1, Action::LossTemporary, "card-temporarily-lost"),
        (2, Action::LossFormal, "card-lost"),
        (3, Action::Cancel, "card-cancelled"),
    ] {
        let (c, e) = holder(&h, i, 10_000);
        let now = UnixTime::now();
        let t = token(&h, &p, &e, now);
        h.rt.block_on(
            h.store
                .change_state(&c.card_number, action, None, &actor(), None),
        )
        .unwrap();
        let before = payment_counts(&h);
        assert_eq!(
            refusal_code(pay(&h, &request(&t, 100, &format!("txn-{i}")), now)),
            reason
        );
        assert_eq!(payment_counts(&h), before);
        assert_eq!(balance(&h, &c), 10_000);
    }
}

fn an_insufficient_balance_is_refused_and_changes_nothing(db: Db) {
    let h = Harness::new(db);
    let p = PlatformKeys::generate();
    let (c, e) = holder(&h, 1, 1000);
    let now = UnixTime::now();
    let t = token(&h, &p, &e, now);
    let before = (h.counts(), payment_counts(&h));
    let refused = pay(&h, &request(&t, 1001, "txn-1"), now);
    assert_eq!(refusal_code(refused), "insufficient-balance");
    assert_eq!((h.counts(), payment_counts(&h)), before);
    assert_eq!(balance(&h, &c), 1000);
    // The token was not spent by the refusal: the exact balance pays.
    let paid = pay(&h, &request(&t, 1000, "txn-2"), now).unwrap();
    assert_eq!(paid.balance_after_fen, 0);
    assert_eq!(balance(&h, &c), 0);
}

fn the_account_must_be_online_and_linked(db: Db) {
    let h = Harness::new(db);
    let p = PlatformKeys::generate();
    let (c, e) = holder(&h, 1, 5000);
    let now = UnixTime::now();
    // The account kept on the chip (offline mode): the card pays, not the code.
    let t = token(&h, &p, &e, now);
    set_account(&h, &c, false, 5000);
    assert_eq!(
        refusal_code(pay(&h, &request(&t, 100, "txn-1"), now)),
        "account-offline"
    );
    set_account(&h, &c, true, 5000);
    // The settlement account unlinked after the verification: level 1 cannot pay.
    h.rt.block_on(h.store.set_settlement_link(&e.id, false, &actor()))
        .unwrap();
    assert_eq!(
        refusal_code(pay(&h, &request(&t, 100, "txn-2"), now)),
        "level-1"
    );
    assert_eq!(payment_counts(&h).0, 0);
    h.rt.block_on(h.store.set_settlement_link(&e.id, true, &actor()))
        .unwrap();
    assert!(pay(&h, &request(&t, 100, "txn-3"), now).is_ok());
    assert_eq!(balance(&h, &c), 4900);
}

fn concurrent_spends_of_one_token_make_one_payment(db: Db) {
    let h = Harness::new(db);
    let p = PlatformKeys::generate();
    let (c, e) = holder(&h, 1, 10_000);
    let now = UnixTime::now();
    let t = token(&h, &p, &e, now);
    // Six tills race with the same token, each its own transaction; and two with one
    // transaction id.
    let results: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let txn = format!("txn-{}", i.min(6));
                let (h, t) = (&h, &t);
                s.spawn(move || pay(h, &request(t, 700, &txn), now))
            })
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let paid: Vec<&EcardPayment> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert!(!paid.is_empty(), "{results:?}");
    // Every success is the one payment (the twins of txn-6 may both see it).
    assert!(
        paid.iter().all(|p| p.payment_id == paid[0].payment_id),
        "{results:?}"
    );
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.code(), "token-spent", "{results:?}");
    }
    assert_eq!(balance(&h, &c), 9300);
    assert_eq!(payment_counts(&h), (1, 1, 1));
}

fn a_family_member_s_code_charges_the_member_s_own_account(db: Db) {
    let h = Harness::new(db);
    let p = PlatformKeys::generate();
    let (holder_card, shower) = holder(&h, 1, 10_000);
    let (member_card, member) = holder(&h, 2, 3000);
    // The member (an adult) consents with their own e-card password.
    h.rt.block_on(h.store.add_family_member(
        &shower.id,
        &FamilyAddition {
            member: MemberRef::Ecard(member.id.clone()),
            relationship: Relationship::Sibling,
            consent: Consent::Own(EcardPassword::new(ECARD_PASSWORD).unwrap()),
        },
        &actor(),
    ))
    .unwrap();
    let now = UnixTime::now();
    let member_token = |h: &Harness| shown_token(h, &p, &shower, Some(&member), now);
    let t = member_token(&h);
    let paid = pay(&h, &request(&t, 1000, "txn-1"), now).unwrap();
    assert_eq!(paid.ecard, member.id);
    assert_eq!(paid.shown_by.as_deref(), Some(shower.id.as_str()));
    assert_eq!(paid.card_number, member_card.card_number);
    assert_eq!(balance(&h, &member_card), 2000);
    assert_eq!(balance(&h, &holder_card), 10_000);
    // The phone's owner reports their own card lost: a member's code shown from it is refused.
    let t = member_token(&h);
    h.rt.block_on(h.store.change_state(
        &holder_card.card_number,
        Action::LossFormal,
        None,
        &actor(),
        None,
    ))
    .unwrap();
    assert_eq!(
        refusal_code(pay(&h, &request(&t, 1000, "txn-2"), now)),
        "card-lost"
    );
    assert_eq!(balance(&h, &member_card), 2000);
}

/// The service with the e-card routes on a port of its own; its base URL and the keys.
fn serve(h: &Harness) -> (String, PlatformKeys) {
    let p = PlatformKeys::generate();
    (h.serve_ecard_with(&p), p)
}

fn through_http_a_pharmacy_pays_and_an_outlet_may_not(db: Db) {
    let h = Harness::new(db);
    let (base, p) = serve(&h);
    let (c, e) = holder(&h, 1, 10_000);
    let client = |token: &str| {
        sscard_platform::Client::new(&base, token, std::time::Duration::from_secs(20))
    };
    let hospital = client(&h.terminal("HOSP-01", Role::Hospital));
    let outlet = client(&h.terminal("BANK-01", Role::Outlet));
    let code = h
        .rt
        .block_on(
            h.store
                .issue_code(&p.signer, &e.id, None, Purpose::Payment, UnixTime::now()),
        )
        .unwrap();
    let verified = hospital.verify_code(&code).unwrap();
    assert_eq!(verified.name, c.name);
    let t = verified.settlement_token.unwrap();
    let refused = outlet
        .pay_with_token(&request(&t, 500, "txn-1"))
        .unwrap_err();
    assert_eq!(refused.code(), Some("role-not-allowed"), "{refused}");
    let nobody = client("sscp_not-a-credential")
        .pay_with_token(&request(&t, 500, "txn-1"))
        .unwrap_err();
    assert_eq!(nobody.code(), Some("credential-invalid"), "{nobody}");
    let paid = hospital.pay_with_token(&request(&t, 500, "txn-1")).unwrap();
    assert_eq!(paid.balance_after_fen, 9500);
    assert_eq!(
        hospital.pay_with_token(&request(&t, 500, "txn-1")).unwrap(),
        paid
    );
    match hospital.pay_with_token(&request(&t, 500, "txn-2")) {
        Err(sscard_platform::ClientError::Refused { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (409, "token-spent"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(balance(&h, &c), 9500);
}
