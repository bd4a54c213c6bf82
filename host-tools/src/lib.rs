//! sscard host toolkit: transports, client layer, operations.

pub mod apdu;
pub mod atr;
pub mod client;
pub mod hexstr;
pub mod sw;
pub mod testdir;
pub mod trace;
pub mod transport;
pub mod vpcd;
