//! Every input has a bound: expressions (length, nesting, bytes produced, date offsets), vector
//! files (size, vectors, steps) and imports. Past one, the answer is an error naming it; no input
//! makes evaluation panic or produce more than its bound.

use std::collections::HashMap;

use proptest::prelude::*;
use test_vectors::expr::{parse_pattern, parse_template, EvalError};
use test_vectors::facts::{CardFacts, Scope};
use test_vectors::format::{parse_file, FormatError};
use test_vectors::import::{from_scriptor, ImportHeader};
use test_vectors::limits::*;

fn eval(text: &str) -> Result<Vec<u8>, EvalError> {
    let facts = CardFacts::none();
    let captures = HashMap::new();
    parse_template(text)
        .map_err(EvalError::Invalid)?
        .eval(&Scope::new(&facts, &captures))
}

fn invalid(result: Result<Vec<u8>, EvalError>) -> String {
    match result {
        Err(EvalError::Invalid(message)) => message,
        other => panic!("expected an invalid expression, got {other:?}"),
    }
}

#[test]
fn nested_repeats_stop_at_the_output_limit_without_allocating_it() {
    // 1000^3 bytes if it were evaluated.
    let bomb = "{repeat({repeat({repeat(AB, 1000)}, 1000)}, 1000)}";
    assert!(invalid(eval(bomb)).contains(&format!(
        "more than {MAX_EXPRESSION_BYTES} bytes, the limit"
    )));
    // A count no memory could hold is refused the same way.
    let huge = format!("{{repeat(ABCD, {})}}", usize::MAX);
    assert!(invalid(eval(&huge)).contains("the limit"));
    // The largest extended APDU still fits.
    let biggest = format!("{{repeat(00, {MAX_EXPRESSION_BYTES})}}");
    assert_eq!(eval(&biggest).unwrap().len(), MAX_EXPRESSION_BYTES);
    let over = format!("{{repeat(00, {MAX_EXPRESSION_BYTES})}} 00");
    assert!(invalid(eval(&over)).contains("the limit"));
}

#[test]
fn nesting_deeper_than_the_limit_is_a_parse_error() {
    let nested = |depth: usize| format!("{}00{}", "{lc(".repeat(depth), ")}".repeat(depth));
    assert!(parse_template(&nested(MAX_EXPRESSION_DEPTH)).is_ok());
    let e = parse_template(&nested(MAX_EXPRESSION_DEPTH + 1)).unwrap_err();
    assert!(
        e.contains(&format!(
            "nested more than {MAX_EXPRESSION_DEPTH} deep, the limit"
        )),
        "{e}"
    );
    // Deep enough to overflow a recursive parser's stack without the limit.
    assert!(parse_pattern(&nested(100_000)).is_err());
}

#[test]
fn expressions_longer_than_the_limit_are_refused() {
    let long = "00".repeat(MAX_EXPRESSION_CHARS / 2 + 1);
    let e = parse_template(&long).unwrap_err();
    assert!(
        e.contains(&format!("more than the limit of {MAX_EXPRESSION_CHARS}")),
        "{e}"
    );
    assert!(parse_template(&"00".repeat(MAX_EXPRESSION_CHARS / 2)).is_ok());
}

#[test]
fn date_offsets_are_bounded_in_sum() {
    assert_eq!(
        eval("{date(19900101, +1200m)}").unwrap(),
        [0x20, 0x90, 0x01, 0x01]
    );
    assert!(invalid(eval("{date(20240101, +1201m)}")).contains("1200 months"));
    assert!(invalid(eval("{date(20240101, +4294967295m)}")).contains("the limit"));
    assert!(invalid(eval("{date(20240101, +4294967295d)}")).contains("36525 days"));
    let many = "+36525d".repeat(2);
    assert!(invalid(eval(&format!("{{date(20240101, {many})}}"))).contains("in all"));
}

fn vector(id: &str, steps: usize) -> String {
    let steps = vec!["{ apdu = \"00A4000C023F00\", sw = \"9000\" }"; steps].join(",\n");
    format!("[[vector]]\nid = \"{id}\"\nrequirement = \"r\"\nsteps = [\n{steps}\n]\n")
}

const HEADER: &str = "[suite]\ntitle = \"t\"\ncard = \"demo\"\nreference = \"ISO\"\n";

