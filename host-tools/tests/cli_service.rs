//! No PC/SC service: one sentence and exit code 3, never a hang.

mod common;
use common::*;

/// pcsc-lite finds pcscd through this socket path; pointing it at nothing is "pcscd not running"
/// whatever runs on the machine.
const SOCKET_VARIABLE: &str = "PCSCLITE_CSOCK_NAME";

#[test]
fn readers_without_pcscd_is_service_unavailable() {
    let dir = TestDir::new("cli-no-pcscd");
    let socket = dir.path().join("pcscd.comm");
    for args in [&["readers"][..], &["atr"], &["apdu", "00A4000C023F00"]] {
        let run = sscard_env(args, &[(SOCKET_VARIABLE, socket.to_str().unwrap())]);
        assert_eq!(run.code, EXIT_SERVICE, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr.trim(),
            "sscard: the PC/SC service is not running (start pcscd)"
        );
    }
    let run = sscard_env(
        &["--json", "readers"],
        &[(SOCKET_VARIABLE, socket.to_str().unwrap())],
    );
    assert_eq!(run.json()["error"]["kind"], "service_unavailable");
}

#[test]
fn readers_on_this_machine_without_pcscd() {
    // The plain condition of a fresh machine; skipped where pcscd runs (another test may start it).
    if std::os::unix::net::UnixStream::connect("/run/pcscd/pcscd.comm").is_ok() {
        eprintln!("skipped: pcscd is running on this machine");
        return;
    }
    let run = sscard(&["readers"]);
    assert_eq!(run.code, EXIT_SERVICE, "{}", run.stderr);
}
