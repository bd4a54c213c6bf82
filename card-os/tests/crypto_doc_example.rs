//! The worked example of docs/security.md, "Cryptography": every number printed there
//! is checked here, so the document and the card cannot drift apart.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use card_os::crypto::diversify::{card_factor, region_factor};
use card_os::crypto::mac::line_mac;
use card_os::crypto::sm::{command_mac, verify_command_mac};
use card_os::crypto::{
    diversify, diversify_two_level, external_cryptogram, internal_authenticate, session_key,
    Algorithm, SecretKey,
};
use hex_literal::hex;

const MASTER: [u8; 16] = hex!("404142434445464748494A4B4C4D4E4F");
const CARD_IDENTIFICATION_CODE: [u8; 16] = hex!("330300D15600000501005794E4B2CBAC");
const CHALLENGE: [u8; 8] = hex!("1122334455667788");
const INTERNAL_AUTH_DATA: [u8; 8] = hex!("0102030405060708");
const SM_HEADER: [u8; 4] = hex!("04D68500");
const SM_DATA: [u8; 3] = hex!("313233");

struct Expected {
    regional: [u8; 16],
    card: [u8; 16],
    external: &'static [u8],
    internal: &'static [u8],
    session: [u8; 16],
    mac: [u8; 4],
}

fn check(algorithm: Algorithm, expected: &Expected) {
    let master = SecretKey::new(algorithm, MASTER);
    let region = region_factor(&hex!("330300")).unwrap();
    assert_eq!(&region, b"330300sx");
    assert_eq!(region, hex!("3333303330307378"));
    let card = card_factor(&CARD_IDENTIFICATION_CODE).unwrap();
    assert_eq!(card, hex!("01005794E4B2CBAC"));

    let regional = diversify(&master, &region).unwrap();
    assert_eq!(regional.expose_bytes(), &expected.regional);
    let card_key = diversify_two_level(&master, &region, &card).unwrap();
    assert_eq!(card_key.expose_bytes(), &expected.card);

    assert_eq!(
        external_cryptogram(&card_key, &CHALLENGE)
            .unwrap()
            .as_bytes(),
        expected.external
    );
    assert_eq!(
        internal_authenticate(&card_key, &INTERNAL_AUTH_DATA)
            .unwrap()
            .as_bytes(),
        expected.internal
    );

    let session = session_key(&card_key, &CHALLENGE).unwrap();
    assert_eq!(session.expose_bytes(), &expected.session);
    let mut iv = CHALLENGE.to_vec();
    iv.resize(algorithm.block_size(), 0);
    // The MAC input written out as in the document: header, Lc = 3 + 4, data.
    assert_eq!(
        line_mac(&session, &iv, &[&hex!("04D6850007313233")]).unwrap(),
        expected.mac
    );
    assert_eq!(
        command_mac(&card_key, &CHALLENGE, SM_HEADER, &SM_DATA).unwrap(),
        expected.mac
    );
    let apdu_body = [&SM_DATA[..], &expected.mac[..]].concat();
    assert_eq!(
        verify_command_mac(&card_key, &CHALLENGE, SM_HEADER, &apdu_body).unwrap(),
        SM_DATA
    );
}

#[test]
fn worked_example_3des() {
    check(
        Algorithm::Des3,
        &Expected {
            regional: hex!("0F2B858C0F5AE5CADB8E9067AEECD678"),
            card: hex!("3D3242740916324DA75BF101708601E3"),
            external: &hex!("BF9EDAEF64015A91"),
            internal: &hex!("87548C324005D1A2"),
            session: hex!("BF9EDAEF64015A91F58C164B961B0B38"),
            mac: hex!("BB910637"),
        },
    );
}

#[test]
fn worked_example_sm4() {
    check(
        Algorithm::Sm4,
        &Expected {
            regional: hex!("0861143EDDC722F3CD1EA135C36F6B6C"),
            card: hex!("2F25A59AB70A70785595449D8FA0B76D"),
            external: &hex!("4F1E76ECB7DC6C12AA7FD5F413A5C6FD"),
            internal: &hex!("994EABC328C93D426EBF50904B36FFCD"),
            session: hex!("DA5A486E335B1B82FFDFFB68E70611C8"),
            mac: hex!("9107F5DD"),
        },
    );
}
