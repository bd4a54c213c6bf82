//! Settlement in-process (docs/settlement.md, chapters 7 to 10): a card image and a PSAM image,
//! the whole purchase, every bad input refused with the balance and the log unchanged, the back
//! office's TAC check, and a card pulled at the DEBIT settled exactly once by the rerun.

use card_os::crypto::Pin;
use file_structures::layout::{national, Layout};
use file_structures::personalise::IssuerKeys;
use host_tools::jobs::activation::{
    psam::psam_image, LostList, PsamModule, SecurityError, SoftwareModule,
};
use host_tools::jobs::settlement::{
    self, open_transaction, verify_tac, Amounts, GivenPin, Kind, Outlet, PurchaseRequest, Receipt,
    SettleError, SettlementJournal, Step, TacError, Terminal, TradeTime,
};
use host_tools::protocol::apdu::Status;
use host_tools::protocol::client::Client;
use host_tools::testdir::TestDir;
use host_tools::transport::faults::{FaultyTransport, PullAt, TransportFaults};
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::{CardTransport, ResetKind};

/// The sample card's region (card identification code 110100...).
const REGION: [u8; 3] = [0x11, 0x01, 0x00];
const PIN: &str = "135790";
/// Within six months of the sample card's issue (20240101): a card not yet activated may pay.
const TIME: &str = "20240315103000";
const START_BALANCE: u32 = 10_000;

type Card = Client<FaultyTransport<SimTransport>>;
type Psam = PsamModule<SimTransport>;

fn keys() -> IssuerKeys {
    IssuerKeys::test_keys().unwrap()
}

/// A personalised card with 100.00 yuan and the holder's own PIN; `pull` pulls it at a command.
fn card(layout: &Layout, pull: Option<PullAt>) -> Card {
    let mut holder = sample_holder();
    holder
        .values
        .insert("purse_balance".into(), START_BALANCE.to_string());
    let storage = personalised_card(layout, &holder, &keys()).unwrap().0;
    let faults = TransportFaults {
        pull_at: pull,
        ..TransportFaults::default()
    };
    let mut client = Client::new(FaultyTransport::new(
        SimTransport::in_memory(storage).unwrap(),
        faults,
    ));
    // The holder sets a PIN of their own (the initial PIN cannot pay).
    assert_eq!(sw(&mut client, "805E010007123456FF135790"), 0x9000);
    client
}

fn psam_for(layout: &Layout, region: [u8; 3]) -> Psam {
    PsamModule::open(
        SimTransport::in_memory(psam_image(layout, &keys(), &region).unwrap()).unwrap(),
    )
    .unwrap()
}

fn sw<T: CardTransport>(client: &mut Client<T>, hex: &str) -> u16 {
    client
        .transmit_raw(&host_tools::protocol::hexstr::parse(hex).unwrap())
        .unwrap()
        .sw
        .to_u16()
}

fn pin(text: &str) -> GivenPin {
    GivenPin(Pin::from_ascii(text.as_bytes()).unwrap())
}

fn request(account: u32, self_pay: u32, pooled: u32) -> PurchaseRequest {
    PurchaseRequest {
        amounts: Amounts::new(account, self_pay, pooled).unwrap(),
        time: TradeTime::parse(TIME).unwrap(),
    }
}

struct Till {
    layout: Layout,
    psam: Psam,
    terminal: Terminal,
    journal: SettlementJournal,
    _dir: TestDir,
}

fn till(version: &str) -> Till {
    let layout = national(version).unwrap();
    let mut psam = psam_for(&layout, REGION);
    let terminal = Terminal::from_psam(&mut psam, LostList::default()).unwrap();
    let dir = TestDir::new(&format!("settle-{version}"));
    let journal = SettlementJournal::open(&dir.path().join("terminal.jsonl")).unwrap();
    Till {
        layout,
        psam,
        terminal,
        journal,
        _dir: dir,
    }
}

