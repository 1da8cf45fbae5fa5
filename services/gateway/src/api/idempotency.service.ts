import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { KV, NatsConnection } from 'nats';
import { HttpRefusal } from '../security/http-errors';
import { GATEWAY_NATS } from '../tokens';
import { API_OPTIONS, type ApiOptions } from './api-options';

const KEY = /^[\x21-\x7e]{1,128}$/;

/** What the bucket holds per (user, key): the command's route, and its answer once it has one. */
interface Entry {
  route: string;
  /** When the first request started (epoch ms). */
  startedAt: number;
  done: boolean;
  answer?: unknown;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * `Idempotency-Key` for commands, kept in a JetStream key-value bucket so a key outlives a
 * gateway restart: the first request for a (user, key) claims it atomically (`create`, which
 * fails when the key exists), runs the command and stores its answer; a repeat gets that answer
 * again and nothing is sent or recorded anew. A repeat that arrives while the first runs waits
 * for its answer (up to `pendingWaitMs`). A refusal is not kept: the command recorded nothing,
 * so sending it again is a new attempt.
 *
 * A gateway that died between claiming a key and storing the answer leaves the key claimed
 * without an answer: a repeat is then refused 409 IDEMPOTENCY_OUTCOME_UNKNOWN — the command may
 * or may not have been recorded, and the account's log says which — rather than run twice.
 */
@Injectable()
export class IdempotencyService {
  private kv: Promise<KV> | null = null;

  constructor(
    @Inject(API_OPTIONS) private readonly opts: ApiOptions,
    @Inject(GATEWAY_NATS) private readonly nc: NatsConnection,
  ) {}

  private bucket(): Promise<KV> {
    this.kv ??= this.nc
      .jetstream()
      .views.kv(this.opts.idempotencyBucket, { bindOnly: true })
      .catch((e: unknown) => {
        this.kv = null;
        throw new HttpRefusal(503, 'SERVICE_UNAVAILABLE', `the idempotency bucket ${this.opts.idempotencyBucket} is not available (${(e as Error).message}); run npm run setup`);
      });
    return this.kv;
  }

  /**
   * Run `command` once per (user, key): without a key it simply runs.
   * @param route method and path of the command; the same key on another route is refused 422 IDEMPOTENCY_KEY_REUSED
   * @throws HttpRefusal 400 for a malformed key (1..128 visible ASCII characters); 409
   *   IDEMPOTENCY_IN_PROGRESS when the first request is still running after `pendingWaitMs`, 409
   *   IDEMPOTENCY_OUTCOME_UNKNOWN when it never stored an answer; 503 when the bucket is missing
   */
  async run<T>(username: string, key: string | undefined, route: string, command: () => Promise<T>): Promise<T> {
    if (key === undefined) return command();
    if (!KEY.test(key)) throw new HttpRefusal(400, 'INVALID_INPUT', 'Idempotency-Key: 1..128 visible ASCII characters', 'Idempotency-Key', 'expected 1..128 visible ASCII characters');
    const kv = await this.bucket();
    // Bucket keys allow few characters: the (user, key) pair is hashed, which also keeps the user's key out of the bucket.
    const id = createHash('sha256').update(`${username}\u0000${key}`).digest('hex');
    const claim: Entry = { route, startedAt: Date.now(), done: false };
    for (let attempt = 0; ; attempt++) {
      try {
        await kv.create(id, enc.encode(JSON.stringify(claim)));
        break;
      } catch {
        const first = await this.earlier(kv, id, route);
        // The first request was refused and let go of the key while we looked: this one is a new attempt.
        if (first.found) return first.answer as T;
        if (attempt >= 2) throw new HttpRefusal(409, 'IDEMPOTENCY_IN_PROGRESS', 'other requests with this Idempotency-Key keep running; repeat it later');
      }
    }
    let answer: T;
    try {
      answer = await command();
    } catch (e) {
      await kv.delete(id).catch(() => undefined);
      throw e;
    }
    await kv.put(id, enc.encode(JSON.stringify({ ...claim, done: true, answer } satisfies Entry)));
    return answer;
  }

  /** The answer of the request that claimed `id` first, waiting while it runs; not found when it let go of the key. */
  private async earlier(kv: KV, id: string, route: string): Promise<{ found: true; answer: unknown } | { found: false }> {
    const deadline = Date.now() + this.opts.pendingWaitMs;
    for (;;) {
      const got = await kv.get(id);
      if (!got || got.operation !== 'PUT' || got.value.length === 0) return { found: false };
      const e = JSON.parse(dec.decode(got.value)) as Entry;
      if (e.route !== route) throw new HttpRefusal(422, 'IDEMPOTENCY_KEY_REUSED', `this Idempotency-Key was used for ${e.route}`, 'Idempotency-Key', 'already used for another command');
      if (e.done) return { found: true, answer: e.answer };
      if (Date.now() - e.startedAt > this.opts.requestTimeoutMs + this.opts.entryDecisionWaitMs + 5_000) {
        throw new HttpRefusal(409, 'IDEMPOTENCY_OUTCOME_UNKNOWN', `the first request with this Idempotency-Key (started ${new Date(e.startedAt).toISOString()}) never finished; read the account's events or audit to see whether it was recorded`);
      }
      if (Date.now() > deadline) throw new HttpRefusal(409, 'IDEMPOTENCY_IN_PROGRESS', 'the first request with this Idempotency-Key is still running; repeat it later');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
