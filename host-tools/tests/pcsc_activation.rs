//! The bank-outlet activation through the real PC/SC stack (docs/activation.md): a two-reader
//! terminal with the card in "Virtual PCD 00 00" and the PSAM in "Virtual PCD 00 01", through the
//! library and through `sscard activate`; and the card pulled after every step of the activation,
//! put back, and the activation finished (or reported) by the rerun from the card and the journal.
//! Ignored by a plain `cargo test`: scripts/pcsc-tests.sh runs it with `--ignored`.

mod pcsc_support;

use std::process::Output;

use file_structures::personalise::IssuerKeys;
use host_tools::card::info::{read_card_info, Activation};
use host_tools::jobs::activation::{
    ActivationError, GivenPins, InputError, Journal, PinSource, Receipt, Step,
};
use host_tools::protocol::apdu::{build, CommandApdu};
use host_tools::protocol::client::{Client, ClientError};
use host_tools::testdir::TestDir;
use host_tools::transport::vpcd::{ServeOptions, FIRST_SLOT_PORT, SECOND_SLOT_PORT};
use host_tools::transport::{CardTransport, ResetKind, TransportError};
use pcsc_support::activation::*;
use pcsc_support::*;
use serde_json::json;

/// The holder's PIN entries, counting how often the terminal asked for them.
struct Pins {
    asked: usize,
}

impl PinSource for Pins {
    fn new_pin(&mut self, initial: &str) -> Result<card_os::crypto::Pin, InputError> {
        self.asked += 1;
        GivenPins(NEW_PIN.into(), NEW_PIN.into()).new_pin(initial)
    }
}

fn sw<T: CardTransport>(client: &mut Client<T>, command: &CommandApdu) -> u16 {
    client.send(command).expect("the card answers").sw.to_u16()
}

/// What the card in the first reader says, through PC/SC: its activation record, and after a cold
/// reset, the PIN's tries left (VERIFY without data) and whether `NEW_PIN` is the PIN.
fn card_state() -> (Activation, u16, u16) {
    let mut client = Client::new(open_reader(READER));
    let keys = IssuerKeys::test_keys().unwrap();
    let activation = read_card_info(&mut client, &layout(), Some(&keys))
        .expect("the card reads")
        .activation;
    client.reset(ResetKind::Cold).expect("cold reset");
    let tries = sw(&mut client, &build::verify_tries_left());
    let new_pin = card_os::crypto::Pin::from_ascii(NEW_PIN.as_bytes()).unwrap();
    let verified = sw(&mut client, &build::verify(&new_pin));
    (activation, tries, verified)
}

/// The card is activated by this terminal, and the holder's new PIN works with all its tries.
fn assert_activated_with_new_pin(label: &str) {
    let (activation, tries, verified) = card_state();
    match activation {
        Activation::Activated { fields } => {
            assert_eq!(fields["activation_date"], DATE, "{label}");
            assert_eq!(fields["activation_outlet"], OUTLET, "{label}");
            assert_eq!(fields["activation_terminal"], TERMINAL, "{label}");
        }
        other => panic!("{label}: the card is not activated: {other:?}"),
    }
    assert_eq!(tries, 0x63C6, "{label}: the PIN's tries");
    assert_eq!(verified, 0x9000, "{label}: VERIFY with the new PIN");
}

fn assert_receipt(receipt: &Receipt, resumed: bool, label: &str) {
    assert_eq!(receipt.card_number, "T0000001X", "{label}");
    assert_eq!(receipt.name, NAME, "{label}");
    assert_eq!(receipt.activation_date, DATE, "{label}");
    assert_eq!(receipt.outlet, OUTLET, "{label}");
    assert_eq!(receipt.terminal, TERMINAL, "{label}");
    assert_eq!(receipt.attempt, "T0000001X-1", "{label}");
    assert_eq!(receipt.resumed, resumed, "{label}");
    assert!(
        receipt.security_module.contains(SECOND_READER),
        "{label}: {}",
        receipt.security_module
    );
}

