//! The reader-interface library's string inputs (pCardInfo, pFileAddr, pKey, pPayInfo and the
//! write data): their parsers directly, and every one of the 23 functions through the Rust API
//! (`Driver::call_text`, the web bridge's entry) on a configuration of card images (a national
//! 3.0 card of the sample holder and the terminal's PSAM, made once per process).
//!
//! An input: byte 0 picks the function (modulo 23); the rest are its parameters as text, split at
//! `00` bytes (bytes that are not UTF-8 replaced). What must hold, beyond "no panic": every answer
//! is 0 or one of the negative codes, and a failure says why in words.

use std::path::PathBuf;
use std::sync::OnceLock;

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::interface::ops::{address, debit::PayInfo, CardInfo};
use host_tools::interface::{Config, Driver, FUNCTIONS};
use host_tools::jobs::activation::psam::psam_image;
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};

/// The longest input used: parameters are far shorter in use; longer ones only slow the fuzzer.
pub const MAX_INPUT: usize = 4096;

/// The configuration naming the card images, made once (a directory under the system's
/// temporary directory, one per process).
fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("sscard-fuzz-interface-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the fuzz directory is made");
        let keys = IssuerKeys::test_keys().expect("the TEST keys load");
        let layout = national("3.0").expect("the national layout loads");
        let card = personalised_card(&layout, &sample_holder(), &keys)
            .expect("the sample card personalises")
            .0;
        let psam = psam_image(&layout, &keys, &[0x11, 0x01, 0x00]).expect("the PSAM is made");
        let card_path = dir.join("card.card");
        let psam_path = dir.join("psam.card");
        SimTransport::create_image(&card_path, &card).expect("the card image is saved");
        SimTransport::create_image(&psam_path, &psam).expect("the PSAM image is saved");
        let text = format!(
            "[card]\nimage = {:?}\n[psam]\nimage = {:?}\n[terminal]\ndevice_number = \"FUZZ\"\n[pin]\nsource = \"script:\"\n",
            card_path.display().to_string(),
            psam_path.display().to_string()
        );
        Config::parse(&dir.join("SSCardDriver.toml"), &text).expect("the configuration parses")
    })
}

pub fn reader_interface(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let rest = rest.get(..MAX_INPUT).unwrap_or(rest);
    let params: Vec<String> = rest
        .split(|&b| b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    // The parsers on every parameter: a refusal carries a parameter code and a sentence.
    for text in &params {
        for failure in [
            CardInfo::parse(text).err(),
            address::parse(text).err(),
            PayInfo::parse(text).err(),
        ]
        .into_iter()
        .flatten()
        {
            assert!(failure.code < 0, "{failure:?}");
            assert!(!failure.message.is_empty());
        }
    }
    let function = &FUNCTIONS[usize::from(pick) % FUNCTIONS.len()];
    let args: Vec<Option<&str>> = params.iter().map(|p| Some(p.as_str())).collect();
    let mut driver = Driver::with_config(config().clone());
    let reply = driver.call_text(function.name, &args);
    assert!(reply.code <= 0, "{}: code {}", function.name, reply.code);
    if reply.code < 0 {
        assert!(
            !reply.out.is_empty(),
            "{}: {} without words",
            function.name,
            reply.code
        );
    }
}
