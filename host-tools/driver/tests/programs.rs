//! The terminal programs (a C program linked with -lSSCardDriver, a Python ctypes script) calling
//! all 23 functions against card images run by the simulator inside the library (no pcscd). The
//! same scenario through pcscd is tests/pcsc_driver.rs.

mod support;

use support::programs::{
    build_c_program, python_program, scenario, Terminal, SCENARIO_BALANCE, SCENARIO_PINS,
};
use support::Fixture;

fn run(label: &str, program: impl FnOnce(&std::path::Path) -> std::process::Command) {
    let f = Fixture::with_balance(label, "3.0", SCENARIO_BALANCE);
    let config = f.dir.path().join("SSCardDriver.toml");
    std::fs::write(&config, f.config_text(true, SCENARIO_PINS)).unwrap();
    let mut terminal = Terminal::start(program(f.dir.path()), &config);
    scenario(&mut terminal);
}

#[test]
#[ignore = "library: needs libSSCardDriver.so, built by `cargo build -p sscard-driver` (scripts/test.sh builds it and runs these)"]
fn a_c_program_linked_with_the_library_calls_all_23_functions() {
    run("drv-prog-c", |dir| {
        std::process::Command::new(build_c_program(dir))
    });
}

#[test]
#[ignore = "library: needs libSSCardDriver.so, built by `cargo build -p sscard-driver` (scripts/test.sh builds it and runs these)"]
fn a_python_ctypes_script_calls_all_23_functions() {
    run("drv-prog-py", |_| python_program());
}
