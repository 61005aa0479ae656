// Pure DNS message helpers for the dns probe: build the query, read flags/rcode/answers as text.
import dnsPacket, { type Answer, type DecodedPacket, type RecordType } from 'dns-packet';
import type { DnsAnswer } from '@rookery/protocol';
import { ProbeFailure } from './errors.js';

const QUERY_TYPES = new Set<string>([
  'A',
  'AAAA',
  'CAA',
  'CNAME',
  'DNSKEY',
  'DS',
  'MX',
  'NAPTR',
  'NS',
  'PTR',
  'SOA',
  'SRV',
  'SSHFP',
  'TLSA',
  'TXT',
  'ANY',
]);

/** Validates a record type name (upper-cased); throws invalid_spec. */
export function queryType(type: string | undefined): RecordType {
  const t = (type ?? 'A').toUpperCase();
  if (!QUERY_TYPES.has(t)) throw new ProbeFailure('invalid_spec', `unsupported DNS record type ${t}`);
  return t as RecordType;
}

/** Encodes a query with id, name, type and the RD flag. */
export function buildQuery(id: number, name: string, type: RecordType, recursionDesired: boolean): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: recursionDesired ? dnsPacket.RECURSION_DESIRED : 0,
    questions: [{ type, name, class: 'IN' }],
  });
}

function text(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value)) return value.map(text).join('');
  if (value && typeof value === 'object') {
    return Object.values(value as Record<string, unknown>)
      .map(text)
      .join(' ');
  }
  return String(value);
}

/** One answer record as {name, type, ttl, data} with data in zone-file-like text. */
export function describeAnswer(a: Answer): DnsAnswer {
  const ttl = 'ttl' in a && typeof a.ttl === 'number' ? a.ttl : 0;
  let data: string;
  switch (a.type) {
    case 'MX':
      data = `${a.data.preference} ${a.data.exchange}`;
      break;
    case 'SRV':
      data = `${a.data.priority ?? 0} ${a.data.weight ?? 0} ${a.data.port} ${a.data.target}`;
      break;
    case 'SOA':
      data = `${a.data.mname} ${a.data.rname} ${a.data.serial ?? 0}`;
      break;
    case 'TXT':
      data = Array.isArray(a.data) ? a.data.map(text).join('') : text(a.data);
      break;
    default:
      data = text((a as { data?: unknown }).data);
  }
  return { name: a.name, type: a.type, ttl, data };
}

/** Flags set in a decoded message, as short names. */
export function describeFlags(p: DecodedPacket): string[] {
  const out: string[] = [];
  if (p.flag_aa) out.push('aa');
  if (p.flag_tc) out.push('tc');
  if (p.flag_rd) out.push('rd');
  if (p.flag_ra) out.push('ra');
  if (p.flag_ad) out.push('ad');
  if (p.flag_cd) out.push('cd');
  return out;
}

/** rcode name of a decoded response (dns-packet decodes it but does not type it). */
export function rcodeOf(p: DecodedPacket): string {
  return String((p as { rcode?: unknown }).rcode ?? 'NOERROR');
}

/** Decodes a response to our query or returns null when it is not one (wrong id, not a response). */
export function decodeResponse(buf: Buffer, id: number): DecodedPacket | null {
  let p: DecodedPacket;
  try {
    p = dnsPacket.decode(buf);
  } catch {
    return null;
  }
  if (p.id !== id || p.type !== 'response') return null;
  return p;
}
