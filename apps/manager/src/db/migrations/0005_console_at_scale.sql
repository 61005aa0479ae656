-- Console queries at 100k devices (benchmark B9): indexes for the agent-to-agent mesh, and
-- result_latest.ou_id kept equal to its device's OU so the fleet summary counts series per OU
-- without joining 300k latest rows to the devices table.

-- mesh: the destination device by hostname (case-insensitive), the sources walked in hostname order
CREATE INDEX devices_hostname_lower_idx ON devices (lower(hostname));
CREATE INDEX devices_hostname_idx ON devices (hostname);

-- until now a move left result_latest.ou_id at the old OU (until the next upload) and a deleted
-- device left its latest rows behind: repair once, then keep it so with triggers
UPDATE result_latest r SET ou_id = d.ou_id FROM devices d WHERE d.id = r.device_id AND r.ou_id <> d.ou_id;
DELETE FROM result_latest r WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = r.device_id);

-- an upload that read the device before a concurrent move can still write the old OU once; the
-- device's next upload writes the new one (ingest sets ou_id from the device it authenticated)
CREATE FUNCTION rk_device_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE result_latest SET ou_id = NEW.ou_id WHERE device_id = NEW.id AND ou_id <> NEW.ou_id;
  RETURN NULL;
END $$;
CREATE TRIGGER devices_moved AFTER UPDATE OF ou_id ON devices FOR EACH ROW
  WHEN (OLD.ou_id IS DISTINCT FROM NEW.ou_id) EXECUTE FUNCTION rk_device_moved();

CREATE FUNCTION rk_device_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM result_latest WHERE device_id = OLD.id;
  RETURN NULL;
END $$;
CREATE TRIGGER devices_deleted AFTER DELETE ON devices FOR EACH ROW EXECUTE FUNCTION rk_device_deleted();
