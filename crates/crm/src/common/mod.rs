//! Org-level resources shared by every module: organizations, profiles (memberships), enums.

pub mod activity;
pub mod bootstrap;
pub mod choices;
pub mod enums;
pub mod orgs;
pub mod profiles;
