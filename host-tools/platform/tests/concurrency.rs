//! Concurrent terminals: many parallel activations, loss reports and uploads, each applied
//! exactly once, on both backends.

mod common;

use std::thread;

use common::*;
use sscard_platform::auth::Role;
use sscard_platform::model::*;

on_both_backends!(parallel_terminals_apply_each_change_exactly_once);

const CARDS: u32 = 40;
const THREADS: u32 = 8;

fn parallel_terminals_apply_each_change_exactly_once(db: Db) {
    let h = Harness::new(db);
    let cards: Vec<_> = (1..=CARDS).map(card).collect();
    h.register(&cards);
    let outlet = h.terminal("outlet-1", Role::Outlet);
    let outlet2 = h.terminal("outlet-2", Role::Outlet);
    let hospital = h.terminal("hospital-1", Role::Hospital);
    // The phases are apart: a card reported lost while another thread activates it would be a
    // refusal of another kind (that race is the loss report's, tested by the states).
    let phase = std::sync::Barrier::new(THREADS as usize);
    let (activated, refused, lost, uploads) = thread::scope(|s| {
        let mut handles = Vec::new();
        for t in 0..THREADS {
            let (h, outlet, outlet2, hospital, cards, phase) =
                (&h, &outlet, &outlet2, &hospital, &cards, &phase);
            handles.push(s.spawn(move || {
                let mut counts = (0, 0, 0, 0);
                // Two outlets race to activate every card, each with its own attempt keys,
                // and each retries its own request once (a lost answer).
                let client = h.client(if t % 2 == 0 { outlet } else { outlet2 });
                for c in cards {
                    let key = format!("{}-{t}", c.card_number);
                    for _ in 0..2 {
                        match client.record_activation(
                            &c.card_number,
                            &activation("20240315"),
                            &key,
                        ) {
                            Ok(_) => counts.0 += 1,
                            Err(e) if e.code() == Some("already-activated") => counts.1 += 1,
                            Err(e) => panic!("activation: {e}"),
                        }
                    }
                }
                phase.wait();
                // Every thread reports the last quarter of the cards lost: one wins each.
                for c in &cards[(CARDS as usize * 3 / 4)..] {
                    let loss = LossRequest {
                        kind: LossKind::Formal,
                        note: None,
                    };
                    match client.report_loss(&c.card_number, &loss, None) {
                        Ok(_) => counts.2 += 1,
                        Err(e) if e.code() == Some("state-transition-refused") => {}
                        Err(e) => panic!("loss: {e}"),
                    }
                }
                // Every thread uploads the same purchases of the first cards.
                let till = h.client(hospital);
                for c in &cards[..10] {
                    let records = [purchase(c, 1, 1000, 10), purchase(c, 2, 990, 20)];
                    let out = till.upload_settlements(&records, None).unwrap();
                    counts.3 += out
                        .results
                        .iter()
                        .filter(|r| r.verdict == RecordVerdict::Accepted)
                        .count();
                }
                counts
            }));
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0, 0, 0), |a, b| {
                (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3)
            })
    });
    // Each card activated once: the winner's two calls both succeed (the second is the
    // replay of its key); every other attempt is refused.
    let winners = CARDS as usize;
    assert_eq!(activated, 2 * winners, "activations acknowledged");
    assert_eq!(
        refused,
        2 * (THREADS as usize * CARDS as usize) - 2 * winners
    );
    assert_eq!(lost, CARDS as usize / 4, "one loss report per card wins");
    assert_eq!(uploads, 20, "each record accepted once");
    let counts: std::collections::HashMap<_, _> = h.counts().into_iter().collect();
    assert_eq!(counts["settlements"], 20);
    for c in &cards[..10] {
        let status =
            h.rt.block_on(h.store.card_status(&c.card_number, None, None))
                .unwrap();
        assert_eq!(status.purse.balance_fen, Some(970));
        let events = h.rt.block_on(h.store.history(&c.card_number)).unwrap();
        assert_eq!(events.iter().filter(|e| e.kind == "activated").count(), 1);
    }
    assert!(h
        .rt
        .block_on(h.store.invariant_violations())
        .unwrap()
        .is_empty());
    let blacklist = h.rt.block_on(h.store.blacklist_since(0)).unwrap();
    assert_eq!(blacklist.changes.len(), CARDS as usize / 4);
}
