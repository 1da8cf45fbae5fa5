import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '@bulwark/market-data';
import { credentialsBucketFromEnv } from '@bulwark/messaging';
import { z } from 'zod';

/** Hosts that never leave the machine: the gateway may serve plain HTTP only there. */
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The gateway's settings, read once at start-up (`gatewayConfigFromEnv`). Secrets are held, never logged. */
export interface GatewayConfig {
  host: string;
  /** 0 = a free port. */
  port: number;
  /** PEM certificate and key; both or neither. Required off loopback. */
  tls: { cert: Buffer; key: Buffer } | null;
  /** HS256 key of access tokens (at least 32 bytes, from BULWARK_JWT_SECRET_FILE, default var/gateway/jwt-secret). */
  jwtSecret: Uint8Array;
  /** Access token lifetime, seconds (default 900). */
  accessTokenTtlSeconds: number;
  /** Refresh token lifetime, seconds (default 7 days). */
  refreshTokenTtlSeconds: number;
  /** Origins allowed by CORS; empty = CORS closed (no Access-Control-* headers). */
  corsOrigins: string[];
  /** JetStream key-value bucket of password, API-key and refresh-token hashes. */
  credentialsBucket: string;
  /** The dashboard's built files (apps/dashboard/dist); a 503 page when missing. */
  dashboardDir: string;
}

/** A setting the gateway cannot start with; the message names the variable and the reason. */
export class GatewayConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayConfigError';
  }
}

const Env = z.object({
  BULWARK_GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  BULWARK_GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  BULWARK_TLS_CERT_FILE: z.string().min(1).optional(),
  BULWARK_TLS_KEY_FILE: z.string().min(1).optional(),
  BULWARK_JWT_SECRET_FILE: z.string().min(1).optional(),
  BULWARK_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(900),
  BULWARK_REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(300).max(90 * 86_400).default(7 * 86_400),
  BULWARK_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.string().url('each origin must be a URL such as https://ops.example.com'))),
  BULWARK_DASHBOARD_DIR: z.string().min(1).optional(),
});

function readSecretFile(name: string, file: string): Buffer {
  try {
    return readFileSync(path.resolve(file));
  } catch (e) {
    throw new GatewayConfigError(`${name}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The project's apps/dashboard/dist. */
function defaultDashboardDir(): string {
  return path.join(projectRoot(__dirname), 'apps', 'dashboard', 'dist');
}

/** The signing key `npm run setup` makes (scripts/setup.sh), the default of BULWARK_JWT_SECRET_FILE. */
function defaultJwtSecretFile(): string {
  return path.join(projectRoot(__dirname), 'var', 'gateway', 'jwt-secret');
}

/**
 * The gateway's settings from the environment:
 * BULWARK_GATEWAY_HOST (127.0.0.1), BULWARK_GATEWAY_PORT (8080; 0 = free port),
 * BULWARK_TLS_CERT_FILE + BULWARK_TLS_KEY_FILE (required when the host is not loopback),
 * BULWARK_JWT_SECRET_FILE (default var/gateway/jwt-secret, made by `npm run setup`; ≥ 32 bytes), BULWARK_ACCESS_TOKEN_TTL_SECONDS (900),
 * BULWARK_REFRESH_TOKEN_TTL_SECONDS (604800), BULWARK_CORS_ORIGINS (comma-separated; none = closed),
 * BULWARK_CREDENTIALS_BUCKET (bulwark-credentials), BULWARK_DASHBOARD_DIR (apps/dashboard/dist).
 * @throws GatewayConfigError naming the variable and the reason
 */
export function gatewayConfigFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const r = Env.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!r.success) {
    const i = r.error.issues[0];
    throw new GatewayConfigError(`${i.path.join('.')}: ${i.message}`);
  }
  const e = r.data;
  if (!!e.BULWARK_TLS_CERT_FILE !== !!e.BULWARK_TLS_KEY_FILE) throw new GatewayConfigError('BULWARK_TLS_CERT_FILE and BULWARK_TLS_KEY_FILE go together: set both or neither');
  const tls = e.BULWARK_TLS_CERT_FILE && e.BULWARK_TLS_KEY_FILE
    ? { cert: readSecretFile('BULWARK_TLS_CERT_FILE', e.BULWARK_TLS_CERT_FILE), key: readSecretFile('BULWARK_TLS_KEY_FILE', e.BULWARK_TLS_KEY_FILE) }
    : null;
  if (!tls && !LOOPBACK.has(e.BULWARK_GATEWAY_HOST)) {
    throw new GatewayConfigError(
      `BULWARK_GATEWAY_HOST=${e.BULWARK_GATEWAY_HOST} is not loopback: beyond this machine the gateway serves TLS only; set BULWARK_TLS_CERT_FILE and BULWARK_TLS_KEY_FILE (or listen on 127.0.0.1)`,
    );
  }
  const secretFile = e.BULWARK_JWT_SECRET_FILE ?? defaultJwtSecretFile();
  if (!e.BULWARK_JWT_SECRET_FILE && !existsSync(secretFile)) {
    throw new GatewayConfigError(`BULWARK_JWT_SECRET_FILE is unset and ${secretFile} does not exist: run \`npm run setup\` (it makes one) or point BULWARK_JWT_SECRET_FILE at a file of at least 32 random bytes`);
  }
  const secret = readSecretFile('BULWARK_JWT_SECRET_FILE', secretFile);
  const trimmed = Buffer.from(secret.toString('utf8').trim(), 'utf8');
  if (trimmed.length < 32) throw new GatewayConfigError(`BULWARK_JWT_SECRET_FILE: ${secretFile} holds ${trimmed.length} bytes; HS256 needs at least 32 random bytes`);
  return {
    host: e.BULWARK_GATEWAY_HOST,
    port: e.BULWARK_GATEWAY_PORT,
    tls,
    jwtSecret: new Uint8Array(trimmed),
    accessTokenTtlSeconds: e.BULWARK_ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: e.BULWARK_REFRESH_TOKEN_TTL_SECONDS,
    corsOrigins: e.BULWARK_CORS_ORIGINS,
    credentialsBucket: credentialsBucketFromEnv(env),
    dashboardDir: e.BULWARK_DASHBOARD_DIR ? path.resolve(e.BULWARK_DASHBOARD_DIR) : defaultDashboardDir(),
  };
}
