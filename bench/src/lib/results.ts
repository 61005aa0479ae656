// Writes one benchmark's section into bench/RESULTS.md (between its markers) and its JSON beside it.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const RESULTS = fileURLToPath(new URL('../../RESULTS.md', import.meta.url));
const JSON_DIR = fileURLToPath(new URL('../../results/', import.meta.url));

/** Replaces (or appends) the section `<!-- NAME:start -->…<!-- NAME:end -->` in a markdown text. */
export function replaceSection(doc: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${body.trimEnd()}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}

/** One line naming the machine and time, for every section. */
export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${new Date().toISOString()} · Node ${process.version} · ${cpus().length} × ${cpu}`;
}

/**
 * A progress line on stderr, stamped with the time of day (UTC, as PostgreSQL's log): a run of many minutes
 * says where it is, and its steps can be laid beside the database server's log (the results go to stdout).
 */
export function progress(bench: string, line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${bench}: ${line}\n`);
}

/** Writes the section into RESULTS.md and `results/NAME.json`. */
export async function publish(name: string, markdown: string, data: unknown): Promise<void> {
  let doc =
    '# Benchmark results\n\nEach section is rewritten by `./rookery bench NAME`; raw numbers are in `bench/results/`.\n';
  try {
    doc = await readFile(RESULTS, 'utf8');
  } catch {
    // first run
  }
  await writeFile(RESULTS, replaceSection(doc, name, markdown));
  await mkdir(JSON_DIR, { recursive: true });
  await writeFile(`${JSON_DIR}${name.toLowerCase()}.json`, `${JSON.stringify(data, null, 2)}\n`);
}
