import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { KV, NatsConnection } from 'nats';
import { StorageType, nanos } from 'nats';
import type { BusConfig } from './config';
import { jetStreamApiCode } from './nats-connect';
import { systemTime } from './replay-clock';

// Which instance of a service acts (docs/architecture.md "Standby and takeover"): the holder of
// its lease in a JetStream key-value bucket. Taking the lease is a create (expected revision 0);
// keeping it, an update with the revision last seen, so two holders can never both succeed. The
// bucket's max age is the TTL: a holder that stops renewing (SIGKILL, a lost node) loses the key
// TTL after its last renewal and a standby's create then succeeds. A graceful stop deletes the
// key (only its own revision), and a standby polling every `pollMs` takes over at once.

/** The key-value bucket of service leases (set-up creates it as NATS user `admin`). */
export const LEASE_BUCKET = 'bulwark-leases';
/** Default lease TTL (the bucket's max age): a dead holder's lease ends this long after its last renewal. */
export const DEFAULT_LEASE_TTL_MS = 5_000;

/** The lease bucket named by BULWARK_LEASE_BUCKET (default {@link LEASE_BUCKET}). */
export function leaseBucketFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.BULWARK_LEASE_BUCKET || LEASE_BUCKET;
}

/**
 * The lease TTL of BULWARK_LEASE_TTL_SECONDS (default 5 s), as set-up gives it to the bucket.
 * @throws LeaseConfigError when it is not a number in [1, 300]
 */
export function leaseTtlMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BULWARK_LEASE_TTL_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_LEASE_TTL_MS;
  const s = Number(raw);
  if (!Number.isFinite(s) || s < 1 || s > 300) throw new LeaseConfigError(`BULWARK_LEASE_TTL_SECONDS must be a number of seconds in [1, 300], got "${raw}"`);
  return Math.round(s * 1000);
}

export class LeaseConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaseConfigError';
  }
}

/** The lease bucket is missing (set-up not run on this NATS server). */
export class LeaseBucketMissingError extends Error {
  constructor(readonly bucket: string, cause: unknown) {
    super(`the lease bucket ${bucket} does not exist or cannot be read (${String(cause)}); run the set-up (scripts/nats-streams.js) as NATS user admin`);
    this.name = 'LeaseBucketMissingError';
  }
}

/**
 * Create the lease bucket when missing, or set its TTL when it differs (as `admin`: services may
 * not create streams). File storage, one value per key.
 * @throws Error when JetStream refuses
 */
export async function createLeaseBucket(nc: NatsConnection, bucket: string = leaseBucketFromEnv(), ttlMs: number = leaseTtlMsFromEnv()): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const stream = `KV_${bucket}`;
  const info = await jsm.streams.info(stream).catch(() => null);
  if (info && info.config.max_age !== nanos(ttlMs)) {
    await jsm.streams.update(stream, { ...info.config, max_age: nanos(ttlMs) });
    return;
  }
  await nc.jetstream().views.kv(bucket, { history: 1, ttl: ttlMs, storage: StorageType.File });
}

/** What a lease's value says: who holds it, since when, and whether it already acts. */
export interface LeaseHolder {
  instance: string;
  host: string;
  pid: number;
  /** Epoch ms the holder took the lease. */
  since: number;
  /** `acquired` while the holder rebuilds its state; `active` once it acts. */
  phase: 'acquired' | 'active';
}

/** How this instance came to hold the lease. */
export interface LeaseTakeover {
  /** FIRST: nobody held it; RELEASED: the holder handed it over (graceful stop); EXPIRED: the holder stopped renewing (it died). */
  reason: 'FIRST' | 'RELEASED' | 'EXPIRED';
  /** The instance that held it before, when known. */
  previous: string | null;
  /** Epoch ms the lease became free, when known (a release's time; an expiry is seen, not timed, by the server). */
  freedAt: number | null;
  /** Epoch ms this instance took it. */
  acquiredAt: number;
  /** How long this instance waited as a standby (ms). */
  waitedMs: number;
}

