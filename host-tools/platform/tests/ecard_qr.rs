//! QR codes at the back office: issued only to a working e-card, verified online with the
//! card's state now and a nonce recorded in the database, each refusal with its own reason —
//! on both backends.

mod common;

use std::thread;

use common::*;
use sscard_ecard::{PlatformSecretKey, PublicKeySet, Purpose, Signer, UnixTime, VerifyPolicy};
use sscard_platform::ecard::{EcardApplication, EcardPassword, EcardView};
use sscard_platform::model::*;
use sscard_platform::registry::{Action, Actor};
use sscard_platform::PlatformError;

on_both_backends!(
    a_code_verifies_once_online_with_the_identity,
    refusals_each_have_their_reason,
    a_lost_card_is_refused_online_at_once,
    parallel_verifications_of_one_code_admit_one,
    a_batch_answers_each_code_and_uses_up_only_the_accepted_ones,
);

struct Platform {
    signer: Signer,
    keys: PublicKeySet,
}

fn platform() -> Platform {
    let secret = PlatformSecretKey::generate().unwrap();
    let mut keys = PublicKeySet::new();
    keys.insert(secret.public_key().clone()).unwrap();
    Platform {
        signer: Signer::new(&secret).unwrap(),
        keys,
    }
}

fn actor() -> Actor {
    Actor::new("pharmacy-1")
}

