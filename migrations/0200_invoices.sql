-- Invoicing (issue 14).
-- Numbers are unique per org, not globally: upstream's global UNIQUE on invoice_number and
-- estimate_number made the second org to invoice on a given day fail (its MAX() under RLS only
-- sees its own org). The per-org unique indexes use the pattern opclass so the allocator's
-- prefix scan (`LIKE 'INV-20261203-%'`) reads them.
ALTER TABLE invoice DROP CONSTRAINT IF EXISTS invoice_invoice_number_356faa46_uniq;
DROP INDEX IF EXISTS invoice_invoice_number_356faa46_like;
CREATE UNIQUE INDEX IF NOT EXISTS invoice_org_number_uniq ON invoice (org_id, invoice_number varchar_pattern_ops);
ALTER TABLE estimate DROP CONSTRAINT IF EXISTS estimate_estimate_number_key;
DROP INDEX IF EXISTS estimate_estimate_number_4d43bb4b_like;
CREATE UNIQUE INDEX IF NOT EXISTS estimate_org_number_uniq ON estimate (org_id, estimate_number varchar_pattern_ops);

-- Per-org, per-kind, per-day counters: a number is allocated by upserting the day's row, whose
-- row lock serialises concurrent creates of one org until their transaction ends (a rolled-back
-- create gives its number back: no gaps). Two orgs never wait on each other.
CREATE TABLE IF NOT EXISTS invoice_number_counter (
    org_id uuid NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    kind varchar(3) NOT NULL,
    day date NOT NULL,
    last integer NOT NULL,
    PRIMARY KEY (org_id, kind, day)
);

-- Lists: newest first per org, and the USER visibility lookups.
CREATE INDEX IF NOT EXISTS invoice_org_created_idx ON invoice (org_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS invoice_org_created_by_idx ON invoice (org_id, created_by_id);
CREATE INDEX IF NOT EXISTS invoice_line_item_invoice_order_idx ON invoice_line_item (invoice_id, "order");
CREATE INDEX IF NOT EXISTS payment_invoice_idx ON payment (invoice_id, payment_date DESC);
CREATE INDEX IF NOT EXISTS invoice_history_invoice_idx ON invoice_history (invoice_id, created_at DESC);

-- Unfiltered admin lists read the org's row count.
SELECT crm_count_rows('invoice');

-- Comments and attachments of invoices use this content type.
INSERT INTO django_content_type (app_label, model) VALUES ('invoices', 'invoice')
ON CONFLICT (app_label, model) DO NOTHING;

-- RLS on the new table (and anything else new).
SELECT crm_enable_rls();
