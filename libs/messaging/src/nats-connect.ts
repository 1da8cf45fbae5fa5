import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type ServiceName, Services } from '@bulwark/contracts';
import { type ConnectionOptions, connect, type NatsConnection, nkeyAuthenticator, usernamePasswordAuthenticator } from 'nats';

/** Bulwark's own nats-server in a local checkout (scripts/ensure-nats.sh); never the machine's 4222. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4223';

/**
 * The NATS users of deploy/nats/permissions.js: one per service, `gateway` (HTTP operator
 * surface), `alerter` (Telegram and webhook alerts), `operator` (the CLI's commands), `driver` (the demo / replay starter) and `admin`
 * (set-up and test harnesses: streams). What each may do is in docs/security.md.
 */
/** The JetStream API error code of a failed JetStream call (e.g. 10071 wrong last sequence), or undefined for any other error. */
export function jetStreamApiCode(e: unknown): number | undefined {
  return (e as { api_error?: { err_code?: number } } | null)?.api_error?.err_code;
}

export type NatsUser = ServiceName | 'gateway' | 'alerter' | 'operator' | 'driver' | 'admin';
export const NATS_USERS: readonly NatsUser[] = [...Services, 'gateway', 'alerter', 'operator', 'driver', 'admin'];

/** Credentials could not be read (a named file is missing or malformed). */
export class NatsCredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NatsCredentialsError';
  }
}

/** The server did not take the connection: unreachable, or it refused these credentials. */
export class NatsConnectError extends Error {
  constructor(readonly servers: string, readonly user: NatsUser, readonly credentials: string, readonly code: string | undefined, cause: unknown) {
    const refused = code === 'AUTHORIZATION_VIOLATION';
    super(
      refused
        ? `NATS at ${servers} refused user ${user} (authorization violation; credentials: ${credentials}). ` +
            `In a local checkout run \`npm run setup\`; against another server set NATS_NKEY_SEED_FILE, or NATS_USER and NATS_PASSWORD_FILE (docs/security.md).`
        : `cannot reach NATS at ${servers} (${String(cause)}; as user ${user})`,
    );
    this.name = 'NatsConnectError';
  }
}

/** How a connection that drops behaves: a service or a long run waits for ever, a one-shot command fails. */
export type ReconnectPolicy = 'forever' | 'never';

