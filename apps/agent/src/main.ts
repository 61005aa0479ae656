// Placeholder entry until the agent issue lands: says so and exits non-zero.
process.stderr.write('rookery agent: not yet available in this build\n');
process.exit(1);
