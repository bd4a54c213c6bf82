//! The six-month rule on the card (docs/card-os.md): before activation, a date past issue + 6
//! months (or no date at all) restricts settlement-type writes in DF04; activation lifts it.

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::card::auth::external_authenticate;
use host_tools::jobs::activation::{
    activate, GivenPins, Identity, Journal, LostList, SoftwareModule, Terminal,
};
use host_tools::protocol::client::Client;
use host_tools::testdir::TestDir;
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::CardTransport;

fn sw<T: CardTransport>(c: &mut Client<T>, hex: &str) -> (Vec<u8>, u16) {
    let r = c
        .transmit_raw(&host_tools::protocol::hexstr::parse(hex).unwrap())
        .unwrap();
    (r.data, r.sw.to_u16())
}

/// SET DATE, then GET DATA DF41, then an authenticated UPDATE RECORD of DF04 EF06 record 1.
fn settle<T: CardTransport>(c: &mut Client<T>, date: &str, code: &[u8; 16]) -> (u8, u16) {
    let layout = national("2.0").unwrap();
    if !date.is_empty() {
        assert_eq!(sw(c, &format!("80DA000004{date}")).1, 0x9000);
    }
    let (status, ok) = sw(c, "00CADF4100");
    assert_eq!(ok, 0x9000);
    assert_eq!(sw(c, "00A4000C02DF04").1, 0x9000);
    external_authenticate(
        c,
        &layout,
        &IssuerKeys::test_keys().unwrap(),
        "DF04",
        0x80,
        code,
    )
    .unwrap();
    (status[0], sw(c, "00DC0134039001 31").1)
}

#[test]
fn settlement_is_restricted_six_months_after_issue_until_activation() {
    let layout = national("2.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    let (storage, _) = personalised_card(&layout, &sample_holder(), &keys).unwrap();
    let mut c = Client::new(SimTransport::in_memory(storage).unwrap());
    let code: [u8; 16] = hex::decode("110100D156000005544553540000000A")
        .unwrap()
        .try_into()
        .unwrap();
    // Issued 2024-01-01: grace until 2024-07-01.
    assert_eq!(settle(&mut c, "20240701", &code), (0x01, 0x9000));
    assert_eq!(settle(&mut c, "20240702", &code), (0x02, 0x9302));
    // No date since the reset: restricted.
    c.reset(host_tools::transport::ResetKind::Cold).unwrap();
    assert_eq!(settle(&mut c, "", &code), (0x02, 0x9302));
    // A date that is not a date is refused.
    assert_eq!(sw(&mut c, "80DA00000420241301").1, 0x6A80);

    let dir = TestDir::new("activation-rule");
    let mut journal = Journal::open(&dir.path().join("t.jsonl")).unwrap();
    let terminal = Terminal {
        outlet: "BANK-0001".into(),
        terminal_id: "T-42".into(),
        date: "20240801".into(),
        lost: LostList::default(),
    };
    let receipt = activate(
        &mut c,
        &mut SoftwareModule::new(keys).unwrap(),
        &layout,
        &terminal,
        &Identity::new("110105199001010010", "张测试").unwrap(),
        &mut GivenPins("135790".into(), "135790".into()),
        &mut journal,
    )
    .unwrap();
    assert_eq!(receipt.medical_insurance, "normal");
    assert_eq!(settle(&mut c, "20300101", &code), (0x00, 0x9000));
}

/// card-os finds its issue date and activation state where the national layout puts them.
#[test]
fn the_card_rule_reads_the_places_the_national_layout_defines() {
    use card_os::restriction as r;
    for version in ["2.0", "3.0"] {
        let layout = national(version).unwrap();
        let state = layout.field("activation_state").unwrap();
        let issue = layout.field("issue_date").unwrap();
        for (f, sfi, tag) in [
            (&state, r::ACTIVATION_SFI, r::ACTIVATION_STATE_TAG),
            (&issue, r::ISSUE_DATE_SFI, r::ISSUE_DATE_TAG),
        ] {
            assert_eq!(f.df.name, layout.pin.df);
            assert_eq!((f.ef.sfi, f.field.tag), (Some(sfi), tag));
        }
        assert_eq!(layout.df("DF04").unwrap().fid, r::RESTRICTED_DF_FID);
        assert!(matches!(
            layout.df("DF04").unwrap().parent.as_deref(),
            None | Some("MF")
        ));
    }
}
