//! libSSCardDriver: the national social security card reader interface (部标读写终端接口,
//! docs/reader-interface.md) as a C library. The interface itself lives in sscard's host library
//! ([`host_tools::interface`]); this crate is its C face:
//!
//! - [`ffi`]: the 23 `extern "C"` functions (the `.so`'s exports), converting only;
//! - the header `include/SSCardDriver.h` and the pkg-config template.
//!
//! The interface's modules are re-exported under their old names for Rust callers and the tests.
#![allow(non_snake_case)] // the library's name and the C functions' names are the spec's

pub mod ffi;

pub use host_tools::interface::{api, codes, config, hsm, ops, pin, session, text};
pub use host_tools::interface::{
    call, call_text, configure, Arg, Config, Driver, Failure, Reply, Signature, FUNCTIONS,
};