impl Till {
    fn settle(
        &mut self,
        card: &mut Card,
        request: &PurchaseRequest,
        pin_text: &str,
    ) -> Result<Receipt, SettleError> {
        settlement::settle(
            card,
            &mut self.psam,
            &self.layout,
            &self.terminal,
            request,
            &mut pin(pin_text),
            &mut self.journal,
        )
    }
}

/// The balance and the log as the card holds them (after a fresh power-up, with the PIN).
fn purse(card: &mut Card, layout: &Layout) -> (u32, usize) {
    card.reset(ResetKind::Cold).unwrap();
    let state = settlement::read_purse(card, layout, &mut pin(PIN)).unwrap();
    (state.balance, state.records.len())
}

#[test]
fn a_settlement_pays_from_the_purse_and_its_tac_checks_at_the_back_office() {
    for version in ["2.0", "3.0"] {
        let mut till = till(version);
        let mut c = card(&till.layout, None);
        let receipt = till.settle(&mut c, &request(1250, 300, 700), PIN).unwrap();
        assert_eq!(receipt.kind, Kind::Purchase);
        assert_eq!(receipt.card_number, "T0000001X");
        assert_eq!(receipt.balance_before, Some(START_BALANCE));
        assert_eq!(receipt.balance_after, Some(START_BALANCE - 1250));
        assert_eq!(receipt.terminal_no, "110100000001");
        assert_eq!(receipt.terminal_serial.as_deref(), Some("00000000"));
        assert_eq!(
            receipt.algorithm,
            if version == "2.0" { 0x01 } else { 0x03 }
        );
        assert!(!receipt.resumed);
        verify_tac(&keys(), &till.layout, &receipt).unwrap();
        // The back office refuses an altered amount or a forged TAC.
        let mut forged = receipt.clone();
        forged.amounts.account += 1;
        assert!(matches!(
            verify_tac(&keys(), &till.layout, &forged),
            Err(TacError::Mismatch)
        ));
        let mut forged = receipt.clone();
        forged.tac = format!("{:08X}", u32::from_str_radix(&receipt.tac, 16).unwrap() ^ 1);
        assert!(matches!(
            verify_tac(&keys(), &till.layout, &forged),
            Err(TacError::Mismatch)
        ));
        let state = {
            c.reset(ResetKind::Cold).unwrap();
            settlement::read_purse(&mut c, &till.layout, &mut pin(PIN)).unwrap()
        };
        assert_eq!(state.balance, START_BALANCE - 1250);
        let record = &state.records[0];
        assert_eq!(
            (
                record.kind.as_str(),
                record.account,
                record.self_pay,
                record.pooled
            ),
            ("settlement", 1250, Some(300), Some(700))
        );
        assert_eq!(
            (record.serial, record.time.as_str()),
            (receipt.serial, TIME)
        );
        let steps: Vec<Step> = till.journal.entries().iter().map(|l| l.step).collect();
        assert_eq!(steps, [Step::Intent, Step::Settled]);
        assert_eq!(
            till.journal.entries()[1].tac.as_deref(),
            Some(receipt.tac.as_str())
        );
        // A second settlement: the PSAM counts its terminal serial.
        let second = till.settle(&mut c, &request(50, 0, 0), PIN).unwrap();
        assert_eq!(second.terminal_serial.as_deref(), Some("00000001"));
        assert_eq!(second.serial, receipt.serial + 1);
        verify_tac(&keys(), &till.layout, &second).unwrap();
    }
}