export interface ServiceLeaseOptions {
  nc: NatsConnection;
  service: string;
  bus: Pick<BusConfig, 'esStream'>;
  bucket?: string;
  /** This instance's id (default `<host>-<pid>-<random>`). */
  instance?: string;
  /** How often a standby looks whether the lease is free (ms, default 100). */
  pollMs?: number;
  /** Called once when the lease is found lost while held (another instance holds it): stop acting at once. */
  onLost?: (detail: string) => void;
  /** Called on renewal trouble that does not (yet) lose the lease (NATS away). */
  onWarning?: (detail: string) => void;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** JetStream's "wrong last sequence" (the key moved on since the revision we gave). */
const WRONG_LAST_SEQUENCE = 10071;

/**
 * One service instance's lease. `acquire()` waits as a standby until this instance holds it;
 * the lease is then renewed every TTL/5 until `release()` (graceful: deleted at once) or until it
 * is found held by another instance (`onLost`). `valid()` says whether this instance may act
 * now: it holds the lease and its last renewal is younger than the TTL (a process frozen for
 * longer — SIGSTOP, a long GC pause — must not ack or answer before it has renewed).
 */
export class ServiceLease {
  readonly instance: string;
  readonly key: string;
  private kv: KV | null = null;
  private ttlMs = DEFAULT_LEASE_TTL_MS;
  private revision = 0;
  private holder: LeaseHolder | null = null;
  private lastRenewedAt = 0;
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  private state: 'standby' | 'held' | 'lost' | 'released' = 'standby';
  private readonly stopWaiting = new AbortController();
  /** Who holds the lease as last seen by this standby (for readiness and logs). */
  currentHolder: LeaseHolder | null = null;

  constructor(private readonly o: ServiceLeaseOptions) {
    this.instance = o.instance ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    // Keys may hold letters, digits, '-', '_', '=', '/' and '.' (a token separator).
    this.key = `${o.service}.${o.bus.esStream}`.replace(/[^A-Za-z0-9_=/.-]/g, '_');
  }

  /**
   * Bind the bucket and read its TTL.
   * @throws LeaseBucketMissingError when the bucket does not exist or may not be read
   */
  async open(): Promise<this> {
    const bucket = this.o.bucket ?? leaseBucketFromEnv();
    try {
      this.kv = await this.o.nc.jetstream().views.kv(bucket, { bindOnly: true });
      this.ttlMs = (await this.kv.status()).ttl || DEFAULT_LEASE_TTL_MS;
    } catch (e) {
      throw new LeaseBucketMissingError(bucket, e);
    }
    return this;
  }

  get role(): 'active' | 'standby' {
    return this.state === 'held' ? 'active' : 'standby';
  }

  get ttl(): number {
    return this.ttlMs;
  }

  /** This instance holds the lease and renewed it less than a TTL ago. */
  valid(now = Date.now()): boolean {
    return this.state === 'held' && now - this.lastRenewedAt < this.ttlMs;
  }

  /**
   * Wait as a standby until this instance holds the lease (at once when it is free).
   * @returns how it was taken over, or null when `abandon()` stopped the wait
   */
  async acquire(): Promise<LeaseTakeover | null> {
    const kv = this.bound();
    const started = Date.now();
    let lastHolder = null as LeaseHolder | null;
    const pollMs = this.o.pollMs ?? 100;
    while (!this.stopWaiting.signal.aborted) {
      let entry: Awaited<ReturnType<KV['get']>> = null;
      try {
        entry = await kv.get(this.key);
      } catch {
        // NATS away: look again.
        await systemTime.sleep(pollMs, this.stopWaiting.signal);
        continue;
      }
      if (entry && entry.operation === 'PUT') {
        // Held: note by whom, and look again.
        this.currentHolder = JSON.parse(dec.decode(entry.value)) as LeaseHolder;
        lastHolder = this.currentHolder;
        await systemTime.sleep(pollMs, this.stopWaiting.signal);
        continue;
      }
      // Free: released (a delete marker), expired (gone after a holder was seen) or never taken.
      const value: LeaseHolder = { instance: this.instance, host: hostname(), pid: process.pid, since: Date.now(), phase: 'acquired' };
      try {
        this.revision = await kv.create(this.key, enc.encode(JSON.stringify(value)));
      } catch (e) {
        // Another standby was quicker (or NATS went away): look again.
        if (jetStreamApiCode(e) !== WRONG_LAST_SEQUENCE) this.o.onWarning?.(`lease ${this.key}: ${String(e)}`);
        continue;
      }
      this.holder = value;
      this.lastRenewedAt = Date.now();
      this.state = 'held';
      this.currentHolder = value;
      this.scheduleRenewal();
      const released = entry !== null;
      const reason = released ? 'RELEASED' : lastHolder ? 'EXPIRED' : 'FIRST';
      return { reason, previous: lastHolder?.instance ?? null, freedAt: released ? entry!.created.getTime() : null, acquiredAt: value.since, waitedMs: value.since - started };
    }
    return null;
  }

