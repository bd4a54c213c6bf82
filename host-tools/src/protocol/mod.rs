//! ISO 7816 as the host speaks it: command and response APDUs, status words, ATRs, FCPs, hex text,
//! and the one client that handles 61xx / 6Cxx / chaining above any transport.

pub mod apdu;
pub mod atr;
pub mod client;
pub mod fcp;
pub mod hexstr;
pub mod sw;
