//! Org-level resources shared by every module: organizations, profiles (memberships), enums.

pub mod activity;
pub mod api_settings;
pub mod audit;
pub mod bootstrap;
pub mod dashboard;
pub mod enums;
pub mod ids;
pub mod orgs;
pub mod profiles;
pub mod tags;
pub mod teams;
pub mod users;