/// Every refusal: a precise error, the card's balance and log as they were.
#[test]
fn bad_input_is_refused_and_changes_neither_balance_nor_log() {
    let mut till = till("2.0");
    let mut c = card(&till.layout, None);
    let before = purse(&mut c, &till.layout);
    assert_eq!(before, (START_BALANCE, 0));
    let check = |till: &mut Till, c: &mut Card, what: &str| {
        assert_eq!(purse(c, &till.layout), before, "{what}");
    };
    // Above the balance: 9401, with the balance in the sentence.
    let e = till
        .settle(&mut c, &request(START_BALANCE + 1, 0, 0), PIN)
        .unwrap_err();
    assert!(
        matches!(e, SettleError::BalanceTooLow { balance: START_BALANCE, amount } if amount == START_BALANCE + 1),
        "{e}"
    );
    assert_eq!(e.status_word(), Some(0x9401));
    assert!(e.to_string().contains("100.00 yuan"), "{e}");
    check(&mut till, &mut c, "balance");
    let last = till.journal.entries().last().unwrap();
    assert_eq!(
        (last.step, last.sw.as_deref()),
        (Step::Refused, Some("9401"))
    );
    // A wrong PIN.
    let e = till
        .settle(&mut c, &request(100, 0, 0), "999999")
        .unwrap_err();
    assert!(matches!(e, SettleError::WrongPin { tries_left: 5 }), "{e}");
    check(&mut till, &mut c, "wrong PIN");
    // Negative, malformed and overflowing amounts never reach the card.
    for text in ["-1", "1.234", "42949672.96"] {
        assert!(settlement::yuan_to_fen("amount", text).is_err(), "{text}");
    }
    assert!(Amounts::new(u32::MAX, 1, 0).is_err());
    // A replayed DEBIT: the card answers 6901 and debits nothing.
    c.reset(ResetKind::Cold).unwrap();
    assert_eq!(sw(&mut c, "00A4000C02DF04"), 0x9000);
    assert_eq!(sw(&mut c, "0020000003135790"), 0x9000);
    assert_eq!(sw(&mut c, "80DA00000420240315"), 0x9000);
    let replay = "B02C01000F00000000202403151030001122334408";
    assert_eq!(sw(&mut c, replay), 0x6901);
    check(&mut till, &mut c, "replayed DEBIT");
    assert!(matches!(
        SettleError::from_card("DEBIT FOR PURCHASE", Status::WRONG_STATE),
        SettleError::WrongState
    ));
    // A card of another region: refused before anything is sent to the purse.
    let mut foreign_psam = psam_for(&till.layout, [0x33, 0x03, 0x00]);
    let foreign = Terminal::from_psam(&mut foreign_psam, LostList::default()).unwrap();
    let e = settlement::settle(
        &mut c,
        &mut foreign_psam,
        &till.layout,
        &foreign,
        &request(100, 0, 0),
        &mut pin(PIN),
        &mut till.journal,
    )
    .unwrap_err();
    assert!(matches!(e, SettleError::OtherRegion { .. }), "{e}");
    check(&mut till, &mut c, "other region");
    // A PSAM whose purchase key index (its file 001A) names a key the card does not have: 9403.
    let odd = Terminal {
        key_index: 0x3A,
        ..till.terminal.clone()
    };
    let e = settlement::settle(
        &mut c,
        &mut till.psam,
        &till.layout,
        &odd,
        &request(100, 0, 0),
        &mut pin(PIN),
        &mut till.journal,
    )
    .unwrap_err();
    assert!(
        matches!(e, SettleError::KeyIndexNotSupported { index: 0x3A }),
        "{e}"
    );
    assert_eq!(e.status_word(), Some(0x9403));
    check(&mut till, &mut c, "key index");
    // A lost card.
    till.terminal.lost = LostList::parse("T0000001X\n");
    let e = till.settle(&mut c, &request(100, 0, 0), PIN).unwrap_err();
    assert!(matches!(e, SettleError::Lost { .. }), "{e}");
    till.terminal.lost = LostList::default();
    check(&mut till, &mut c, "lost");
    // The PIN is spent by the wrong entry only: the right one still pays.
    till.settle(&mut c, &request(100, 0, 0), PIN).unwrap();
    assert_eq!(purse(&mut c, &till.layout), (START_BALANCE - 100, 1));
}

#[test]
fn the_initial_pin_cannot_pay() {
    let mut till = till("2.0");
    let layout = till.layout.clone();
    let mut holder = sample_holder();
    holder.values.insert("purse_balance".into(), "500".into());
    let storage = personalised_card(&layout, &holder, &keys()).unwrap().0;
    let mut c = Client::new(FaultyTransport::new(
        SimTransport::in_memory(storage).unwrap(),
        TransportFaults::default(),
    ));
    let e = till
        .settle(&mut c, &request(100, 0, 0), "123456")
        .unwrap_err();
    assert!(matches!(e, SettleError::InitialPin), "{e}");
    assert!(e.to_string().contains("initial PIN"));
}

