import { isDeepStrictEqual } from 'node:util';
import { type InstrumentRules, Streams, Symbol as SymbolId, type VenueId, event } from '@bulwark/contracts';
import { type Rules, RulesParseError, rulesFromContract } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import { InstrumentNotRecordedError, recordedInstrumentRules, resolveDataDir } from '@bulwark/market-data';
import type { EventAppender } from '@bulwark/messaging';
import type { ExecutionState } from './state';
import { VenueConfigError } from '../venue-config';
import { venuesLib } from '../venues-lib';

/**
 * Execution could not get a symbol's instrument rules, so it cannot trade it.
 * `code`: UNKNOWN_SYMBOL when the venue (or, for a venue without its own rules source, the
 * recorded data) does not list the symbol or gives no usable rules for it; RULES_UNAVAILABLE
 * when asking failed (the venue did not answer, the data directory is missing): a later
 * attempt may succeed. `reason` is the underlying error's message; `cause` the error itself.
 */
export class InstrumentRulesError extends Error {
  constructor(
    readonly venue: VenueId,
    readonly symbol: string,
    readonly code: 'UNKNOWN_SYMBOL' | 'RULES_UNAVAILABLE',
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`no instrument rules for ${venue} ${symbol} (${code}): ${reason}`, options);
    this.name = 'InstrumentRulesError';
  }
}

/** What loading a symbol's rules needs: the shared state (its venue, the rules map the venue reads, loads in flight) and the log. */
export interface InstrumentRulesDeps {
  readonly state: Pick<ExecutionState, 'venue' | 'venueId' | 'rules' | 'rulesLoads'>;
  readonly store: EventStore;
  readonly appender: EventAppender;
}

/** The symbols execution loads at start-up whatever the log holds. */
export const DEFAULT_EXECUTION_SYMBOLS = ['BTCUSDT'];

/**
 * BULWARK_SYMBOLS: the symbols whose rules execution loads and records at start-up (comma
 * list of venue ids, case-insensitive, default BTCUSDT), so risk, which sizes entries with
 * the recorded rules, can approve entries on them. Any other symbol's rules are loaded when
 * execution first needs them.
 * @returns the distinct symbols, upper case, in the order given
 * @throws VenueConfigError when the list is empty or names something that is not a symbol id
 */
export function executionSymbolsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const symbols = (env.BULWARK_SYMBOLS ?? DEFAULT_EXECUTION_SYMBOLS.join(',')).split(',').map((x) => x.trim().toUpperCase()).filter(Boolean);
  if (symbols.length === 0) throw new VenueConfigError('BULWARK_SYMBOLS names no symbol (e.g. BTCUSDT,ETHUSDT)');
  for (const sym of symbols) if (!SymbolId.safeParse(sym).success) throw new VenueConfigError(`BULWARK_SYMBOLS: "${sym}" is not a symbol such as BTCUSDT`);
  return [...new Set(symbols)];
}

/**
 * The rules of `symbol`, loaded the first time a symbol is needed: from the venue itself when
 * it reports rules (a ccxt venue: the exchange's filters and the account's leverage brackets or
 * position tiers), else from the recorded files (`recordedInstrumentRules`). They are recorded
 * (`InstrumentRulesRecorded` on `rules-<venue>-<symbol>`) when they differ from the last
 * recorded, then put in the rules map the venue reads. Idempotent: a symbol already in the
 * map is answered from it, and concurrent calls for one symbol share one load. A failed load
 * is not kept: the next call tries again.
 * @throws InstrumentRulesError when the rules cannot be had (UNKNOWN_SYMBOL or RULES_UNAVAILABLE, with the reason)
 * @throws Error from the log when the rules were had but could not be recorded (nothing is put in the map then)
 */
export function ensureInstrumentRules(deps: InstrumentRulesDeps, symbol: string): Promise<Rules> {
  const have = deps.state.rules.get(symbol);
  if (have) return Promise.resolve(have);
  let load = deps.state.rulesLoads.get(symbol);
  if (!load) {
    load = loadAndRecord(deps, symbol).finally(() => deps.state.rulesLoads.delete(symbol));
    deps.state.rulesLoads.set(symbol, load);
  }
  return load;
}

/**
 * `ensureInstrumentRules` for several symbols, one after the other (a venue's request weight is
 * shared), every symbol tried whatever the others do.
 * @returns the failures per symbol (empty when every symbol has its rules)
 */
export async function ensureInstrumentRulesOf(deps: InstrumentRulesDeps, symbols: Iterable<string>): Promise<Map<string, Error>> {
  const failed = new Map<string, Error>();
  for (const symbol of new Set(symbols)) {
    try {
      await ensureInstrumentRules(deps, symbol);
    } catch (e) {
      failed.set(symbol, e as Error);
    }
  }
  return failed;
}

async function loadAndRecord(deps: InstrumentRulesDeps, symbol: string): Promise<Rules> {
  const venue = deps.state.venue;
  const venueId = deps.state.venueId;
  let got: { contract: InstrumentRules; source: string };
  try {
    const { isInstrumentRulesSource } = venuesLib();
    got = isInstrumentRulesSource(venue) ? await venue.instrumentRules(symbol) : recordedInstrumentRules(resolveDataDir(), venueId, symbol);
  } catch (e) {
    // Not listed, or nothing that parses as its rules: the venue does not trade it. Anything else (a call that failed) may pass later.
    const unknown = e instanceof InstrumentNotRecordedError || e instanceof RulesParseError;
    throw new InstrumentRulesError(venueId, symbol, unknown ? 'UNKNOWN_SYMBOL' : 'RULES_UNAVAILABLE', e instanceof Error ? e.message : String(e), { cause: e });
  }
  const { contract, source } = got;
  if (contract.symbol !== symbol) throw new InstrumentRulesError(venueId, symbol, 'UNKNOWN_SYMBOL', `${source} answered the rules of ${contract.symbol}`);
  const streamId = Streams.rules(venueId, symbol);
  const existing = await deps.store.readStream(streamId);
  const last = existing[existing.length - 1];
  const recorded = { ...contract, source };
  if (!last || !isDeepStrictEqual(last.data, recorded)) {
    await deps.appender.append(streamId, [event('InstrumentRulesRecorded', recorded)], last ? last.revision : 'no_stream', {
      tsEvent: Date.now(),
      correlationId: `rules-${venueId}-${symbol}`,
      causationId: `rules-${venueId}-${symbol}`,
    });
  }
  const rules = rulesFromContract(contract);
  deps.state.rules.set(symbol, rules);
  return rules;
}
