import { Inject, Injectable } from '@nestjs/common';
import { HttpRefusal } from '../security/http-errors';
import { API_OPTIONS, type ApiOptions } from './api-options';

/** At most this many answers are kept (the oldest go first), so a flood of keys cannot exhaust memory. */
const MAX_ENTRIES = 10_000;
const KEY = /^[\x21-\x7e]{1,128}$/;

interface Entry {
  route: string;
  expires: number;
  answer: Promise<unknown>;
}

/**
 * `Idempotency-Key` for commands: the first answer to a (user, key) is kept for `idempotencyTtlMs`
 * (24 h); a repeat gets that answer again and nothing is sent or recorded anew. A repeat that
 * arrives while the first is still running waits for it. A refusal is not kept (the command
 * recorded nothing; sending it again is a new attempt).
 *
 * Kept in the gateway's memory: answers are lost when the gateway restarts, and replicas do not
 * share them. The services refuse a repeated account open and a repeated attach by themselves,
 * and a repeated kill switch, resume, flatten, close or cancel is harmless, so a lost key costs
 * at most a second recorded command, never a second position.
 */
@Injectable()
export class IdempotencyService {
  private readonly entries = new Map<string, Entry>();

  constructor(@Inject(API_OPTIONS) private readonly opts: ApiOptions) {}

  /**
   * Run `command` once per (user, key): without a key it simply runs.
   * @param route method and path of the command; the same key on another route is refused 422 IDEMPOTENCY_KEY_REUSED
   * @throws HttpRefusal 400 for a malformed key (1..128 visible ASCII characters)
   */
  async run<T>(username: string, key: string | undefined, route: string, command: () => Promise<T>): Promise<T> {
    if (key === undefined) return command();
    if (!KEY.test(key)) throw new HttpRefusal(400, 'INVALID_INPUT', 'Idempotency-Key: 1..128 visible ASCII characters', 'Idempotency-Key', 'expected 1..128 visible ASCII characters');
    const now = Date.now();
    this.expire(now);
    const id = `${username}\u0000${key}`;
    const seen = this.entries.get(id);
    if (seen) {
      if (seen.route !== route) throw new HttpRefusal(422, 'IDEMPOTENCY_KEY_REUSED', `this Idempotency-Key was used for ${seen.route}`, 'Idempotency-Key', 'already used for another command');
      return seen.answer as Promise<T>;
    }
    const answer = command();
    this.entries.set(id, { route, expires: now + this.opts.idempotencyTtlMs, answer });
    answer.catch(() => this.entries.delete(id));
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    return answer;
  }

  private expire(now: number): void {
    for (const [id, e] of this.entries) {
      if (e.expires > now) break; // insertion order = expiry order (one TTL)
      this.entries.delete(id);
    }
  }
}
