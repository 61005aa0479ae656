import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type B1Data, b1Markdown, ingestStep, stepLine } from './b1-ingest-mix.js';
import { sustainedRate } from './lib/open-loop.js';

// the stored run of bench/RESULTS.md: its B1 section is what b1Markdown printed for it (but the command line's
// time, which the run read apart from the one stored beside its data)
const stored = JSON.parse(readFileSync(new URL('../results/b1.json', import.meta.url), 'utf8')) as B1Data & {
  command: string;
  machine: string;
};
const section = () => {
  const all = readFileSync(new URL('../RESULTS.md', import.meta.url), 'utf8');
  const start = all.indexOf('## B1 ');
  return withoutCommand(all.slice(start, all.indexOf('<!-- B1:end -->', start)));
};
const withoutCommand = (md: string) => md.replace(/^Command: .*$/m, '').trim();

describe('B1 section', () => {
  it('renders a stored run as bench/RESULTS.md holds it', () => {
    expect(withoutCommand(b1Markdown(stored, stored.command, stored.machine))).toBe(section());
  });

  it('with two manager ladders: shows both, counts the faster, and gives the first-ladder ratio beside it', () => {
    // the second ladder: the first's steps with a slower machine (half the achieved rate)
    const again = stored.ours.map((s) => ({ ...s, offered: s.offered / 2, achieved: s.achieved / 2 }));
    const first = sustainedRate(stored.ours);
    const d: B1Data = {
      ...stored,
      oursAgain: again,
      oursSustained: Math.max(first, sustainedRate(again)),
    };
    const md = b1Markdown(d, stored.command, stored.machine);
    expect(md).toContain('| manager, first |');
    expect(md).toContain('| manager, second |');
    expect(md).toContain(
      `| ${first.toFixed(0)} (first ${first.toFixed(0)}, second ${sustainedRate(again).toFixed(0)}) |`,
    );
    expect(md).toContain(`With the manager's first ladder alone`);
    expect(md).toContain("The manager's ladder runs twice as well");
  });

  it('with one manager ladder (runs before 2026-12-07 09:40): as those runs printed it', () => {
    const { oursAgain: _again, ...one } = stored;
    const md = b1Markdown({ ...one, oursSustained: sustainedRate(stored.ours) }, stored.command, stored.machine);
    expect(md).toContain('| manager |');
    expect(md).not.toContain('manager, first');
    expect(md).not.toContain('first ladder alone');
    expect(md).toContain(`| sustained req/s at p99 < 100 ms | ${sustainedRate(stored.ours).toFixed(0)} |`);
  });

  it("with the manager's ingest transactions per step: a column for them, '–' for the bare server", () => {
    const ours = stored.ours.map((s, i) => ({
      ...s,
      ingest: { transactions: 100 + i, over100ms: i % 3, slowestWithin: i % 3 ? 0.25 : 0.05 },
    }));
    const md = b1Markdown({ ...stored, ours }, stored.command, stored.machine);
    expect(md).toContain('ingest transactions: all, > 100 ms, slowest ≤ s |');
    expect(md).toMatch(/\| manager(, first)? \|[^\n]* \| 101, 1, 0\.25 \| /);
    expect(md).toMatch(/\| bare node:http[^\n]* \| – \| (pass|FAIL)/);
  });
});

describe('ingestStep', () => {
  const histogram = (counts: [number, number][], count: number) => ({ buckets: new Map(counts), count });
  it('counts what ended between two readings and the bound that held the slowest', () => {
    const a = histogram(
      [
        [0.01, 5],
        [0.1, 8],
        [0.25, 9],
      ],
      9,
    );
    const b = histogram(
      [
        [0.01, 50],
        [0.1, 60],
        [0.25, 62],
      ],
      62,
    );
    expect(ingestStep(a, b)).toEqual({ transactions: 53, over100ms: 1, slowestWithin: 0.25 });
  });
  it('gives no bound when the slowest lay past the largest, or nothing ended', () => {
    const a = histogram([[0.1, 1]], 1);
    expect(ingestStep(a, histogram([[0.1, 3]], 5))).toEqual({
      transactions: 4,
      over100ms: 2,
      slowestWithin: null,
    });
    expect(ingestStep(a, a)).toEqual({ transactions: 0, over100ms: 0, slowestWithin: null });
  });
});

describe('stepLine (progress on stderr)', () => {
  // a step as the bare server's ladder has it (no ingest transactions), and as runs before 2026-12-08 have it (no
  // reading of the whole machine)
  const { ingest: _ingest, machine: _machine, ...step } = stored.ours[0] as B1Data['ours'][number];
  it('says the ladder, rate, attempt, rate achieved, p99 by kind and the verdict the table gives', () => {
    const again = { ...step, attempt: 2, latency: { ...step.latency, p99: 150 } };
    const line = stepLine('manager, first', again);
    expect(line).toMatch(
      new RegExp(`^manager, first, ${step.offered} req/s \\(attempt 2\\): achieved \\d+, p99 150\\.0 ms`),
    );
    expect(line).toContain('(upload / heartbeat / config ');
    expect(line).toMatch(/, busy \d+ %, FAIL$/);
  });
  it("names no attempt on a step's first run, and the manager's ingest transactions when read", () => {
    const first = { ...step, attempt: 1, latency: { ...step.latency, p99: 12 } };
    expect(stepLine('bare node:http, before', first)).not.toContain('attempt');
    const line = stepLine('manager, second', {
      ...first,
      ingest: { transactions: 40, over100ms: 1, slowestWithin: 0.25 },
    });
    expect(line).toMatch(/, ingest transactions 40, 1, 0\.25, (pass|FAIL)$/);
  });
  it('gives the whole machine beside the three processes when it was read', () => {
    const unread = { ...step, attempt: 1 };
    expect(stepLine('manager, first', unread)).not.toContain('machine');
    const line = stepLine('manager, first', { ...unread, machine: { busy: 97.6, steal: 12.2 } });
    expect(line).toMatch(/, busy \d+ % \(machine 98 \/ 12 %\), (pass|FAIL)$/);
  });
});
