//! The national reader interface (部标读写终端接口, docs/reader-interface.md): its 23 functions
//! over this library's one transport (a PC/SC reader or a card image), one client, the layout,
//! and the PSAM code of the activation. libSSCardDriver (host-tools/driver) exports them to C,
//! converting only; the web bridge ([`crate::services::bridge`]) calls them from browser pages.
//!
//! - [`api`]: the functions for Rust callers: [`api::call`] by name with typed arguments,
//!   [`api::call_text`] with every argument as text, [`api::FUNCTIONS`];
//! - [`config`]: which readers, the terminal's numbers, the PIN source, the layout;
//! - [`pin`]: PIN entry (terminal, PIN-pad program, descriptor, script);
//! - [`hsm`]: what the back office's HSM answers to each Step string;
//! - [`codes`]: the return codes;
//! - [`readers`]: the card reader and PSAM kept between calls;
//! - [`text`]: GBK at the C boundary, `|`-terminated lists;
//! - [`ops`], [`session`]: the functions' work on the card.

pub mod api;
pub mod codes;
pub mod config;
pub mod hsm;
pub mod ops;
pub mod pin;
pub mod readers;
pub mod session;
pub mod text;

pub use api::{call, call_text, configure, Arg, Driver, Reply, Signature, FUNCTIONS};
pub use codes::Failure;
pub use config::Config;
