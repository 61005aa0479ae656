// Login, refresh, logout, request authentication (JWT or API key), password change, MFA.
import { randomUUID } from 'node:crypto';
import { useApiKey } from '../db/queries/api-keys.js';
import { replaceRecoveryCodes, useRecoveryCode } from '../db/queries/recovery-codes.js';
import {
  findFamilyByAccessJti,
  insertRefreshToken,
  isJtiRevoked,
  revokeFamily,
  revokeJtis,
  useRefreshToken,
} from '../db/queries/tokens.js';
import { claimTotpStep, findUserById, findUserByUsername, type UserRow, updateUser } from '../db/queries/users.js';
import { AppError, badRequest, unauthorized } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import type { Role } from '../domain/roles.js';
import { audit } from './audit.js';
import type { Actor, ServiceContext } from './context.js';
import { deriveKey, open, randomToken, seal, sha256 } from './crypto.js';
import { assertPasswordPolicy, hashPassword, verifyPassword } from './passwords.js';
import { accountKey, assertNotThrottled, clearAccountFailures, countFailure, ipKey } from './throttle.js';
import { TokenSigner } from './tokens.js';
import { hashRecoveryCode, matchStep, newRecoveryCodes, newTotp, qrDataUrl } from './totp.js';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  /** seconds until the access token expires */
  expires_in: number;
}

export interface LoginInput {
  username: string;
  password: string;
  totp?: string;
  recovery_code?: string;
}

const API_KEY_PREFIX = 'rk_';
const REFRESH_PREFIX = 'rkr_';

export class AuthService {
  private readonly signer: TokenSigner;
  private readonly totpKey: Buffer;

  constructor(private readonly ctx: ServiceContext) {
    this.signer = new TokenSigner(ctx.secretKey);
    this.totpKey = deriveKey(ctx.secretKey, 'totp-secret');
  }

  /**
   * Verifies the password (and TOTP when enabled), throttled per account and per IP. Unknown user
   * and wrong password give the same 401 after the same argon2 work.
   * @throws AppError 401 invalid_credentials | totp_required | invalid_totp, 429 when throttled
   */
  async login(input: LoginInput, ip: string): Promise<TokenPair> {
    const { db, auth } = this.ctx;
    await assertNotThrottled(db, [accountKey(input.username), ipKey(ip)]);
    const user = await findUserByUsername(db, input.username);
    const ok = await verifyPassword(user?.password_hash, input.password);
    if (!user || !ok || user.disabled) {
      await countFailure(db, auth, input.username, ip);
      throw new AppError(401, 'invalid_credentials', 'invalid username or password');
    }
    if (user.totp_enabled) {
      if (!input.totp && !input.recovery_code) {
        throw new AppError(401, 'totp_required', 'a TOTP code (or a recovery code) is required');
      }
      if (!(await this.checkSecondFactor(user, input))) {
        await countFailure(db, auth, input.username, ip);
        throw new AppError(401, 'invalid_totp', 'invalid or already used TOTP code');
      }
    }
    await clearAccountFailures(db, input.username);
    return this.issue(user, randomUUID());
  }

  private async checkSecondFactor(user: UserRow, input: LoginInput): Promise<boolean> {
    if (input.recovery_code) return useRecoveryCode(this.ctx.db, user.id, hashRecoveryCode(input.recovery_code));
    if (!user.totp_secret || !input.totp) return false;
    const step = matchStep(newTotp(user.username, open(this.totpKey, user.totp_secret)), input.totp);
    return step !== null && (await claimTotpStep(this.ctx.db, user.id, step));
  }

  private async issue(user: UserRow, familyId: string): Promise<TokenPair> {
    const { auth } = this.ctx;
    const access = await this.signer.sign(user.id, user.token_version, auth.accessTokenTtl);
    const refresh = randomToken(REFRESH_PREFIX);
    await insertRefreshToken(this.ctx.db, {
      user_id: user.id,
      family_id: familyId,
      token_hash: sha256(refresh),
      access_jti: access.jti,
      expires_at: new Date(Date.now() + auth.refreshTokenTtl * 1000),
    });
    return {
      access_token: access.token,
      refresh_token: refresh,
      token_type: 'Bearer',
      expires_in: auth.accessTokenTtl,
    };
  }

  /**
   * Rotates a refresh token. Presenting a token that was already used revokes its whole family
   * (a stolen token replayed after its owner refreshed).
   * @throws AppError 401
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const { db } = this.ctx;
    const used = await useRefreshToken(db, sha256(refreshToken));
    if (!used) throw unauthorized('invalid refresh token');
    const { row, replay } = used;
    if (replay || row.revoked_at) {
      await this.revokeFamilyAndTokens(row.family_id);
      throw unauthorized('refresh token already used; all sessions of this login were revoked');
    }
    if (row.expires_at.getTime() < Date.now()) throw unauthorized('refresh token expired');
    const user = await findUserById(db, row.user_id);
    if (!user || user.disabled) throw unauthorized('invalid refresh token');
    return this.issue(user, row.family_id);
  }

  private async revokeFamilyAndTokens(familyId: string): Promise<void> {
    const jtis = await revokeFamily(this.ctx.db, familyId);
    const exp = new Date(Date.now() + this.ctx.auth.accessTokenTtl * 1000);
    await revokeJtis(
      this.ctx.db,
      jtis.map((jti) => ({ jti, expires_at: exp })),
    );
  }

  /** Revokes the caller's access token and its refresh-token family. API keys are revoked separately. */
  async logout(p: Principal): Promise<void> {
    if (p.via !== 'jwt' || !p.jti) throw badRequest('logout applies to access tokens; revoke API keys instead');
    const family = await findFamilyByAccessJti(this.ctx.db, p.jti);
    if (family) await this.revokeFamilyAndTokens(family);
    await revokeJtis(this.ctx.db, [{ jti: p.jti, expires_at: new Date((p.tokenExp ?? 0) * 1000 + 60_000) }]);
  }

