//! Accounts: list (open and closed), create/detail/update/delete with upstream's cascades,
//! comments and attachments (shared registry), and e-mails to the account's contacts.

pub mod dto;
pub mod handlers;
pub mod model;
