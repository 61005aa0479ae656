// Structured JSON logs (pino) to stdout; secrets and credentials are redacted wherever they appear.
import { pino, type DestinationStream, type Logger } from 'pino';

/** Paths pino replaces with "[redacted]". */
export const REDACT_PATHS = [
  'secret',
  '*.secret',
  'device_credential',
  '*.device_credential',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'enrollmentSecret',
  '*.enrollmentSecret',
];

/** A logger at `level` writing one JSON object per line to `destination` (default stdout). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'rookery-agent', pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
