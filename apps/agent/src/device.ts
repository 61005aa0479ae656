// Device facts sent at enrollment: serial, hostname, OS and version, auto-detected unless overridden.
import { readFile } from 'node:fs/promises';
import os from 'node:os';

/** Reported as `client_type`. */
export const CLIENT_TYPE = 'rookeryAgent';
/** Reported as `client_version`; kept equal to apps/agent/package.json (a test checks). */
export const CLIENT_VERSION = '0.1.0';

export interface DeviceFacts {
  serial: string;
  hostname: string;
  os: string;
  osVersion: string;
}

/** Where the machine id lives on systemd and most other Linux systems. */
export const MACHINE_ID_PATHS = ['/etc/machine-id', '/var/lib/dbus/machine-id'];

const OS_NAMES: Record<string, string> = { linux: 'Linux', darwin: 'macOS', win32: 'Windows', freebsd: 'FreeBSD' };

/**
 * Detects the device's facts. The serial is the override, else the first readable machine id;
 * throws when neither exists (set DEVICE_SERIAL).
 */
export async function detectDevice(
  overrides: { serial?: string | undefined; hostname?: string | undefined },
  machineIdPaths: readonly string[] = MACHINE_ID_PATHS,
): Promise<DeviceFacts> {
  let serial = overrides.serial?.trim();
  for (const file of serial ? [] : machineIdPaths) {
    const id = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (id) {
      serial = id;
      break;
    }
  }
  if (!serial) throw new Error(`no device serial: set DEVICE_SERIAL (no machine id in ${machineIdPaths.join(', ')})`);
  return {
    serial,
    hostname: overrides.hostname?.trim() || os.hostname() || 'unknown',
    os: OS_NAMES[os.platform()] ?? os.type(),
    osVersion: os.release(),
  };
}
