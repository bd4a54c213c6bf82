//! The platform keys: generation, files in PKCS#8 PEM and hex, public keys and key ids, the key
//! set as JSON, and secret keys that never print.

use sscard_ecard::{KeyError, PlatformPublicKey, PlatformSecretKey, PublicKeySet, Signer};
use std::path::{Path, PathBuf};

/// A scratch directory removed at the end of the test.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("sscard-ecard-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn same_secret(a: &PlatformSecretKey, b: &PlatformSecretKey) -> bool {
    a.to_hex().as_str() == b.to_hex().as_str()
}

#[test]
fn generated_keys_differ_and_round_trip_through_hex_and_pem() {
    let key = PlatformSecretKey::generate().unwrap();
    let other = PlatformSecretKey::generate().unwrap();
    assert!(!same_secret(&key, &other));
    assert_ne!(key.public_key().key_id(), other.public_key().key_id());

    assert_eq!(key.to_hex().len(), 64);
    let from_hex = PlatformSecretKey::from_hex(key.to_hex().as_str()).unwrap();
    assert!(same_secret(&key, &from_hex));

    let pem = key.to_pkcs8_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let from_pem = PlatformSecretKey::from_pkcs8_pem(&pem).unwrap();
    assert!(same_secret(&key, &from_pem));
    assert_eq!(from_pem.public_key(), key.public_key());
}

#[test]
fn public_keys_round_trip_and_keep_their_key_id() {
    let key = PlatformSecretKey::generate().unwrap();
    let public = key.public_key();
    let hex = public.to_sec1_hex();
    assert_eq!(hex.len(), 130);
    assert!(hex.starts_with("04"));
    assert_eq!(&PlatformPublicKey::from_sec1_hex(&hex).unwrap(), public);
    let pem = public.to_public_key_pem().unwrap();
    let from_pem = PlatformPublicKey::from_public_key_pem(&pem).unwrap();
    assert_eq!(from_pem.key_id(), public.key_id());
}

#[test]
fn the_key_id_is_the_start_of_sm3_over_the_uncompressed_point() {
    use sm3::Digest;
    let key = PlatformSecretKey::generate().unwrap();
    let point = hex::decode(key.public_key().to_sec1_hex()).unwrap();
    let digest = sm3::Sm3::digest(&point);
    let expected = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    assert_eq!(key.public_key().key_id().0, expected);
    assert_eq!(
        key.public_key().key_id().to_string(),
        format!("{expected:08x}")
    );
}

#[test]
fn secret_keys_and_signers_print_redacted() {
    let key = PlatformSecretKey::generate().unwrap();
    let secret_hex = key.to_hex();
    let signer = Signer::new(&key).unwrap();
    for shown in [
        format!("{key:?}"),
        format!("{key:#?}"),
        format!("{signer:?}"),
        format!("{signer:#?}"),
    ] {
        assert!(shown.contains("redacted"), "{shown}");
        assert!(!shown.contains(secret_hex.as_str()), "{shown}");
        assert!(
            shown.contains(&key.public_key().key_id().to_string()),
            "{shown}"
        );
    }
}

#[test]
fn invalid_secret_keys_are_refused() {
    let zero = "0".repeat(64);
    // The SM2 group order n is not a valid scalar, nor is anything above it.
    let order = "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123";
    for text in [
        zero.as_str(),
        order,
        "f".repeat(64).as_str(),
        "12",
        "zz",
        "",
    ] {
        assert!(
            matches!(
                PlatformSecretKey::from_hex(text),
                Err(KeyError::Format { .. })
            ),
            "{text}"
        );
    }
    assert!(matches!(
        PlatformSecretKey::from_pkcs8_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        ),
        Err(KeyError::Format { .. })
    ));
    // A point not on the curve is not a public key.
    let mut point = hex::decode(
        PlatformSecretKey::generate()
            .unwrap()
            .public_key()
            .to_sec1_hex(),
    )
    .unwrap();
    point[64] ^= 1;
    assert!(PlatformPublicKey::from_sec1_hex(&hex::encode(point)).is_err());
}

#[test]
fn key_files_are_read_as_pem_or_hex_and_written_for_the_owner_only() {
    let dir = Scratch::new("keys");
    let key = PlatformSecretKey::generate().unwrap();

    let pem_path = dir.join("platform.pem");
    key.save_pem(&pem_path).unwrap();
    assert!(same_secret(
        &PlatformSecretKey::load(&pem_path).unwrap(),
        &key
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&pem_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Saving never overwrites a key.
    let other = PlatformSecretKey::generate().unwrap();
    assert!(matches!(
        other.save_pem(&pem_path),
        Err(KeyError::Io { .. })
    ));
    assert!(same_secret(
        &PlatformSecretKey::load(&pem_path).unwrap(),
        &key
    ));

    let hex_path = dir.join("platform.hex");
    std::fs::write(&hex_path, format!("{}\n", key.to_hex().as_str())).unwrap();
    assert!(same_secret(
        &PlatformSecretKey::load(&hex_path).unwrap(),
        &key
    ));

    let public_path = dir.join("platform.pub");
    std::fs::write(&public_path, key.public_key().to_public_key_pem().unwrap()).unwrap();
    assert_eq!(
        &PlatformPublicKey::load(&public_path).unwrap(),
        key.public_key()
    );
}

#[test]
fn unreadable_oversized_and_garbage_key_files_are_refused() {
    let dir = Scratch::new("bad-keys");
    assert!(matches!(
        PlatformSecretKey::load(Path::new("/nonexistent/platform.pem")),
        Err(KeyError::Io { .. })
    ));
    let big = dir.join("big.pem");
    std::fs::write(&big, "A".repeat(20_000)).unwrap();
    assert!(matches!(
        PlatformSecretKey::load(&big),
        Err(KeyError::FileTooLarge { .. })
    ));
    assert!(matches!(
        PlatformPublicKey::load(&big),
        Err(KeyError::FileTooLarge { .. })
    ));
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN PRIVATE KEY-----\nnot base64\n").unwrap();
    assert!(matches!(
        PlatformSecretKey::load(&garbage),
        Err(KeyError::Format { .. })
    ));
}

#[test]
fn a_key_set_is_a_json_list_of_points() {
    let first = PlatformSecretKey::generate().unwrap();
    let second = PlatformSecretKey::generate().unwrap();
    let mut set = PublicKeySet::new();
    set.insert(first.public_key().clone()).unwrap();
    set.insert(second.public_key().clone()).unwrap();
    // The same key again is no change.
    set.insert(first.public_key().clone()).unwrap();
    assert_eq!(set.len(), 2);

    let json = serde_json::to_string(&set).unwrap();
    assert!(json.contains(&first.public_key().to_sec1_hex()));
    let back: PublicKeySet = serde_json::from_str(&json).unwrap();
    assert_eq!(back, set);
    assert!(back.get(second.public_key().key_id()).is_some());

    assert!(serde_json::from_str::<PublicKeySet>(r#"["04ab"]"#).is_err());
    assert!(set.remove(first.public_key().key_id()).is_some());
    assert!(set.get(first.public_key().key_id()).is_none());
}
