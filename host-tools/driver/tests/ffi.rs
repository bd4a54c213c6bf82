//! The C functions themselves (as the .so exports them), in this process against card images:
//! GBK in and out, the byte-exact national format, null and non-GBK parameters, threads, and a
//! property test that no input makes any function panic or write past the size the spec
//! promises (a canary after the buffer).

mod support;

use std::ffi::CString;
use std::os::raw::{c_char, c_long};
use std::sync::OnceLock;

use proptest::prelude::*;
use support::Fixture;
use SSCardDriver::api::{signature, Param, FUNCTIONS};
use SSCardDriver::ffi::*;

/// One card and PSAM for the whole binary (the C functions use the process's driver, whose
/// configuration comes from SSCARD_DRIVER_CONFIG).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let f = Fixture::new("drv-ffi", "3.0");
        let path = f.dir.path().join("SSCardDriver.toml");
        std::fs::write(&path, f.config_text(true, "")).unwrap();
        std::env::set_var("SSCARD_DRIVER_CONFIG", &path);
        f
    })
}

const CANARY: u8 = 0xA5;
const CANARY_LEN: usize = 64;

/// A pOutInfo of `capacity` bytes followed by a canary.
struct OutBuf(Vec<u8>, usize);

impl OutBuf {
    fn new(capacity: usize) -> Self {
        OutBuf(vec![CANARY; capacity + CANARY_LEN], capacity)
    }
    fn ptr(&mut self) -> *mut c_char {
        self.0.as_mut_ptr().cast()
    }
    /// The string written (without its NUL), after checking the NUL is inside the buffer and the
    /// canary untouched.
    fn text(&self) -> &[u8] {
        assert!(
            self.0[self.1..].iter().all(|b| *b == CANARY),
            "written past the buffer"
        );
        let nul = self.0[..self.1]
            .iter()
            .position(|b| *b == 0)
            .expect("a NUL inside the buffer");
        &self.0[..nul]
    }
}

fn c(s: &[u8]) -> CString {
    CString::new(s).unwrap()
}

#[test]
fn read_card_bas_is_byte_exact_gbk() {
    fixture();
    let mut out = OutBuf::new(1024);
    // SAFETY: out holds 1024 bytes.
    let code = unsafe { iReadCardBas(3, out.ptr()) };
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(out.text()));
    assert_eq!(out.text(), expected_bas());
}

/// The sample holder's card as the national format has it, in GBK.
fn expected_bas() -> Vec<u8> {
    let mut expected =
        b"110100|110105199001010010|T0000001X|110100D156000005544553540000000A|".to_vec();
    expected.extend_from_slice(&[0xD5, 0xC5, 0xB2, 0xE2, 0xCA, 0xD4]); // 张测试 in GBK
    expected.extend_from_slice(
        b"|0081544C308684110154455354|3.00|20240101|20340101|000000000000|HIS-01|",
    );
    expected
}

#[test]
fn parameters_null_non_gbk_and_too_long_get_their_codes() {
    fixture();
    let mut out = OutBuf::new(20 * 1024);
    let info = c(b"110100D156000005544553540000000A|T0000001X|");
    let addr = c(b"SSSEEF06|09|$");
    // SAFETY: every pointer is null or a live NUL-terminated string; out is large enough.
    unsafe {
        assert_eq!(iReadCardBas(3, std::ptr::null_mut()), -14);
        assert_eq!(
            iReadCard(
                3,
                2,
                std::ptr::null_mut(),
                addr.as_ptr().cast_mut(),
                out.ptr()
            ),
            -14
        );
        let bad = c(&[0x81, 0x20]);
        assert_eq!(
            iReadCard(
                3,
                2,
                info.as_ptr().cast_mut(),
                bad.as_ptr().cast_mut(),
                out.ptr()
            ),
            -41
        );
        let long = c(&vec![b'A'; 9000]);
        assert_eq!(
            iReadCard(
                3,
                2,
                info.as_ptr().cast_mut(),
                long.as_ptr().cast_mut(),
                out.ptr()
            ),
            -42
        );
        let code = iReadCard(
            3,
            2,
            info.as_ptr().cast_mut(),
            addr.as_ptr().cast_mut(),
            out.ptr(),
        );
        assert_eq!(code, 0);
        assert_eq!(out.text(), b"SSSEEF06|\xD5\xC5\xB2\xE2\xCA\xD4|$");
        // Messages are GBK too.
        let none = c(b"SSSEEF06|77|$");
        assert_eq!(
            iReadCard(
                3,
                2,
                info.as_ptr().cast_mut(),
                none.as_ptr().cast_mut(),
                out.ptr()
            ),
            -23
        );
        assert!(!out.text().is_empty());
    }
}

