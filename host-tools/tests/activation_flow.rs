//! Bank-outlet activation in-process (docs/activation.md): the whole flow, every refusal leaving
//! the card as it was, a fake card and a wrong MAC refused, and a cut at every APDU resumed.

use std::cell::Cell;
use std::rc::Rc;

use file_structures::layout::{national, Layout};
use file_structures::personalise::{IssuerKeys, TEST_KEYS_TOML};
use host_tools::card::info::{read_card_info, Activation};
use host_tools::jobs::activation::{
    activate, psam::psam_image, ActivationError, GivenPins, Identity, InputError, Journal, KeyRef,
    LostList, PsamModule, Receipt, SecurityError, SecurityModule, SoftwareModule, Step, Terminal,
};
use host_tools::protocol::client::{Client, ClientError};
use host_tools::testdir::TestDir;
use host_tools::transport::sim::{MemoryStorage, SimTransport};
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::{CardTransport, ResetKind, TransportError};

const ID: &str = "110105199001010010";
const NAME: &str = "张测试";
const NEW_PIN: &str = "135790";
/// The sample card's region (card identification code 110100...).
const REGION: [u8; 3] = [0x11, 0x01, 0x00];

fn terminal(date: &str) -> Terminal {
    Terminal {
        outlet: "BANK-0001".into(),
        terminal_id: "T-42".into(),
        date: date.into(),
        lost: LostList::default(),
    }
}

fn card(layout: &Layout, keys: &IssuerKeys) -> MemoryStorage {
    personalised_card(layout, &sample_holder(), keys).unwrap().0
}

fn client(storage: MemoryStorage) -> Client<SimTransport> {
    Client::new(SimTransport::in_memory(storage).unwrap())
}

fn software() -> SoftwareModule {
    SoftwareModule::new(IssuerKeys::test_keys().unwrap()).unwrap()
}

fn identity() -> Identity {
    Identity::new(ID, NAME).unwrap()
}

fn run<T: CardTransport, M: SecurityModule>(
    client: &mut Client<T>,
    module: &mut M,
    layout: &Layout,
    terminal: &Terminal,
    journal: &mut Journal,
) -> Result<Receipt, ActivationError> {
    let mut pins = GivenPins(NEW_PIN.into(), NEW_PIN.into());
    activate(
        client,
        module,
        layout,
        terminal,
        &identity(),
        &mut pins,
        journal,
    )
}

/// [`run`] with the software security module on the day `date`.
fn run_on<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
    date: &str,
    journal: &mut Journal,
) -> Result<Receipt, ActivationError> {
    run(client, &mut software(), layout, &terminal(date), journal)
}

fn sw<T: CardTransport>(client: &mut Client<T>, hex: &str) -> (Vec<u8>, u16) {
    let r = client
        .transmit_raw(&host_tools::protocol::hexstr::parse(hex).unwrap())
        .unwrap();
    (r.data, r.sw.to_u16())
}

/// After a reset: the PIN's tries (VERIFY without data) and whether `pin` is the PIN.
fn pin_state<T: CardTransport>(client: &mut Client<T>, pin: &str) -> (u16, u16) {
    client.reset(ResetKind::Cold).unwrap();
    let tries = sw(client, "0020000000").1;
    let bcd: String = format!("{pin}FFFF")[..pin.len().div_ceil(2) * 2].to_string();
    let verify = sw(client, &format!("00200000{:02X}{bcd}", bcd.len() / 2)).1;
    (tries, verify)
}

fn activation(client: &mut Client<impl CardTransport>, layout: &Layout) -> Activation {
    read_card_info(client, layout, Some(&IssuerKeys::test_keys().unwrap()))
        .unwrap()
        .activation
}

fn steps(journal: &Journal) -> Vec<Step> {
    journal.entries().iter().map(|e| e.step).collect()
}

