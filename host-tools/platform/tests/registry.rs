//! The registry through its HTTP API, on SQLite and (ignored unless the PostgreSQL stack is up)
//! on PostgreSQL: the same test bodies for both backends.

mod common;

use common::*;
use sscard_platform::auth::Role;
use sscard_platform::model::*;
use sscard_platform::ClientError;

fn refused_code(result: Result<impl std::fmt::Debug, ClientError>) -> String {
    match result {
        Err(ClientError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

on_both_backends!(
    registration_and_status,
    the_database_allows_one_card_in_use_per_person,
    activation_is_idempotent_and_applies_the_six_month_rule,
    loss_reports_feed_the_blacklist_delta,
    a_replacement_supersedes_the_old_card,
    insurance_and_balance_decide_what_the_card_may_do,
    settlement_uploads_are_verified_deduplicated_and_reconciled,
    the_event_log_is_append_only,
    migrations_are_applied_once,
);

fn registration_and_status(db: Db) {
    let h = Harness::new(db);
    let out = h.register(&[card(1), card(2)]);
    assert!(
        out.results.iter().all(|r| r.outcome == "registered"),
        "{out:?}"
    );
    // The same batch again changes nothing.
    let again = h.register(&[card(1)]);
    assert_eq!(again.results[0].outcome, "already-registered");
    let status = h
        .admin()
        .card_status("T00000001", Some("20240301"), None)
        .unwrap();
    assert_eq!(status.state, CardState::Issued);
    assert_eq!(status.region, "110100");
    assert_eq!(status.name, "测试1");
    assert_eq!(status.medical_status, MedicalStatus::Grace);
    assert!(status.may.identify && status.may.settle && status.may.activate);
    let unknown = h.admin().card_status("T99999999", None, None);
    assert_eq!(refused_code(unknown), "unknown-card");
    let history = h.admin().history("T00000001").unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, "registered");
    assert_eq!(history[0].actor, "test");
}

fn the_database_allows_one_card_in_use_per_person(db: Db) {
    let h = Harness::new(db);
    h.register(&[card(1)]);
    // A second card for the same person through the code is refused ...
    let mut second = card(2);
    second.ssn = card(1).ssn;
    second.name = card(1).name;
    let out = h.register(&[second]);
    assert_eq!(out.results[0].outcome, "refused");
    assert!(out.results[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("another card in use"));
    // ... and behind the code, by the database itself.
    let refused = h.rt.block_on(async {
        let pool = raw_pool(&h.url).await;
        sqlx::query(
            "INSERT INTO cards (card_number, card_id_code, person_id, region, version, issue_date,
             expiry_date, state, updated_at)
             SELECT 'X1', 'FF', person_id, region, version, issue_date, expiry_date, 'activated',
             updated_at FROM cards WHERE card_number = 'T00000001'",
        )
        .execute(&pool)
        .await
    });
    let error = refused.unwrap_err().to_string();
    assert!(error.to_lowercase().contains("unique"), "{error}");
}

fn activation_is_idempotent_and_applies_the_six_month_rule(db: Db) {
    let h = Harness::new(db);
    h.register(&[card(1), card(2), card(3)]);
    let outlet = h.client(&h.terminal("outlet-1", Role::Outlet));
    let first = outlet
        .record_activation("T00000001", &activation("20240315"), "T00000001-1")
        .unwrap();
    assert!(!first.activation.late);
    assert_eq!(first.medical_status_before, MedicalStatus::Grace);
    // The answer was lost; the terminal repeats with the same key: the same answer, one event.
    let again = outlet
        .record_activation("T00000001", &activation("20240315"), "T00000001-1")
        .unwrap();
    assert_eq!(first, again);
    let events = h.admin().history("T00000001").unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "activated").count(), 1);
    assert_eq!(events.last().unwrap().terminal.as_deref(), Some("T-42"));
    assert_eq!(events.last().unwrap().actor, "outlet-1");
    // Another attempt (another key) is refused: already activated.
    let other = outlet.record_activation("T00000001", &activation("20240316"), "T00000001-2");
    assert_eq!(refused_code(other), "already-activated");
    // The same key for a different request is refused.
    let reused = outlet.record_activation("T00000002", &activation("20240315"), "T00000001-1");
    assert_eq!(refused_code(reused), "idempotency-key-reused");
    // Past six months: the card was restricted; the activation lifts it and says it was late.
    let status = outlet
        .card_status("T00000002", Some("20240702"), None)
        .unwrap();
    assert_eq!(status.medical_status, MedicalStatus::Restricted);
    assert!(!status.may.settle);
    assert!(status
        .may
        .refusals
        .iter()
        .any(|r| r.code == "not-activated-in-time"));
    let late = outlet
        .record_activation("T00000002", &activation("20240702"), "T00000002-1")
        .unwrap();
    assert!(late.activation.late);
    assert_eq!(late.medical_status_before, MedicalStatus::Restricted);
    let status = outlet
        .card_status("T00000002", Some("20240703"), None)
        .unwrap();
    assert_eq!(status.medical_status, MedicalStatus::Normal);
    assert!(status.may.settle);
    // The card says something else than the registry: refused, naming the field.
    let mut wrong = activation("20240315");
    wrong.card_id_code = Some("110100D15600000554455354FFFFFFFF".into());
    let error = outlet
        .record_activation("T00000003", &wrong, "T00000003-1")
        .unwrap_err();
    assert_eq!(error.code(), Some("data-mismatch"));
    assert!(error.to_string().contains("card_id_code"), "{error}");
    assert_eq!(h.state_of("T00000003"), CardState::Issued);
    // A hospital may not activate.
    let hospital = h.client(&h.terminal("hospital-1", Role::Hospital));
    let forbidden = hospital.record_activation("T00000003", &activation("20240315"), "h-1");
    assert_eq!(refused_code(forbidden), "role-not-allowed");
}