#[test]
fn calls_from_several_threads_are_serialised() {
    fixture();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(|| {
                (0..5)
                    .map(|_| {
                        let mut out = OutBuf::new(1024);
                        // SAFETY: out holds 1024 bytes.
                        let code = unsafe { iReadCardBas(3, out.ptr()) };
                        (code, out.text().to_vec())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        for (code, len) in t.join().unwrap() {
            assert_eq!((code, len), (0, expected_bas()));
        }
    }
}

#[test]
fn the_exports_match_the_signature_table() {
    assert_eq!(FUNCTIONS.len(), 23);
    let header = include_str!("../include/SSCardDriver.h");
    for s in FUNCTIONS {
        let params: Vec<String> = s
            .params
            .iter()
            .map(|p| {
                if p.is_int() {
                    format!("int {}", p.name())
                } else {
                    format!("char *{}", p.name())
                }
            })
            .chain(["char *pOutInfo".to_string()])
            .collect();
        let declaration = format!("long {}({});", s.name, params.join(", "));
        assert!(
            header.contains(&declaration),
            "the header lacks {declaration}"
        );
    }
}

/// Calls function `name` through its C export with these arguments.
fn call_c(name: &str, ints: &[i32], strs: &[CString], out: &mut OutBuf) -> c_long {
    let s = |i: usize| strs[i].as_ptr().cast_mut();
    let n = |i: usize| ints[i];
    let o = out.ptr();
    // SAFETY: every string is a live CString; out has the function's promised capacity.
    unsafe {
        match name {
            "iReadCardBas" => iReadCardBas(n(0), o),
            "iReadCard" => iReadCard(n(0), n(1), s(0), s(1), o),
            "iWriteCard" => iWriteCard(n(0), s(0), s(1), s(2), o),
            "iVerifyPIN" => iVerifyPIN(n(0), o),
            "iChangePIN" => iChangePIN(n(0), o),
            "iReloadPIN" => iReloadPIN(n(0), s(0), o),
            "iUnblockPIN" => iUnblockPIN(n(0), s(0), o),
            "iDoDebit" => iDoDebit(n(0), s(0), s(1), o),
            "iReadDebitRecord" => iReadDebitRecord(n(0), o),
            "iReadCardBas_HSM_Step1" => iReadCardBas_HSM_Step1(n(0), o),
            "iReadCardBas_HSM_Step2" => iReadCardBas_HSM_Step2(s(0), o),
            "iReadCard_HSM_Step1" => iReadCard_HSM_Step1(n(0), s(0), s(1), o),
            "iReadCard_HSM_Step2" => iReadCard_HSM_Step2(s(0), o),
            "iWriteCard_HSM_Step1" => iWriteCard_HSM_Step1(n(0), s(0), s(1), o),
            "iWriteCard_HSM_Step2" => iWriteCard_HSM_Step2(s(0), s(1), o),
            "iReloadPIN_HSM_Step1" => iReloadPIN_HSM_Step1(n(0), s(0), o),
            "iReloadPIN_HSM_Step2" => iReloadPIN_HSM_Step2(s(0), o),
            "iReloadPIN_HSM_Step3" => iReloadPIN_HSM_Step3(s(0), o),
            "iUnblockPIN_HSM_Step1" => iUnblockPIN_HSM_Step1(n(0), s(0), o),
            "iUnblockPIN_HSM_Step2" => iUnblockPIN_HSM_Step2(s(0), o),
            "iUnblockPIN_HSM_Step3" => iUnblockPIN_HSM_Step3(s(0), o),
            "iDoDebit_HSM_Step1" => iDoDebit_HSM_Step1(n(0), s(0), s(1), o),
            "iDoDebit_HSM_Step2" => iDoDebit_HSM_Step2(s(0), o),
            other => panic!("no export {other}"),
        }
    }
}

/// Strings near the grammars (so that parsing goes deep) and arbitrary bytes.
fn arg_string() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(1u8..=255, 0..300),
        "[0-9A-F|$:^SE]{0,80}".prop_map(String::into_bytes),
        Just(b"110100D156000005544553540000000A|T0000001X|".to_vec()),
        Just(b"SSSEEF06|08|09|$SSSEEF05|01|03|05|06|07|$".to_vec()),
        "[0-9A-F]{16,64}\\|[0-9A-F]{0,64}\\|".prop_map(String::into_bytes),
        "[0-9.]{1,12}\\|[0-9.]{1,12}\\|[0-9]{14}\\|".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn no_input_panics_or_writes_past_the_buffer(
        function in 0usize..23,
        ints in proptest::collection::vec(-3i32..6, 2),
        strs in proptest::collection::vec(arg_string(), 3),
    ) {
        fixture();
        let sig = FUNCTIONS[function];
        let strs: Vec<CString> = strs.into_iter().map(|s| CString::new(s).unwrap()).collect();
        let mut out = OutBuf::new(sig.out_capacity);
        let code = call_c(sig.name, &ints, &strs, &mut out);
        prop_assert!(code <= 0);
        let _ = out.text();
        prop_assert_eq!(signature(sig.name).map(|s| s.params.iter().filter(|p| **p == Param::Key).count() <= 1), Some(true));
    }
}
