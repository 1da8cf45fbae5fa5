import { type EventData, Streams } from '@bulwark/contracts';
import { type Rules, rulesFromContract } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';

/**
 * The instrument rules in force, as recorded on the `rules-<venue>-<symbol>` streams: kept
 * from the `InstrumentRulesRecorded` events a service consumes, read from the stream the
 * first time a symbol is needed (e.g. after a restart).
 */
export class RulesBook {
  private readonly rules = new Map<string, Rules>();

  constructor(private readonly store: EventStore) {}

  recorded(r: EventData<'InstrumentRulesRecorded'>): void {
    this.rules.set(`${r.venue}:${r.symbol}`, rulesFromContract(r));
  }

  /** The latest recorded rules, or null when none were ever recorded. */
  async find(venue: string, symbol: string): Promise<Rules | null> {
    const key = `${venue}:${symbol}`;
    if (!this.rules.has(key)) {
      const last = (await this.store.readStream(Streams.rules(venue, symbol))).filter((e) => e.type === 'InstrumentRulesRecorded').pop();
      if (last) this.recorded(last.data as EventData<'InstrumentRulesRecorded'>);
    }
    return this.rules.get(key) ?? null;
  }

  /** Like `find`, but a missing record is an error (no trading without rules). */
  async get(venue: string, symbol: string): Promise<Rules> {
    const r = await this.find(venue, symbol);
    if (!r) throw new Error(`no instrument rules recorded for ${venue} ${symbol}`);
    return r;
  }
}

/** 00:00 UTC of the first day of every month in (from, to]: the times of a monthly operator review. */
export function monthStarts(from: number, to: number): number[] {
  const out: number[] = [];
  const d = new Date(from);
  for (let y = d.getUTCFullYear(), m = d.getUTCMonth() + 1; ; m++) {
    const t = Date.UTC(y, m, 1);
    if (t > to) return out;
    out.push(t);
  }
}
