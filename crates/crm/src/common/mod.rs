//! Org-level resources shared by every module: organizations, profiles (memberships), enums.

pub mod activity;
pub mod attachments;
pub mod bootstrap;
pub mod comments;
pub mod documents;
pub mod enums;
pub mod orgs;
pub mod profiles;
