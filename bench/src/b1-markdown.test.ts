import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type B1Data, b1Markdown } from './b1-ingest-mix.js';
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
});