  /**
   * Resolves an `Authorization: Bearer …` / `X-API-Key` credential to a principal.
   * @throws AppError 401 for anything not currently valid
   */
  async authenticate(bearer: string | undefined, apiKey: string | undefined): Promise<Principal> {
    const credential = apiKey ?? bearer;
    if (!credential) throw unauthorized();
    if (credential.startsWith(API_KEY_PREFIX)) {
      const key = await useApiKey(this.ctx.db, sha256(credential));
      if (!key) throw unauthorized('invalid API key');
      const user = await findUserById(this.ctx.db, key.user_id);
      if (!user || user.disabled) throw unauthorized('invalid API key');
      return toPrincipal(user, 'api_key');
    }
    const claims = await this.signer.verify(credential);
    const user = await findUserById(this.ctx.db, claims.sub);
    if (!user || user.disabled || user.token_version !== claims.tv) throw unauthorized('token revoked');
    if (await isJtiRevoked(this.ctx.db, claims.jti)) throw unauthorized('token revoked');
    return { ...toPrincipal(user, 'jwt'), jti: claims.jti, tokenExp: claims.exp };
  }

  /** Changes the caller's password after checking the current one; every older token dies. */
  async changePassword(p: Principal, current: string, next: string, actor: Actor): Promise<void> {
    const user = await this.requireUser(p);
    if (!(await verifyPassword(user.password_hash, current))) {
      throw new AppError(401, 'invalid_credentials', 'current password is wrong');
    }
    assertPasswordPolicy(next, user.username);
    await updateUser(this.ctx.db, user.id, { password_hash: await hashPassword(next), revokeTokens: true });
    await audit(this.ctx.db, actor, {
      action: 'user.password_change',
      targetType: 'user',
      targetId: user.id,
      ouPath: user.ou_path,
    });
  }

  /** Starts TOTP enrolment: a new secret (not active until verified), its otpauth URI and QR code. */
  async totpSetup(p: Principal): Promise<{ otpauth_uri: string; qr_code_data_url: string; secret: string }> {
    const user = await this.requireUser(p);
    if (user.totp_enabled) throw new AppError(409, 'totp_already_enabled', 'TOTP is already enabled; disable it first');
    const totp = newTotp(user.username);
    await updateUser(this.ctx.db, user.id, {
      totp_secret: seal(this.totpKey, totp.secret.base32),
      totp_last_step: null,
    });
    const uri = totp.toString();
    return { otpauth_uri: uri, qr_code_data_url: await qrDataUrl(uri), secret: totp.secret.base32 };
  }

  /** Confirms TOTP with a first code; returns recovery codes (shown once). */
  async totpVerify(p: Principal, code: string, actor: Actor): Promise<{ recovery_codes: string[] }> {
    const user = await this.requireUser(p);
    if (user.totp_enabled) throw new AppError(409, 'totp_already_enabled', 'TOTP is already enabled');
    if (!user.totp_secret) throw new AppError(409, 'totp_not_set_up', 'call /auth/totp/setup first');
    const step = matchStep(newTotp(user.username, open(this.totpKey, user.totp_secret)), code);
    if (step === null || !(await claimTotpStep(this.ctx.db, user.id, step))) {
      throw new AppError(400, 'invalid_totp', 'invalid or already used TOTP code');
    }
    const { codes, hashes } = newRecoveryCodes();
    await replaceRecoveryCodes(this.ctx.db, user.id, hashes);
    await updateUser(this.ctx.db, user.id, { totp_enabled: true });
    await audit(this.ctx.db, actor, {
      action: 'user.totp_enable',
      targetType: 'user',
      targetId: user.id,
      ouPath: user.ou_path,
    });
    return { recovery_codes: codes };
  }

  /** Disables TOTP; needs the password and a current code (re-authentication). */
  async totpDisable(p: Principal, password: string, code: string, actor: Actor): Promise<void> {
    const user = await this.requireUser(p);
    if (!user.totp_enabled) throw new AppError(409, 'totp_not_enabled', 'TOTP is not enabled');
    const okPassword = await verifyPassword(user.password_hash, password);
    const okCode =
      okPassword && (await this.checkSecondFactor(user, { username: user.username, password, totp: code }));
    if (!okPassword || !okCode) throw new AppError(401, 'invalid_credentials', 'password or TOTP code is wrong');
    await updateUser(this.ctx.db, user.id, { totp_enabled: false, totp_secret: null, totp_last_step: null });
    await replaceRecoveryCodes(this.ctx.db, user.id, []);
    await audit(this.ctx.db, actor, {
      action: 'user.totp_disable',
      targetType: 'user',
      targetId: user.id,
      ouPath: user.ou_path,
    });
  }

  private async requireUser(p: Principal): Promise<UserRow> {
    const user = await findUserById(this.ctx.db, p.userId);
    if (!user) throw unauthorized();
    return user;
  }
}

export function toPrincipal(user: UserRow, via: Principal['via']): Principal {
  return {
    userId: user.id,
    username: user.username,
    role: user.role as Role,
    ouId: user.ou_id,
    ouPath: user.ou_path,
    via,
  };
}