#[test]
fn a_new_card_is_activated_with_its_record_pin_and_journal() {
    // 2.0: reading needs no authentication, so a refusal leaves every byte as it was.
    let layout = national("2.0").unwrap();
    let dir = TestDir::new("activation-ok");
    let mut journal = Journal::open(&dir.path().join("terminal.jsonl")).unwrap();
    let mut c = client(card(&layout, &IssuerKeys::test_keys().unwrap()));
    let receipt = run_on(&mut c, &layout, "20240401", &mut journal).unwrap();
    assert_eq!(receipt.card_number, "T0000001X");
    assert_eq!(receipt.name, NAME);
    assert_eq!(receipt.activation_date, "20240401");
    assert_eq!(
        (receipt.outlet.as_str(), receipt.terminal.as_str()),
        ("BANK-0001", "T-42")
    );
    assert_eq!(receipt.medical_insurance, "normal");
    assert!(!receipt.resumed);
    match activation(&mut c, &layout) {
        Activation::Activated { fields } => {
            assert_eq!(fields["activation_date"], "20240401");
            assert_eq!(fields["activation_outlet"], "BANK-0001");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pin_state(&mut c, NEW_PIN), (0x63C6, 0x9000));
    assert_eq!(
        steps(&journal),
        [
            Step::Started,
            Step::IdentityChecked,
            Step::Authenticated,
            Step::PinChanged,
            Step::Activated
        ]
    );
    // The journal on disk says the same.
    let reread = Journal::open(journal.path()).unwrap();
    assert_eq!(reread.entries(), journal.entries());
    assert!(reread.entries().iter().all(|e| e.attempt == "T0000001X-1"));

    // A second activation is refused and changes nothing.
    let before = c.transport().storage().as_bytes().to_vec();
    let e = run_on(&mut c, &layout, "20240402", &mut journal).unwrap_err();
    assert!(matches!(e, ActivationError::AlreadyActivated { .. }), "{e}");
    assert!(
        c.transport().storage().as_bytes() == before,
        "the card changed"
    );
}

/// Refusals that must leave the card byte for byte as it was.
#[test]
fn wrong_identity_and_expired_cards_are_refused_and_nothing_is_written() {
    let layout = national("2.0").unwrap();
    let dir = TestDir::new("activation-refusals");
    let mut journal = Journal::open(&dir.path().join("t.jsonl")).unwrap();
    let mut c = client(card(&layout, &IssuerKeys::test_keys().unwrap()));
    let before = c.transport().storage().as_bytes().to_vec();
    let mut pins = GivenPins(NEW_PIN.into(), NEW_PIN.into());
    let other_id = Identity::new("11010519491231002X", NAME).unwrap();
    let other_name = Identity::new(ID, "李测试").unwrap();
    for (who, expected) in [(&other_id, "ID number"), (&other_name, "name")] {
        let e = activate(
            &mut c,
            &mut software(),
            &layout,
            &terminal("20240401"),
            who,
            &mut pins,
            &mut journal,
        )
        .unwrap_err();
        assert!(
            matches!(e, ActivationError::IdentityMismatch { what } if what == expected),
            "{e}"
        );
        assert!(
            c.transport().storage().as_bytes() == before,
            "the card changed"
        );
    }
    let e = run_on(&mut c, &layout, "20340102", &mut journal).unwrap_err();
    assert!(
        matches!(e, ActivationError::Expired { ref expiry, .. } if expiry == "20340101"),
        "{e}"
    );
    assert!(
        c.transport().storage().as_bytes() == before,
        "the card changed"
    );
    let last = journal.entries().last().unwrap();
    assert_eq!(last.step, Step::Failed);
    assert!(last.reason.as_deref().unwrap().contains("expired"));
    // A bad check character is refused before any card is touched.
    assert!(matches!(
        Identity::new("110105199001010011", NAME),
        Err(InputError::IdNumber(_))
    ));
}

#[test]
fn bad_pin_entries_refuse_and_the_pin_stays_initial() {
    let layout = national("3.0").unwrap();
    let dir = TestDir::new("activation-pins");
    let mut journal = Journal::open(&dir.path().join("t.jsonl")).unwrap();
    let mut c = client(card(&layout, &IssuerKeys::test_keys().unwrap()));
    for (a, b) in [
        ("135790", "135791"),
        ("123456", "123456"),
        ("888888", "888888"),
        ("345678", "345678"),
    ] {
        let mut pins = GivenPins(a.into(), b.into());
        let e = activate(
            &mut c,
            &mut software(),
            &layout,
            &terminal("20240401"),
            &identity(),
            &mut pins,
            &mut journal,
        )
        .unwrap_err();
        assert!(matches!(e, ActivationError::Input(_)), "{a}/{b}: {e}");
        assert_eq!(activation(&mut c, &layout), Activation::NotActivated);
        assert_eq!(pin_state(&mut c, "123456"), (0x63C6, 0x9000), "{a}");
    }
    // Then a good PIN activates.
    run_on(&mut c, &layout, "20240401", &mut journal).unwrap();
}

#[test]
fn a_card_on_the_lost_list_is_blocked_and_refused() {
    let layout = national("3.0").unwrap();
    let dir = TestDir::new("activation-lost");
    let mut journal = Journal::open(&dir.path().join("t.jsonl")).unwrap();
    let mut c = client(card(&layout, &IssuerKeys::test_keys().unwrap()));
    let mut t = terminal("20240401");
    t.lost = LostList::parse("# lost\nT0000001X\n");
    let e = run(&mut c, &mut software(), &layout, &t, &mut journal).unwrap_err();
    assert!(matches!(e, ActivationError::Lost { .. }), "{e}");
    // The application is now blocked: a rerun (even without the list) says so.
    c.reset(ResetKind::Cold).unwrap();
    let e = run_on(&mut c, &layout, "20240401", &mut journal).unwrap_err();
    assert!(
        matches!(e, ActivationError::Blocked(ref how) if how.contains("temporarily")),
        "{e}"
    );
    c.reset(ResetKind::Cold).unwrap();
    let select_ssse = "00A4040C0F7378312E73682EC9E7BBE1B1A3D5CF";
    assert_eq!(
        sw(&mut c, select_ssse).1,
        0x6283,
        "SSSE answers: temporarily blocked"
    );
}

/// A module that answers like the software one but with a wrong MAC.
struct BadMac(SoftwareModule);

impl SecurityModule for BadMac {
    fn describe(&self) -> String {
        "bad MAC".into()
    }
    fn issuer_keys(&self) -> Option<&IssuerKeys> {
        self.0.issuer_keys()
    }
    fn encrypt(
        &mut self,
        key: &KeyRef,
        code: &[u8; 16],
        data: &[u8],
    ) -> Result<Vec<u8>, SecurityError> {
        self.0.encrypt(key, code, data)
    }
    fn command_mac(
        &mut self,
        key: &KeyRef,
        code: &[u8; 16],
        challenge: &[u8],
        header: [u8; 4],
        data: &[u8],
    ) -> Result<[u8; 4], SecurityError> {
        let mut mac = self.0.command_mac(key, code, challenge, header, data)?;
        mac[0] ^= 1;
        Ok(mac)
    }
}

#[test]
fn a_fake_card_a_wrong_terminal_key_and_a_wrong_mac_are_refused() {
    let layout = national("3.0").unwrap();
    let dir = TestDir::new("activation-fake");
    let mut journal = Journal::open(&dir.path().join("t.jsonl")).unwrap();
    let keys_with = |label: &str, from: &str, to: &str| {
        IssuerKeys::from_toml(label, &TEST_KEYS_TOML.replace(from, to)).unwrap()
    };
    let issuer = IssuerKeys::test_keys().unwrap();
    // (what is wrong, the card's keys, the terminal's MAC wrong, the refusal expected, refused
    // before the PIN change)
    type Case<'a> = (
        &'a str,
        IssuerKeys,
        bool,
        fn(&ActivationError) -> bool,
        bool,
    );
    let cases: [Case; 3] = [
        (
            "a fake card: its internal-auth key (SSSE 01) is not the issuer's",
            keys_with("fake", "\"54455354DDF1010", "\"64455354DDF1010"),
            false,
            |e| matches!(e, ActivationError::FakeCard),
            true,
        ),
        (
            "a card whose activation key (SSSE 0B) differs refuses the terminal",
            keys_with("other", "\"54455354DDF10B", "\"64455354DDF10B"),
            false,
            |e| {
                matches!(
                    e,
                    ActivationError::Refused {
                        command: "EXTERNAL AUTHENTICATE",
                        ..
                    }
                )
            },
            true,
        ),
        (
            "a wrong MAC on the activation record: 6988",
            issuer,
            true,
            |e| matches!(e, ActivationError::Refused { command: "UPDATE RECORD", sw } if sw.to_u16() == 0x6988),
            false,
        ),
    ];
    for (label, keys, bad_mac, refused, before_pin_change) in cases {
        let mut c = client(card(&layout, &keys));
        let result = if bad_mac {
            run(
                &mut c,
                &mut BadMac(software()),
                &layout,
                &terminal("20240401"),
                &mut journal,
            )
        } else {
            run_on(&mut c, &layout, "20240401", &mut journal)
        };
        let e = result.expect_err(label);
        assert!(refused(&e), "{label}: {e}");
        assert_eq!(
            activation(&mut c, &layout),
            Activation::NotActivated,
            "{label}"
        );
        if before_pin_change {
            assert_eq!(
                pin_state(&mut c, "123456"),
                (0x63C6, 0x9000),
                "{label}: PIN unchanged"
            );
        }
    }

    // Real keys are not taken by the software module.
    let real = IssuerKeys::from_toml(
        "real",
        &TEST_KEYS_TOML.replace("test_only = true", "test_only = false"),
    )
    .unwrap();
    assert!(matches!(
        SoftwareModule::new(real),
        Err(SecurityError::NotTestKeys)
    ));
}

