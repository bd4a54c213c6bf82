//! Issuing and verifying codes: round trips, every refusal reason, the exact expiry boundary,
//! replays, and property tests that no altered, cut, extended or re-signed code verifies.

use proptest::prelude::*;
use sm2::dsa::signature::MultipartSigner;
use sm2::dsa::{Signature, SigningKey};
use sscard_ecard::payload::{code_bytes, code_text, SIGNING_CONTEXT};
use sscard_ecard::{
    admit, verify_and_admit, verify_offline, verify_offline_with, Blacklist, BlacklistChange,
    BlacklistDelta, BlacklistEntry, BlockReason, Claims, EcardId, KeyId, Malformed,
    MemoryReplayGuard, Nonce, PlatformSecretKey, PublicKeySet, Purpose, Refusal, Signer, UnixTime,
    VerifyPolicy, DISTINGUISHING_ID,
};
use std::sync::OnceLock;

const NOW: UnixTime = UnixTime(1_800_000_000);
const HOLDER: EcardId = EcardId::from_bytes([0x11; 16]);
const MEMBER: EcardId = EcardId::from_bytes([0x22; 16]);

struct Platform {
    secret: PlatformSecretKey,
    signer: Signer,
    keys: PublicKeySet,
}

fn platform_from(secret: PlatformSecretKey) -> Platform {
    let signer = Signer::new(&secret).unwrap();
    let mut keys = PublicKeySet::new();
    keys.insert(secret.public_key().clone()).unwrap();
    Platform {
        secret,
        signer,
        keys,
    }
}

/// One platform for all tests: key generation is not what they test.
fn platform() -> &'static Platform {
    static PLATFORM: OnceLock<Platform> = OnceLock::new();
    PLATFORM.get_or_init(|| platform_from(PlatformSecretKey::generate().unwrap()))
}

fn other_platform() -> &'static Platform {
    static PLATFORM: OnceLock<Platform> = OnceLock::new();
    PLATFORM.get_or_init(|| platform_from(PlatformSecretKey::generate().unwrap()))
}

fn claims(member: Option<EcardId>) -> Claims {
    Claims {
        ecard: HOLDER,
        member,
        purpose: Purpose::Payment,
    }
}

fn code(member: Option<EcardId>) -> String {
    platform().signer.issue(&claims(member), NOW).unwrap()
}

fn codes() -> &'static [String; 2] {
    static CODES: OnceLock<[String; 2]> = OnceLock::new();
    CODES.get_or_init(|| [code(None), code(Some(MEMBER))])
}

fn verify(code: &str) -> Result<sscard_ecard::VerifiedCode, Refusal> {
    verify_offline(code, &platform().keys, NOW, &Blacklist::new())
}

/// Signs `body` as the platform signer does, with any key: the forger's tool.
fn sign_body(secret: &PlatformSecretKey, body: &[u8]) -> Vec<u8> {
    let scalar =
        sm2::SecretKey::from_slice(&hex::decode(secret.to_hex().as_str()).unwrap()).unwrap();
    let key = SigningKey::new(DISTINGUISHING_ID, &scalar).unwrap();
    let signature: Signature = key.try_multipart_sign(&[SIGNING_CONTEXT, body]).unwrap();
    let mut bytes = body.to_vec();
    bytes.extend_from_slice(&signature.to_bytes());
    bytes
}

fn body_of(code: &str) -> Vec<u8> {
    let bytes = code_bytes(code).unwrap();
    bytes[..bytes.len() - 64].to_vec()
}

#[test]
fn a_code_round_trips_with_its_claims_times_and_key() {
    for member in [None, Some(MEMBER)] {
        for purpose in [Purpose::Identity, Purpose::Payment] {
            let claims = Claims {
                ecard: HOLDER,
                member,
                purpose,
            };
            let code = platform().signer.issue(&claims, NOW).unwrap();
            assert!(code.starts_with("SSC1:"));
            assert!(code[5..]
                .bytes()
                .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)));
            let verified = verify(&code).unwrap();
            assert_eq!(verified.claims, claims);
            assert_eq!(verified.key_id, platform().signer.key_id());
            assert_eq!(verified.issued_at, NOW);
            assert_eq!(verified.expires_at, NOW.plus_secs(60));
            assert_eq!(verified.subject(), member.unwrap_or(HOLDER));
        }
    }
}