fn refusal_code<T: std::fmt::Debug>(result: Result<T, PlatformError>) -> String {
    match result {
        Err(e @ PlatformError::Refused { .. }) => e.code(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Card `i` registered, activated, with an e-card (level 2 when `pay`).
fn holder(h: &Harness, i: u32, pay: bool) -> (CardRegistration, EcardView) {
    let c = card(i);
    h.register(std::slice::from_ref(&c));
    h.rt.block_on(h.store.record_activation(
        &c.card_number,
        &activation("20240315"),
        &actor(),
        None,
    ))
    .unwrap();
    let e =
        h.rt.block_on(h.store.apply_ecard(
            &EcardApplication {
                ssn: c.ssn.clone(),
                name: c.name.clone(),
                consent_privacy_terms: true,
                channel: "city-app".into(),
                password: EcardPassword::new("246810").unwrap(),
            },
            &actor(),
        ))
        .unwrap();
    if pay {
        h.rt.block_on(h.store.set_settlement_link(&e.id, true, &actor()))
            .unwrap();
    }
    (c, e)
}

fn verify(
    h: &Harness,
    p: &Platform,
    code: &str,
    now: UnixTime,
) -> Result<sscard_platform::ecard::online::OnlineVerification, PlatformError> {
    h.rt.block_on(h.store.verify_code_online(
        code,
        &p.keys,
        now,
        &VerifyPolicy::default(),
        &actor(),
    ))
}

fn a_code_verifies_once_online_with_the_identity(db: Db) {
    let h = Harness::new(db);
    let p = platform();
    let (c, e) = holder(&h, 1, true);
    let now = UnixTime::now();
    let code =
        h.rt.block_on(
            h.store
                .issue_code(&p.signer, &e.id, None, Purpose::Payment, now),
        )
        .unwrap();
    let v = verify(&h, &p, &code, now).unwrap();
    assert_eq!(v.ecard, e.id);
    assert_eq!(v.name, c.name);
    assert_eq!(v.ssn, c.ssn);
    assert_eq!(v.card_number, c.card_number);
    assert_eq!(v.purpose, Purpose::Payment);
    let token = v
        .settlement_token
        .expect("a payment code answers a settlement token");
    assert!(token.starts_with("sspay_"));
    // The same code again: replayed.
    assert_eq!(refusal_code(verify(&h, &p, &code, now)), "replayed");
    // An identity code identifies but mints no settlement token.
    let code =
        h.rt.block_on(
            h.store
                .issue_code(&p.signer, &e.id, None, Purpose::Identity, now),
        )
        .unwrap();
    let v = verify(&h, &p, &code, now).unwrap();
    assert_eq!(v.settlement_token, None);
    // Two fresh codes differ.
    let a =
        h.rt.block_on(
            h.store
                .issue_code(&p.signer, &e.id, None, Purpose::Identity, now),
        )
        .unwrap();
    let b =
        h.rt.block_on(
            h.store
                .issue_code(&p.signer, &e.id, None, Purpose::Identity, now),
        )
        .unwrap();
    assert_ne!(a, b);
}

fn refusals_each_have_their_reason(db: Db) {
    let h = Harness::new(db);
    let p = platform();
    let (_, level1) = holder(&h, 1, false);
    let (_, e) = holder(&h, 2, true);
    let now = UnixTime::now();
    // A level 1 e-card gets no payment code.
    assert_eq!(
        refusal_code(h.rt.block_on(h.store.issue_code(
            &p.signer,
            &level1.id,
            None,
            Purpose::Payment,
            now
        ))),
        "level-1"
    );
    let code =
        h.rt.block_on(
            h.store
                .issue_code(&p.signer, &e.id, None, Purpose::Payment, now),
        )
        .unwrap();
    // Expired: at issued-at + validity.
    let later = UnixTime(now.secs() + u64::from(p.signer.validity_secs()));
    assert_eq!(refusal_code(verify(&h, &p, &code, later)), "expired");
    // Tampered: one character changed.
    let mut chars: Vec<char> = code.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let r = refusal_code(verify(&h, &p, &tampered, now));
    assert!(r == "bad-signature" || r == "malformed", "{r}");
    // Signed by another key.
    let other = platform();
    let foreign =
        h.rt.block_on(
            h.store
                .issue_code(&other.signer, &e.id, None, Purpose::Payment, now),
        )
        .unwrap();
    assert_eq!(refusal_code(verify(&h, &p, &foreign, now)), "unknown-key");
    assert_eq!(refusal_code(verify(&h, &p, "SSC1:AAAA", now)), "malformed");
    // None of these used the code up: it still verifies once.
    assert!(verify(&h, &p, &code, now).is_ok());
    // A code for an e-card the back office does not hold (signed by the platform key).
    let ghost = p
        .signer
        .issue(
            &sscard_ecard::Claims {
                ecard: sscard_ecard::EcardId::from_bytes([7; 16]),
                member: None,
                purpose: Purpose::Identity,
            },
            now,
        )
        .unwrap();
    assert_eq!(refusal_code(verify(&h, &p, &ghost, now)), "unknown-ecard");
}

fn a_lost_card_is_refused_online_at_once(db: Db) {
    let h = Harness::new(db);
    let p = platform();
    for (i, action, reason) in [
        (1, Action::LossTemporary, "card-temporarily-lost"),
        (2, Action::LossFormal, "card-lost"),
        (3, Action::Cancel, "card-cancelled"),
    ] {
        let (c, e) = holder(&h, i, true);
        let now = UnixTime::now();
        let code =
            h.rt.block_on(
                h.store
                    .issue_code(&p.signer, &e.id, None, Purpose::Payment, now),
            )
            .unwrap();
        h.rt.block_on(
            h.store
                .change_state(&c.card_number, action, None, &actor(), None),
        )
        .unwrap();
        // The code issued a moment before the loss report is refused at once...
        assert_eq!(refusal_code(verify(&h, &p, &code, now)), reason);
        // ...and no new code is issued.
        assert_eq!(
            refusal_code(h.rt.block_on(h.store.issue_code(
                &p.signer,
                &e.id,
                None,
                Purpose::Identity,
                now
            ))),
            reason
        );
    }
}

fn parallel_verifications_of_one_code_admit_one(db: Db) {
    let h = Harness::new(db);
    let p = platform();
    let (_, e) = holder(&h, 1, true);
    let now = UnixTime::now();
    let code =
        h.rt.block_on(
            h.store
                .issue_code(&p.signer, &e.id, None, Purpose::Payment, now),
        )
        .unwrap();
    let results: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(|| verify(&h, &p, &code, now)))
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.code(), "replayed");
    }
}

