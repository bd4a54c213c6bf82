//! Faults through the real PC/SC stack, seen by sscard's PC/SC transport: the card pulled during a
//! multi-APDU operation, put back, and pcscd restarted. Runs only with SSCARD_PCSC_TESTS=1.

mod pcsc_support;

use host_tools::transport::pcsc::{PcscOptions, PcscTransport, ReaderChoice};
use host_tools::transport::vpcd::{ServeControl, ServeOptions, FIRST_SLOT_PORT};
use host_tools::transport::{CardTransport, ResetKind, TransportError};
use pcsc::ShareMode;
use pcsc_support::*;

/// READ RECORD n of EF05 by number.
fn read_ef05(n: u8) -> [u8; 5] {
    [0x00, 0xB2, n, 0x2C, 0x00]
}

/// A card that is pulled from the reader right after it answers its `pull_after`-th command.
struct PulledMidway {
    card: Box<dyn CardTransport + Send>,
    control: ServeControl,
    pull_after: usize,
    answered: usize,
}

impl CardTransport for PulledMidway {
    fn name(&self) -> String {
        self.card.name()
    }
    fn atr(&self) -> Vec<u8> {
        self.card.atr()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let response = self.card.transmit(command);
        self.answered += 1;
        if self.answered == self.pull_after {
            self.control.remove_card();
        }
        response
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.card.reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.card.power_off()
    }
}

fn open_virtual_reader() -> PcscTransport {
    PcscTransport::open(&PcscOptions {
        reader: Some(ReaderChoice::Name(READER.to_string())),
        wait: STACK_TIMEOUT,
        answer_timeout: STACK_TIMEOUT,
        share: ShareMode::Shared,
    })
    .expect("sscard opens the served card")
}

#[test]
fn a_card_pulled_during_a_multi_apdu_operation_is_reported_and_recovered_after_reinsertion() {
    if !enabled(
        "a_card_pulled_during_a_multi_apdu_operation_is_reported_and_recovered_after_reinsertion",
    ) {
        return;
    }
    let _lock = ReaderLock::acquire();
    let options = ServeOptions::new(FIRST_SLOT_PORT);
    let card = PulledMidway {
        card: demo_sim(),
        control: options.control.clone(),
        pull_after: 3,
        answered: 0,
    };
    let served = ServedCard::start_with(Box::new(card), options);
    let ctx = context();
    wait_for_card(&ctx, READER, true);
    let mut transport = open_virtual_reader();
    assert_eq!(transport.transmit(&select_ssse()).unwrap(), [0x90, 0x00]);

    // SELECT and records 1..2 arrive; the card leaves after its third answer; record 3 fails, and
    // says why.
    for n in 1..=2 {
        let response = transport
            .transmit(&read_ef05(n))
            .expect("a record before the pull");
        assert!(response.ends_with(&[0x90, 0x00]), "{response:02X?}");
    }
    // pcsc-lite answers the first transmit after the card left with SCARD_E_NOT_TRANSACTED: the
    // transport must still say "the card was removed".
    let error = transport
        .transmit(&read_ef05(3))
        .expect_err("the card was pulled");
    assert!(
        matches!(
            error,
            TransportError::CardRemoved | TransportError::ShortResponse(_) | TransportError::NoCard
        ),
        "unexpected error: {error:?}"
    );
    eprintln!("sscard said: {error}");
    // While it is out, every command fails the same clear way (no hang, no garbage).
    wait_for_card(&ctx, READER, false);
    let error = transport.transmit(&read_ef05(4)).expect_err("no card");
    assert!(
        matches!(error, TransportError::CardRemoved | TransportError::NoCard),
        "unexpected error while out: {error:?}"
    );

    // Re-inserted: a cold reset reconnects the same transport, and the operation can start over.
    served.control.insert_card();
    wait_for_card(&ctx, READER, true);
    let atr = transport
        .reset(ResetKind::Cold)
        .expect("reconnect after re-insertion");
    assert_eq!(atr, demo_sim().atr());
    assert_eq!(transport.transmit(&select_ssse()).unwrap(), [0x90, 0x00]);
    let response = transport
        .transmit(&read_ef05(3))
        .expect("record 3 after re-insertion");
    assert!(response.ends_with(&[0x90, 0x00]), "{response:02X?}");
    drop(transport);
    assert_eq!(served.stop().insertions, 2);
}

#[test]
fn a_pcscd_restart_is_reported_and_the_served_card_comes_back() {
    if !enabled("a_pcscd_restart_is_reported_and_the_served_card_comes_back") {
        return;
    }
    let _lock = ReaderLock::acquire();
    let served = ServedCard::start(demo_sim(), FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    let mut transport = open_virtual_reader();
    assert_eq!(transport.transmit(&select_ssse()).unwrap(), [0x90, 0x00]);
    assert!(transport
        .transmit(&read_ef05(1))
        .unwrap()
        .ends_with(&[0x90, 0x00]));

    stack("restart");
    let error = transport
        .transmit(&read_ef05(1))
        .expect_err("pcscd went away");
    assert!(
        matches!(
            error,
            TransportError::ServiceUnavailable
                | TransportError::ReaderGone
                | TransportError::CardRemoved
        ),
        "unexpected error: {error:?}"
    );
    eprintln!("sscard said: {error}");
    drop(transport);

    // The serve loop reconnects to the new pcscd's vpcd by itself.
    wait_for_card(&context(), READER, true);
    let mut transport = open_virtual_reader();
    assert_eq!(transport.transmit(&select_ssse()).unwrap(), [0x90, 0x00]);
    assert!(transport
        .transmit(&read_ef05(1))
        .unwrap()
        .ends_with(&[0x90, 0x00]));
    drop(transport);
    assert!(served.stop().insertions >= 2);
}