#[test]
fn a_fake_card_is_refused_before_the_pin() {
    let mut till = till("3.0");
    // A card whose internal-auth key (SSSE 01) is not the issuer's: a fake.
    let other_keys = IssuerKeys::from_toml(
        "fake",
        &file_structures::personalise::TEST_KEYS_TOML
            .replace("\"54455354DDF1010", "\"64455354DDF1010"),
    )
    .unwrap();
    let mut holder = sample_holder();
    holder.values.insert("purse_balance".into(), "500".into());
    let storage = personalised_card(&till.layout, &holder, &other_keys)
        .unwrap()
        .0;
    let mut c = Client::new(FaultyTransport::new(
        SimTransport::in_memory(storage).unwrap(),
        TransportFaults::default(),
    ));
    let e = till.settle(&mut c, &request(100, 0, 0), PIN).unwrap_err();
    assert!(matches!(e, SettleError::FakeCard), "{e}");
    // Refused before the PIN: the initial PIN's tries are all there.
    c.reset(ResetKind::Cold).unwrap();
    assert_eq!(sw(&mut c, "0020000000"), 0x63C6);
}

#[test]
fn the_psam_refuses_a_wrong_mac2() {
    let till = till("2.0");
    let mut psam = till.psam;
    // Without an INIT SAM FOR PURCHASE just before: refused.
    let e = psam.credit_sam_for_purchase(&[1, 2, 3, 4]).unwrap_err();
    assert!(
        matches!(e, SecurityError::PsamRefused { sw, .. } if sw.to_u16() == 0x6901),
        "{e}"
    );
    // After one, a MAC2 that is not the card's: 9302.
    let input = hex::decode(
        "A1B2C3D4 0007 000004E2 0000012C 000002BC 02 20240315103000 32 01 D156000005544553"
            .replace(' ', ""),
    )
    .unwrap();
    psam.init_sam_for_purchase(&input).unwrap();
    let e = psam.credit_sam_for_purchase(&[1, 2, 3, 4]).unwrap_err();
    assert!(
        matches!(e, SecurityError::PsamRefused { sw, .. } if sw.to_u16() == 0x9302),
        "{e}"
    );
}

/// The card pulled at the DEBIT (its answer lost, or before it reached the card), then the rerun
/// with the same card: charged exactly once, one record, the receipt with the card's own TAC.
#[test]
fn a_card_pulled_at_the_debit_is_settled_exactly_once_by_the_rerun() {
    for version in ["2.0", "3.0"] {
        for delivered in [true, false] {
            let mut till = till(version);
            let pull = PullAt {
                cla: 0xB0,
                ins: 0x2C,
                delivered,
            };
            let mut c = card(&till.layout, Some(pull));
            let e = till.settle(&mut c, &request(700, 0, 0), PIN).unwrap_err();
            assert!(e.is_resumable(), "{e}");
            let open = open_transaction(&till.journal, "T0000001X")
                .cloned()
                .unwrap();
            assert_eq!(open.step, Step::Intent);
            // Re-inserted; the same command again.
            c.reset(ResetKind::Cold).unwrap();
            let receipt = till.settle(&mut c, &request(700, 0, 0), PIN).unwrap();
            assert_eq!(
                receipt.resumed, delivered,
                "{version} delivered={delivered}"
            );
            verify_tac(&keys(), &till.layout, &receipt).unwrap();
            assert_eq!(
                purse(&mut c, &till.layout),
                (START_BALANCE - 700, 1),
                "{version} delivered={delivered}: charged once, one record"
            );
            assert_eq!(open_transaction(&till.journal, "T0000001X"), None);
            let steps: Vec<Step> = till.journal.entries().iter().map(|l| l.step).collect();
            let expected: &[Step] = if delivered {
                &[Step::Intent, Step::Recovered]
            } else {
                &[Step::Intent, Step::NotDone, Step::Intent, Step::Settled]
            };
            assert_eq!(steps, expected);
            // A third run pays again: nothing is left open.
            let again = till.settle(&mut c, &request(100, 0, 0), PIN).unwrap();
            assert!(!again.resumed);
            assert_eq!(purse(&mut c, &till.layout), (START_BALANCE - 800, 2));
        }
    }
}

