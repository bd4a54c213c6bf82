//! Without a usable configuration every function answers −5 with the reason, never a crash.

use std::os::raw::c_char;

use SSCardDriver::ffi::{iReadCardBas, iVerifyPIN};

fn text(buf: &[u8]) -> String {
    let nul = buf
        .iter()
        .position(|b| *b == 0)
        .expect("a NUL in the buffer");
    encoding_rs::GBK.decode(&buf[..nul]).0.into_owned()
}

#[test]
fn a_missing_configuration_file_is_minus_5_with_its_path() {
    std::env::set_var(
        "SSCARD_DRIVER_CONFIG",
        "/nonexistent/sscard/SSCardDriver.toml",
    );
    let mut out = vec![0u8; 1024];
    // SAFETY: out holds 1024 bytes.
    let code = unsafe { iReadCardBas(3, out.as_mut_ptr().cast::<c_char>()) };
    assert_eq!(code, -5);
    assert!(
        text(&out).contains("/nonexistent/sscard/SSCardDriver.toml"),
        "{}",
        text(&out)
    );
    let bad =
        std::env::temp_dir().join(format!("sscard-drv-badconfig-{}.toml", std::process::id()));
    std::fs::write(
        &bad,
        "[card]\nreader = \"x\"\n[pin]\nsource = \"keyboard\"\n",
    )
    .unwrap();
    std::env::set_var("SSCARD_DRIVER_CONFIG", &bad);
    let mut out = vec![0u8; 512];
    // SAFETY: out holds 512 bytes.
    let code = unsafe { iVerifyPIN(3, out.as_mut_ptr().cast::<c_char>()) };
    let _ = std::fs::remove_file(&bad);
    assert_eq!(code, -5);
    assert!(text(&out).contains("[pin] source"), "{}", text(&out));
}
