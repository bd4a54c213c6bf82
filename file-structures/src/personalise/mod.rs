//! Personalisation: cardholder records through a layout into APDU scripts and card images.

mod apdu;
mod batch;
mod image;
mod keys;
mod record;
mod script;

pub use apdu::StepError;
pub use batch::{
    check_batch, make_batch, personalise_batch, BatchError, BatchOptions, BatchReport, CardOutput,
    CheckedBatch, Duplicate, Output, Progress, MAX_BATCH_FILE_BYTES, MAX_BATCH_RECORDS,
    UNIQUE_ENCODINGS,
};
pub use image::{
    card_image, format_params, run_file_system_steps, run_script, CardImage, CardStorage,
    CardSummary, IMAGE_SIZE,
};
pub use keys::{IssuerKeys, KeyError, TEST_KEYS_TOML};
pub use record::{record_from_json, records_from_batch, BatchFormat, CardRecord, RecordError};
pub use script::{personalisation_script, purse_object, PersoError, Personaliser, Script, Step};
