// The gateway's users and credentials, shared by the gateway and `bulwark user` (no Nest here).
// Who a user is and their role are EVENTS (stream `user-<username>`: UserCreated, UserRoleChanged,
// UserDisabled); secrets are NOT: password hashes, API-key hashes and refresh-token hashes live in
// the JetStream key-value bucket `bulwark-credentials`, which only the gateway (and set-up as
// `admin`) may read (deploy/nats/permissions.js; docs/security.md "Gateway users").
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { type EventData, type RecordedEvent, Streams, type UserRole, Username } from '@bulwark/contracts';
import type { EventStore } from '@bulwark/event-store';
import type { KV, NatsConnection } from 'nats';
import { EventAppender } from './appender';

/** The credentials bucket's production name (BULWARK_CREDENTIALS_BUCKET overrides it: tests use random ones). */
export const CREDENTIALS_BUCKET = 'bulwark-credentials';

/** `BULWARK_CREDENTIALS_BUCKET`, default {@link CREDENTIALS_BUCKET}. */
export function credentialsBucketFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.BULWARK_CREDENTIALS_BUCKET || CREDENTIALS_BUCKET;
}

/** A user, as its events left it. */
export interface UserRecord {
  username: string;
  role: UserRole;
  disabled: boolean;
  /** When it was created (the UserCreated event's tsEvent, epoch ms). */
  createdAt: number;
}

/** A refused user operation (unknown user, existing user, bad name): the CLI and the gateway show `message`. */
export class UserStoreError extends Error {
  constructor(readonly code: 'UNKNOWN_USER' | 'USER_EXISTS' | 'INVALID_USERNAME' | 'USER_DISABLED' | 'CREDENTIALS_BUCKET_MISSING', message: string) {
    super(message);
    this.name = 'UserStoreError';
  }
}

/** What is stored for an API key (its secret part only as a SHA-256 hash). */
export interface ApiKeyRecord {
  /** Public id, the key's second part (`bwk_<id>_<secret>`). */
  id: string;
  username: string;
  /** The key's role: never above its user's current role (the guard takes the lower of the two). */
  role: UserRole;
  label: string;
  /** SHA-256 (hex) of the whole key. */
  hash: string;
  createdAt: number;
  createdBy: string;
}

/** What is stored for a refresh token, under the SHA-256 of the token. */
export interface RefreshTokenRecord {
  username: string;
  /** Epoch ms after which the token is refused. */
  expiresAt: number;
}

/** SHA-256 of a string, lower-case hex. */
export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** Equal hex digests, compared in constant time (no timing hint about how much of a key matched). */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** The Argon2 binding, loaded on first use: the services import this library and never hash. */
function argon2(): typeof import('@node-rs/argon2') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@node-rs/argon2') as typeof import('@node-rs/argon2');
}

/**
 * Argon2id hash of a password (PHC string with salt and parameters: OWASP's 19 MiB, 2 passes).
 * Passwords are low-entropy, so they get a slow, memory-hard hash.
 */
export async function hashPassword(password: string): Promise<string> {
  const { Algorithm, hash } = argon2();
  return hash(password, { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
}

/** Whether `password` matches an Argon2 PHC hash; false (never throws) for a malformed hash. */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  try {
    return await argon2().verify(phc, password);
  } catch {
    return false;
  }
}

/** A PHC string of a password nobody has: login checks it when the user is unknown, so both paths take as long. */
let dummyHash: Promise<string> | null = null;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomUUID());
  return dummyHash;
}

/**
 * Create the credentials bucket when missing (set-up and test harnesses, as NATS user `admin`):
 * one value per key (history 1), file storage.
 */
export async function createCredentialsBucket(nc: NatsConnection, bucket: string = credentialsBucketFromEnv()): Promise<void> {
  await nc.jetstream().views.kv(bucket, { history: 1 });
}