export interface NatsConnectOptions {
  /** Whose credentials to use when the environment names none (see {@link natsConnectionOptions}). */
  user: NatsUser;
  /** Server URL(s), comma-separated; default NATS_URL, then {@link DEFAULT_NATS_URL}. */
  servers?: string;
  /** Client name the server shows (default `bulwark-<user>`). */
  name?: string;
  /** Default 'forever' (every 0.5 s, no limit). */
  reconnect?: ReconnectPolicy;
  /** Connect timeout (ms), default nats.js's 20 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** The project root: the nearest ancestor holding nx.json (of this file, then of the working directory), or null. */
function findRoot(): string | null {
  for (const start of [__dirname, process.cwd()]) {
    let dir = path.resolve(start);
    for (;;) {
      if (existsSync(path.join(dir, 'nx.json'))) return dir;
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return null;
}

/** Where local seeds live: BULWARK_NATS_CREDS_DIR, else `<project>/var/nats/creds` (null outside a checkout). */
export function natsCredsDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.BULWARK_NATS_CREDS_DIR) return path.resolve(env.BULWARK_NATS_CREDS_DIR);
  const root = findRoot();
  return root ? path.join(root, 'var', 'nats', 'creds') : null;
}

function readCredential(file: string, what: string): string {
  try {
    const v = readFileSync(file, 'utf8').trim();
    if (!v) throw new NatsCredentialsError(`${what} ${file} is empty`);
    return v;
  } catch (e) {
    if (e instanceof NatsCredentialsError) throw e;
    throw new NatsCredentialsError(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

function nkeySeed(file: string): Uint8Array {
  const seed = readCredential(file, 'nkey seed file');
  if (!/^SU[A-Z2-7]{56}$/.test(seed)) throw new NatsCredentialsError(`${file} does not hold an nkey user seed (one line starting with SU)`);
  return new TextEncoder().encode(seed);
}

/**
 * Where this process's credentials come from, first match wins:
 * 1. `NATS_NKEY_SEED_FILE`: an nkey user seed (e.g. a mounted Kubernetes secret);
 * 2. `NATS_USER` with `NATS_PASSWORD_FILE`: user name and password;
 * 3. `<natsCredsDir>/<user>.nk`, the seed local set-up made for `user`;
 * 4. none: an anonymous connection, which Bulwark's server refuses.
 * Secrets are read from files only (never arguments or logs).
 * @returns the authenticator (or none) and a description naming the file, never the secret
 * @throws NatsCredentialsError when a named file is missing or malformed
 */
export function natsCredentials(user: NatsUser, env: NodeJS.ProcessEnv = process.env): Pick<ConnectionOptions, 'authenticator'> & { source: string } {
  if (env.NATS_NKEY_SEED_FILE) {
    const file = path.resolve(env.NATS_NKEY_SEED_FILE);
    return { authenticator: nkeyAuthenticator(nkeySeed(file)), source: `nkey seed ${file} (NATS_NKEY_SEED_FILE)` };
  }
  if (env.NATS_USER || env.NATS_PASSWORD_FILE) {
    if (!env.NATS_USER || !env.NATS_PASSWORD_FILE) throw new NatsCredentialsError('NATS_USER and NATS_PASSWORD_FILE go together: set both (the password is read from the file)');
    const file = path.resolve(env.NATS_PASSWORD_FILE);
    return { authenticator: usernamePasswordAuthenticator(env.NATS_USER, readCredential(file, 'password file')), source: `user ${env.NATS_USER}, password ${file}` };
  }
  const dir = natsCredsDir(env);
  const file = dir ? path.join(dir, `${user}.nk`) : null;
  if (file && existsSync(file)) return { authenticator: nkeyAuthenticator(nkeySeed(file)), source: `nkey seed ${file}` };
  return { source: `none (no NATS_NKEY_SEED_FILE, no NATS_USER/NATS_PASSWORD_FILE, no ${file ?? `var/nats/creds/${user}.nk`})` };
}

/**
 * The one place that builds nats.js {@link ConnectionOptions} for Bulwark: servers (NATS_URL,
 * default nats://127.0.0.1:4223), client name, credentials (see {@link natsCredentials}) and
 * the reconnect policy ('forever': every 0.5 s without limit; 'never': fail at once).
 * @throws NatsCredentialsError when a named credential file is missing or malformed
 */
export function natsConnectionOptions(o: NatsConnectOptions): ConnectionOptions & { credentialSource: string } {
  const env = o.env ?? process.env;
  const servers = o.servers ?? env.NATS_URL ?? DEFAULT_NATS_URL;
  const { authenticator, source } = natsCredentials(o.user, env);
  return {
    servers: servers.split(',').map((s) => s.trim()).filter(Boolean),
    name: o.name ?? `bulwark-${o.user}`,
    ...(authenticator ? { authenticator } : {}),
    ...((o.reconnect ?? 'forever') === 'forever' ? { maxReconnectAttempts: -1, reconnectTimeWait: 500 } : { reconnect: false, maxReconnectAttempts: 0 }),
    ...(o.timeoutMs !== undefined ? { timeout: o.timeoutMs } : {}),
    credentialSource: source,
  };
}

/**
 * Connect as `o.user` ({@link natsConnectionOptions}); tests' harnesses connect as `admin`.
 * @throws NatsConnectError naming the server, the user and where the credentials came from
 * @throws NatsCredentialsError when a named credential file is missing or malformed
 */
export async function connectNats(o: NatsConnectOptions): Promise<NatsConnection> {
  const { credentialSource, ...opts } = natsConnectionOptions(o);
  try {
    return await connect(opts);
  } catch (e) {
    throw new NatsConnectError((opts.servers as string[]).join(','), o.user, credentialSource, (e as { code?: string }).code, e);
  }
}

/**
 * How to start a private nats-server with Bulwark's authorization (tests, fault runs): the
 * rendered config `var/nats/nats-server.private.conf` (the local server's authorization without
 * its store; scripts/nats-auth.js, run by `npm run setup`), JetStream with its store in `storeDir`, on `127.0.0.1:<port>`. Connect to it with
 * the local credentials. NATS_SERVER_BIN overrides the binary (default `nats-server` on the PATH).
 * @throws NatsCredentialsError when the rendered config is missing (set-up has not run)
 */
export function privateNatsServerCommand(port: number, storeDir: string, env: NodeJS.ProcessEnv = process.env): { bin: string; args: string[] } {
  const root = findRoot();
  const config = root ? path.join(root, 'var', 'nats', 'nats-server.private.conf') : null;
  if (!config || !existsSync(config)) throw new NatsCredentialsError(`${config ?? 'var/nats/nats-server.private.conf'} is missing: run \`npm run setup\` (scripts/nats-auth.js local) first`);
  return { bin: env.NATS_SERVER_BIN || 'nats-server', args: ['-c', config, '-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(port)] };
}

/**
 * Whether JetStream pushed `m` here rather than a client publishing it: a push consumer's
 * deliver subject can name any subject, and the server does not check it against the
 * creator's publish permissions (nats-server 2.9), so a user who may create consumers could
 * aim stored messages it wrote at a core subject (a clock step, a command). Such a delivery
 * keeps the stored message's subject and carries a `$JS.ACK.` reply; Bulwark never sends
 * requests or market data that way, so subscribers refuse these.
 */
export function deliveredByJetStream(m: { subject: string; reply?: string }, subscribed: string): boolean {
  if (m.reply?.startsWith('$JS.ACK.')) return true;
  // A literal subscription only ever sees its own subject from a publisher.
  return !subscribed.includes('*') && !subscribed.includes('>') && m.subject !== subscribed;
}