fn steps(journal: &Journal, attempt: &str) -> Vec<Step> {
    journal
        .entries()
        .iter()
        .filter(|e| e.attempt == attempt)
        .map(|e| e.step)
        .collect()
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_two_reader_terminal_activates_the_card_through_pcscd_with_the_psam_in_the_second_slot() {
    let _lock = ReaderLock::acquire();
    let psam_served = ServedCard::start(psam(), SECOND_SLOT_PORT);
    let card_served = ServedCard::start(fresh_card(), FIRST_SLOT_PORT);
    let ctx = context();
    wait_for_card(&ctx, READER, true);
    wait_for_card(&ctx, SECOND_READER, true);

    let dir = TestDir::new("pcsc-activation");
    let mut journal = Journal::open(&dir.path().join("terminal.jsonl")).unwrap();
    let mut pins = Pins { asked: 0 };
    let receipt = activate_through_pcsc(READER, SECOND_READER, &mut journal, &mut pins)
        .unwrap_or_else(|e| panic!("the activation through pcscd failed: {e}"));
    assert_receipt(&receipt, false, "library");
    assert_eq!(receipt.medical_insurance, "normal");
    assert_eq!(pins.asked, 1);
    assert_eq!(
        steps(&journal, "T0000001X-1"),
        [
            Step::Started,
            Step::IdentityChecked,
            Step::Authenticated,
            Step::PinChanged,
            Step::Activated
        ]
    );
    assert_activated_with_new_pin("library");
    // Every command went through vpcd: the card's and the PSAM's.
    assert!(card_served.stop().apdus > 20);
    assert!(psam_served.stop().apdus > 0);
}

/// `sscard --reader CARD --json activate --psam-reader PSAM ...`, the new PIN given, or else read
/// from standard input, which is empty: a run that asks for the PIN is then refused (exit 36); a
/// resumed run whose PIN was already changed does not ask.
fn sscard_activate(journal: &str, new_pin: Option<&str>) -> Output {
    let mut args = vec![
        "--reader",
        READER,
        "--json",
        "activate",
        "--psam-reader",
        SECOND_READER,
        "--outlet",
        OUTLET,
        "--terminal",
        TERMINAL,
        "--journal",
        journal,
        "--date",
        DATE,
        "--id-number",
        ID,
        "--name",
        NAME,
    ];
    match new_pin {
        Some(pin) => args.extend(["--unsafe-new-pin", pin]),
        None => args.push("--pin-from-stdin"),
    }
    sscard(&args)
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn sscard_activate_with_a_psam_reader_activates_and_resumes_a_card_pulled_after_its_pin_change() {
    let _lock = ReaderLock::acquire();
    let dir = TestDir::new("pcsc-activation-cli");
    let _psam_served = ServedCard::start(psam(), SECOND_SLOT_PORT);
    let ctx = context();
    wait_for_card(&ctx, SECOND_READER, true);

    // A whole activation by the binary, the new PIN typed twice on standard input's behalf.
    {
        let _served = ServedCard::start(fresh_card(), FIRST_SLOT_PORT);
        wait_for_card(&ctx, READER, true);
        let journal = dir.path().join("whole.jsonl");
        let output = sscard_activate(journal.to_str().unwrap(), Some(NEW_PIN));
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let out = json(&output);
        assert_eq!(out["activated"], true);
        let receipt = &out["receipt"];
        for (field, expected) in [
            ("card_number", json!("T0000001X")),
            ("name", json!(NAME)),
            ("activation_date", json!(DATE)),
            ("outlet", json!(OUTLET)),
            ("terminal", json!(TERMINAL)),
            ("medical_insurance", json!("normal")),
            ("resumed", json!(false)),
        ] {
            assert_eq!(receipt[field], expected, "receipt {field}: {receipt}");
        }
        assert!(
            receipt["security_module"]
                .as_str()
                .unwrap()
                .contains(SECOND_READER),
            "{receipt}"
        );
        assert_activated_with_new_pin("sscard activate");
    }

    // The card pulled after CHANGE PIN: the PIN is changed, the card not activated.
    let options = ServeOptions::new(FIRST_SLOT_PORT);
    let control = options.control.clone();
    // Pulled right after the card answers CHANGE PIN (80 5E) with 90 00.
    let card = PulledOnCue::new(fresh_card(), control.clone(), |command, response| {
        command.get(..2) == Some(&[0x80, 0x5E]) && response.ends_with(&[0x90, 0x00])
    });
    let _served = ServedCard::start_with(Box::new(card), options);
    wait_for_card(&ctx, READER, true);
    let journal = dir.path().join("pulled.jsonl");
    let journal = journal.to_str().unwrap();
    let pulled = sscard_activate(journal, Some(NEW_PIN));
    assert_eq!(pulled.status.code(), Some(6), "{pulled:?}");
    let error = &json(&pulled)["error"];
    assert_eq!(error["kind"], "card_removed", "{error}");
    assert_eq!(error["message"], "the card was removed", "{error}");
    let reread = Journal::open(std::path::Path::new(journal)).unwrap();
    assert_eq!(
        reread.entries().last().map(|e| e.step),
        Some(Step::PinChanged)
    );

    // Put back (the serve loop keeps it out ≥ 1 s), and run again: no PIN is asked.
    wait_for_card(&ctx, READER, false);
    control.insert_card();
    wait_for_card(&ctx, READER, true);
    let resumed = sscard_activate(journal, None);
    assert_eq!(resumed.status.code(), Some(0), "{resumed:?}");
    let receipt = &json(&resumed)["receipt"];
    assert_eq!(receipt["resumed"], true, "{receipt}");
    assert_eq!(receipt["attempt"], "T0000001X-1", "{receipt}");
    assert_activated_with_new_pin("sscard activate, resumed");
    let reread = Journal::open(std::path::Path::new(journal)).unwrap();
    assert_eq!(
        steps(&reread, "T0000001X-1"),
        [
            Step::Started,
            Step::IdentityChecked,
            Step::Authenticated,
            Step::PinChanged,
            Step::Resumed,
            Step::Activated
        ]
    );
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_card_pulled_after_each_step_through_pcscd_is_finished_by_the_rerun() {
    let _lock = ReaderLock::acquire();
    let dir = TestDir::new("pcsc-activation-pulls");
    let _psam_served = ServedCard::start(psam(), SECOND_SLOT_PORT);
    let ctx = context();
    wait_for_card(&ctx, SECOND_READER, true);

    for step in [
        Step::Started,
        Step::IdentityChecked,
        Step::Authenticated,
        Step::PinChanged,
        Step::Activated,
    ] {
        let label = format!("card pulled after {step:?}");
        let options = ServeOptions::new(FIRST_SLOT_PORT);
        let control = options.control.clone();
        let served = ServedCard::start_with(fresh_card(), options);
        wait_for_card(&ctx, READER, true);
        let path = dir.path().join(format!("{step:?}.jsonl"));

        // The terminal's first run: the card leaves the reader as soon as the step is journalled,
        // and pcscd has seen it go before the terminal sends its next command.
        let mut journal = Journal::open(&path).unwrap();
        let pull = control.clone();
        journal.on_record(move |entry| {
            if entry.step == step {
                pull.remove_card();
                wait_for_card(&context(), READER, false);
            }
        });
        let mut pins = Pins { asked: 0 };
        let first = activate_through_pcsc(READER, SECOND_READER, &mut journal, &mut pins);
        let journal_steps = steps(&Journal::open(&path).unwrap(), "T0000001X-1");
        // The identity check compares the document with what was read: it sends nothing, so a
        // card pulled after `started` is found missing only after `identity-checked`.
        let last = match step {
            Step::Started => Step::IdentityChecked,
            other => other,
        };
        assert_eq!(journal_steps.last(), Some(&last), "{label}");
        match (&first, step) {
            // The activation was written and journalled: only the receipt's status line is lost.
            (Ok(receipt), Step::Activated) => {
                assert_receipt(receipt, false, &label);
                assert!(
                    receipt.medical_insurance.starts_with("not read"),
                    "{label}: {}",
                    receipt.medical_insurance
                );
            }
            (Err(e), _) => {
                assert!(
                    matches!(
                        e,
                        ActivationError::Client(ClientError::Transport(
                            TransportError::CardRemoved
                        ))
                    ),
                    "{label}: {e:?}"
                );
                assert!(e.is_resumable(), "{label}");
                assert_eq!(e.to_string(), "the card was removed", "{label}");
            }
            (Ok(_), _) => panic!("{label}: the first run finished"),
        }

        // Put back (the serve loop keeps it out ≥ 1 s); the terminal runs again.
        control.insert_card();
        wait_for_card(&ctx, READER, true);
        let mut journal = Journal::open(&path).unwrap();
        let mut pins = Pins { asked: 0 };
        let rerun = activate_through_pcsc(READER, SECOND_READER, &mut journal, &mut pins);
        match step {
            // Finished: the rerun reports the card as activated and changes nothing.
            Step::Activated => {
                let e = rerun.expect_err("a second activation");
                assert!(
                    matches!(e, ActivationError::AlreadyActivated { .. }),
                    "{label}: {e}"
                );
            }
            _ => {
                let receipt = rerun.unwrap_or_else(|e| panic!("{label}: the rerun failed: {e}"));
                assert_receipt(&receipt, true, &label);
                assert_eq!(receipt.medical_insurance, "normal", "{label}");
                // The PIN is asked again unless the journal says it was changed.
                let asked = usize::from(step != Step::PinChanged);
                assert_eq!(pins.asked, asked, "{label}: PIN entries asked");
            }
        }
        let attempt = steps(&journal, "T0000001X-1");
        assert_eq!(
            attempt.iter().filter(|s| **s == Step::Activated).count(),
            1,
            "{label}: {attempt:?}"
        );
        assert!(!attempt.contains(&Step::Failed), "{label}: {attempt:?}");
        assert_activated_with_new_pin(&label);
        served.stop();
    }
}
