// Process-level clean-up: live labs are torn down on exit, uncaught errors and SIGINT/SIGTERM/SIGHUP.

/** Something that can be removed synchronously from an exit handler. */
export interface Disposable {
  destroySync(): void;
}

const live = new Set<Disposable>();
let installed = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function destroyAll(): void {
  for (const lab of [...live]) {
    try {
      lab.destroySync();
    } catch {
      // keep going: the other labs still need removing
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  destroyAll();
  // with no other listener, restore the default action so the process still dies of the signal
  if (process.listenerCount(signal) === 1) {
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  // 'exit' also runs after an uncaught exception or process.exit(); only synchronous work is possible there
  process.on('exit', destroyAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

/** Tracks a lab so it is removed if the process ends before `forget` is called. */
export function track(lab: Disposable): void {
  install();
  live.add(lab);
}

/** Stops tracking a lab (after it was destroyed). */
export function forget(lab: Disposable): void {
  live.delete(lab);
}

/** Number of labs this process still owns. */
export function liveLabCount(): number {
  return live.size;
}
