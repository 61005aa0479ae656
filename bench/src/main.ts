// Placeholder entry until the benchmark issues land.
process.stderr.write('rookery bench: not yet available in this build\n');
process.exit(1);
