// Placeholder entry until the lab issue lands.
process.stderr.write('rookery lab: not yet available in this build\n');
process.exit(1);
