// Bundles the agent into apps/agent/dist/agent.mjs with esbuild when its sources changed, so
// `./rookery agent` runs on plain node (no tsx loader: ~60 MB less RSS; see bench B8).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const out = path.join(ROOT, 'apps/agent/dist/agent.mjs');
const sources = ['apps/agent/src', 'packages/protocol/src', 'package-lock.json'];

function newest(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(p))
    if (!e.endsWith('.test.ts') && e !== 'fixtures') m = Math.max(m, newest(path.join(p, e)));
  return m;
}

let built = 0;
try {
  built = statSync(out).mtimeMs;
} catch {
  // not built yet
}
if (Math.max(...sources.map((s) => newest(path.join(ROOT, s)))) > built) {
  await build({
    entryPoints: [path.join(ROOT, 'apps/agent/src/main.ts')],
    outfile: out,
    bundle: true,
    splitting: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    // optional native speed-ups of ws; it falls back to JS without them
    external: ['bufferutil', 'utf-8-validate'],
    // CommonJS dependencies (dns-packet, …) need a require() inside the ESM bundle
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}
