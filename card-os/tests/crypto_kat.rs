//! Known-answer tests from published vectors; each names its source.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use card_os::crypto::hash::Sha256;
use card_os::crypto::mac::{aes_cmac, CbcMac};
use card_os::crypto::{crc32, decrypt_block, encrypt_block, sha256, Algorithm, SecretKey};
use hex_literal::hex;

const RFC4493_KEY: [u8; 16] = hex!("2b7e151628aed2a6abf7158809cf4f3c");
const RFC4493_MESSAGE: [u8; 64] = hex!(
    "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710"
);

fn rfc4493_cmac(len: usize) -> [u8; 16] {
    let key = SecretKey::new(Algorithm::Aes128, RFC4493_KEY);
    aes_cmac(&key, &RFC4493_MESSAGE[..len]).unwrap()
}

// RFC 4493 section 4, examples 1 to 4.
#[test]
fn aes_cmac_rfc4493_empty_message() {
    assert_eq!(rfc4493_cmac(0), hex!("bb1d6929e95937287fa37d129b756746"));
}

#[test]
fn aes_cmac_rfc4493_16_bytes() {
    assert_eq!(rfc4493_cmac(16), hex!("070a16b46b4d4144f79bdd9dd04a287c"));
}

#[test]
fn aes_cmac_rfc4493_40_bytes() {
    assert_eq!(rfc4493_cmac(40), hex!("dfa66747de9ae63030ca32611497c827"));
}

#[test]
fn aes_cmac_rfc4493_64_bytes() {
    assert_eq!(rfc4493_cmac(64), hex!("51f0bebf7e3b9d92fc49741779363cfe"));
}

#[test]
fn aes_cmac_refuses_a_non_aes_key() {
    let key = SecretKey::new(Algorithm::Sm4, RFC4493_KEY);
    assert_eq!(
        aes_cmac(&key, b"").unwrap_err(),
        card_os::crypto::Error::UnsupportedAlgorithm
    );
}

// GB/T 32907-2016 Annex A, example 1: key = plaintext = 0123456789abcdeffedcba9876543210.
const SM4_KEY: [u8; 16] = hex!("0123456789abcdeffedcba9876543210");

#[test]
fn sm4_gbt32907_example1_encrypts_and_decrypts() {
    let key = SecretKey::new(Algorithm::Sm4, SM4_KEY);
    let mut block = SM4_KEY;
    encrypt_block(&key, &mut block).unwrap();
    assert_eq!(block, hex!("681edf34d206965e86b3e94f536e4246"));
    decrypt_block(&key, &mut block).unwrap();
    assert_eq!(block, SM4_KEY);
}

// GB/T 32907-2016 Annex A, example 2: the same plaintext encrypted 1,000,000 times.
#[test]
fn sm4_gbt32907_example2_one_million_encryptions() {
    let key = SecretKey::new(Algorithm::Sm4, SM4_KEY);
    let mut block = SM4_KEY;
    for _ in 0..1_000_000 {
        encrypt_block(&key, &mut block).unwrap();
    }
    assert_eq!(block, hex!("595298c7c6fd271f0402f804c33d3f66"));
}

// FIPS 197 Appendix C.1 (AES-128).
#[test]
fn aes128_fips197_c1() {
    let key = SecretKey::new(Algorithm::Aes128, hex!("000102030405060708090a0b0c0d0e0f"));
    let mut block = hex!("00112233445566778899aabbccddeeff");
    encrypt_block(&key, &mut block).unwrap();
    assert_eq!(block, hex!("69c4e0d86a7b0430d8cdb78070b4c55a"));
    decrypt_block(&key, &mut block).unwrap();
    assert_eq!(block, hex!("00112233445566778899aabbccddeeff"));
}

// Two-key 3DES with K1 = K2 is single DES; the classic DES example key 133457799BBCDFF1
// enciphers 0123456789ABCDEF to 85E813540F0AB405 (J. Orlin Grabbe, "The DES Algorithm
// Illustrated").
#[test]
fn des3_with_equal_halves_is_single_des() {
    let key = SecretKey::new(Algorithm::Des3, hex!("133457799BBCDFF1 133457799BBCDFF1"));
    let mut block = hex!("0123456789ABCDEF");
    encrypt_block(&key, &mut block).unwrap();
    assert_eq!(block, hex!("85E813540F0AB405"));
}

// NIST SP 800-38A F.2.1 (CBC-AES128.Encrypt): the CBC-MAC (ISO/IEC 9797-1 MAC
// algorithm 1, no padding) of P1 || P2 with that IV is the last ciphertext block C2.
#[test]
fn cbc_mac_algorithm1_sp800_38a_cbc_vector() {
    let key = SecretKey::new(Algorithm::Aes128, RFC4493_KEY);
    let mut mac = CbcMac::algorithm1(&key, &hex!("000102030405060708090a0b0c0d0e0f")).unwrap();
    mac.update(&RFC4493_MESSAGE[..32]).unwrap();
    assert_eq!(
        mac.finalize_unpadded().unwrap().as_bytes(),
        hex!("5086cb9b507219ee95db113a917678b2")
    );
}

// Bouncy Castle's ISO9797Alg3MacTest (bc-java, core/src/test/.../ISO9797Alg3MacTest.java):
// DES retail MAC, key 7CA110454A1A6E570131D9619DC1376E, zero IV, "Hello World !!!!"
// without padding gives F09B856213BAB83B.
#[test]
fn retail_mac_algorithm3_bouncy_castle_vector() {
    let key = SecretKey::new(Algorithm::Des3, hex!("7CA110454A1A6E570131D9619DC1376E"));
    let mut mac = CbcMac::algorithm3(&key, &[0; 8]).unwrap();
    mac.update(b"Hello World !!!!").unwrap();
    assert_eq!(
        mac.finalize_unpadded().unwrap().as_bytes(),
        hex!("F09B856213BAB83B")
    );
}

#[test]
fn retail_mac_refuses_a_16_byte_block_key() {
    let key = SecretKey::new(Algorithm::Aes128, RFC4493_KEY);
    assert!(CbcMac::algorithm3(&key, &[]).is_err());
}

// FIPS 180-4 / NIST example "abc" (one block).
#[test]
fn sha256_fips180_abc() {
    assert_eq!(
        sha256(b"abc"),
        hex!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
}

// NIST example two-block message, hashed in pieces.
#[test]
fn sha256_fips180_two_blocks_in_pieces() {
    let message = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    let mut hasher = Sha256::new();
    message.chunks(7).for_each(|piece| hasher.update(piece));
    assert_eq!(
        hasher.finalize(),
        hex!("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    );
}

// The CRC-32 check value of the catalogue of parametrised CRCs (CRC-32/ISO-HDLC).
#[test]
fn crc32_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}
