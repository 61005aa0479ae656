// Placeholder entry until the testserver issue lands: says so and exits non-zero.
process.stderr.write('rookery testserver: not yet available in this build\n');
process.exit(1);
