//! The two-reader activation terminal through pcscd (docs/activation.md): a personalised card in
//! "Virtual PCD 00 00" and a simulated PSAM in "Virtual PCD 00 01", the activation run by the
//! library over PC/SC. Shared by tests/pcsc_activation.rs and examples/pcsc_activation_bench.rs.

use file_structures::layout::{national, Layout};
use file_structures::personalise::IssuerKeys;
use host_tools::jobs::activation::{
    activate, psam::psam_image, ActivationError, Identity, Journal, LostList, PinSource,
    PsamModule, Receipt, Terminal,
};
use host_tools::protocol::client::Client;
use host_tools::transport::pcsc::PcscTransport;
use host_tools::transport::sim::{MemoryStorage, SimTransport};
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::CardTransport;
use pcsc::ShareMode;

/// The sample holder's document, as the operator types it.
pub const ID: &str = "110105199001010010";
pub const NAME: &str = "张测试";
pub const NEW_PIN: &str = "135790";
/// The sample card's region (card identification code 110100...): the PSAM's.
pub const REGION: [u8; 3] = [0x11, 0x01, 0x00];
pub const OUTLET: &str = "BANK-0001";
pub const TERMINAL: &str = "T-42";
pub const DATE: &str = "20240401";

/// The national 3.0 layout: the holder's personal data is read behind key 0A through the PSAM.
pub fn layout() -> Layout {
    national("3.0").expect("the national 3.0 layout loads")
}

/// A new, personalised, not activated card of the sample holder (TEST keys).
pub fn fresh_card_storage() -> MemoryStorage {
    let keys = IssuerKeys::test_keys().expect("the test keys load");
    personalised_card(&layout(), &sample_holder(), &keys)
        .expect("the sample card personalises")
        .0
}

pub fn fresh_card() -> Box<dyn CardTransport + Send> {
    Box::new(SimTransport::in_memory(fresh_card_storage()).expect("the card powers on"))
}

/// The terminal's simulated PSAM for the sample card's region (TEST keys).
pub fn psam_storage() -> MemoryStorage {
    let keys = IssuerKeys::test_keys().expect("the test keys load");
    psam_image(&layout(), &keys, &REGION).expect("the PSAM image is made")
}

pub fn psam() -> Box<dyn CardTransport + Send> {
    Box::new(SimTransport::in_memory(psam_storage()).expect("the PSAM powers on"))
}

pub fn terminal() -> Terminal {
    Terminal {
        outlet: OUTLET.into(),
        terminal_id: TERMINAL.into(),
        date: DATE.into(),
        lost: LostList::default(),
    }
}

/// sscard's own PC/SC transport to the card in `reader` (held exclusively, as `sscard` does).
pub fn open_reader(reader: &str) -> PcscTransport {
    super::open_reader_with(reader, ShareMode::Exclusive)
        .unwrap_or_else(|e| panic!("sscard cannot open {reader}: {e}"))
}

/// One run of the terminal, as `sscard activate --reader CARD --psam-reader PSAM` does it: both
/// readers opened, the activation run by the library, the card powered off.
pub fn activate_through_pcsc(
    card_reader: &str,
    psam_reader: &str,
    journal: &mut Journal,
    pins: &mut dyn PinSource,
) -> Result<Receipt, ActivationError> {
    run_terminal(
        open_reader(card_reader),
        open_reader(psam_reader),
        journal,
        pins,
    )
}

/// The terminal's run over any two transports (PC/SC readers, or the simulator in-process): the
/// sample holder's document, this terminal, the PSAM as the security module.
pub fn run_terminal<C: CardTransport, P: CardTransport>(
    card: C,
    psam: P,
    journal: &mut Journal,
    pins: &mut dyn PinSource,
) -> Result<Receipt, ActivationError> {
    let mut client = Client::new(card);
    let mut module = PsamModule::open(psam)?;
    let identity = Identity::new(ID, NAME)?;
    let receipt = activate(
        &mut client,
        &mut module,
        &layout(),
        &terminal(),
        &identity,
        pins,
        journal,
    );
    let _ = client.transport_mut().power_off();
    receipt
}
