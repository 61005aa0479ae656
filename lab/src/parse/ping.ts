// Parser of the summary that iputils `ping` prints at the end; pure, tested on captured output.

/** The summary of one `ping` run. */
export interface PingSummary {
  transmitted: number;
  received: number;
  /** lost packets: transmitted − received */
  lost: number;
  /** lost / transmitted, 0–1 */
  lossRatio: number;
  /** round-trip times in milliseconds; absent when nothing came back */
  rtt?: { min: number; avg: number; max: number; mdev: number };
}

/** Parses iputils ping output; throws `Error` when it has no statistics line. */
export function parsePingSummary(output: string): PingSummary {
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(output);
  if (!counts) throw new Error('ping output has no "packets transmitted" line');
  const transmitted = Number(counts[1]);
  const received = Number(counts[2]);
  const summary: PingSummary = {
    transmitted,
    received,
    lost: transmitted - received,
    lossRatio: transmitted === 0 ? 0 : (transmitted - received) / transmitted,
  };
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(output);
  if (rtt) summary.rtt = { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]), mdev: Number(rtt[4]) };
  return summary;
}
