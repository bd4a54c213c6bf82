//! The terminal jobs, each written once over the transport trait: activation at a bank outlet,
//! diagnostics at the counter, and conformance runs.

pub mod activation;
pub mod conformance;
pub mod diagnose;
pub mod journal;
pub mod settlement;
