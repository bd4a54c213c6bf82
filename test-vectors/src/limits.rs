//! Every input of this crate has a bound (docs/test-vectors.md, "Limits"): a vector file or an
//! expression past one is refused with a sentence naming the limit, before any work is done.

/// Most vector files (or known-answer files) in one suite directory.
pub const MAX_SUITE_FILES: usize = 1_000;
/// Largest vector file, in bytes (the largest shipped one is about 20 KiB).
pub const MAX_VECTOR_FILE_BYTES: usize = 1 << 20;
/// Most vectors in one file.
pub const MAX_VECTORS_PER_FILE: usize = 2_000;
/// Most steps in one vector.
pub const MAX_STEPS_PER_VECTOR: usize = 256;
/// Longest expression (a template or a pattern), in characters.
pub const MAX_EXPRESSION_CHARS: usize = 16_384;
/// Deepest nesting of `{...}` terms and function arguments in one expression.
pub const MAX_EXPRESSION_DEPTH: usize = 16;
/// Most bytes an expression, or any part of it, may evaluate to: an extended APDU is at most
/// 65,544 bytes.
pub const MAX_EXPRESSION_BYTES: usize = 65_544;
/// Largest month offset of `date(…, +Nm)` (100 years).
pub const MAX_DATE_MONTHS: u32 = 1_200;
/// Largest day offset of `date(…, +Nd)` (about 100 years).
pub const MAX_DATE_DAYS: u32 = 36_525;
/// Largest scriptor script or APDU trace `import` reads, in bytes.
pub const MAX_IMPORT_BYTES: usize = 4 << 20;
