// Probe contract: specs (what to measure), results (what was measured) and the UDP echo format.
export * from './probe-specs.js';
export * from './probe-results.js';
export * from './udp-echo.js';
