//! HTTP-level tests: the real router, a real PostgreSQL database per test, the app role (RLS on).
//! One test binary with a module per area keeps link time down.

mod auth;
mod comments;
mod conventions;
mod documents;
mod migrate;
mod orgs;
mod rls;
