// TOTP (RFC 6238, SHA-1, 6 digits, 30 s): secrets sealed at rest, ±1 step, each step used once.
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { sha256 } from './crypto.js';

export const TOTP_PERIOD = 30;

export function newTotp(username: string, secretBase32?: string): TOTP {
  return new TOTP({
    issuer: 'Rookery',
    label: username,
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD,
    secret: secretBase32 ? Secret.fromBase32(secretBase32) : new Secret({ size: 20 }),
  });
}

/**
 * The time step a code belongs to, accepting the current step ±1; null when the code is wrong.
 * The caller must still claim the step so that it is used only once.
 */
export function matchStep(totp: TOTP, code: string, now = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totp.validate({ token: code, timestamp: now, window: 1 });
  if (delta === null) return null;
  return Math.floor(now / 1000 / TOTP_PERIOD) + delta;
}

/** PNG data URL of the otpauth URI. */
export const qrDataUrl = (uri: string) => QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 1, width: 240 });

/** Ten recovery codes `xxxxx-xxxxx` (≈50 bits each) and their hashes. */
export function newRecoveryCodes(): { codes: string[]; hashes: string[] } {
  const codes = Array.from({ length: 10 }, () => {
    const s = randomBytes(8).toString('hex').slice(0, 10);
    return `${s.slice(0, 5)}-${s.slice(5)}`;
  });
  return { codes, hashes: codes.map(hashRecoveryCode) };
}

export const hashRecoveryCode = (code: string) => sha256(`recovery:${code.trim().toLowerCase()}`);
