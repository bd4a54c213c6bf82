//! The data objects GET DATA (`00 CA P1 P2`) answers, by their tag in P1-P2 (docs/card-os.md).

/// The card serial number (8 bytes).
pub const SERIAL_NUMBER: u16 = 0x005A;
/// The card life cycle (1 byte, `memory_map::LIFE_CYCLE_*`).
pub const CARD_LIFE_CYCLE: u16 = 0x9F70;
/// Free and total bytes of the data area (4 + 4).
pub const MEMORY: u16 = 0x0066;
/// The medical insurance status (1 byte, `restriction::STATUS_*`).
pub const MEDICAL_STATUS: u16 = 0xDF41;
/// The integrity of every EF of the current DF: FID (2) and status (1) each.
pub const INTEGRITY: u16 = 0xDF7F;
