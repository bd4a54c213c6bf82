//! The memory map: where each region of the non-volatile memory lives and the size limits of the
//! card (see docs/card-os.md). Not to be confused with the application layouts of file-structures.

/// Card header: magic, version, life cycle, serial number, ATR historical bytes, allocation pointer.
pub const HEADER_OFFSET: u32 = 0;
pub const HEADER_SIZE: u32 = 64;
pub const MAGIC: [u8; 4] = *b"SSC1";
pub const FORMAT_VERSION: u8 = 1;
/// Offsets inside the header.
pub const HDR_MAGIC: u32 = 0;
pub const HDR_VERSION: u32 = 4;
pub const HDR_LIFE_CYCLE: u32 = 5;
pub const HDR_SERIAL: u32 = 8;
pub const HDR_HISTORICAL_LEN: u32 = 16;
pub const HDR_HISTORICAL: u32 = 17;
pub const HDR_ALLOC: u32 = 32;
/// Descriptor index + 1 of the DF whose security area holds the holder PIN (0 = no PIN yet).
pub const HDR_PIN_DF: u32 = 36;
/// Challenges handed out so far (u32): never reused, so challenges never repeat.
pub const HDR_CHALLENGE_COUNTER: u32 = 40;
/// The challenge generator's secret seed.
pub const HDR_SEED: u32 = 44;
pub const SEED_LEN: usize = 20;
/// Card serial number length (GET DATA `005A`).
pub const SERIAL_LEN: usize = 8;
/// Room for ATR historical bytes in the header (ISO 7816-3 allows 15).
pub const HISTORICAL_MAX: usize = 15;

/// The undo journal: an 8-byte header (the one atomic write) followed by entries.
pub const JOURNAL_OFFSET: u32 = HEADER_OFFSET + HEADER_SIZE;
pub const JOURNAL_SIZE: u32 = 2048;
pub const JOURNAL_HEADER_SIZE: u32 = 8;
/// Each entry: offset (4), length (2), then the old bytes.
pub const JOURNAL_ENTRY_HEADER_SIZE: u32 = 6;

/// The file table: `MAX_FILES` descriptors of `DESCRIPTOR_SIZE` bytes; index 0 is the MF.
pub const FILE_TABLE_OFFSET: u32 = JOURNAL_OFFSET + JOURNAL_SIZE;
pub const MAX_FILES: usize = 64;
pub const DESCRIPTOR_SIZE: u32 = 80;

/// File contents and DF security areas, bump-allocated from here.
pub const DATA_OFFSET: u32 = FILE_TABLE_OFFSET + MAX_FILES as u32 * DESCRIPTOR_SIZE;

/// Each DF's security area: 8 key slots of 32 bytes then the PIN object (32 bytes).
pub const KEY_SLOTS: u32 = 8;
pub const KEY_SLOT_SIZE: u32 = 32;
pub const PIN_OBJECT_SIZE: u32 = 32;
pub const DF_SECURITY_SIZE: u32 = KEY_SLOTS * KEY_SLOT_SIZE + PIN_OBJECT_SIZE;
/// Key slot fields: id (`00` = empty slot), usage, algorithm, error limit, tries left, key bytes.
pub const KEY_ID: u32 = 0;
pub const KEY_USAGE: u32 = 1;
pub const KEY_ALGORITHM: u32 = 2;
pub const KEY_LIMIT: u32 = 3;
pub const KEY_TRIES: u32 = 4;
pub const KEY_BYTES: u32 = 16;
/// PIN object fields (after the key slots): present (`01`), try limit, tries left, the DF's
/// application state, the PIN and the initial PIN (8 bytes each, packed BCD padded with `F`).
pub const PIN_OBJECT_OFFSET: u32 = KEY_SLOTS * KEY_SLOT_SIZE;
pub const PIN_PRESENT: u32 = 0;
pub const PIN_LIMIT: u32 = 1;
pub const PIN_TRIES: u32 = 2;
pub const APPLICATION_STATE: u32 = 3;
pub const PIN_VALUE: u32 = 8;
pub const PIN_INITIAL: u32 = 16;
/// Application state of a DF.
pub const APPLICATION_NORMAL: u8 = 0x00;
pub const APPLICATION_BLOCKED_TEMPORARILY: u8 = 0x01;
pub const APPLICATION_BLOCKED_PERMANENTLY: u8 = 0x02;

/// The largest command data the card takes (one APDU or a whole chain).
pub const CHAIN_MAX: usize = 1024;
/// A response buffer of this size holds every answer (4096 data bytes + SW).
pub const MAX_RESPONSE: usize = 4098;
/// Largest record (the record length byte is one byte).
pub const RECORD_MAX: usize = 255;
/// Largest proprietary `A5` template kept for a file.
pub const PROPRIETARY_MAX: usize = 32;
/// Largest DF name (AID).
pub const DF_NAME_MAX: usize = 16;

/// Card life cycle (GET DATA `9F70`).
pub const LIFE_CYCLE_PERSONALISATION: u8 = 0x01;
pub const LIFE_CYCLE_ISSUED: u8 = 0x02;
pub const LIFE_CYCLE_APPLICATION_BLOCKED: u8 = 0x03;
pub const LIFE_CYCLE_CARD_BLOCKED: u8 = 0x04;

/// The medical purse object (docs/settlement.md): a transparent EF of the medical application
/// (DF04) whose every access rule is never (`FF`), so only the card reads and writes it. Created
/// and filled at personalisation; the purse commands find it by this FID in the current DF.
pub const PURSE_FID: u16 = 0x0F04;
/// Its size and fields (big-endian integers; year and start day packed BCD).
pub const PURSE_SIZE: usize = 48;
pub const PURSE_LOAD_COUNTER: usize = 0;
pub const PURSE_PURCHASE_COUNTER: usize = 2;
pub const PURSE_BALANCE: usize = 4;
/// Yearly self-pay total (SPIP) and pooled-fund total (SPFP).
pub const PURSE_SPIP: usize = 8;
pub const PURSE_SPFP: usize = 12;
pub const PURSE_YEAR: usize = 16;
/// The first day of the payment year, `mmdd`.
pub const PURSE_START_DAY: usize = 18;
/// `crypto::purse::Settings::to_bytes` (4 bytes).
pub const PURSE_SETTINGS: usize = 20;
/// The proof of the last load and of the last purchase: present (`01`), serial (2), MAC (4),
/// TAC (4).
pub const PURSE_LOAD_PROOF: usize = 24;
pub const PURSE_PURCHASE_PROOF: usize = 35;
pub const PURSE_PROOF_SIZE: usize = 11;
/// SFI of the purse's transaction log (EF08, cyclic, records of 28 bytes, 20 = account only).
pub const PURSE_LOG_SFI: u8 = 8;
/// Key id of DSK, the external-authentication key (usage `01`) of DF04 that UPDATE STARTING DAY
/// needs authenticated.
pub const STARTING_DAY_KEY_ID: u8 = 0x56;