#[test]
fn an_outlet_loads_the_purse_and_records_read_back() {
    for version in ["2.0", "3.0"] {
        let mut till = till(version);
        let mut c = card(&till.layout, None);
        let mut outlet = Outlet {
            terminal_no: [0x11, 0x01, 0x00, 0x00, 0x00, 0x09],
            keys: SoftwareModule::new(keys()).unwrap(),
            lost: LostList::default(),
        };
        let receipt = settlement::load(
            &mut c,
            &till.layout,
            &mut outlet,
            5000,
            TradeTime::parse(TIME).unwrap(),
            &mut pin(PIN),
            &mut till.journal,
        )
        .unwrap();
        assert_eq!(receipt.kind, Kind::Load);
        assert_eq!(receipt.balance_after, Some(START_BALANCE + 5000));
        verify_tac(&keys(), &till.layout, &receipt).unwrap();
        till.settle(&mut c, &request(200, 0, 0), PIN).unwrap();
        c.reset(ResetKind::Cold).unwrap();
        let state = settlement::read_purse(&mut c, &till.layout, &mut pin(PIN)).unwrap();
        assert_eq!(state.balance, START_BALANCE + 4800);
        let kinds: Vec<(&str, u32)> = state
            .records
            .iter()
            .map(|r| (r.kind.as_str(), r.account))
            .collect();
        assert_eq!(kinds, [("settlement", 200), ("load", 5000)]);
    }
}

/// The card pulled at each command of a settlement (after the card ran it), put back, and the
/// same settlement run again: always exactly one debit and one record; and the PSAM pulled at
/// CREDIT SAM, after the card's DEBIT: the rerun recovers the card's proof.
#[test]
fn a_card_pulled_at_any_command_or_a_psam_pulled_at_credit_sam_is_charged_exactly_once() {
    for (cla, ins) in [
        (0x00, 0xCA),
        (0x00, 0xA4),
        (0x00, 0xB2),
        (0x00, 0x88),
        (0x80, 0xDA),
        (0x00, 0x20),
        (0xB0, 0x28),
        (0xB0, 0x2C),
    ] {
        let label = format!("pulled at {cla:02X} {ins:02X}");
        let mut till = till("3.0");
        let pull = PullAt {
            cla,
            ins,
            delivered: true,
        };
        let mut c = card(&till.layout, Some(pull));
        let e = till.settle(&mut c, &request(300, 0, 0), PIN).unwrap_err();
        assert!(e.is_resumable(), "{label}: {e}");
        c.reset(ResetKind::Cold).unwrap();
        let receipt = till.settle(&mut c, &request(300, 0, 0), PIN).unwrap();
        verify_tac(&keys(), &till.layout, &receipt).unwrap();
        assert_eq!(receipt.resumed, ins == 0x2C, "{label}");
        assert_eq!(
            purse(&mut c, &till.layout),
            (START_BALANCE - 300, 1),
            "{label}"
        );
    }

    let layout = national("2.0").unwrap();
    let psam = SimTransport::in_memory(psam_image(&layout, &keys(), &REGION).unwrap()).unwrap();
    let faults = TransportFaults {
        pull_at: Some(PullAt {
            cla: 0x80,
            ins: 0x72,
            delivered: false,
        }),
        ..TransportFaults::default()
    };
    let mut module = PsamModule::open(FaultyTransport::new(psam, faults)).unwrap();
    let terminal = Terminal::from_psam(&mut module, LostList::default()).unwrap();
    let dir = TestDir::new("settle-psam-pulled");
    let mut journal = SettlementJournal::open(&dir.path().join("terminal.jsonl")).unwrap();
    let mut c = card(&layout, None);
    let mut run = |module: &mut PsamModule<FaultyTransport<SimTransport>>, c: &mut Card| {
        settlement::settle(
            c,
            module,
            &layout,
            &terminal,
            &request(400, 0, 0),
            &mut pin(PIN),
            &mut journal,
        )
    };
    let e = run(&mut module, &mut c).unwrap_err();
    assert!(e.is_resumable(), "{e}");
    // The PSAM put back; the card stayed in.
    let mut transport = module.into_transport();
    transport.reset(ResetKind::Cold).unwrap();
    let mut module = PsamModule::open(transport).unwrap();
    c.reset(ResetKind::Cold).unwrap();
    let receipt = run(&mut module, &mut c).unwrap();
    assert!(receipt.resumed);
    verify_tac(&keys(), &layout, &receipt).unwrap();
    assert_eq!(purse(&mut c, &layout), (START_BALANCE - 400, 1));
}

