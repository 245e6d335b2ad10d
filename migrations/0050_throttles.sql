-- Throttle state shared by every server process (issue 11, item 6): failed logins and the public
-- endpoints' request counters live here instead of in each process's memory, so two `serve`
-- processes behind one load balancer enforce one limit. Keys are SHA-256 digests (no e-mail or
-- address stored in the clear). Not org data: no org_id, no RLS.

-- One row per failed login and counter key ("e:" e-mail, "i:" address, "p:" pair).
CREATE TABLE throttle_hits (
    key text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX throttle_hits_key_at ON throttle_hits (key, at);
CREATE INDEX throttle_hits_at ON throttle_hits (at);

-- A pair backing off: no attempt before `until`.
CREATE TABLE throttle_blocks (
    key text PRIMARY KEY,
    until timestamptz NOT NULL
);

-- Fixed-window counters (public endpoints): `n` requests since `started`.
CREATE TABLE throttle_counts (
    key text PRIMARY KEY,
    started timestamptz NOT NULL,
    n integer NOT NULL
);
