import { randomBytes } from 'node:crypto';
import { UserRole } from '@bulwark/contracts';
import { type ApiKeyRecord, type CredentialsStore, dummyPasswordHash, sameDigest, sha256Hex, verifyPassword } from '@bulwark/messaging';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { GatewayConfig } from '../config';
import { HttpRefusal } from '../security/http-errors';
import { GATEWAY_CONFIG } from '../tokens';
import { GATEWAY_CREDENTIALS, UserDirectory } from '../users/user-directory';
import { LoginLimiter } from './login-limiter';
import { type AuthUser, type Role, ROLES, roleAllows } from './roles';

/** What login and refresh answer. `expiresIn`: seconds the access token lives. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** An API key as listed (never its secret or hash). */
export interface ApiKeyView {
  id: string;
  username: string;
  role: Role;
  label: string;
  createdAt: number;
  createdBy: string;
}

const ISSUER = 'bulwark-gateway';
const AUDIENCE = 'bulwark-api';
/** API keys: `bwk_<16 hex id>_<43 base64url chars of 32 random bytes>`. */
const API_KEY = /^bwk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** jose is ESM only: loaded once with import() (this package compiles to CommonJS). */
let joseModule: Promise<typeof import('jose', { with: { 'resolution-mode': 'import' } })> | null = null;
const jose = () => (joseModule ??= import('jose'));

const unauthenticated = (message = 'authentication required') => new HttpRefusal(401, 'UNAUTHENTICATED', message);
const lowerRole = (a: Role, b: Role): Role => (roleAllows(a, b) ? b : a);

/**
 * Logins, access tokens, refresh tokens and API keys. Never logs a password, hash, token or key.
 * - Access tokens: JWT HS256 (`sub` username, `role`), key from BULWARK_JWT_SECRET_FILE, short-lived.
 * - Refresh tokens: 32 random bytes (base64url), stored as SHA-256 in the credentials bucket,
 *   one use each (refresh takes the old one and issues a new pair), deleted by logout.
 * - API keys: 32 random bytes behind a public id, stored as SHA-256. A fast hash suffices for
 *   a 256-bit random secret (no dictionary to try, brute force is 2^256), and it keeps every
 *   keyed request cheap; passwords, which people choose, get Argon2id instead.
 */
