// Paths of the helper scripts a lab runs inside hosts, and the tsx loader that runs them.
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** `--import` value that lets this Node.js run TypeScript from any working directory. */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Scripts to run in a host with `lab.spawnNode` / `lab.execNode`. */
export const LAB_TOOLS = {
  /** `server tcp|udp PORT` (prints "listening PORT") or `rtt tcp|udp ADDRESS PORT [COUNT]` (prints `{"rtts":[ms…]}`) */
  echo: fileURLToPath(new URL('./tools/echo-main.ts', import.meta.url)),
  /** the delay relay process of `lab.startDelayRelay` */
  delayRelay: fileURLToPath(new URL('./tools/delay-relay-main.ts', import.meta.url)),
};
