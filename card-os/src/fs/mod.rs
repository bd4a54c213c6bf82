//! The file system in the storage: descriptors in a fixed table, contents in a bump-allocated data
//! area, a RAM index of the table for fast lookups, FCP encoding and record slots.

pub mod descriptor;
pub mod fcp;
pub mod format;
pub mod header;
pub mod index;
pub mod integrity;
pub mod records;

pub use descriptor::{Descriptor, FileKind};
pub use format::{format, FormatError, FormatParams};
pub use index::FileIndex;

/// Descriptor index of the MF (always present).
pub const MF_INDEX: u8 = 0;
/// The MF's FID.
pub const MF_FID: u16 = 0x3F00;
/// Parent field of the MF.
pub const NO_PARENT: u8 = 0xFF;

/// File life-cycle status bytes (FCP tag `8A`).
pub const LCS_INITIALISED: u8 = 0x03;
pub const LCS_ACTIVATED: u8 = 0x05;
pub const LCS_DEACTIVATED: u8 = 0x04;
pub const LCS_TERMINATED: u8 = 0x0C;