fn a_batch_answers_each_code_and_uses_up_only_the_accepted_ones(db: Db) {
    let h = Harness::new(db);
    let p = platform();
    let now = UnixTime::now();
    let code_of = |e: &EcardView, purpose| {
        h.rt.block_on(h.store.issue_code(&p.signer, &e.id, None, purpose, now))
            .unwrap()
    };
    let (_, good_pay) = holder(&h, 1, true);
    let (_, good_id) = holder(&h, 2, false);
    let (lost_card, lost) = holder(&h, 3, true);
    let (_, unlinked) = holder(&h, 4, true);
    let (_, used) = holder(&h, 5, false);
    let good_pay = code_of(&good_pay, Purpose::Payment);
    let good_id = code_of(&good_id, Purpose::Identity);
    let lost = code_of(&lost, Purpose::Payment);
    let level_1 = code_of(&unlinked, Purpose::Payment);
    let used = code_of(&used, Purpose::Identity);
    verify(&h, &p, &used, now).unwrap();
    h.rt.block_on(h.store.change_state(
        &lost_card.card_number,
        Action::LossTemporary,
        None,
        &actor(),
        None,
    ))
    .unwrap();
    h.rt.block_on(h.store.set_settlement_link(&unlinked.id, false, &actor()))
        .unwrap();
    // One batch: on a current-thread runtime every verification below is queued (the signature
    // check makes no await) before the committer task first runs and takes the whole queue.
    let one_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answers = one_thread.block_on(async {
        let store = sscard_platform::Store::open(&h.url).await.unwrap();
        let (policy, terminal) = (VerifyPolicy::default(), actor());
        macro_rules! v {
            ($code:expr) => {
                store.verify_code_online($code, &p.keys, now, &policy, &terminal)
            };
        }
        let answers = tokio::join!(
            v!(&good_pay),
            v!(&good_pay),
            v!(&good_id),
            v!(&lost),
            v!(&level_1),
            v!(&used)
        );
        drop(store);
        answers
    });
    let (first, again, identity, lost_answer, level_1_answer, used_answer) = answers;
    let first = first.unwrap();
    assert!(first.settlement_token.is_some());
    assert_eq!(refusal_code(again), "replayed");
    assert_eq!(identity.unwrap().purpose, Purpose::Identity);
    assert_eq!(refusal_code(lost_answer), "card-temporarily-lost");
    assert_eq!(refusal_code(level_1_answer), "level-1");
    assert_eq!(refusal_code(used_answer), "replayed");
    // The accepted codes are used up; the refused ones are not: once the card is found and the
    // account linked, each verifies, once.
    assert_eq!(refusal_code(verify(&h, &p, &good_pay, now)), "replayed");
    assert_eq!(refusal_code(verify(&h, &p, &good_id, now)), "replayed");
    h.rt.block_on(h.store.change_state(
        &lost_card.card_number,
        Action::Found,
        None,
        &actor(),
        None,
    ))
    .unwrap();
    h.rt.block_on(h.store.set_settlement_link(&unlinked.id, true, &actor()))
        .unwrap();
    assert!(verify(&h, &p, &lost, now)
        .unwrap()
        .settlement_token
        .is_some());
    assert!(verify(&h, &p, &level_1, now)
        .unwrap()
        .settlement_token
        .is_some());
    assert_eq!(refusal_code(verify(&h, &p, &lost, now)), "replayed");
}

#[test]
fn the_signing_key_is_generated_once_with_mode_0600() {
    use sscard_platform::ecard::signing_key::{load_or_generate, published, DEFAULT_KEY_FILE};
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("sscard-ecard-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (first, path) = load_or_generate(&dir, None).unwrap();
    assert_eq!(path, dir.join(DEFAULT_KEY_FILE));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The second start finds the same key.
    let (second, _) = load_or_generate(&dir, None).unwrap();
    assert_eq!(first.public_key(), second.public_key());
    assert_eq!(published(&first).unwrap().len(), 1);
    // An explicit key file that does not exist is an error, not a new key.
    assert!(load_or_generate(&dir, Some(&dir.join("missing.pem"))).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

on_both_backends!(a_lost_card_is_refused_offline_after_the_next_sync);

fn a_lost_card_is_refused_offline_after_the_next_sync(db: Db) {
    let h = Harness::new(db);
    let p = platform();
    let (c, e) = holder(&h, 1, true);
    let (_, other) = holder(&h, 2, true);
    let now = UnixTime::now();
    let synced = h.rt.block_on(h.store.ecard_blacklist()).unwrap();
    let code =
        h.rt.block_on(
            h.store
                .issue_code(&p.signer, &e.id, None, Purpose::Payment, now),
        )
        .unwrap();
    assert!(sscard_ecard::verify_offline(&code, &p.keys, now, &synced).is_ok());
    h.rt.block_on(
        h.store
            .change_state(&c.card_number, Action::LossFormal, None, &actor(), None),
    )
    .unwrap();
    // Online: refused at once.
    assert_eq!(refusal_code(verify(&h, &p, &code, now)), "card-lost");
    // Offline before the sync the terminal does not know yet; after it, refused.
    assert!(sscard_ecard::verify_offline(&code, &p.keys, now, &synced).is_ok());
    let synced = h.rt.block_on(h.store.ecard_blacklist()).unwrap();
    let refusal = sscard_ecard::verify_offline(&code, &p.keys, now, &synced).unwrap_err();
    assert_eq!(refusal.code(), "card-blocked");
    assert!(refusal.to_string().contains("reported lost"), "{refusal}");
    // Another holder's codes still verify offline.
    let fine =
        h.rt.block_on(
            h.store
                .issue_code(&p.signer, &other.id, None, Purpose::Identity, now),
        )
        .unwrap();
    assert!(sscard_ecard::verify_offline(&fine, &p.keys, now, &synced).is_ok());
    assert_eq!(synced.len(), 1);
}
