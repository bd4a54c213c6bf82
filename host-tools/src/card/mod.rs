//! Operations on a card through the client: its files, what it says about its holder, the whole
//! tree as explore shows it, and external authentication.

pub mod auth;
pub mod explore;
pub mod files;
pub mod info;
