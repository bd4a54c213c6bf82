//! Diagnostics never write to the card and never spend a PIN try (docs/diagnostics.md).

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::jobs::diagnose::{diagnose, Day, Options, ReadOnly};
use host_tools::protocol::client::Client;
use host_tools::transport::faults::{faulty_card, FaultKind, MATRIX_TODAY};
use host_tools::transport::sim::SimTransport;
use host_tools::transport::{CardTransport, TransportError};

fn options() -> Options {
    Options::new(Day::parse(MATRIX_TODAY).unwrap())
}

/// A transport that lets the test look at the memory after the diagnosis.
struct Shared<'a>(&'a mut SimTransport);

impl CardTransport for Shared<'_> {
    fn name(&self) -> String {
        self.0.name()
    }
    fn atr(&self) -> Vec<u8> {
        self.0.atr()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.0.transmit(command)
    }
    fn reset(&mut self, kind: host_tools::transport::ResetKind) -> Result<Vec<u8>, TransportError> {
        self.0.reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.0.power_off()
    }
}

/// VERIFY without data: the tries left, as the status word.
fn tries_left(sim: &mut SimTransport) -> Vec<u8> {
    let select = [
        0x00, 0xA4, 0x04, 0x0C, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB,
        0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
    ];
    assert_eq!(sim.transmit(&select).unwrap(), [0x90, 0x00]);
    sim.transmit(&[0x00, 0x20, 0x00, 0x00]).unwrap()
}

#[test]
fn diagnosing_leaves_every_byte_of_the_card_and_the_pin_tries_as_they_were() {
    let layout = national("3.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    for faults in [
        vec![],
        vec![FaultKind::PinBlocked],
        vec![FaultKind::Corrupted],
    ] {
        let mut sim = faulty_card(&layout, &keys, &faults)
            .unwrap()
            .inner()
            .storage()
            .clone();
        sim.mark_saved();
        let mut sim = SimTransport::in_memory(sim).unwrap();
        let before = sim.storage().as_bytes().to_vec();
        let tries_before = tries_left(&mut sim);
        let report = diagnose(Ok(Shared(&mut sim)), &options());
        assert_eq!(report.refused_commands, 0);
        assert!(
            !sim.storage().is_dirty(),
            "{faults:?}: the card was written"
        );
        assert_eq!(sim.storage().as_bytes(), before.as_slice());
        assert_eq!(tries_left(&mut sim), tries_before, "{faults:?}");
    }
}

#[test]
fn the_guard_refuses_commands_that_could_write() {
    let layout = national("3.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    let card = faulty_card(&layout, &keys, &[]).unwrap();
    let mut client = Client::new(ReadOnly::new(card));
    // UPDATE RECORD, a PIN VERIFY with data, GET CHALLENGE: none reaches the card.
    for apdu in [
        &[0x00, 0xDC, 0x0A, 0x30, 0x03, 0x0A, 0x01, 0x32][..],
        &[0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x56],
        &[0x00, 0x84, 0x00, 0x00, 0x08],
    ] {
        let e = client.transmit_raw(apdu).unwrap_err();
        assert!(e.to_string().contains("never send"), "{e}");
    }
    let guard = client.into_transport();
    assert_eq!(guard.refused(), 3);
    assert_eq!(guard.answered(), 0);
    assert!(!guard.into_inner().inner().storage().is_dirty());
}
