// Human-readable rendering of a probe result for `./rookery probe` without --json.
import type { ProbeResult, TracerouteHop } from '@rookery/protocol';

function value(key: string, v: unknown): string {
  if (typeof v === 'number' && /Ms$/.test(key)) return `${v.toFixed(3)} ms`;
  if (key === 'bitsPerSecond' && typeof v === 'number') return `${(v / 1e6).toFixed(2)} Mbit/s`;
  if (key === 'lossPct' && typeof v === 'number') return `${v}%`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function hopLine(h: TracerouteHop): string {
  const probes = h.probes.map((p) =>
    p.rttMs === null ? '*' : `${p.address} ${p.rttMs.toFixed(3)} ms${p.note ? ` ${p.note}` : ''}`,
  );
  return `  ${String(h.ttl).padStart(2)}  ${probes.join('  ')}${h.mtu ? `  mtu ${h.mtu}` : ''}`;
}

/** Multi-line text: a status line, then one metric per line (nested objects indented). */
export function formatResult(r: ProbeResult): string {
  const lines = [
    `${r.kind} ${r.target}: ${r.ok ? 'ok' : `FAILED ${r.error?.code}: ${r.error?.message}`} (${r.durationMs.toFixed(1)} ms)`,
  ];
  for (const [k, v] of Object.entries(r.metrics as Record<string, unknown>)) {
    if (v === undefined || k === 'samplesMs') continue;
    if (k === 'hops') {
      for (const h of v as TracerouteHop[]) lines.push(hopLine(h));
    } else if (k === 'answers') {
      for (const a of v as { name: string; type: string; ttl: number; data: string }[]) {
        lines.push(`  answer ${a.name} ${a.ttl} ${a.type} ${a.data}`);
      }
    } else if (v && typeof v === 'object' && !Array.isArray(v)) {
      lines.push(`  ${k}:`);
      for (const [k2, v2] of Object.entries(v)) if (v2 !== undefined) lines.push(`    ${k2}: ${value(k2, v2)}`);
    } else lines.push(`  ${k}: ${value(k, v)}`);
  }
  return lines.join('\n');
}
