// How many times something died lately: the one budget for restarting workers and the embedded database.

/**
 * Returns `died()`, which records a death now and answers how many fell within the last `windowMs`
 * (this one included); the caller gives up when that exceeds its limit.
 */
export function deathCounter(windowMs: number): () => number {
  const deaths: number[] = [];
  return () => {
    const now = Date.now();
    deaths.push(now);
    while ((deaths[0] ?? now) < now - windowMs) deaths.shift();
    return deaths.length;
  };
}