  /** Stop a standby's wait (shutdown): `acquire()` returns null. */
  abandon(): void {
    this.stopWaiting.abort();
  }

  /** Mark the lease's value `active` (the holder has rebuilt its state and acts), for watchers and readiness. */
  async markActive(): Promise<void> {
    if (this.state !== 'held' || !this.holder) return;
    this.holder = { ...this.holder, phase: 'active' };
    await this.renew();
  }

  /**
   * Hand the lease over at once (graceful stop): stop renewing and delete the key, only if it
   * is still this instance's revision. Call it after the instance stopped acting.
   */
  async release(): Promise<void> {
    if (this.state !== 'held') {
      this.state = this.state === 'lost' ? 'lost' : 'released';
      this.abandon();
      return;
    }
    this.state = 'released';
    if (this.renewTimer) clearTimeout(this.renewTimer);
    await this.renewing?.catch(() => undefined);
    await this.bound().delete(this.key, { previousSeq: this.revision }).catch(() => undefined);
  }

  private bound(): KV {
    if (!this.kv) throw new Error('ServiceLease.open() was not called');
    return this.kv;
  }

  private scheduleRenewal(): void {
    if (this.state !== 'held') return;
    this.renewTimer = setTimeout(() => {
      this.renewing = this.renew().finally(() => this.scheduleRenewal());
    }, Math.max(50, Math.floor(this.ttlMs / 5)));
    // The process's connections keep it alive, not the lease.
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    if (this.state !== 'held' || !this.holder) return;
    const kv = this.bound();
    const sentAt = Date.now();
    const value = enc.encode(JSON.stringify(this.holder));
    try {
      this.revision = await kv.update(this.key, value, this.revision);
      this.lastRenewedAt = sentAt;
      return;
    } catch (e) {
      if (jetStreamApiCode(e) !== WRONG_LAST_SEQUENCE) {
        this.o.onWarning?.(`lease ${this.key}: renewal failed (${String(e)}); ${this.valid() ? 'still within the TTL' : 'past the TTL: not acting until renewed'}`);
        return;
      }
    }
    // The key moved on: another instance holds it, or it expired (NATS was away longer than the
    // TTL) and nobody took it — then this instance may take it back, since nobody acted meanwhile.
    try {
      const entry = await kv.get(this.key);
      const other = entry && entry.operation === 'PUT' ? (JSON.parse(dec.decode(entry.value)) as LeaseHolder) : null;
      if (other && other.instance !== this.instance) return this.lose(`held by ${other.instance} since ${new Date(other.since).toISOString()}`);
      if (other) {
        this.revision = entry!.revision;
        this.lastRenewedAt = sentAt;
        return;
      }
      this.revision = await kv.create(this.key, value);
      this.lastRenewedAt = sentAt;
      this.o.onWarning?.(`lease ${this.key}: it had expired (NATS away for longer than the TTL) and nobody had taken it: taken again`);
    } catch (e) {
      if (jetStreamApiCode(e) === WRONG_LAST_SEQUENCE) return this.lose('taken by another instance after it expired');
      this.o.onWarning?.(`lease ${this.key}: renewal failed (${String(e)})`);
    }
  }

  private lose(detail: string): void {
    if (this.state !== 'held') return;
    this.state = 'lost';
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.o.onLost?.(detail);
  }
}
