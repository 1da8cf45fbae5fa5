// Test harness of the gateway's specs (not part of the build's entry points): an isolated bus
// on the local nats-server (a random event-log stream and credentials bucket, as NATS user
// `admin`), an in-memory event log, a temporary JWT secret and a log recorder.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { UserRole } from '@bulwark/contracts';
import { type EventStore, InMemoryEventStore } from '@bulwark/event-store';
import { connectNats, createCredentialsBucket, createUser, CredentialsStore, DEFAULT_NATS_URL, dropCredentialsBucket } from '@bulwark/messaging';
import type { LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { NatsConnection } from 'nats';
import type { ApiOptions } from './api/api-options';
import { createGatewayApp } from './app';
import { type GatewayConfig, gatewayConfigFromEnv } from './config';

/** Every line Nest logged, as text: specs check that no secret ever appears. */
export class RecordingLogger implements LoggerService {
  readonly lines: string[] = [];
  private add(level: string, args: unknown[]): void {
    this.lines.push(`${level} ${args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
  }
  log(...a: unknown[]) { this.add('log', a); }
  error(...a: unknown[]) { this.add('error', a); }
  warn(...a: unknown[]) { this.add('warn', a); }
  debug(...a: unknown[]) { this.add('debug', a); }
  verbose(...a: unknown[]) { this.add('verbose', a); }
  fatal(...a: unknown[]) { this.add('fatal', a); }
  text(): string {
    return this.lines.join('\n');
  }
}

/** A running gateway for one spec file, with its users' passwords. */
export interface GatewayKit {
  app: NestFastifyApplication;
  nc: NatsConnection;
  store: EventStore;
  creds: CredentialsStore;
  config: GatewayConfig;
  logs: RecordingLogger;
  bucket: string;
  tmp: string;
  passwords: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Start a gateway on an isolated bus with users `ada` (admin), `tom` (trader), `vic` (viewer),
 * each with a random password in `passwords`. `env` adds gateway settings (e.g. CORS), `api`
 * API settings (e.g. a subject prefix for stand-in services, an idempotency bucket).
 */
export async function startGatewayKit(env: Record<string, string> = {}, users: Record<string, UserRole> = { ada: 'admin', tom: 'trader', vic: 'viewer' }, api: Partial<ApiOptions> = {}): Promise<GatewayKit> {
  const tag = randomBytes(4).toString('hex');
  const bucket = `test-gw-creds-${tag}`;
  const tmp = mkdtempSync(path.join(tmpdir(), 'bulwark-gw-'));
  writeFileSync(path.join(tmp, 'jwt.secret'), randomBytes(48).toString('base64'));
  const nc = await connectNats({ user: 'admin', servers: process.env.NATS_URL || DEFAULT_NATS_URL, name: `gateway-spec-${tag}` }).catch((e: Error) => {
    throw new Error(`the gateway specs need Bulwark's nats-server with JetStream (npm run setup): ${e.message}`);
  });
  await createCredentialsBucket(nc, bucket);
  const creds = await CredentialsStore.open(nc, bucket);
  const store = new InMemoryEventStore();
  const passwords: Record<string, string> = {};
  for (const [username, role] of Object.entries(users)) {
    passwords[username] = randomBytes(12).toString('base64url');
    await createUser(store, creds, { username, role, password: passwords[username], by: 'spec' });
  }
  const config = gatewayConfigFromEnv({
    BULWARK_JWT_SECRET_FILE: path.join(tmp, 'jwt.secret'),
    BULWARK_CREDENTIALS_BUCKET: bucket,
    BULWARK_DASHBOARD_DIR: path.join(tmp, 'no-dashboard'),
    BULWARK_GATEWAY_PORT: '0',
    ...env,
  });
  const logs = new RecordingLogger();
  const app = await createGatewayApp({ nc, store, config, credentials: creds, logger: logs, api });
  return {
    app, nc, store, creds, config, logs, bucket, tmp, passwords,
    async close() {
      await app.close();
      await store.close();
      await dropCredentialsBucket(nc, bucket);
      await nc.close();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** Log in through the API; the token pair. */
export async function login(app: NestFastifyApplication, username: string, password: string): Promise<{ accessToken: string; refreshToken: string; expiresIn: number }> {
  const r = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
  if (r.statusCode !== 200) throw new Error(`login ${username}: ${r.statusCode} ${r.body}`);
  return r.json();
}
