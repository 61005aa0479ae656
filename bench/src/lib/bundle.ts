// Bundles a TypeScript entry into one ESM file with esbuild, so a footprint benchmark can run it on
// plain `node` without the tsx loader (whose worker and esbuild service cost ~60 MB of RSS).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';

/** Returns the path of the bundled .mjs (in a fresh temp dir). */
export async function bundle(entry: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rk-bench-bundle-'));
  const outfile = path.join(dir, `${path.basename(entry, '.ts')}.mjs`);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    // dns-packet and friends are CommonJS: give the ESM bundle a require()
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return outfile;
}
