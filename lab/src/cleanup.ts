// Process-level clean-up: live labs are torn down on exit, uncaught errors and SIGINT/SIGTERM/SIGHUP.
// Signals: when the program has no handler of its own, labs go and the process dies of the signal.

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
  // a program with its own handler decides how to stop (e.g. an async destroy); the exit hook
  // still removes whatever is left when it exits
  if (process.listenerCount(signal) > 1) return;
  destroyAll();
  // restore the default action so the process still dies of the signal
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, signal);
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
