//! HTTP-level tests: the real router, a real PostgreSQL database per test, the app role (RLS on).
//! One test binary with a module per area keeps link time down.

mod accounts;
mod auth;
mod auth_security;
mod boards;
mod cases;
mod comments;
mod contacts;
mod conventions;
mod documents;
mod emails;
mod events;
mod hostile_input;
mod infra;
mod invoices;
mod invoices_estimates;
mod jobs;
mod leads;
mod leads_io;
mod mail;
mod marketing;
mod migrate;
mod openapi_responses;
mod opportunities;
mod org_audit;
mod org_dashboard;
mod org_google;
mod org_teams_tags;
mod org_users;
mod orgs;
mod response_cache;
mod rls;
mod role_matrix;
mod tasks;
mod tenancy_matrix;
mod throttles;