/** Delete a credentials bucket (test harnesses, as `admin`); a missing one is fine. */
export async function dropCredentialsBucket(nc: NatsConnection, bucket: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The credentials bucket. Keys: `password.<username>` (Argon2id PHC string), `apikey.<id>`
 * ({@link ApiKeyRecord}), `refresh.<sha256 of the token>` ({@link RefreshTokenRecord}).
 * Values never hold a secret in the clear.
 */
export class CredentialsStore {
  private constructor(private readonly kv: KV) {}

  /**
   * Bind to an existing bucket (the gateway may not create it).
   * @throws UserStoreError CREDENTIALS_BUCKET_MISSING naming the bucket when set-up has not created it
   */
  static async open(nc: NatsConnection, bucket: string = credentialsBucketFromEnv()): Promise<CredentialsStore> {
    try {
      return new CredentialsStore(await nc.jetstream().views.kv(bucket, { bindOnly: true }));
    } catch (e) {
      throw new UserStoreError('CREDENTIALS_BUCKET_MISSING', `credentials bucket ${bucket} is not available (${(e as Error).message}); run \`npm run setup\` (scripts/nats-streams.js creates it as NATS user admin)`);
    }
  }

  private async getJson<T>(key: string): Promise<{ value: T; revision: number } | null> {
    const e = await this.kv.get(key);
    if (!e || e.operation !== 'PUT' || e.value.length === 0) return null;
    return { value: JSON.parse(dec.decode(e.value)) as T, revision: e.revision };
  }

  /** Store a user's password hash (Argon2id PHC string), replacing any previous one. */
  async setPasswordHash(username: string, phc: string): Promise<void> {
    await this.kv.put(`password.${username}`, enc.encode(phc));
  }

  /** A user's password hash, or null when none is stored. */
  async passwordHash(username: string): Promise<string | null> {
    const e = await this.kv.get(`password.${username}`);
    return e && e.operation === 'PUT' && e.value.length > 0 ? dec.decode(e.value) : null;
  }

  async putApiKey(r: ApiKeyRecord): Promise<void> {
    await this.kv.put(`apikey.${r.id}`, enc.encode(JSON.stringify(r)));
  }

  async apiKey(id: string): Promise<ApiKeyRecord | null> {
    return (await this.getJson<ApiKeyRecord>(`apikey.${id}`))?.value ?? null;
  }

  /** Every API key's record (without secrets: only hashes are stored). */
  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const out: ApiKeyRecord[] = [];
    for await (const k of await this.kv.keys('apikey.*')) {
      const r = await this.getJson<ApiKeyRecord>(k);
      if (r) out.push(r.value);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Revoke an API key; false when there was none with that id. */
  async deleteApiKey(id: string): Promise<boolean> {
    if (!(await this.apiKey(id))) return false;
    await this.kv.purge(`apikey.${id}`);
    return true;
  }

  async putRefreshToken(tokenHash: string, r: RefreshTokenRecord): Promise<void> {
    await this.kv.put(`refresh.${tokenHash}`, enc.encode(JSON.stringify(r)));
  }

  /**
   * Take a refresh token: return its record and delete it, atomically (a token used twice at
   * once is honoured once: the delete names the revision read). Null when unknown or already taken.
   */
  async takeRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const got = await this.getJson<RefreshTokenRecord>(`refresh.${tokenHash}`);
    if (!got) return null;
    try {
      await this.kv.delete(`refresh.${tokenHash}`, { previousSeq: got.revision });
    } catch {
      return null; // someone else took it first
    }
    return got.value;
  }
}

/** The user a stream's events describe, or null when there is no UserCreated. */
export function foldUser(events: RecordedEvent[]): UserRecord | null {
  let u: UserRecord | null = null;
  for (const e of events) {
    if (e.type === 'UserCreated') {
      const d = e.data as EventData<'UserCreated'>;
      u = { username: d.username, role: d.role, disabled: false, createdAt: e.metadata.tsEvent };
    } else if (u !== null && e.type === 'UserRoleChanged') u.role = (e.data as EventData<'UserRoleChanged'>).role;
    else if (u !== null && e.type === 'UserDisabled') u.disabled = true;
  }
  return u;
}

/** A user as the log holds it, or null. @throws UserStoreError INVALID_USERNAME */
export async function readUser(store: EventStore, username: string): Promise<UserRecord | null> {
  checkUsername(username);
  return foldUser(await store.readStream(Streams.user(username)));
}

/** Every user in the log, by name. */
export async function listUsers(store: EventStore): Promise<UserRecord[]> {
  const byStream = new Map<string, RecordedEvent[]>();
  for await (const e of store.readAll({ categories: ['user'] })) {
    const list = byStream.get(e.streamId) ?? [];
    list.push(e);
    byStream.set(e.streamId, list);
  }
  return [...byStream.values()].map(foldUser).filter((u): u is UserRecord => u !== null).sort((a, b) => a.username.localeCompare(b.username));
}

function checkUsername(username: string): void {
  const r = Username.safeParse(username);
  if (!r.success) throw new UserStoreError('INVALID_USERNAME', `username ${JSON.stringify(username)}: ${r.error.issues[0]?.message ?? 'invalid'}`);
}

async function appendUserEvent<T extends 'UserCreated' | 'UserRoleChanged' | 'UserDisabled'>(store: EventStore, type: T, data: EventData<T>, expected: 'no_stream' | number): Promise<void> {
  const appender = new EventAppender(store);
  const requestId = randomUUID();
  const events = appender.toNewEvents([{ type, data } as never], { tsEvent: Date.now(), correlationId: requestId, causationId: requestId });
  await store.append(Streams.user(data.username), events, expected);
}

/**
 * Create a user: UserCreated in `user-<username>`, then the password's Argon2id hash in the bucket.
 * @throws UserStoreError USER_EXISTS or INVALID_USERNAME
 */
export async function createUser(store: EventStore, creds: CredentialsStore, u: { username: string; role: UserRole; password: string; by: string }): Promise<UserRecord> {
  checkUsername(u.username);
  if (await readUser(store, u.username)) throw new UserStoreError('USER_EXISTS', `user ${u.username} already exists`);
  // Hash first: a user is never recorded without a way to log in, and the event's append is the commit.
  const phc = await hashPassword(u.password);
  await creds.setPasswordHash(u.username, phc);
  await appendUserEvent(store, 'UserCreated', { username: u.username, role: u.role, by: u.by }, 'no_stream');
  return (await readUser(store, u.username)) as UserRecord;
}

async function existing(store: EventStore, username: string): Promise<{ user: UserRecord; revision: number }> {
  checkUsername(username);
  const events = await store.readStream(Streams.user(username));
  const user = foldUser(events);
  if (!user) throw new UserStoreError('UNKNOWN_USER', `no user ${username}`);
  return { user, revision: events[events.length - 1].revision };
}

/** Change a user's role (UserRoleChanged). @throws UserStoreError UNKNOWN_USER, USER_DISABLED */
export async function changeUserRole(store: EventStore, username: string, role: UserRole, by: string): Promise<UserRecord> {
  const { user, revision } = await existing(store, username);
  if (user.disabled) throw new UserStoreError('USER_DISABLED', `user ${username} is disabled`);
  if (user.role !== role) await appendUserEvent(store, 'UserRoleChanged', { username, role, by }, revision);
  return { ...user, role };
}

/** Disable a user (UserDisabled): it can no longer log in, and its tokens and API keys stop working. @throws UserStoreError UNKNOWN_USER */
export async function disableUser(store: EventStore, username: string, by: string, reason: string): Promise<UserRecord> {
  const { user, revision } = await existing(store, username);
  if (!user.disabled) await appendUserEvent(store, 'UserDisabled', { username, by, reason }, revision);
  return { ...user, disabled: true };
}