fn loss_reports_feed_the_blacklist_delta(db: Db) {
    let h = Harness::new(db);
    h.register(&[card(1), card(2)]);
    let outlet = h.client(&h.terminal("outlet-1", Role::Outlet));
    let start = outlet.blacklist_since(0).unwrap();
    assert!(start.changes.is_empty());
    let loss = |kind| LossRequest { kind, note: None };
    let t = outlet
        .report_loss("T00000001", &loss(LossKind::Temporary), None)
        .unwrap();
    assert_eq!(
        (t.from, t.to),
        (CardState::Issued, CardState::TemporarilyLost)
    );
    let status = outlet.card_status("T00000001", None, None).unwrap();
    assert!(!status.may.identify && !status.may.settle);
    assert_eq!(status.may.refusals[0].code, "temporarily-lost");
    let delta = outlet.blacklist_since(start.version).unwrap();
    assert_eq!(delta.changes.len(), 1);
    assert!(delta.changes[0].listed);
    // Found: back to issued, off the list.
    let found = outlet
        .report_loss("T00000001", &loss(LossKind::Found), None)
        .unwrap();
    assert_eq!(found.to, CardState::Issued);
    let delta2 = outlet.blacklist_since(delta.version).unwrap();
    assert_eq!(delta2.changes.len(), 1);
    assert!(!delta2.changes[0].listed);
    // Formal loss, then a formal loss again is refused (nothing to change).
    outlet
        .report_loss("T00000002", &loss(LossKind::Formal), Some("loss-2"))
        .unwrap();
    let again = outlet.report_loss("T00000002", &loss(LossKind::Formal), None);
    assert_eq!(refused_code(again), "state-transition-refused");
    // The same key: the first answer.
    let replay = outlet
        .report_loss("T00000002", &loss(LossKind::Formal), Some("loss-2"))
        .unwrap();
    assert_eq!(replay.to, CardState::Lost);
    let delta3 = outlet.blacklist_since(delta2.version).unwrap();
    assert_eq!(delta3.changes.len(), 1);
    assert_eq!(delta3.changes[0].state, CardState::Lost);
    // An outlet may not cancel; the administration may.
    let reason = CancelRequest {
        reason: "holder deceased".into(),
    };
    assert_eq!(
        refused_code(outlet.cancel("T00000001", &reason, None)),
        "role-not-allowed"
    );
    let cancelled = h.admin().cancel("T00000002", &reason, None).unwrap();
    assert_eq!(
        (cancelled.from, cancelled.to),
        (CardState::Lost, CardState::Cancelled)
    );
    let delta3 = outlet.blacklist_since(delta3.version - 1).unwrap();
    assert_eq!(delta3.changes.len(), 2);
    let all = outlet.blacklist_since(0).unwrap();
    assert_eq!(all.version, delta3.version);
    assert_eq!(all.changes.len(), 4);
}

