//! Interoperability with another SM2 implementation: a key made by OpenSSL 3 (`openssl genpkey
//! -algorithm SM2`, PKCS#8) loads, and a code whose body was laid out by hand from
//! docs/electronic-card.md and signed by `openssl pkeyutl -sign -rawin -digest sm3 -pkeyopt
//! distid:1234567812345678` verifies. (The other way, a code of ours verifies with `openssl pkeyutl
//! -verify` and the same options: checked by hand, see docs/electronic-card.md.) The fixture key
//! is a test key, nothing else.

use sscard_ecard::{
    verify_offline, Blacklist, EcardId, KeyId, Nonce, PlatformPublicKey, PlatformSecretKey,
    PublicKeySet, Purpose, Signer, UnixTime,
};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn an_openssl_key_and_an_openssl_signed_code_are_accepted() {
    let secret = PlatformSecretKey::load(&fixture("openssl-sm2-test-key.pem")).unwrap();
    let public = PlatformPublicKey::load(&fixture("openssl-sm2-test-key.pub")).unwrap();
    assert_eq!(secret.public_key(), &public);
    assert_eq!(public.key_id(), "8ebb07ee".parse::<KeyId>().unwrap());

    let mut keys = PublicKeySet::new();
    keys.insert(public).unwrap();
    let code = std::fs::read_to_string(fixture("openssl-signed-code.txt")).unwrap();
    let issued_at = UnixTime(1_800_000_000);
    let verified = verify_offline(
        code.trim(),
        &keys,
        issued_at.plus_secs(10),
        &Blacklist::new(),
    )
    .unwrap();
    assert_eq!(verified.claims.ecard, EcardId::from_bytes([0x11; 16]));
    assert_eq!(
        verified.claims.member,
        Some(EcardId::from_bytes([0x22; 16]))
    );
    assert_eq!(verified.claims.purpose, Purpose::Payment);
    assert_eq!(verified.issued_at, issued_at);
    assert_eq!(verified.expires_at, issued_at.plus_secs(60));
    let nonce: [u8; 12] = std::array::from_fn(|i| i as u8);
    assert_eq!(verified.nonce, Nonce(nonce));

    // Our signer, with the same key, the same claims and nonce, lays out the same body: the two
    // codes differ only in the signature (OpenSSL draws k at random, sm2 by RFC 6979).
    let ours = Signer::new(&secret)
        .unwrap()
        .issue_with_nonce(&verified.claims, issued_at, Nonce(nonce))
        .unwrap();
    let body = |code: &str| sscard_ecard::payload::code_bytes(code).unwrap()[..57].to_vec();
    assert_eq!(body(&ours), body(code.trim()));
    assert!(verify_offline(&ours, &keys, issued_at, &Blacklist::new()).is_ok());
}

#[test]
fn a_code_signed_with_another_distinguishing_id_is_refused() {
    // OpenSSL 3.0's `pkeyutl -rawin` without `-pkeyopt distid:1234567812345678` signs with an
    // empty identifier: the signature is not ours, and the code is refused.
    let mut keys = PublicKeySet::new();
    keys.insert(PlatformPublicKey::load(&fixture("openssl-sm2-test-key.pub")).unwrap())
        .unwrap();
    let code = std::fs::read_to_string(fixture("openssl-signed-code-empty-distid.txt")).unwrap();
    let now = UnixTime(1_800_000_010);
    assert!(matches!(
        verify_offline(code.trim(), &keys, now, &Blacklist::new()),
        Err(sscard_ecard::Refusal::BadSignature)
    ));
}
