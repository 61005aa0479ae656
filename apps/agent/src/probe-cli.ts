// Placeholder entry until the probes issue lands.
process.stderr.write('rookery probe: not yet available in this build\n');
process.exit(1);
