//! The stack both iReadCardBas examples time: a 3.0 card served in "Virtual PCD 00 00" and the
//! PSAM in "Virtual PCD 00 01", each behind the example's own recording wrapper, and the driver
//! configured for them.
// Each example uses part of this module (bas_bench does not read the context).
#![allow(dead_code)]

use std::os::raw::c_char;
use std::path::PathBuf;

use host_tools::testdir::TestDir;
use host_tools::transport::sim::SimTransport;
use host_tools::transport::vpcd::{FIRST_SLOT_PORT, SECOND_SLOT_PORT};
use host_tools::transport::CardTransport;

use crate::pcsc_support::{context, wait_for_card, ServedCard, READER, SECOND_READER};
use crate::support::{card_storage, psam_storage};

/// The served card and PSAM, the PC/SC context that saw them arrive, and the driver's
/// configuration file (in `_dir`).
pub struct BasStack {
    pub card: ServedCard,
    pub psam: ServedCard,
    pub ctx: pcsc::Context,
    pub config: PathBuf,
    _dir: TestDir,
}

/// A card the example wraps to record what crosses its contacts.
pub type Wrap = Box<dyn FnOnce(Box<dyn CardTransport + Send>) -> Box<dyn CardTransport + Send>>;

/// The simulated 3.0 card wrapped by `wrap_card` and the PSAM by `wrap_psam`, served and
/// configured for the driver (the PSAM kept connected between calls, as by default). `name`
/// names the scratch directory.
pub fn start(name: &str, wrap_card: Wrap, wrap_psam: Wrap) -> BasStack {
    let card = ServedCard::start(
        wrap_card(Box::new(
            SimTransport::in_memory(card_storage("3.0")).unwrap(),
        )),
        FIRST_SLOT_PORT,
    );
    let psam = ServedCard::start(
        wrap_psam(Box::new(SimTransport::in_memory(psam_storage()).unwrap())),
        SECOND_SLOT_PORT,
    );
    let ctx = context();
    wait_for_card(&ctx, READER, true);
    wait_for_card(&ctx, SECOND_READER, true);
    let dir = TestDir::new(name);
    let config = dir.path().join("SSCardDriver.toml");
    write_config(&config, true);
    std::env::set_var("SSCARD_DRIVER_CONFIG", &config);
    BasStack {
        card,
        psam,
        ctx,
        config,
        _dir: dir,
    }
}

/// Writes the driver's configuration: both readers, PINs from the script, and whether the
/// PSAM is kept connected between calls.
pub fn write_config(config: &std::path::Path, keep_psam_connected: bool) {
    let keep = if keep_psam_connected {
        ""
    } else {
        "keep_connected = false\n"
    };
    std::fs::write(
        config,
        format!(
            "[card]\nreader = \"Virtual PCD 00 00\"\n[psam]\nreader = \"Virtual PCD 00 01\"\n{keep}[pin]\nsource = \"script:\"\n"
        ),
    )
    .unwrap();
}

/// One iReadCardBas of a 3.0 card into `out`; it must succeed.
pub fn read_card_bas(out: &mut [u8; 1024]) {
    // SAFETY: out holds the 1024 bytes iReadCardBas may write.
    let code = unsafe { SSCardDriver::ffi::iReadCardBas(3, out.as_mut_ptr().cast::<c_char>()) };
    assert_eq!(code, 0, "iReadCardBas failed");
}