#[test]
fn a_psam_in_a_second_reader_activates_and_a_wrong_psam_is_refused() {
    let layout = national("2.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    let dir = TestDir::new("activation-psam");
    let mut journal = Journal::open(&dir.path().join("t.jsonl")).unwrap();
    let psam = psam_image(&layout, &keys, &REGION).unwrap();
    let mut module = PsamModule::open(SimTransport::in_memory(psam).unwrap()).unwrap();
    let mut c = client(card(&layout, &keys));
    let receipt = run(
        &mut c,
        &mut module,
        &layout,
        &terminal("20240401"),
        &mut journal,
    )
    .unwrap();
    assert!(receipt.security_module.starts_with("PSAM"));
    assert_eq!(pin_state(&mut c, NEW_PIN), (0x63C6, 0x9000));

    // A PSAM of another region derives other keys: the card refuses the terminal.
    let wrong = psam_image(&layout, &keys, &[0x33, 0x03, 0x00]).unwrap();
    let mut module = PsamModule::open(SimTransport::in_memory(wrong).unwrap()).unwrap();
    let mut c = client(card(&layout, &keys));
    let e = run(
        &mut c,
        &mut module,
        &layout,
        &terminal("20240401"),
        &mut journal,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            ActivationError::Refused {
                command: "EXTERNAL AUTHENTICATE",
                ..
            }
        ),
        "{e}"
    );
}

