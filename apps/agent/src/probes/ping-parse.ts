// Pure parser of iputils `ping -n` output (per-reply lines, ICMP errors, statistics); see fixtures/.

export interface PingReply {
  seq: number;
  from: string;
  bytes: number;
  ttl?: number;
  rttMs: number;
  duplicate: boolean;
}

export interface PingIcmpError {
  seq: number;
  from: string;
  message: string;
}

export interface PingOutput {
  /** address ping resolved the target to */
  address?: string;
  transmitted?: number;
  received?: number;
  duplicates: number;
  errors: number;
  lossPct?: number;
  replies: PingReply[];
  icmpErrors: PingIcmpError[];
  summary?: { minMs: number; avgMs: number; maxMs: number; mdevMs: number };
}

const HEADER = /^PING \S+?\s?\(([^)]+)\)/;
const REPLY = /^(\d+) bytes from (.+?): icmp_seq=(\d+)(?: ttl=(\d+))?(?: time=([\d.]+) ms)?(.*)$/;
const ICMP_ERROR = /^From (\S+?)(?: \([^)]*\))? icmp_seq=(\d+) (.+)$/;
const RTT = /^(?:rtt|round-trip) min\/avg\/max\/(?:mdev|stddev) = ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/;

function num(re: RegExp, line: string): number | undefined {
  const m = re.exec(line);
  return m ? Number(m[1]) : undefined;
}

/** Strips a "name (address)" form down to the address. */
function address(from: string): string {
  const m = /\(([^)]+)\)$/.exec(from);
  return m ? (m[1] as string) : from;
}

/** Parses the stdout of `ping -n …` (iputils 2022x). Unknown lines are ignored. */
export function parsePing(stdout: string): PingOutput {
  const out: PingOutput = { duplicates: 0, errors: 0, replies: [], icmpErrors: [] };
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = HEADER.exec(line))) {
      out.address = m[1];
    } else if ((m = REPLY.exec(line))) {
      if (m[5] === undefined) continue; // reply without a time (payload too small for a timestamp)
      out.replies.push({
        seq: Number(m[3]),
        from: address(m[2] as string),
        bytes: Number(m[1]),
        ttl: m[4] === undefined ? undefined : Number(m[4]),
        rttMs: Number(m[5]),
        duplicate: (m[6] ?? '').includes('DUP!'),
      });
    } else if ((m = ICMP_ERROR.exec(line))) {
      out.icmpErrors.push({ seq: Number(m[2]), from: m[1] as string, message: (m[3] as string).trim() });
    } else if (line.includes('packets transmitted')) {
      out.transmitted = num(/(\d+) packets transmitted/, line);
      out.received = num(/(\d+) (?:packets )?received/, line);
      out.duplicates = num(/\+(\d+) duplicates/, line) ?? 0;
      out.errors = num(/\+(\d+) errors/, line) ?? 0;
      out.lossPct = num(/([\d.]+)% packet loss/, line);
    } else if ((m = RTT.exec(line))) {
      out.summary = { minMs: Number(m[1]), avgMs: Number(m[2]), maxMs: Number(m[3]), mdevMs: Number(m[4]) };
    }
  }
  return out;
}