fn a_replacement_supersedes_the_old_card(db: Db) {
    let h = Harness::new(db);
    h.register(&[card(1)]);
    let outlet = h.client(&h.terminal("outlet-1", Role::Outlet));
    outlet
        .report_loss(
            "T00000001",
            &LossRequest {
                kind: LossKind::Formal,
                note: None,
            },
            None,
        )
        .unwrap();
    let mut new = card(101);
    new.ssn = card(1).ssn;
    new.name = card(1).name;
    new.supersedes = Some("T00000001".into());
    let out = h.register(&[new.clone()]);
    assert_eq!(out.results[0].outcome, "registered", "{out:?}");
    let old = h.admin().card_status("T00000001", None, None).unwrap();
    assert_eq!(old.superseded_by.as_deref(), Some("T00000101"));
    assert_eq!(old.state, CardState::Lost);
    let fresh = h.admin().card_status("T00000101", None, None).unwrap();
    assert_eq!(fresh.supersedes.as_deref(), Some("T00000001"));
    // A second replacement of the same card is refused.
    let mut third = card(102);
    third.ssn = card(1).ssn;
    third.name = card(1).name;
    third.supersedes = Some("T00000001".into());
    assert_eq!(h.register(&[third]).results[0].outcome, "refused");
    // A replacement of a card still in use cancels it in the same transaction.
    h.register(&[card(2)]);
    let mut swap = card(202);
    swap.ssn = card(2).ssn;
    swap.name = card(2).name;
    swap.supersedes = Some("T00000002".into());
    assert_eq!(h.register(&[swap]).results[0].outcome, "registered");
    assert_eq!(h.state_of("T00000002"), CardState::Cancelled);
    assert_eq!(h.state_of("T00000202"), CardState::Issued);
    assert!(h
        .rt
        .block_on(h.store.invariant_violations())
        .unwrap()
        .is_empty());
}

fn insurance_and_balance_decide_what_the_card_may_do(db: Db) {
    let h = Harness::new(db);
    h.register(&[card(1)]);
    let ssn = card(1).ssn;
    h.rt.block_on(h.store.change_insurance(
        &ssn,
        &InsuranceChange::Suspend {
            since: "20250101".into(),
            reason: "contributions unpaid since 2024-10".into(),
        },
        &sscard_platform::registry::Actor::new("test"),
    ))
    .unwrap();
    let status = h
        .admin()
        .card_status("T00000001", Some("20240301"), None)
        .unwrap();
    assert!(status.may.identify);
    assert!(!status.may.settle);
    assert!(status
        .may
        .refusals
        .iter()
        .any(|r| r.code == "insurance-suspended" && r.reason.contains("contributions unpaid")));
    h.rt.block_on(h.store.change_insurance(
        &ssn,
        &InsuranceChange::Paid {
            through: "202512".into(),
        },
        &sscard_platform::registry::Actor::new("test"),
    ))
    .unwrap();
    h.rt.block_on(h.store.change_account(
        "T00000001",
        &AccountChange {
            online_mode: true,
            balance_fen: 500,
        },
        &sscard_platform::registry::Actor::new("test"),
    ))
    .unwrap();
    let ok = h
        .admin()
        .card_status("T00000001", Some("20240301"), Some(500))
        .unwrap();
    assert!(ok.may.settle, "{:?}", ok.may);
    assert_eq!(
        ok.insurance,
        Insurance::Paid {
            through: "202512".into()
        }
    );
    let low = h
        .admin()
        .card_status("T00000001", Some("20240301"), Some(501))
        .unwrap();
    assert!(!low.may.settle);
    assert_eq!(low.may.refusals[0].code, "balance-too-low");
    let expired = h
        .admin()
        .card_status("T00000001", Some("20340102"), None)
        .unwrap();
    assert!(!expired.may.identify);
    assert!(expired.may.refusals.iter().any(|r| r.code == "expired"));
    let history = h.admin().history("T00000001").unwrap();
    let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "registered",
            "insurance-suspended",
            "insurance-paid",
            "account-changed"
        ]
    );
}