#[test]
fn a_verified_code_reads_as_json() {
    let verified = verify(&codes()[1]).unwrap();
    let json = serde_json::to_value(verified).unwrap();
    assert_eq!(json["claims"]["ecard"], "11".repeat(16));
    assert_eq!(json["claims"]["member"], "22".repeat(16));
    assert_eq!(json["claims"]["purpose"], "payment");
    assert_eq!(json["issued_at"], NOW.secs());
    assert_eq!(json["expires_at"], NOW.secs() + 60);
    assert_eq!(json["key_id"], platform().signer.key_id().to_string());
    assert_eq!(json["nonce"], verified.nonce.to_string());
    assert_eq!(json["nonce"].as_str().unwrap().len(), 24);
    let claims: Claims = serde_json::from_value(json["claims"].clone()).unwrap();
    assert_eq!(claims, verified.claims);
}

#[test]
fn an_identity_code_does_not_pay_and_a_payment_code_also_identifies() {
    let identity = Claims {
        purpose: Purpose::Identity,
        ..claims(None)
    };
    let identity = verify(&platform().signer.issue(&identity, NOW).unwrap()).unwrap();
    assert!(identity.require(Purpose::Identity).is_ok());
    let refusal = identity.require(Purpose::Payment).unwrap_err();
    assert!(matches!(
        refusal,
        Refusal::WrongPurpose {
            needed: Purpose::Payment,
            shown: Purpose::Identity
        }
    ));
    assert_eq!(refusal.code(), "wrong-purpose");
    let payment = verify(&codes()[0]).unwrap();
    assert!(payment.require(Purpose::Payment).is_ok());
    assert!(payment.require(Purpose::Identity).is_ok());
}

#[test]
fn each_code_has_a_fresh_nonce() {
    let first = verify(&code(None)).unwrap();
    let second = verify(&code(None)).unwrap();
    assert_ne!(first.nonce, second.nonce);
}

#[test]
fn the_validity_is_a_setting_and_60_seconds_by_default() {
    assert_eq!(platform().signer.validity_secs(), 60);
    let secret = PlatformSecretKey::from_hex(platform().secret.to_hex().as_str()).unwrap();
    let short = Signer::new(&secret).unwrap().with_validity_secs(30);
    let verified = verify(&short.issue(&claims(None), NOW).unwrap()).unwrap();
    assert_eq!(verified.expires_at, NOW.plus_secs(30));
}

#[test]
fn expiry_is_exact_to_the_second() {
    let code = &codes()[0];
    let keys = &platform().keys;
    let blacklist = Blacklist::new();
    let last_valid = NOW.plus_secs(59);
    assert!(verify_offline(code, keys, last_valid, &blacklist).is_ok());
    match verify_offline(code, keys, NOW.plus_secs(60), &blacklist) {
        Err(Refusal::Expired { expires_at, now }) => {
            assert_eq!((expires_at, now), (NOW.plus_secs(60), NOW.plus_secs(60)));
        }
        other => panic!("expected expired, got {other:?}"),
    }
}

#[test]
fn a_code_from_the_future_is_accepted_only_within_the_clock_skew() {
    let code = &codes()[0];
    let policy = VerifyPolicy {
        max_clock_skew_secs: 5,
        ..VerifyPolicy::default()
    };
    let keys = &platform().keys;
    let blacklist = Blacklist::new();
    let early = UnixTime(NOW.secs() - 5);
    assert!(verify_offline_with(code, keys, early, &blacklist, &policy).is_ok());
    let too_early = UnixTime(NOW.secs() - 6);
    let refusal = verify_offline_with(code, keys, too_early, &blacklist, &policy).unwrap_err();
    assert!(matches!(refusal, Refusal::NotYetValid { issued_at, .. } if issued_at == NOW));
    assert_eq!(refusal.code(), "not-yet-valid");
}

#[test]
fn a_validity_longer_than_the_policy_is_refused_even_when_signed() {
    let secret = PlatformSecretKey::from_hex(platform().secret.to_hex().as_str()).unwrap();
    let long = Signer::new(&secret).unwrap().with_validity_secs(3600);
    let code = long.issue(&claims(None), NOW).unwrap();
    let refusal = verify(&code).unwrap_err();
    assert!(matches!(
        refusal,
        Refusal::ValidityTooLong {
            validity_secs: 3600,
            max_secs: 300
        }
    ));
}

