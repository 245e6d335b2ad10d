-- Kanban boards: positions are dense. Columns are numbered 0..n-1 per board and cards 0..n-1 per
-- column; every move renumbers the siblings in the same transaction (with the board row locked),
-- and the database refuses two cards (or two columns) on one position at commit. Upstream allowed
-- duplicates, so rows adopted from it are renumbered first, keeping their relative order.
UPDATE board_column c SET "order" = r.pos
FROM (SELECT id, row_number() OVER (PARTITION BY board_id ORDER BY "order", created_at, id) - 1 AS pos
      FROM board_column) r
WHERE r.id = c.id AND c."order" <> r.pos;

UPDATE board_task t SET "order" = r.pos
FROM (SELECT id, row_number() OVER (PARTITION BY column_id ORDER BY "order", created_at, id) - 1 AS pos
      FROM board_task) r
WHERE r.id = t.id AND t."order" <> r.pos;

-- Deferred: a renumbering statement may pass through duplicates; the commit may not. The indexes
-- behind them also serve the board view (columns by position, each column's cards by position).
ALTER TABLE board_column ADD CONSTRAINT board_column_board_order_uniq
    UNIQUE (board_id, "order") DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE board_task ADD CONSTRAINT board_task_column_order_uniq
    UNIQUE (column_id, "order") DEFERRABLE INITIALLY DEFERRED;

-- Board lists: the boards a member belongs to.
CREATE INDEX IF NOT EXISTS board_member_profile_board_idx ON board_member (profile_id, board_id);
-- A profile's cards (assignee lists).
CREATE INDEX IF NOT EXISTS board_task_assigned_to_profile_task_idx ON board_task_assigned_to (profile_id, boardtask_id);

-- board, board_member, board_column, board_task and board_task_assigned_to already have RLS
-- (0002: org tables, and a join table between two org tables): no new table here.
