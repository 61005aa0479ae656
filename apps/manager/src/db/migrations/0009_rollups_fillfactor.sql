-- Hour and day rollup rows are rewritten by every fold that has a result of their series (a day row
-- about every 2 s for a busy series): leave room on their pages so the new version stays on the page
-- and no index entry is written (a HOT update). Applies to pages written from now on (ADR 6;
-- `./rookery bench fold` measures the fold).
ALTER TABLE result_rollups SET (fillfactor = 70);