fn settlement_uploads_are_verified_deduplicated_and_reconciled(db: Db) {
    let h = Harness::new(db);
    let c = card(1);
    h.register(std::slice::from_ref(&c));
    let till = h.client(&h.terminal("hospital-1", Role::Hospital));
    let r1 = purchase(&c, 1, 10_000, 100);
    let r2 = purchase(&c, 2, 9_900, 250);
    let out = till
        .upload_settlements(&[r1.clone(), r2.clone()], Some("up-1"))
        .unwrap();
    let verdicts: Vec<_> = out.results.iter().map(|r| r.verdict).collect();
    assert_eq!(verdicts, [RecordVerdict::Accepted, RecordVerdict::Accepted]);
    let status = till.card_status("T00000001", None, None).unwrap();
    assert_eq!(status.purse.balance_fen, Some(9_650));
    assert_eq!(status.purse.last_serial, Some(2));
    // The same upload retried with its key: the first answer; without a key: duplicates.
    assert_eq!(
        till.upload_settlements(&[r1.clone(), r2.clone()], Some("up-1"))
            .unwrap(),
        out
    );
    let dup = till
        .upload_settlements(std::slice::from_ref(&r2), None)
        .unwrap();
    assert_eq!(dup.results[0].verdict, RecordVerdict::Duplicate);
    // A forged TAC, an altered amount, an unknown card: refused, nothing stored.
    let mut forged = purchase(&c, 3, 9_650, 50);
    forged.tac = "00000000".into();
    let mut altered = purchase(&c, 3, 9_650, 50);
    altered.account_fen = 5;
    let mut unknown = purchase(&c, 1, 10_000, 1);
    unknown.card_number = "T77777777".into();
    let out = till
        .upload_settlements(&[forged, altered, unknown], None)
        .unwrap();
    assert!(
        out.results
            .iter()
            .all(|r| r.verdict == RecordVerdict::Refused),
        "{out:?}"
    );
    assert!(out.results[0].detail.as_deref().unwrap().contains("TAC"));
    assert!(out.results[2]
        .detail
        .as_deref()
        .unwrap()
        .contains("not in the registry"));
    // A gap in serials and a balance that does not follow: stored, flagged.
    let gap = purchase(&c, 5, 9_000, 10);
    let out = till.upload_settlements(&[gap], None).unwrap();
    assert_eq!(out.results[0].verdict, RecordVerdict::AcceptedUnreconciled);
    assert!(out.results[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("serials 3 to 4"));
    let wrong_balance = purchase(&c, 6, 1, 1);
    let out = till.upload_settlements(&[wrong_balance], None).unwrap();
    assert_eq!(out.results[0].verdict, RecordVerdict::AcceptedUnreconciled);
    // Another record under a serial already stored is refused.
    let clash = purchase(&c, 1, 10_000, 99);
    let out = till.upload_settlements(&[clash], None).unwrap();
    assert_eq!(out.results[0].verdict, RecordVerdict::Refused);
    // An outlet may not upload.
    let outlet = h.client(&h.terminal("outlet-1", Role::Outlet));
    assert_eq!(
        refused_code(outlet.upload_settlements(&[r1], None)),
        "role-not-allowed"
    );
    assert!(h
        .rt
        .block_on(h.store.invariant_violations())
        .unwrap()
        .is_empty());
}

fn the_event_log_is_append_only(db: Db) {
    let h = Harness::new(db);
    h.register(&[card(1)]);
    let (update, delete) = h.rt.block_on(async {
        let pool = raw_pool(&h.url).await;
        let update = sqlx::query("UPDATE events SET actor = 'someone else'")
            .execute(&pool)
            .await;
        let delete = sqlx::query("DELETE FROM events").execute(&pool).await;
        (update, delete)
    });
    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert_eq!(h.admin().history("T00000001").unwrap().len(), 1);
}

fn migrations_are_applied_once(db: Db) {
    let h = Harness::new(db);
    h.register(&[card(1)]);
    // Opening the same database again (a second service instance, a restart) keeps the data.
    let again = h.rt.block_on(sscard_platform::Store::open(&h.url)).unwrap();
    assert_eq!(h.rt.block_on(again.schema_version()).unwrap(), 3);
    assert_eq!(
        h.rt.block_on(again.card_status("T00000001", None, None))
            .unwrap()
            .state,
        CardState::Issued
    );
}
