//! Every seed of `fuzz/corpus/<target>/` and every kept crash of `fuzz/regressions/<target>/`
//! through its target's body, without a fuzzer: the test command checks them on every run.

use std::path::{Path, PathBuf};

use sscard_fuzz_bodies::{Target, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The files of `dir` (none if it does not exist), sorted so that failures are reproducible.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_none_or(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

/// Runs every file of `kind` (corpus, regressions) of `target`; returns how many ran. Fails
/// naming every file that fails, not only the first.
fn replay(target: &Target, kind: &str) -> usize {
    let files = files(&fuzz_dir().join(kind).join(target.name));
    let failing: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).unwrap();
            std::panic::catch_unwind(|| (target.body)(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        failing.is_empty(),
        "{} fails on {} file(s) (replay: cargo test -p sscard-fuzz-bodies --test replay {}):\n{}",
        target.name,
        failing.len(),
        target.name,
        failing.join("\n")
    );
    files.len()
}

fn replay_target(name: &str) {
    let target = TARGETS.iter().find(|t| t.name == name).unwrap();
    let seeds = replay(target, "corpus");
    assert!(seeds > 0, "{name} has no seed corpus in fuzz/corpus/{name}");
    replay(target, "regressions");
}

#[test]
fn every_target_has_a_replay_test_and_a_fuzz_binary() {
    let this = include_str!("replay.rs");
    for target in TARGETS {
        assert!(
            this.contains(&format!("fn {}()", target.name)),
            "no replay test for {}",
            target.name
        );
        let binary = fuzz_dir()
            .join("fuzz_targets")
            .join(format!("{}.rs", target.name));
        let source = std::fs::read_to_string(&binary)
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        assert!(
            source.contains(&format!("sscard_fuzz_bodies::{}(", target.name)),
            "{} does not call its body",
            binary.display()
        );
    }
}

#[test]
fn card_apdu() {
    replay_target("card_apdu");
}

#[test]
fn card_corrupted() {
    replay_target("card_corrupted");
}

#[test]
fn tlv() {
    replay_target("tlv");
}

#[test]
fn atr() {
    replay_target("atr");
}

#[test]
fn fcp() {
    replay_target("fcp");
}

#[test]
fn hex_input() {
    replay_target("hex_input");
}

#[test]
fn layout_toml() {
    replay_target("layout_toml");
}

#[test]
fn vector_file() {
    replay_target("vector_file");
}

#[test]
fn expression() {
    replay_target("expression");
}

#[test]
fn vpcd_frame() {
    replay_target("vpcd_frame");
}

/// Findings whose fix belongs to code being changed elsewhere (fuzz/pending/README.md): they fail
/// (or exhaust memory) until then. Run them with `cargo test -p sscard-fuzz-bodies --test replay
/// -- --ignored`; once one passes, move its file to fuzz/regressions/<target>/.
#[test]
#[ignore = "known findings awaiting their fix: see fuzz/pending/README.md"]
fn pending_findings_are_fixed() {
    for target in TARGETS {
        replay(target, "pending");
    }
}
