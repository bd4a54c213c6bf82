//! Card layouts as data: national structure, local extensions, field codecs, personalisation.
//!
//! - [`layout`]: load and validate layout files (every problem with file and line), render them
//!   as a tree, diff two of them, and list what a host should read ([`layout::Layout::read_plan`]).
//! - [`apdu`]: the one builder of the command APDUs the host sends (CREATE FILE, WRITE KEY,
//!   SELECT, VERIFY, ...), on card-os's encoder and TLV writer.
//! - [`codec`]: field encodings (`an`, GBK, `cn`, `b`, dates, citizen ID, card number, codes).
//! - [`personalise`]: cardholder records → APDU scripts and card images, one card or a batch.
//! - [`decode`]: records read from a card → typed values and JSON.
//! - [`input`]: files read with a size bound, text decoded as UTF-8, GBK or GB18030.
//! - [`samples`]: the sample cardholder, embedded.

pub mod apdu;
pub mod codec;
pub mod decode;
pub mod input;
pub mod layout;
pub mod personalise;
pub mod samples;
