//! Property test: random sequences of activations, loss reports, finds, cancellations and
//! sealings on one card, against a model written from the table in docs/back-office.md: the
//! registry's state, its refusals and the blacklist follow the model step by step.

mod common;

use common::*;
use proptest::prelude::*;
use sscard_platform::model::*;
use sscard_platform::registry::{Action, Actor};
use sscard_platform::PlatformError;

#[derive(Debug, Clone, Copy)]
enum Op {
    Activate,
    Change(Action),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Activate),
        Just(Op::Change(Action::LossTemporary)),
        Just(Op::Change(Action::LossFormal)),
        Just(Op::Change(Action::Found)),
        Just(Op::Change(Action::Cancel)),
        Just(Op::Change(Action::Seal)),
    ]
}

/// The documented table: the next state, or `None` when the registry must refuse.
fn model(state: CardState, before_loss: CardState, op: Op) -> Option<CardState> {
    use CardState::*;
    match (op, state) {
        (Op::Activate, Issued) => Some(Activated),
        (Op::Activate, _) => None,
        (Op::Change(Action::LossTemporary), Issued | Activated) => Some(TemporarilyLost),
        (Op::Change(Action::LossFormal), Issued | Activated | TemporarilyLost) => Some(Lost),
        (Op::Change(Action::Found), TemporarilyLost) => Some(before_loss),
        (Op::Change(Action::Cancel), s) if s != Cancelled => Some(Cancelled),
        (Op::Change(Action::Seal), Issued | Activated) => Some(Sealed),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_registry_follows_the_documented_transitions(ops in prop::collection::vec(op(), 1..12)) {
        let h = Harness::new(Db::Sqlite);
        h.register(&[card(1)]);
        let actor = Actor::new("proptest");
        let (mut state, mut before_loss) = (CardState::Issued, CardState::Issued);
        let mut listed = false;
        for (n, op) in ops.iter().enumerate() {
            let expected = model(state, before_loss, *op);
            let result = h.rt.block_on(async {
                match op {
                    Op::Activate => h
                        .store
                        .record_activation("T00000001", &activation("20240315"), &actor, None)
                        .await
                        .map(|_| CardState::Activated),
                    Op::Change(action) => h
                        .store
                        .change_state("T00000001", *action, None, &actor, None)
                        .await
                        .map(|c| c.to),
                }
            });
            match (expected, result) {
                (Some(next), Ok(got)) => {
                    prop_assert_eq!(got, next, "step {} {:?}", n, op);
                    if next == CardState::TemporarilyLost {
                        before_loss = state;
                    }
                    state = next;
                }
                (None, Err(PlatformError::Refused { .. })) => {}
                (expected, result) => {
                    prop_assert!(false, "step {} {:?} from {:?}: expected {:?}, got {:?}", n, op, state, expected, result);
                }
            }
            prop_assert_eq!(h.state_of("T00000001"), state);
            // The blacklist's last word on the card is the model's.
            let delta = h.rt.block_on(h.store.blacklist_since(0)).unwrap();
            if let Some(last) = delta.changes.iter().rev().find(|c| c.card_number == "T00000001") {
                listed = last.listed;
                prop_assert_eq!(last.state == state || !state.is_blacklisted(), true);
            }
            prop_assert_eq!(listed, state.is_blacklisted());
        }
        prop_assert!(h.rt.block_on(h.store.invariant_violations()).unwrap().is_empty());
    }
}
