//! Org-level resources shared by every module: organizations, profiles (memberships), enums.

pub mod activity;
pub mod api_settings;
pub mod attachments;
pub mod audit;
pub mod bootstrap;
pub mod choices;
pub mod comments;
pub mod dashboard;
pub mod documents;
pub mod enums;
pub mod ids;
pub mod orgs;
pub mod profiles;
pub mod relations;
pub mod render;
pub mod tags;
pub mod teams;
pub mod users;
