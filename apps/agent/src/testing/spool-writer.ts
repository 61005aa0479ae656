// Child process for crash tests: appends to a spool as fast as it can, printing each id once it is durable.
// Usage: node --import tsx spool-writer.ts DIR run|torn   ("torn" appends half a frame, then SIGKILLs itself)
import { open } from 'node:fs/promises';
import path from 'node:path';
import { createLogger } from '../log.js';
import { encodeFrame } from '../spool/frame.js';
import { Spool } from '../spool/spool.js';
import { envelope, segmentNames } from '../spool/testing.js';

const [dir, mode] = process.argv.slice(2);
if (!dir || (mode !== 'run' && mode !== 'torn')) throw new Error('usage: spool-writer.ts DIR run|torn');
const spool = await Spool.open({ dir, logger: createLogger('silent'), segmentBytes: 64 * 1024 });
process.stdout.write(`ready ${JSON.stringify(spool.counters())}\n`);

let n = 0;
const append = async () => {
  const e = envelope(n++, 1500);
  // why: stdout to a pipe is synchronous on Linux, so a printed id was durable before the kill
  if (await spool.append(e)) process.stdout.write(`${e.id}\n`);
};

if (mode === 'torn') {
  for (let i = 0; i < 20; i++) await append();
  const last = (await segmentNames(dir)).at(-1)!;
  const frame = encodeFrame(Buffer.from(JSON.stringify(envelope(n, 1500))));
  const fh = await open(path.join(dir, last), 'a');
  await fh.write(frame.subarray(0, Math.floor(frame.length / 2)));
  await fh.datasync();
  process.kill(process.pid, 'SIGKILL');
}
const worker = async () => {
  for (;;) await append();
};
await Promise.all(Array.from({ length: 8 }, worker));
