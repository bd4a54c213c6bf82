//! Conformance vectors for the social security card and the runner that checks a card against
//! them (docs/test-vectors.md).
//!
//! - [`format`]: the vector files (TOML), [`expr`]: byte expressions with captures and
//!   cryptograms ([`eval_error`]: why one cannot be evaluated), [`kat`]: crypto known answers,
//!   [`limits`]: the bound of every input.
//! - [`suite`]: the shipped suite (embedded) and [`expand`]: access vectors generated from the
//!   national layouts.
//! - [`target`]: the [`target::CardUnderTest`] a runner talks to and the [`target::Target`] that
//!   establishes preconditions; [`sim`]: the in-process simulator target.
//! - [`runner`]: verdicts; [`report`]: summary table, JSON, JUnit XML; [`import`]: scriptor
//!   scripts and APDU traces into vector files.

pub mod eval_error;
pub mod expand;
pub mod expr;
pub mod facts;
pub mod format;
pub mod import;
pub mod kat;
pub mod limits;
pub mod report;
pub mod runner;
pub mod sim;
pub mod suite;
pub mod target;

pub use format::{CardKind, Vector, VectorFile};
pub use report::{Report, Summary};
pub use runner::{Filter, VectorResult, Verdict};
pub use sim::SimulatorTarget;
pub use suite::Suite;
pub use target::{CardError, CardUnderTest, ExternalOptions, ExternalTarget, Target};
