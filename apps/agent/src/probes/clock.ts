// Monotonic timestamps for probe phases (process.hrtime, ~40 ns resolution) and ms conversions.

/** Now on the monotonic clock, in ns. */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** Milliseconds (fractional) from `startNs` to `endNs` (default: now). */
export function msSince(startNs: bigint, endNs: bigint = process.hrtime.bigint()): number {
  return Number(endNs - startNs) / 1e6;
}

/** Rounds ms to whole ns-free µs for reporting (3 decimals). */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
