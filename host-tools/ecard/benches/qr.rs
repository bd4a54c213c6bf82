//! What a code costs on one core: issuing (signing), offline verification (with a cached
//! blacklist, then also the in-memory replay guard), next to bare SM2 signing and verification of
//! the same bytes with the same key, in the same run. Not a test: numbers go to
//! docs/performance.md. Run: `cargo bench -p sscard-ecard --bench qr [-- SECONDS_PER_ROUND]`.

use sm2::dsa::signature::{MultipartSigner, MultipartVerifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sscard_ecard::payload::{code_bytes, SIGNING_CONTEXT};
use sscard_ecard::{
    verify_and_admit, verify_offline, Blacklist, BlacklistChange, BlacklistDelta, BlacklistEntry,
    BlockReason, Claims, EcardId, MemoryReplayGuard, PlatformSecretKey, PublicKeySet, Purpose,
    Signer, UnixTime, VerifyPolicy, DISTINGUISHING_ID,
};
use std::hint::black_box;
use std::time::Instant;

const CODES: usize = 4096;
const ROUNDS: usize = 5;
const BLACKLIST_ENTRIES: u32 = 100_000;

/// Runs `step` (which does `i`'s piece of work) for about `seconds`; answers operations per second.
fn rate(seconds: f64, mut step: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    let mut done = 0usize;
    loop {
        for _ in 0..64 {
            step(done);
            done += 1;
        }
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= seconds {
            return done as f64 / elapsed;
        }
    }
}

fn ecard(n: u32) -> EcardId {
    let mut bytes = [0xeeu8; 16];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    EcardId::from_bytes(bytes)
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1.0);
    let now = UnixTime::now();
    let secret = PlatformSecretKey::generate().expect("key");
    let signer = Signer::new(&secret).expect("signer");
    let mut keys = PublicKeySet::new();
    keys.insert(secret.public_key().clone()).expect("key set");

    // A cached blacklist of realistic size (none of the codes' e-cards is on it).
    let mut blacklist = Blacklist::new();
    let changes = (0..BLACKLIST_ENTRIES)
        .map(|n| BlacklistChange::Block {
            entry: BlacklistEntry::Ecard(ecard(n)),
            reason: BlockReason::Lost,
        })
        .collect();
    blacklist
        .apply(&BlacklistDelta {
            from_version: 0,
            to_version: 1,
            changes,
        })
        .expect("blacklist");

    let claims: Vec<Claims> = (0..CODES as u32)
        .map(|n| Claims {
            ecard: ecard(BLACKLIST_ENTRIES + n),
            member: None,
            purpose: Purpose::Payment,
        })
        .collect();
    let codes: Vec<String> = claims
        .iter()
        .map(|c| signer.issue(c, now).expect("issue"))
        .collect();

    // The bare primitive on the very bytes the codes sign.
    let scalar = sm2::SecretKey::from_slice(&hex::decode(secret.to_hex().as_str()).expect("hex"))
        .expect("scalar");
    let bare_signing = SigningKey::new(DISTINGUISHING_ID, &scalar).expect("signing key");
    let bare_verifying: VerifyingKey = bare_signing.verifying_key().clone();
    let signed: Vec<(Vec<u8>, Signature)> = codes
        .iter()
        .map(|code| {
            let bytes = code_bytes(code).expect("bytes");
            let (body, signature) = bytes.split_at(bytes.len() - 64);
            (
                body.to_vec(),
                Signature::from_slice(signature).expect("signature"),
            )
        })
        .collect();

    println!(
        "{CODES} codes of {} characters, blacklist of {BLACKLIST_ENTRIES} e-cards, {ROUNDS} rounds of {seconds} s, best of each",
        codes[0].len()
    );
    let mut best = [0f64; 5];
    for _ in 0..ROUNDS {
        let round = [
            rate(seconds, |i| {
                black_box(signer.issue(&claims[i % CODES], now).expect("issue"));
            }),
            rate(seconds, |i| {
                let (body, _) = &signed[i % CODES];
                let s: Signature = bare_signing
                    .try_multipart_sign(&[SIGNING_CONTEXT, body])
                    .expect("sign");
                black_box(s);
            }),
            rate(seconds, |i| {
                black_box(
                    verify_offline(&codes[i % CODES], &keys, now, &blacklist).expect("valid"),
                );
            }),
            {
                // A fresh guard each pass over the codes, so every admission is a first use.
                let mut guard = MemoryReplayGuard::default();
                let policy = VerifyPolicy::default();
                rate(seconds, |i| {
                    if i % CODES == 0 {
                        guard = MemoryReplayGuard::default();
                    }
                    black_box(
                        verify_and_admit(
                            &codes[i % CODES],
                            &keys,
                            now,
                            &blacklist,
                            &guard,
                            &policy,
                        )
                        .expect("admitted"),
                    );
                })
            },
            rate(seconds, |i| {
                let (body, signature) = &signed[i % CODES];
                bare_verifying
                    .multipart_verify(&[SIGNING_CONTEXT, body], signature)
                    .expect("verifies");
            }),
        ];
        for (best, now) in best.iter_mut().zip(round) {
            *best = best.max(now);
        }
    }
    let [issue, bare_sign, verify, admit, bare_verify] = best;
    let line = |label: &str, per_second: f64, bare: f64, bare_label: &str| {
        println!(
            "{label:<44} {per_second:>8.0} /s  {:>6.1} µs   {:.2}× {bare_label}",
            1e6 / per_second,
            per_second / bare
        );
    };
    line(
        "issue (sign, nonce, encode)",
        issue,
        bare_sign,
        "bare SM2 sign",
    );
    line("bare SM2 sign", bare_sign, bare_sign, "bare SM2 sign");
    line(
        "verify_offline (parse, SM2, time, blacklist)",
        verify,
        bare_verify,
        "bare SM2 verify",
    );
    line(
        "verify_offline + replay guard",
        admit,
        bare_verify,
        "bare SM2 verify",
    );
    line(
        "bare SM2 verify",
        bare_verify,
        bare_verify,
        "bare SM2 verify",
    );
}
