// Access tokens (JWT, HS256 pinned, iss/aud/exp/jti checked) and rotating refresh tokens.
import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { unauthorized } from '../domain/errors.js';
import { deriveKey } from './crypto.js';

export const ISSUER = 'rookery-manager';
export const AUDIENCE = 'rookery-api';

export interface AccessClaims {
  /** user id */
  sub: string;
  /** user's token_version when issued */
  tv: number;
  jti: string;
  exp: number;
}

export class TokenSigner {
  private readonly key: Uint8Array;

  constructor(secretKey: string) {
    this.key = new Uint8Array(deriveKey(secretKey, 'jwt-hs256'));
  }

  /** Signs an access token valid for `ttlSeconds`. */
  async sign(
    userId: string,
    tokenVersion: number,
    ttlSeconds: number,
  ): Promise<{ token: string; jti: string; exp: number }> {
    const jti = randomUUID();
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    const token = await new SignJWT({ tv: tokenVersion })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(this.key);
    return { token, jti, exp };
  }

  /**
   * Verifies signature (HS256 only), issuer, audience, expiry and claim types.
   * @throws AppError 401 for any failure, never another error
   */
  async verify(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ['sub', 'jti', 'exp', 'iat'],
        clockTolerance: 5,
      });
      if (typeof payload.sub !== 'string' || !/^\d+$/.test(payload.sub)) throw unauthorized('invalid token');
      if (typeof payload.tv !== 'number' || typeof payload.jti !== 'string' || typeof payload.exp !== 'number') {
        throw unauthorized('invalid token');
      }
      return { sub: payload.sub, tv: payload.tv, jti: payload.jti, exp: payload.exp };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthorized('token expired');
      throw unauthorized('invalid token');
    }
  }
}