/// The simulated card behind a plug: after `cut` APDUs the card is pulled (the APDU is lost
/// before the card sees it, or after it ran and before its answer came back).
struct Plug {
    inner: SimTransport,
    sent: Rc<Cell<usize>>,
    cut: usize,
    answer_lost: bool,
}

impl CardTransport for Plug {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let n = self.sent.get();
        self.sent.set(n + 1);
        if n == self.cut {
            if self.answer_lost {
                self.inner.transmit(command)?;
            }
            return Err(TransportError::CardRemoved);
        }
        if n > self.cut {
            return Err(TransportError::CardRemoved);
        }
        self.inner.transmit(command)
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.inner.reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.inner.power_off()
    }
}

#[test]
fn a_cut_at_every_apdu_is_resumed_to_an_activated_card_with_its_tries() {
    let layout = national("3.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    let fresh = card(&layout, &keys);
    // How many APDUs a whole activation sends.
    let sent = Rc::new(Cell::new(0));
    let dir = TestDir::new("activation-cuts");
    let mut journal = Journal::open(&dir.path().join("count.jsonl")).unwrap();
    let plug = Plug {
        inner: SimTransport::in_memory(fresh.clone()).unwrap(),
        sent: sent.clone(),
        cut: usize::MAX,
        answer_lost: false,
    };
    run(
        &mut Client::new(plug),
        &mut software(),
        &layout,
        &terminal("20240401"),
        &mut journal,
    )
    .unwrap();
    let total = sent.get();
    assert!(total > 20, "{total} APDUs");
    for cut in 0..total {
        for answer_lost in [false, true] {
            let label = format!("cut at APDU {cut}, answer lost {answer_lost}");
            let mut journal =
                Journal::open(&dir.path().join(format!("{cut}-{answer_lost}.jsonl"))).unwrap();
            let plug = Plug {
                inner: SimTransport::in_memory(fresh.clone()).unwrap(),
                sent: Rc::new(Cell::new(0)),
                cut,
                answer_lost,
            };
            let mut c = Client::new(plug);
            let started: bool;
            let receipt = match run_on(&mut c, &layout, "20240401", &mut journal) {
                // Cut after the activation was written and journalled: only the receipt's last
                // line (the medical insurance status) is missing.
                Ok(receipt) => {
                    assert!(receipt.medical_insurance.starts_with("not read"), "{label}");
                    assert!(cut >= total - 4, "{label}");
                    let storage = c.into_transport().inner.storage().clone();
                    let mut c = client(storage);
                    check_activated(&mut c, &layout, &journal, &label);
                    continue;
                }
                Err(e) => {
                    assert!(
                        matches!(
                            e,
                            ActivationError::Client(ClientError::Transport(
                                TransportError::CardRemoved
                            ))
                        ),
                        "{label}: {e}"
                    );
                    // Re-inserted: the card powers on again, the rerun finishes.
                    started = !journal.entries().is_empty();
                    let storage = c.into_transport().inner.storage().clone();
                    c = Client::new(Plug {
                        inner: SimTransport::in_memory(storage).unwrap(),
                        sent: Rc::new(Cell::new(0)),
                        cut: usize::MAX,
                        answer_lost: false,
                    });
                    run_on(&mut c, &layout, "20240401", &mut journal)
                        .unwrap_or_else(|e| panic!("{label}: rerun failed: {e}"))
                }
            };
            assert_eq!(receipt.attempt, "T0000001X-1", "{label}");
            assert_eq!(receipt.resumed, started, "{label}");
            check_activated(&mut c, &layout, &journal, &label);
        }
    }
}

fn check_activated<T: CardTransport>(
    c: &mut Client<T>,
    layout: &Layout,
    journal: &Journal,
    label: &str,
) {
    assert!(
        matches!(activation(c, layout), Activation::Activated { .. }),
        "{label}"
    );
    assert_eq!(pin_state(c, NEW_PIN), (0x63C6, 0x9000), "{label}");
    let steps = steps(journal);
    assert_eq!(
        steps.iter().filter(|s| **s == Step::Activated).count(),
        1,
        "{label}: {steps:?}"
    );
    assert!(!steps.contains(&Step::Failed), "{label}: {steps:?}");
    assert!(
        journal.entries().iter().all(|e| e.attempt == "T0000001X-1"),
        "{label}"
    );
}