#[test]
fn a_code_of_an_unknown_key_is_refused_as_such() {
    let code = other_platform().signer.issue(&claims(None), NOW).unwrap();
    let refusal = verify(&code).unwrap_err();
    assert!(
        matches!(refusal, Refusal::UnknownKey(id) if id == other_platform().signer.key_id()),
        "{refusal:?}"
    );
    assert_eq!(refusal.code(), "unknown-key");
}

#[test]
fn a_body_re_signed_with_another_key_is_a_bad_signature() {
    let body = body_of(&codes()[0]);
    // The forger's tool is right: with the platform's own key it makes a code that verifies.
    let genuine = code_text(&sign_body(&platform().secret, &body));
    assert!(verify(&genuine).is_ok());
    let forged = code_text(&sign_body(&other_platform().secret, &body));
    let refusal = verify(&forged).unwrap_err();
    assert!(matches!(refusal, Refusal::BadSignature), "{refusal:?}");
    assert_eq!(refusal.code(), "bad-signature");
}

#[test]
fn a_signature_over_the_body_without_the_context_does_not_verify() {
    // Signing the bare body (as another use of the platform key might) must not make a code.
    let body = body_of(&codes()[0]);
    let scalar =
        sm2::SecretKey::from_slice(&hex::decode(platform().secret.to_hex().as_str()).unwrap())
            .unwrap();
    let key = SigningKey::new(DISTINGUISHING_ID, &scalar).unwrap();
    let signature: Signature = key.try_multipart_sign(&[&body]).unwrap();
    let mut bytes = body.clone();
    bytes.extend_from_slice(&signature.to_bytes());
    assert!(matches!(
        verify(&code_text(&bytes)),
        Err(Refusal::BadSignature)
    ));
}

#[test]
fn a_changed_claim_re_signed_by_a_forger_is_refused() {
    // Someone changes the holder to another e-card and signs with their own key under the
    // platform's key id.
    let mut body = body_of(&codes()[0]);
    body[7] ^= 0xff;
    let forged = code_text(&sign_body(&other_platform().secret, &body));
    assert!(matches!(verify(&forged), Err(Refusal::BadSignature)));
}

#[test]
fn malformed_codes_say_what_is_wrong() {
    let code = &codes()[0];
    type Expected = fn(&Malformed) -> bool;
    let cases: Vec<(String, Expected)> = vec![
        (code.replacen("SSC1:", "SSC2:", 1), |m| {
            matches!(m, Malformed::Prefix)
        }),
        (code.to_lowercase(), |m| matches!(m, Malformed::Prefix)),
        (format!("SSC1:{}", code[5..].to_lowercase()), |m| {
            matches!(m, Malformed::Encoding(_))
        }),
        ("SSC1:".to_owned() + &"A".repeat(300), |m| {
            matches!(m, Malformed::TooLong { len: 305 })
        }),
        (String::new(), |m| matches!(m, Malformed::Prefix)),
        ("SSC1:".to_owned(), |m| {
            matches!(m, Malformed::Length { bytes: 0, .. })
        }),
    ];
    for (text, expected) in cases {
        match verify(&text) {
            Err(Refusal::Malformed(malformed)) => {
                assert!(expected(&malformed), "{text}: {malformed:?}")
            }
            other => panic!("{text}: expected malformed, got {other:?}"),
        }
    }
    let mut bytes = code_bytes(code).unwrap();
    bytes[0] = 2;
    assert!(matches!(
        verify(&code_text(&bytes)),
        Err(Refusal::Malformed(Malformed::Version(2)))
    ));
    let mut bytes = code_bytes(code).unwrap();
    bytes[5] = 3;
    assert!(matches!(
        verify(&code_text(&bytes)),
        Err(Refusal::Malformed(Malformed::Purpose(3)))
    ));
    let mut bytes = code_bytes(code).unwrap();
    bytes[6] = 0x02;
    assert!(matches!(
        verify(&code_text(&bytes)),
        Err(Refusal::Malformed(Malformed::Flags(2)))
    ));
    // The member flag set on a code without a member: the length no longer matches.
    let mut bytes = code_bytes(code).unwrap();
    bytes[6] = 0x01;
    assert!(matches!(
        verify(&code_text(&bytes)),
        Err(Refusal::Malformed(Malformed::Length {
            bytes: 105,
            expected: 121
        }))
    ));
}