#[test]
fn vector_files_are_bounded_in_size_vectors_and_steps() {
    let big = format!("{HEADER}# {}\n", "x".repeat(MAX_VECTOR_FILE_BYTES));
    match parse_file("big.toml", &big) {
        Err(e @ FormatError::TooLarge { .. }) => {
            assert!(
                e.to_string()
                    .starts_with("big.toml: the file's size in bytes is"),
                "{e}"
            )
        }
        other => panic!("{other:?}"),
    }
    let many: String = (0..=MAX_VECTORS_PER_FILE)
        .map(|i| vector(&format!("v{i}"), 1))
        .collect();
    let e = parse_file("many.toml", &format!("{HEADER}{many}")).unwrap_err();
    assert!(
        e.to_string().contains(&format!(
            "the number of vectors is {}, more than the limit of {MAX_VECTORS_PER_FILE}",
            MAX_VECTORS_PER_FILE + 1
        )),
        "{e}"
    );
    let long = format!("{HEADER}{}", vector("long", MAX_STEPS_PER_VECTOR + 1));
    let e = parse_file("long.toml", &long).unwrap_err();
    assert!(
        e.to_string()
            .contains("vector long's number of steps is 257"),
        "{e}"
    );
    let fits = format!("{HEADER}{}", vector("fits", MAX_STEPS_PER_VECTOR));
    assert_eq!(
        parse_file("fits.toml", &fits).unwrap().vectors[0]
            .steps
            .len(),
        MAX_STEPS_PER_VECTOR
    );
}

#[test]
fn deeply_nested_toml_is_an_error_not_a_crash() {
    let nested = format!(
        "{HEADER}x = {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse_file("nested.toml", &nested).is_err());
}

#[test]
fn imports_are_bounded_in_size_and_steps() {
    let header = ImportHeader {
        id: "i".into(),
        requirement: "r".into(),
        reference: "ref".into(),
        card: "demo".into(),
    };
    let big = "# x\n".repeat(MAX_IMPORT_BYTES / 4 + 1);
    assert!(from_scriptor(&header, &big)
        .unwrap_err()
        .to_string()
        .contains("more than the limit"));
    let many = "00A4000C023F00\n".repeat(MAX_STEPS_PER_VECTOR + 1);
    let e = from_scriptor(&header, &many).unwrap_err();
    assert!(e.to_string().contains("split the script"), "{e}");
}

/// Expressions built from every function, nested at random with any counts.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[0-9A-F]{2}( [0-9A-F]{2}){0,4}",
        "\\{ascii\\([a-z0-9 ]{0,12}\\)\\}",
        "\\{pin\\([0-9]{0,14}\\)\\}",
        Just("{date(20240229, +6m+1d)}".to_string()),
        Just("{challenge}".to_string()),
    ];
    leaf.prop_recursive(24, 256, 4, |inner| {
        prop_oneof![
            (inner.clone(), any::<u32>()).prop_map(|(x, n)| format!("{{repeat({x}, {n})}}")),
            (inner.clone(), 0u32..70_000).prop_map(|(x, n)| format!("{{repeat({x}, {n})}}")),
            inner.clone().prop_map(|x| format!("{{lc({x})}}")),
            inner.clone().prop_map(|x| format!("{{len({x})}}")),
            inner.clone().prop_map(|x| format!("{{flip({x})}}")),
            (inner.clone(), any::<u16>(), any::<u16>())
                .prop_map(|(_, m, d)| format!("{{date(20240131, +{m}m+{d}d)}}")),
            prop::collection::vec(inner, 1..4).prop_map(|xs| xs.join(" ")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn evaluation_of_any_nested_expression_stays_within_its_bounds(text in expression()) {
        let facts = CardFacts::none();
        let mut captures = HashMap::new();
        captures.insert("challenge".to_string(), vec![0x55; 8]);
        let scope = Scope::new(&facts, &captures);
        if let Ok(template) = parse_template(&text) {
            if let Ok(bytes) = template.eval(&scope) {
                prop_assert!(bytes.len() <= MAX_EXPRESSION_BYTES);
            }
        }
        if let Ok(pattern) = parse_pattern(&text) {
            if let Ok(expected) = pattern.eval(&scope) {
                prop_assert!(expected.bytes.len() <= MAX_EXPRESSION_BYTES);
            }
        }
    }

    #[test]
    fn any_text_parses_or_is_refused_without_a_panic(text in "[{}()?*,/:+ a-zA-Z0-9]{0,200}") {
        let facts = CardFacts::none();
        let captures = HashMap::new();
        let scope = Scope::new(&facts, &captures);
        if let Ok(template) = parse_template(&text) {
            let _ = template.eval(&scope);
        }
        if let Ok(pattern) = parse_pattern(&text) {
            let _ = pattern.eval(&scope);
        }
    }
}