/// A load torn at CREDIT FOR LOAD (the card credited, its answer lost): the rerun finds the proof
/// (GET TRANSACTION PROOF type 01) and loads nothing twice.
#[test]
fn a_load_torn_at_its_credit_is_loaded_exactly_once() {
    let mut till = till("2.0");
    let pull = PullAt {
        cla: 0xB0,
        ins: 0x2A,
        delivered: true,
    };
    let mut c = card(&till.layout, Some(pull));
    let mut outlet = Outlet {
        terminal_no: [0x11, 0x01, 0x00, 0x00, 0x00, 0x09],
        keys: SoftwareModule::new(keys()).unwrap(),
        lost: LostList::default(),
    };
    let mut run = |c: &mut Card, till: &mut Till| {
        settlement::load(
            c,
            &till.layout,
            &mut outlet,
            2500,
            TradeTime::parse(TIME).unwrap(),
            &mut pin(PIN),
            &mut till.journal,
        )
    };
    let e = run(&mut c, &mut till).unwrap_err();
    assert!(e.is_resumable(), "{e}");
    c.reset(ResetKind::Cold).unwrap();
    let receipt = run(&mut c, &mut till).unwrap();
    assert!(receipt.resumed);
    assert_eq!(receipt.kind, Kind::Load);
    verify_tac(&keys(), &till.layout, &receipt).unwrap();
    assert_eq!(purse(&mut c, &till.layout), (START_BALANCE + 2500, 1));
}

/// The HSM's MAC1 for an initialised purchase: the Step1 string of the reader library's
/// iDoDebit_HSM_Step1 built from it, answered by the issuer's HSM (TEST keys).
fn hsm_mac1(
    hsm: &host_tools::interface::hsm::Hsm,
    p: &settlement::InitialisedPurchase,
) -> ([u8; 4], [u8; 4]) {
    let step1 = format!(
        "{:02X}|{:02X}|{}|{:04X}|{}|{:02X}|{}|{}|",
        p.init.algorithm,
        p.key_index,
        hex::encode_upper(p.init.random),
        p.init.serial,
        settlement::fen_to_yuan(p.amounts.account),
        p.settings.type_byte(card_os::crypto::purse::TYPE_PURCHASE),
        hex::encode_upper(p.terminal_no),
        p.time.text()
    );
    let key = hsm
        .debit(&step1, "110100D156000005544553540000000A|T0000001X|")
        .unwrap();
    let items: Vec<&str> = key.split('|').collect();
    let bytes = |i: usize| -> [u8; 4] { hex::decode(items[i]).unwrap().try_into().unwrap() };
    (bytes(0), bytes(2))
}

