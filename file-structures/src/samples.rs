//! The sample data shipped in `samples/`, embedded so that it works from any directory.

use crate::personalise::{record_from_json, CardRecord, RecordError};

/// The sample fictitious cardholder (张测试) as JSON: field id → value.
pub const HOLDER_JSON: &str = include_str!("../samples/holder.json");

/// The sample cardholder as a record (labelled "sample holder" in errors).
pub fn sample_holder() -> Result<CardRecord, RecordError> {
    record_from_json("sample holder", HOLDER_JSON)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_holder_parses() {
        let holder = sample_holder().unwrap();
        assert_eq!(holder.values["name"], "张测试");
    }
}
