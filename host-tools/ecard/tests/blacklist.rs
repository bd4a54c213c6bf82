//! The blacklist: deltas move it one version at a time, all or nothing, and it travels as JSON.

use proptest::prelude::*;
use sscard_ecard::{
    Blacklist, BlacklistChange, BlacklistDelta, BlacklistEntry, BlockReason, CardNumber,
    DeltaError, EcardId,
};

fn ecard(n: u8) -> BlacklistEntry {
    BlacklistEntry::Ecard(EcardId::from_bytes([n; 16]))
}

fn card(number: &str) -> BlacklistEntry {
    BlacklistEntry::Card(number.parse().unwrap())
}

fn block(entry: BlacklistEntry, reason: BlockReason) -> BlacklistChange {
    BlacklistChange::Block { entry, reason }
}

fn delta(from: u64, changes: Vec<BlacklistChange>) -> BlacklistDelta {
    BlacklistDelta {
        from_version: from,
        to_version: from + 1,
        changes,
    }
}

#[test]
fn deltas_block_change_and_lift_entries_version_by_version() {
    let mut list = Blacklist::new();
    assert_eq!((list.version(), list.len()), (0, 0));
    list.apply_all(&[
        delta(
            0,
            vec![
                block(ecard(1), BlockReason::TemporarilyLost),
                block(card("X00000019"), BlockReason::Lost),
            ],
        ),
        delta(1, vec![block(ecard(2), BlockReason::Cancelled)]),
        // A temporary loss becomes formal; another is withdrawn.
        delta(
            2,
            vec![
                block(ecard(1), BlockReason::Lost),
                BlacklistChange::Unblock { entry: ecard(2) },
            ],
        ),
    ])
    .unwrap();
    assert_eq!(list.version(), 3);
    assert_eq!(list.reason(&ecard(1)), Some(BlockReason::Lost));
    assert_eq!(list.reason(&ecard(2)), None);
    assert_eq!(
        list.card_reason(&"X00000019".parse().unwrap()),
        Some(BlockReason::Lost)
    );
    assert_eq!(list.len(), 2);
}

#[test]
fn a_delta_that_does_not_fit_changes_nothing() {
    let mut list = Blacklist::new();
    list.apply(&delta(0, vec![block(ecard(1), BlockReason::Lost)]))
        .unwrap();
    let before = list.clone();

    assert_eq!(
        list.apply(&delta(0, vec![block(ecard(9), BlockReason::Lost)])),
        Err(DeltaError::WrongBase { have: 1, from: 0 })
    );
    assert_eq!(
        list.apply(&delta(2, vec![])),
        Err(DeltaError::WrongBase { have: 1, from: 2 })
    );
    let skipping = BlacklistDelta {
        from_version: 1,
        to_version: 3,
        changes: vec![],
    };
    assert_eq!(
        list.apply(&skipping),
        Err(DeltaError::NotNextVersion { from: 1, to: 3 })
    );
    // A bad change late in a delta undoes its earlier changes too.
    let half_bad = delta(
        1,
        vec![
            block(ecard(5), BlockReason::Lost),
            BlacklistChange::Unblock { entry: ecard(6) },
        ],
    );
    assert_eq!(
        list.apply(&half_bad),
        Err(DeltaError::UnblockOfAbsent { entry: ecard(6) })
    );
    let too_many = delta(
        1,
        vec![block(ecard(5), BlockReason::Lost); sscard_ecard::blacklist::MAX_DELTA_CHANGES + 1],
    );
    assert!(matches!(
        list.apply(&too_many),
        Err(DeltaError::TooManyChanges { .. })
    ));
    assert_eq!(list, before);
}

#[test]
fn the_blacklist_and_its_deltas_travel_as_json() {
    let step = delta(
        0,
        vec![
            block(ecard(1), BlockReason::Lost),
            block(card("X00000019"), BlockReason::Sealed),
        ],
    );
    let json = serde_json::to_value(&step).unwrap();
    assert_eq!(json["changes"][0]["op"], "block");
    assert_eq!(json["changes"][0]["entry"]["ecard"], "01".repeat(16));
    assert_eq!(json["changes"][1]["entry"]["card"], "X00000019");
    assert_eq!(json["changes"][1]["reason"], "sealed");
    let back: BlacklistDelta = serde_json::from_value(json).unwrap();
    assert_eq!(back, step);

    let mut list = Blacklist::new();
    list.apply(&step).unwrap();
    let text = serde_json::to_string(&list).unwrap();
    assert_eq!(serde_json::from_str::<Blacklist>(&text).unwrap(), list);
}

#[test]
fn a_snapshot_continues_with_the_deltas_after_its_version() {
    let mut followed = Blacklist::new();
    let steps = [
        delta(
            0,
            vec![
                block(ecard(1), BlockReason::Lost),
                block(card("X00000019"), BlockReason::Sealed),
            ],
        ),
        delta(1, vec![block(ecard(2), BlockReason::TemporarilyLost)]),
    ];
    followed.apply_all(&steps).unwrap();
    // A terminal without a cache gets the list at version 2 in one piece.
    let mut fresh = Blacklist::snapshot(2, followed.entries());
    assert_eq!(fresh, followed);
    let next = delta(2, vec![BlacklistChange::Unblock { entry: ecard(2) }]);
    fresh.apply(&next).unwrap();
    followed.apply(&next).unwrap();
    assert_eq!(fresh, followed);
    assert_eq!(fresh.entries().count(), 2);
}

#[test]
fn malformed_entries_are_refused_when_read() {
    // A card number with a wrong check character, and an e-card id that is not 32 hex digits.
    for bad in [
        r#"{"from_version":0,"to_version":1,"changes":[{"op":"block","entry":{"card":"X00000018"},"reason":"lost"}]}"#,
        r#"{"from_version":0,"to_version":1,"changes":[{"op":"block","entry":{"ecard":"0102"},"reason":"lost"}]}"#,
        r#"{"from_version":0,"to_version":1,"changes":[{"op":"block","entry":{"ecard":"01010101010101010101010101010101"},"reason":"stolen"}]}"#,
    ] {
        assert!(
            serde_json::from_str::<BlacklistDelta>(bad).is_err(),
            "{bad}"
        );
    }
    assert!("X0000001".parse::<CardNumber>().is_err());
    assert!("X000000190".parse::<CardNumber>().is_err());
    assert!("x00000019".parse::<CardNumber>().is_err());
}

proptest! {
    #[test]
    fn applying_deltas_matches_a_simple_model(ops in proptest::collection::vec((0u8..6, any::<bool>()), 0..40)) {
        // Each step blocks or lifts one of six e-cards; lifting an absent one is refused.
        let mut list = Blacklist::new();
        let mut model = std::collections::BTreeSet::new();
        for (n, blocking) in ops {
            let change = if blocking {
                block(ecard(n), BlockReason::Lost)
            } else {
                BlacklistChange::Unblock { entry: ecard(n) }
            };
            let result = list.apply(&delta(list.version(), vec![change]));
            if blocking {
                prop_assert!(result.is_ok());
                model.insert(n);
            } else {
                prop_assert_eq!(result.is_ok(), model.remove(&n));
            }
            prop_assert_eq!(list.len(), model.len());
        }
        for n in 0..6 {
            prop_assert_eq!(list.reason(&ecard(n)).is_some(), model.contains(&n));
        }
    }
}
