//! Shared by the driver's tests: personalised card images of the sample holder (2.0 and 3.0, TEST
//! keys), the terminal's PSAM image, and driver configurations naming them.
#![allow(dead_code)] // each test binary uses its own part

pub mod hsm_service;
pub mod programs;

use std::path::{Path, PathBuf};

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::jobs::activation::psam::psam_image;
use host_tools::testdir::TestDir;
use host_tools::transport::sim::{MemoryStorage, SimTransport};
use host_tools::transport::simcard::{personalised_card, sample_holder};
use SSCardDriver::config::Config;

/// The sample card's region (card identification code 110100...): its PSAM's.
pub const REGION: [u8; 3] = [0x11, 0x01, 0x00];

pub fn keys() -> IssuerKeys {
    IssuerKeys::test_keys().expect("the test keys load")
}

/// A new personalised card of the sample holder, national `version` ("2.0" or "3.0").
pub fn card_storage(version: &str) -> MemoryStorage {
    let layout = national(version).expect("the national layout loads");
    personalised_card(&layout, &sample_holder(), &keys())
        .expect("the sample card personalises")
        .0
}

/// As [`card_storage`], the card's medical purse holding `fen`.
pub fn card_storage_with_balance(version: &str, fen: u32) -> MemoryStorage {
    let layout = national(version).expect("the national layout loads");
    let mut holder = sample_holder();
    holder
        .values
        .insert("purse_balance".into(), fen.to_string());
    personalised_card(&layout, &holder, &keys())
        .expect("the sample card personalises")
        .0
}

pub fn psam_storage() -> MemoryStorage {
    let layout = national("3.0").expect("the national layout loads");
    psam_image(&layout, &keys(), &REGION).expect("the PSAM image is made")
}

/// A card image and a PSAM image in a scratch directory.
pub struct Fixture {
    pub dir: TestDir,
    pub card: PathBuf,
    pub psam: PathBuf,
}

impl Fixture {
    pub fn new(label: &str, version: &str) -> Self {
        let dir = TestDir::new(label);
        let card = dir.path().join("card.card");
        let psam = dir.path().join("psam.card");
        SimTransport::create_image(&card, &card_storage(version)).expect("the card image is saved");
        SimTransport::create_image(&psam, &psam_storage()).expect("the PSAM image is saved");
        Fixture { dir, card, psam }
    }

    /// As [`Fixture::new`], the card's medical purse holding `fen`.
    pub fn with_balance(label: &str, version: &str, fen: u32) -> Self {
        let fixture = Fixture::new(label, version);
        let storage = card_storage_with_balance(version, fen);
        SimTransport::create_image(&fixture.card, &storage).expect("the card image is saved");
        fixture
    }

    /// A configuration: the card image, the PSAM image when `with_psam`, and `pins` as the
    /// scripted pad.
    pub fn config(&self, with_psam: bool, pins: &str) -> Config {
        let text = self.config_text(with_psam, pins);
        Config::parse(&self.dir.path().join("SSCardDriver.toml"), &text)
            .expect("the configuration parses")
    }

    pub fn config_text(&self, with_psam: bool, pins: &str) -> String {
        let mut text = format!("[card]\nimage = {:?}\n", path(&self.card));
        if with_psam {
            text.push_str(&format!("[psam]\nimage = {:?}\n", path(&self.psam)));
        }
        text.push_str("[terminal]\ndevice_number = \"HIS-01\"\n");
        text.push_str(&format!("[pin]\nsource = \"script:{pins}\"\n"));
        text
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}