fn blacklist_with(entry: EcardId, reason: BlockReason) -> Blacklist {
    let mut blacklist = Blacklist::new();
    blacklist
        .apply(&BlacklistDelta {
            from_version: 0,
            to_version: 1,
            changes: vec![BlacklistChange::Block {
                entry: BlacklistEntry::Ecard(entry),
                reason,
            }],
        })
        .unwrap();
    blacklist
}

#[test]
fn a_code_of_a_lost_or_cancelled_card_is_refused_after_the_blacklist_sync() {
    let [code, member_code] = codes();
    let keys = &platform().keys;
    // Before the sync the terminal does not know yet.
    assert!(verify_offline(code, keys, NOW, &Blacklist::new()).is_ok());
    for reason in [
        BlockReason::Lost,
        BlockReason::Cancelled,
        BlockReason::TemporarilyLost,
    ] {
        let blacklist = blacklist_with(HOLDER, reason);
        for code in [code, member_code] {
            let refusal = verify_offline(code, keys, NOW, &blacklist).unwrap_err();
            assert!(
                matches!(refusal, Refusal::CardBlocked { ecard, reason: r } if ecard == HOLDER && r == reason),
                "{refusal:?}"
            );
            assert_eq!(refusal.code(), "card-blocked");
        }
    }
    // A member's blocked e-card refuses the member's code, not the holder's own.
    let blacklist = blacklist_with(MEMBER, BlockReason::Lost);
    assert!(matches!(
        verify_offline(member_code, keys, NOW, &blacklist),
        Err(Refusal::CardBlocked { ecard, .. }) if ecard == MEMBER
    ));
    assert!(verify_offline(code, keys, NOW, &blacklist).is_ok());
}

#[test]
fn a_second_use_of_a_code_is_a_replay() {
    let guard = MemoryReplayGuard::new(16);
    let code = code(None);
    let keys = &platform().keys;
    let blacklist = Blacklist::new();
    let policy = VerifyPolicy::default();
    assert!(verify_and_admit(&code, keys, NOW, &blacklist, &guard, &policy).is_ok());
    let later = NOW.plus_secs(10);
    let refusal = verify_and_admit(&code, keys, later, &blacklist, &guard, &policy).unwrap_err();
    assert!(matches!(refusal, Refusal::Replayed));
    assert_eq!(refusal.code(), "replayed");
    // Another code of the same holder is fine.
    assert!(verify_and_admit(&self::code(None), keys, later, &blacklist, &guard, &policy).is_ok());
}

#[test]
fn the_replay_guard_forgets_a_nonce_only_once_its_code_expired_and_fails_closed_when_full() {
    let guard = MemoryReplayGuard::new(2);
    let signer = &platform().signer;
    let issue = |nonce: u8, at: UnixTime| {
        let code = signer
            .issue_with_nonce(&claims(None), at, Nonce([nonce; 12]))
            .unwrap();
        verify_offline(&code, &platform().keys, at, &Blacklist::new()).unwrap()
    };
    let first = issue(1, NOW);
    let second = issue(2, NOW);
    admit(&guard, &first, NOW).unwrap();
    admit(&guard, &second, NOW).unwrap();
    let third = issue(3, NOW);
    let refusal = admit(&guard, &third, NOW.plus_secs(59)).unwrap_err();
    assert!(
        matches!(refusal, Refusal::ReplayCheckFailed(_)),
        "{refusal:?}"
    );
    assert_eq!(refusal.code(), "replay-check-failed");
    assert!(matches!(
        admit(&guard, &first, NOW.plus_secs(59)),
        Err(Refusal::Replayed)
    ));
    // At the first two codes' expiry their nonces go, and the guard has room again.
    let later = NOW.plus_secs(60);
    admit(&guard, &issue(3, later), later).unwrap();
    assert_eq!(guard.len(), 1);
}

#[test]
fn every_refusal_has_its_own_code_and_a_sentence() {
    let refusals = [
        Refusal::Malformed(Malformed::Prefix),
        Refusal::UnknownKey(KeyId(1)),
        Refusal::BadSignature,
        Refusal::ValidityTooLong {
            validity_secs: 1,
            max_secs: 0,
        },
        Refusal::NotYetValid {
            issued_at: NOW,
            now: NOW,
        },
        Refusal::Expired {
            expires_at: NOW,
            now: NOW,
        },
        Refusal::CardBlocked {
            ecard: HOLDER,
            reason: BlockReason::Lost,
        },
        Refusal::Replayed,
        Refusal::WrongPurpose {
            needed: Purpose::Payment,
            shown: Purpose::Identity,
        },
    ];
    let codes: std::collections::BTreeSet<_> = refusals.iter().map(Refusal::code).collect();
    assert_eq!(codes.len(), refusals.len());
    for refusal in &refusals {
        assert!(!refusal.to_string().is_empty());
    }
}

