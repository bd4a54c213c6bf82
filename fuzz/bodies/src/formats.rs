//! Text formats people write: layout files (file-structures), conformance vector files and their
//! byte expressions (test-vectors). The input is taken as UTF-8 text (lossily).

use std::cell::RefCell;
use std::collections::HashMap;

use file_structures::layout::{self, Layout};
use file_structures::personalise::{IssuerKeys, Personaliser};
use test_vectors::expr::{parse_pattern, parse_template};
use test_vectors::facts::Scope;
use test_vectors::runner::run_vector;
use test_vectors::{CardKind, SimulatorTarget};

use crate::input;

/// Vectors of one input that are run (each on a fresh simulated card).
pub const MAX_VECTORS_RUN: usize = 8;
/// More than any expression needs (the longest APDU is 65,544 bytes): an expression that yields
/// more has no limit, whatever its text (issue: unbounded work from input).
pub const MAX_EXPRESSION_BYTES: usize = 1 << 20;

thread_local! {
    /// The simulator keeps each kind of card personalised once per process.
    static SIMULATOR: RefCell<SimulatorTarget> = RefCell::new(SimulatorTarget::new());
}

/// A layout file (an extension of the national layout, or a national layout itself): loaded and
/// validated; a valid one is rendered, compared with the national layout, personalised with the
/// sample holder and expanded into access vectors. Problems name a line of the file.
pub fn layout_toml(data: &[u8]) {
    let text = input::text(data);
    const NAME: &str = "fuzz-layout.toml";
    match layout::load_str(NAME, &text, None) {
        Ok(layout) => use_layout(&layout),
        Err(e) => {
            let lines = text.lines().count() + 1;
            for problem in e.problems() {
                assert!(!problem.message.is_empty());
                if problem.file == NAME {
                    assert!(
                        problem.line <= lines,
                        "problem on line {} of a {lines}-line file: {problem}",
                        problem.line
                    );
                }
            }
        }
    }
}

fn use_layout(layout: &Layout) {
    let _ = layout::render_tree(layout);
    if let Ok(national) = layout::national(&layout.version) {
        let _ = layout::diff(&national, layout);
    }
    let keys = IssuerKeys::test_keys().unwrap_or_else(|e| panic!("test keys: {e}"));
    let holder = host_tools::transport::simcard::sample_holder();
    let _ = Personaliser::new(layout, &keys).card_image(&holder);
    let kind = if layout.version == "2.0" {
        CardKind::National20
    } else {
        CardKind::National30
    };
    let _ = test_vectors::expand::vectors_for(layout, kind);
}

/// A vector file: parsed; the first vectors of a valid one run on the simulator.
pub fn vector_file(data: &[u8]) {
    let text = input::text(data);
    let Ok(file) = test_vectors::format::parse_file("fuzz-vectors.toml", &text) else {
        return;
    };
    SIMULATOR.with(|simulator| {
        let mut simulator = simulator.borrow_mut();
        for vector in file.vectors.iter().take(MAX_VECTORS_RUN) {
            let result = run_vector(&mut *simulator, vector);
            assert_eq!(result.id, vector.id);
        }
    });
}

/// A byte expression, as a command template and as an expected-answer pattern, evaluated for a
/// national 2.0 card with a captured challenge. Where both parse and evaluate, the pattern
/// matches what the template gives: one text, one meaning.
pub fn expression(data: &[u8]) {
    let text = input::text(data);
    let template = parse_template(&text);
    let pattern = parse_pattern(&text);
    if template.is_err() && pattern.is_err() {
        return;
    }
    SIMULATOR.with(|simulator| {
        let mut simulator = simulator.borrow_mut();
        let Ok((_, facts)) = simulator.fresh(CardKind::National20) else {
            panic!("the simulator cannot build a national 2.0 card");
        };
        let captures = HashMap::from([("challenge".to_owned(), vec![0x11; 8])]);
        let scope = Scope::new(facts, &captures);
        let bytes = template.ok().and_then(|t| t.eval(&scope).ok());
        let expected = pattern.ok().and_then(|p| p.eval(&scope).ok());
        let yielded = bytes.as_ref().map_or(0, Vec::len);
        assert!(
            yielded <= MAX_EXPRESSION_BYTES,
            "{text:?} yields {yielded} bytes: expressions need a limit"
        );
        if let (Some(bytes), Some(expected)) = (bytes, expected) {
            assert_eq!(
                expected.mismatch(&bytes),
                None,
                "{text:?} means one thing as a template and another as a pattern"
            );
        }
    });
}
