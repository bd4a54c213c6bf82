//! libSSCardDriver: the national social security card reader interface (部标读写终端接口,
//! docs/reader-interface.md) over sscard's host library: one transport (a PC/SC reader or a card
//! image), one client, the layout, and the PSAM code of the activation.
//!
//! - [`ffi`]: the 23 `extern "C"` functions (the `.so`'s exports), converting only;
//! - [`api`]: the same functions for Rust callers (the web bridge): [`api::call`] by name with
//!   typed arguments, [`api::call_text`] with every argument as text, [`api::FUNCTIONS`];
//! - [`config`]: which readers, the terminal's numbers, the PIN source, the layout;
//! - [`pin`]: PIN entry (terminal, PIN-pad program, descriptor, script);
//! - [`hsm`]: what the back office's HSM answers to each Step string;
//! - [`codes`]: the return codes.
#![allow(non_snake_case)] // the library's name and the C functions' names are the spec's

pub mod api;
pub mod codes;
pub mod config;
pub mod ffi;
pub mod hsm;
pub mod ops;
pub mod pin;
pub mod session;
pub mod text;

pub use api::{call, call_text, configure, Arg, Driver, Reply, Signature, FUNCTIONS};
pub use codes::Failure;
pub use config::Config;