/// The HSM path (no PSAM): start_purchase, the HSM's MAC1, debit_purchase; the card pulled at
/// the DEBIT (after the card ran it, and before): the next start with the same card resolves the
/// journalled debit through GET TRANSACTION PROOF, charged exactly once, its TAC accepted.
#[test]
fn a_card_pulled_at_an_hsm_debit_is_settled_exactly_once() {
    use host_tools::jobs::activation::SecurityModule;
    use settlement::{debit_purchase, purchase_key_index, start_purchase, Started};
    for version in ["2.0", "3.0"] {
        for delivered in [true, false] {
            let layout = national(version).unwrap();
            let dir = TestDir::new(&format!("settle-hsm-{version}"));
            let mut journal = SettlementJournal::open(&dir.path().join("terminal.jsonl")).unwrap();
            let terminal = Terminal {
                terminal_no: [0; 6],
                key_index: purchase_key_index(&layout).unwrap(),
                lost: LostList::default(),
            };
            let hsm = host_tools::interface::hsm::Hsm::new(keys());
            let pull = PullAt {
                cla: 0xB0,
                ins: 0x2C,
                delivered,
            };
            let mut c = card(&layout, Some(pull));
            let start = |c: &mut Card, journal: &mut SettlementJournal| {
                start_purchase(
                    c,
                    None::<&mut dyn SecurityModule>,
                    &layout,
                    &terminal,
                    &request(700, 0, 0),
                    &mut pin(PIN),
                    journal,
                    &mut host_tools::jobs::settlement::registry::NoApproval,
                )
                .unwrap()
            };
            let Started::Initialised(p) = start(&mut c, &mut journal) else {
                panic!("nothing was open")
            };
            let (serial, mac1) = hsm_mac1(&hsm, &p);
            let e = debit_purchase(&mut c, &p, serial, mac1, &mut journal, |_| Ok(())).unwrap_err();
            assert!(e.is_resumable(), "{e}");
            c.reset(ResetKind::Cold).unwrap();
            let receipt = match start(&mut c, &mut journal) {
                Started::Resumed(receipt) => {
                    assert!(delivered, "{version}: resumed a debit the card never ran");
                    receipt
                }
                Started::Initialised(p) => {
                    assert!(
                        !delivered,
                        "{version}: a debit the card ran was started again"
                    );
                    let (serial, mac1) = hsm_mac1(&hsm, &p);
                    debit_purchase(&mut c, &p, serial, mac1, &mut journal, |_| Ok(()))
                        .unwrap()
                        .0
                }
            };
            verify_tac(&keys(), &layout, &receipt).unwrap();
            assert_eq!(
                purse(&mut c, &layout),
                (START_BALANCE - 700, 1),
                "{version} delivered={delivered}: charged once, one record"
            );
            assert_eq!(open_transaction(&journal, "T0000001X"), None);
        }
    }
}

/// A wrong MAC1 (an HSM answering for another card) is refused by the card with 9302: no debit,
/// no record, the intent closed.
#[test]
fn a_wrong_hsm_mac1_is_refused_and_changes_nothing() {
    use host_tools::jobs::activation::SecurityModule;
    use settlement::{debit_purchase, purchase_key_index, start_purchase, Started};
    let layout = national("3.0").unwrap();
    let dir = TestDir::new("settle-hsm-mac1");
    let mut journal = SettlementJournal::open(&dir.path().join("terminal.jsonl")).unwrap();
    let terminal = Terminal {
        terminal_no: [0; 6],
        key_index: purchase_key_index(&layout).unwrap(),
        lost: LostList::default(),
    };
    let mut c = card(&layout, None);
    let Started::Initialised(p) = start_purchase(
        &mut c,
        None::<&mut dyn SecurityModule>,
        &layout,
        &terminal,
        &request(700, 0, 0),
        &mut pin(PIN),
        &mut journal,
        &mut host_tools::jobs::settlement::registry::NoApproval,
    )
    .unwrap() else {
        panic!("nothing was open")
    };
    let (serial, mut mac1) = hsm_mac1(&host_tools::interface::hsm::Hsm::new(keys()), &p);
    mac1[0] ^= 1;
    let e = debit_purchase(&mut c, &p, serial, mac1, &mut journal, |_| Ok(())).unwrap_err();
    assert!(matches!(e, SettleError::Mac1Refused), "{e}");
    assert_eq!(e.status_word(), Some(0x9302));
    assert_eq!(purse(&mut c, &layout), (START_BALANCE, 0));
    assert_eq!(open_transaction(&journal, "T0000001X"), None);
}
