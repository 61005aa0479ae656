-- A failed probe's error message (the agent sends code and message; until now only the code was kept),
-- for the raw results API (GET /api/v1/results). Nullable without a default: no table rewrite.
ALTER TABLE results ADD COLUMN error_message text;
