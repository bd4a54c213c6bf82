//! The whole conformance suite against the in-process simulator: wall time per run.
//! `cargo bench -p test-vectors --bench suite` (results: docs/performance.md, "test-vectors").

use std::time::Instant;

use test_vectors::{Filter, SimulatorTarget, Suite};

fn main() {
    let suite = match Suite::builtin() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("the suite does not load: {e}");
            std::process::exit(1);
        }
    };
    let filter = Filter::default();
    // The first run builds the card images (personalisation of both national versions).
    let start = Instant::now();
    let mut target = SimulatorTarget::new();
    let report = suite.run(&mut target, &filter, &mut |_| {});
    let first = start.elapsed();
    let runs = 5;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let mut target = SimulatorTarget::new();
        let r = suite.run(&mut target, &filter, &mut |_| {});
        times.push(start.elapsed().as_secs_f64());
        assert!(r.success(), "the suite fails against the simulator");
    }
    times.sort_by(f64::total_cmp);
    println!(
        "suite: {} vectors ({} passed, {} skipped); first run {:.3} s; fresh target, {} runs: min {:.3} s, median {:.3} s, max {:.3} s",
        report.summary.total,
        report.summary.passed,
        report.summary.skipped,
        first.as_secs_f64(),
        runs,
        times[0],
        times[runs / 2],
        times[runs - 1]
    );
}