@Injectable()
export class AuthService {
  private readonly log = new Logger('Auth');
  readonly limiter = new LoginLimiter();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CREDENTIALS) private readonly creds: CredentialsStore,
    private readonly users: UserDirectory,
  ) {}

  /**
   * Check a username and password from `address` and issue a token pair.
   * @throws HttpRefusal 429 TOO_MANY_ATTEMPTS (with Retry-After) after 5 failures in 15 min for the pair;
   *   401 INVALID_CREDENTIALS for an unknown user, a wrong password or a disabled user (one answer for all)
   */
  async login(username: string, password: string, address: string): Promise<TokenPair> {
    const wait = this.limiter.retryAfterSeconds(username, address);
    if (wait > 0) throw new HttpRefusal(429, 'TOO_MANY_ATTEMPTS', `too many failed logins for this user from this address; try again in ${wait} s`, undefined, undefined, { 'retry-after': String(wait) });
    const user = await this.users.get(username);
    const stored = user ? await this.creds.passwordHash(username) : null;
    // Unknown users cost an Argon2 verification too, so timing does not tell which names exist.
    const ok = await verifyPassword(stored ?? (await dummyPasswordHash()), password);
    if (!user || !stored || !ok || user.disabled) {
      this.limiter.fail(username, address);
      // A name that is not a user name may be a password typed in the wrong field: not logged.
      this.log.warn(`failed login for ${user ? username : 'an unknown user'} from ${address}`);
      throw new HttpRefusal(401, 'INVALID_CREDENTIALS', 'wrong username or password');
    }
    this.limiter.succeed(username, address);
    this.log.log(`login ${username} (${user.role}) from ${address}`);
    return this.issue(username, user.role);
  }

  /**
   * Swap a refresh token for a new pair; the old token is spent.
   * @throws HttpRefusal 401 INVALID_REFRESH_TOKEN when unknown, spent, expired or its user is disabled
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const rec = await this.creds.takeRefreshToken(sha256Hex(refreshToken));
    const invalid = new HttpRefusal(401, 'INVALID_REFRESH_TOKEN', 'the refresh token is unknown, used or expired; log in again');
    if (!rec || rec.expiresAt <= Date.now()) throw invalid;
    const user = await this.users.get(rec.username);
    if (!user || user.disabled) throw invalid;
    return this.issue(user.username, user.role);
  }

  /** Revoke a refresh token (logging out); an unknown one is already as good as revoked. */
  async logout(refreshToken: string): Promise<void> {
    await this.creds.takeRefreshToken(sha256Hex(refreshToken));
  }

  private async issue(username: string, role: Role): Promise<TokenPair> {
    const { SignJWT } = await jose();
    const accessToken = await new SignJWT({ role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(username)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.config.accessTokenTtlSeconds}s`)
      .sign(this.config.jwtSecret);
    const refreshToken = randomBytes(32).toString('base64url');
    await this.creds.putRefreshToken(sha256Hex(refreshToken), { username, expiresAt: Date.now() + this.config.refreshTokenTtlSeconds * 1000 });
    return { accessToken, refreshToken, expiresIn: this.config.accessTokenTtlSeconds };
  }

  /**
   * The caller of a bearer access token. The role is the user's current one (a demotion or a
   * disable acts at once), never above what the token says.
   * @throws HttpRefusal 401 when the token is malformed, forged, expired or its user is gone or disabled
   */
  async authenticateBearer(token: string): Promise<AuthUser> {
    let sub: string | undefined;
    let claimed: unknown;
    const { jwtVerify, errors } = await jose();
    try {
      const { payload } = await jwtVerify(token, this.config.jwtSecret, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
      sub = payload.sub;
      claimed = payload.role;
    } catch (e) {
      throw unauthenticated(e instanceof errors.JWTExpired ? 'the access token has expired; refresh it' : 'invalid access token');
    }
    const role = UserRole.safeParse(claimed);
    const user = sub ? await this.users.get(sub) : null;
    if (!user || user.disabled || !role.success) throw unauthenticated('invalid access token');
    return { username: user.username, role: lowerRole(role.data, user.role), via: 'jwt' };
  }

  /**
   * The caller of an `X-API-Key`. The role is the lower of the key's and its user's current role.
   * @throws HttpRefusal 401 when the key is malformed, unknown, revoked, or its user is gone or disabled
   */
  async authenticateApiKey(key: string): Promise<AuthUser> {
    const m = API_KEY.exec(key);
    const rec = m ? await this.creds.apiKey(m[1]) : null;
    if (!rec || !sameDigest(rec.hash, sha256Hex(key))) throw unauthenticated('invalid API key');
    const user = await this.users.get(rec.username);
    if (!user || user.disabled) throw unauthenticated('invalid API key');
    return { username: user.username, role: lowerRole(rec.role, user.role), via: 'api-key' };
  }

  /**
   * Create an API key for `username` (default: the admin asking) with `role` (not above the user's).
   * @returns the key, shown this once, and its record
   * @throws HttpRefusal 404 UNKNOWN_USER, 422 ROLE_ABOVE_USER
   */
  async createApiKey(by: AuthUser, req: { username?: string; role: Role; label: string }): Promise<{ apiKey: string } & ApiKeyView> {
    const username = req.username ?? by.username;
    const user = await this.users.get(username);
    if (!user || user.disabled) throw new HttpRefusal(404, 'UNKNOWN_USER', `no active user ${username}`, 'username', 'unknown or disabled user');
    if (!roleAllows(user.role, req.role)) throw new HttpRefusal(422, 'ROLE_ABOVE_USER', `user ${username} is ${user.role}; a key cannot be ${req.role}`, 'role', `at most ${user.role}`);
    const id = randomBytes(8).toString('hex');
    const apiKey = `bwk_${id}_${randomBytes(32).toString('base64url')}`;
    const rec: ApiKeyRecord = { id, username, role: req.role, label: req.label, hash: sha256Hex(apiKey), createdAt: Date.now(), createdBy: by.username };
    await this.creds.putApiKey(rec);
    this.log.log(`API key ${id} (${req.role}) created for ${username} by ${by.username}`);
    return { apiKey, ...view(rec) };
  }

  async listApiKeys(): Promise<ApiKeyView[]> {
    return (await this.creds.listApiKeys()).map(view);
  }

  /** @throws HttpRefusal 404 UNKNOWN_API_KEY */
  async revokeApiKey(by: AuthUser, id: string): Promise<void> {
    if (!(await this.creds.deleteApiKey(id))) throw new HttpRefusal(404, 'UNKNOWN_API_KEY', `no API key ${id}`, 'id', 'unknown');
    this.log.log(`API key ${id} revoked by ${by.username}`);
  }
}

function view(r: ApiKeyRecord): ApiKeyView {
  return { id: r.id, username: r.username, role: ROLES.includes(r.role) ? r.role : 'viewer', label: r.label, createdAt: r.createdAt, createdBy: r.createdBy };
}