fn any_code() -> impl Strategy<Value = &'static String> {
    prop_oneof![Just(&codes()[0]), Just(&codes()[1])]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_single_bit_flip_of_the_signed_bytes_verifies(code in any_code(), bit in 0usize..968) {
        let mut bytes = code_bytes(code).unwrap();
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let refusal = verify(&code_text(&bytes)).unwrap_err();
        // A flip in the key id is an unknown key; anywhere else the form or the signature fails.
        let key_id_bits = 8..40;
        if key_id_bits.contains(&bit) {
            prop_assert!(matches!(refusal, Refusal::UnknownKey(_)), "{:?}", refusal);
        } else {
            prop_assert!(
                matches!(refusal, Refusal::BadSignature | Refusal::Malformed(_)),
                "{:?}", refusal
            );
        }
    }

    #[test]
    fn no_byte_change_of_the_text_verifies(code in any_code(), at in 0usize..200, byte in any::<u8>()) {
        let mut text = code.clone().into_bytes();
        let at = at % text.len();
        prop_assume!(text[at] != byte);
        text[at] = byte;
        let text = String::from_utf8_lossy(&text).into_owned();
        prop_assert!(verify(&text).is_err());
    }

    #[test]
    fn no_truncated_code_verifies(code in any_code(), keep in 0usize..200) {
        let keep = keep % code.len();
        prop_assert!(verify(&code[..keep]).is_err());
        // Cutting whole bytes off the payload and re-encoding is refused too.
        let bytes = code_bytes(code).unwrap();
        let cut = keep % bytes.len();
        prop_assert!(verify(&code_text(&bytes[..cut])).is_err());
    }

    #[test]
    fn no_extended_code_verifies(code in any_code(), tail in "[A-Z2-7 =:]{1,16}", extra in proptest::collection::vec(any::<u8>(), 1..16)) {
        let extended = format!("{code}{tail}");
        prop_assert!(verify(&extended).is_err());
        let mut bytes = code_bytes(code).unwrap();
        bytes.extend_from_slice(&extra);
        prop_assert!(verify(&code_text(&bytes)).is_err());
    }

    #[test]
    fn no_code_re_signed_by_another_key_verifies(code in any_code(), bit in 0usize..328) {
        // Any body, changed or not, signed by a key other than the platform's.
        let mut body = body_of(code);
        let bit = bit % (body.len() * 8);
        if bit >= 8 {
            body[bit / 8] ^= 1 << (bit % 8);
        }
        let refusal = verify(&code_text(&sign_body(&other_platform().secret, &body))).unwrap_err();
        prop_assert!(
            matches!(refusal, Refusal::BadSignature | Refusal::UnknownKey(_) | Refusal::Malformed(_)),
            "{:?}", refusal
        );
    }

    #[test]
    fn arbitrary_text_never_verifies_and_never_panics(text in "\\PC{0,300}") {
        prop_assert!(verify(&text).is_err());
    }

    #[test]
    fn any_claims_round_trip(ecard in any::<[u8; 16]>(), member in proptest::option::of(any::<[u8; 16]>()), payment in any::<bool>(), at in 0u64..=u64::from(u32::MAX) - 60) {
        let claims = Claims {
            ecard: EcardId::from_bytes(ecard),
            member: member.map(EcardId::from_bytes),
            purpose: if payment { Purpose::Payment } else { Purpose::Identity },
        };
        let at = UnixTime(at);
        let code = platform().signer.issue(&claims, at).unwrap();
        let verified = verify_offline(&code, &platform().keys, at, &Blacklist::new()).unwrap();
        prop_assert_eq!(verified.claims, claims);
        prop_assert_eq!(verified.issued_at, at);
    }
}

#[test]
fn a_time_past_2106_cannot_be_issued() {
    let after = UnixTime(u64::from(u32::MAX) + 1);
    assert!(matches!(
        platform().signer.issue(&claims(None), after),
        Err(sscard_ecard::IssueError::TimeOutOfRange(t)) if t == after
    ));
}
