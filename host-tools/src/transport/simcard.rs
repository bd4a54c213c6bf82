//! Personalised simulated cards: file-structures' Personaliser run on card-os in memory, the
//! result as the simulator's memory (for `sim new`, the demo and tests).

use file_structures::layout::Layout;
use file_structures::personalise::{CardRecord, CardSummary, IssuerKeys, PersoError, Personaliser};

use crate::transport::sim::MemoryStorage;

/// The sample fictitious cardholder shipped with file-structures, as a record.
pub fn sample_holder() -> CardRecord {
    // The embedded sample is tested to parse (tests below): failing here is a build defect.
    file_structures::samples::sample_holder()
        .unwrap_or_else(|e| panic!("the embedded sample holder does not parse: {e}"))
}

/// A card personalised for `record` with `keys`, as the simulator's memory, and its summary.
pub fn personalised_card(
    layout: &Layout,
    record: &CardRecord,
    keys: &IssuerKeys,
) -> Result<(MemoryStorage, CardSummary), PersoError> {
    let image = Personaliser::new(layout, keys).card_image(record)?;
    Ok((MemoryStorage::from_bytes(image.bytes), image.summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_holder_is_the_fictitious_test_person() {
        let holder = sample_holder();
        assert_eq!(holder.values["name"], "张测试");
        assert_eq!(holder.values["card_number"], "T0000001X");
    }
}
