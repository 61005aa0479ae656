// curl -w as the HTTP/TCP timing reference: argv and a pure parser of its timing lines.

/** curl write-out: six cumulative times in seconds (µs resolution) per transfer, one line each. */
export const CURL_WRITE_OUT =
  '%{time_namelookup} %{time_connect} %{time_appconnect} %{time_pretransfer} %{time_starttransfer} %{time_total}\\n';

export interface CurlTimings {
  /** cumulative ms from the start of the transfer, as curl reports them */
  namelookup: number;
  connect: number;
  appconnect: number;
  pretransfer: number;
  starttransfer: number;
  total: number;
}

/**
 * argv for one curl process fetching `url` `count` times, each on a fresh connection
 * (`Connection: close`), body discarded.
 */
export function curlArgs(url: string, count: number): string[] {
  const args = ['-s', '--http1.1', '-H', 'Connection: close', '-w', CURL_WRITE_OUT];
  for (let i = 0; i < count; i++) args.push('-o', '/dev/null', url);
  return args;
}

/** Parses curl's write-out lines (seconds) into ms; skips failed transfers (connect 0) and other lines. */
export function parseCurlTimings(stdout: string): CurlTimings[] {
  const out: CurlTimings[] = [];
  for (const line of stdout.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length !== 6 || f.some((x) => !Number.isFinite(x)) || f[1] === 0) continue;
    const [namelookup, connect, appconnect, pretransfer, starttransfer, total] = f.map((x) => x * 1000) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    out.push({ namelookup, connect, appconnect, pretransfer, starttransfer, total });
  }
  return out;
}

/** TCP handshake time: connect − namelookup. */
export function curlConnectMs(t: CurlTimings): number {
  return t.connect - t.namelookup;
}

/** Request sent → first byte: starttransfer − pretransfer (the agent's ttfbMs). */
export function curlTtfbMs(t: CurlTimings): number {
  return t.starttransfer - t.pretransfer;
}
