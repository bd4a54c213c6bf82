//! sscard host toolkit, in layers; each uses only the ones above it in this list:
//!
//! - [`protocol`]: ISO 7816 as the host speaks it (APDUs, status words, ATR, FCP, hex) and the one
//!   client for 61xx / 6Cxx / chaining;
//! - [`transport`]: "a card in a reader" (PC/SC, the simulator and its card images, the virtual
//!   PC/SC reader, fault injection, tracing);
//! - [`card`]: operations on a card (its files, holder information, explore, authentication);
//! - [`jobs`]: the terminal jobs (activation, diagnostics, conformance);
//! - [`interface`]: the national reader interface's 23 functions (iReadCardBas and its siblings),
//!   which libSSCardDriver exports to C;
//! - [`services`]: the HSM service and the web bridge (HTTP and WebSocket on loopback);
//! - [`screen`], used by all of them: text from a card or a file made safe to show on a screen.
//!
//! The command line (`src/cli`) sits on top, in the binary; see docs/architecture.md.

pub mod card;
pub mod interface;
pub mod jobs;
pub mod protocol;
pub mod screen;
pub mod services;
pub mod transport;

/// Scratch directories for this crate's tests, benches and examples; not part of the API.
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod testdir;
