// `node scripts/build-app.mjs agent|manager`: bundles the app into apps/NAME/dist/NAME.mjs with esbuild
// when its sources changed since the last bundle, so `./rookery agent` and `./rookery manager` run on plain
// node. No tsx loader: the agent needs ~60 MB less RSS (bench B8), and the manager's code runs without
// the loader's `keepNames` wrappers (ADR 12). Several starts at once may build at once: each writes its
// own file and renames it into place, so a start never runs a half-written bundle.
import { mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const app = process.argv[2];

// CommonJS dependencies (dns-packet, …) need a require() inside an ESM bundle
const requireBanner = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

/**
 * Leaves every npm package to node_modules, as node would load it: packages with native code or files of
 * their own (argon2, the embedded PostgreSQL's binaries, swagger-ui's assets) find them there. The
 * workspace's own packages (`@rookery/…`, TypeScript sources) are bundled.
 */
const packagesExternal = {
  name: 'packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) =>
      a.path.startsWith('@rookery/') || a.path.startsWith('node:') ? undefined : { path: a.path, external: true },
    );
  },
};

const APPS = {
  agent: {
    entry: 'apps/agent/src/main.ts',
    sources: ['apps/agent/src', 'packages/protocol/src'],
    // optional native speed-ups of ws; it falls back to JS without them
    external: ['bufferutil', 'utf-8-validate'],
    define: {},
    plugins: [],
    sourcemap: false,
  },
  manager: {
    entry: 'apps/manager/src/main.ts',
    sources: ['apps/manager/src', 'packages/protocol/src'],
    external: [],
    // migrate.ts reads the SQL files beside its source, relative to the bundle here
    define: { ROOKERY_BUNDLED_MIGRATIONS: JSON.stringify('../src/db/migrations/') },
    plugins: [packagesExternal],
    sourcemap: 'linked',
  },
};

const spec = APPS[app];
if (!spec) {
  console.error(`usage: node scripts/build-app.mjs ${Object.keys(APPS).join('|')}`);
  process.exit(2);
}
const out = path.join(ROOT, `apps/${app}/dist/${app}.mjs`);

/** Newest modification time under `p`, tests and fixtures left out, ms. */
function newest(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
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
const inputs = [...spec.sources, 'package-lock.json', 'scripts/build-app.mjs'];
if (Math.max(...inputs.map((s) => newest(path.join(ROOT, s)))) > built) {
  const r = await build({
    entryPoints: [path.join(ROOT, spec.entry)],
    outfile: out,
    write: false,
    bundle: true,
    splitting: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    external: spec.external,
    define: spec.define,
    plugins: spec.plugins,
    // stack traces name the TypeScript sources (node --enable-source-maps)
    sourcemap: spec.sourcemap,
    banner: { js: requireBanner },
  });
  // the source map first: a bundle in place always finds its own map
  mkdirSync(path.dirname(out), { recursive: true });
  const files = [...r.outputFiles].sort((a, b) => Number(b.path.endsWith('.map')) - Number(a.path.endsWith('.map')));
  for (const f of files) {
    const tmp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
  }
}
