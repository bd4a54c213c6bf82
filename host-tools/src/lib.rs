//! sscard host toolkit: transports, client layer, operations.

pub mod activation;
pub mod apdu;
pub mod atr;
pub mod auth;
pub mod cardinfo;
pub mod client;
pub mod conformance;
pub mod diagnose;
pub mod explore;
pub mod faults;
pub mod fcp;
pub mod files;
pub mod hexstr;
pub mod simcard;
pub mod sw;
pub mod testdir;
pub mod trace;
pub mod transport;
pub mod vpcd;
