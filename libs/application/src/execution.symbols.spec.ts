/**
 * No symbol is hard-coded in execution: a symbol's instrument rules are loaded and recorded when
 * execution first needs them, and an entry on a symbol nobody lists ends as a recorded, typed
 * denial. In process: the paper venue, an in-memory log.
 *
 * What is recorded for ETHUSDT in this project: its filters (the whole exchangeInfo answer of
 * 2025-11-26 in ../shared/data/binance-usdm/exchange-info/, most likely testnet) and its leverage
 * brackets (data/venues/binance-usdm/ETHUSDT/, see data/venues/PROVENANCE.md). No ETHUSDT candles
 * or prices are recorded, so no ETHUSDT order here fills: the paper venue is never given an
 * ETHUSDT price, and it refuses a market order it has no price for. The tests assert what the
 * rules decide (rules recorded, leverage brackets, step size, placement, denial); the only
 * price used is a recorded BTCUSDT one (the 2025-11-21 00:00 UTC 1m bar's open).
 */
import { type EventData, type InstrumentRules, type RecordedEvent, Streams } from '@bulwark/contracts';
import { recordedLog } from '@bulwark/testing';
import { type Rules, RulesParseError, clientOrderIdFor, validateAccountConfig } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { instrumentFiles, leverageBracketFiles, readCandles, recordedInstrumentRules, resolveDataDir } from '@bulwark/market-data';
import { EventAppender } from '@bulwark/messaging';
import { PaperVenueAdapter, type VenuePort } from '@bulwark/venues';
import { ExecutionService } from './execution.service';
import { InstrumentRulesError, ensureInstrumentRules, executionSymbolsFromEnv } from './execution/instrument-rules';
import { ExecutionState } from './execution/state';
import { VenueConfigError } from './venue-config';

const AT = Date.parse('2025-11-21T00:00:00Z');
const ACCOUNT = 'multi-1';
const DATA = resolveDataDir();

/** The next event of the spec's log: numbered revision, position and id (`ev-<n>`), at AT. */
const recorded = recordedLog({ tsEvent: AT, correlationId: 'spec' });

/** An approval as risk records it, for a MARKET entry of `quantity` on `symbol` (the fields execution reads). */
function entryApproved(n: number, symbol: string, quantity: string): RecordedEvent<'EntryApproved', EventData<'EntryApproved'>> {
  const data = { clientOrderId: clientOrderIdFor(ACCOUNT, n, 'E'), accountId: ACCOUNT, venue: 'binance-usdm', symbol, side: 'BUY', type: 'MARKET', quantity, leverage: 5 } as unknown as EventData<'EntryApproved'>;
  return recorded('EntryApproved', Streams.account(ACCOUNT), data);
}

/** The recorded BTCUSDT 1m bar of 2025-11-21 00:00 UTC (shared/data). */
async function btcBarAt(openTime: number) {
  for await (const c of readCandles(instrumentFiles(DATA).defaultCandles)) if (c.openTime === openTime) return c;
  throw new Error(`no recorded BTCUSDT bar at ${openTime}`);
}

/** Execution on a new paper venue over `store`, with an account opened and configured (funded, one-way, isolated BTCUSDT). */
async function started(store = new InMemoryEventStore()) {
  let venue!: PaperVenueAdapter;
  let rules!: ReadonlyMap<string, Rules>;
  const svc = new ExecutionService(new EventAppender(store), store, async (r) => {
    rules = r;
    venue = new PaperVenueAdapter('binance-usdm', r);
    return { venue, reconcileSeconds: 0 };
  });
  await svc.onModuleInit();
  const cfg = validateAccountConfig({ accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 5, venueBalance: '10000' });
  if (!cfg.ok) throw new Error(cfg.error.message);
  await svc.onEvent(recorded('AccountOpened', Streams.account(ACCOUNT), cfg.value));
  return { store, svc, venue, rules };
}

const orderEvents = async (store: InMemoryEventStore, clientOrderId: string) => (await store.readStream(Streams.order(clientOrderId))).map((e) => ({ type: e.type, data: e.data as Record<string, unknown> }));
const rulesRecorded = async (store: InMemoryEventStore, symbol: string) => (await store.readStream(Streams.rules('binance-usdm', symbol))).map((e) => e.data as EventData<'InstrumentRulesRecorded'>);

describe('execution loads a symbol’s rules when it first needs them', () => {
  it('an entry on ETHUSDT: its rules loaded and recorded on rules-binance-usdm-ETHUSDT, the order placed with them', async () => {
    const { store, svc, rules } = await started();
    // Start-up loaded BULWARK_SYMBOLS (default BTCUSDT) only.
    expect([...rules.keys()]).toEqual(['BTCUSDT']);
    expect(await rulesRecorded(store, 'ETHUSDT')).toEqual([]);

    const entry = entryApproved(1, 'ETHUSDT', '0.015');
    await svc.onEvent(entry);

    const [rec, ...more] = await rulesRecorded(store, 'ETHUSDT');
    expect(more).toEqual([]);
    expect(rec.source).toMatch(/exchangeInfo-2025-11-26-testnet\.json#ETHUSDT \+ .*data\/venues\/binance-usdm\/ETHUSDT\/leverage-brackets\.json$/);
    expect([rec.symbol, rec.tickSize, rec.stepSize, rec.marketStepSize, rec.minNotional, rec.brackets.length]).toEqual(['ETHUSDT', '0.01', '0.001', '0.001', '20', 12]);
    expect(rules.get('ETHUSDT')!.tickSize.toString()).toBe('0.01');
    expect(rules.get('BTCUSDT')!.tickSize.toString()).toBe('0.1');

    // The venue set the leverage with ETHUSDT's brackets: at 5x up to bracket 8's cap, 320,000,000 USDT (BTCUSDT's is 480,000,000).
    const venueStream = (await store.readStream(Streams.venue(ACCOUNT, 'binance-usdm'))).map((e) => e.data as Record<string, unknown>);
    expect(venueStream).toContainEqual({ symbol: 'ETHUSDT', leverage: 5, maxNotional: '320000000' });

    // Recorded and sent: the venue checked 0.015 against ETHUSDT's MARKET step size (0.001) and
    // then refused it for want of an ETHUSDT price (none is recorded, none is made up).
    const id = entry.data.clientOrderId;
    const events = await orderEvents(store, id);
    expect(events.map((e) => e.type)).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderRejected']);
    expect(events[0].data).toMatchObject({ symbol: 'ETHUSDT', type: 'MARKET', quantity: '0.015', purpose: 'ENTRY', leverage: 5 });
    expect(events[2].data).toEqual({ clientOrderId: id, code: '-1121', message: 'Invalid symbol. (no market price yet)' });

    // Off ETHUSDT's step size: refused by the step check, naming the step.
    const off = entryApproved(2, 'ETHUSDT', '0.0105');
    await svc.onEvent(off);
    const refused = await orderEvents(store, off.data.clientOrderId);
    expect(refused[2]).toEqual({ type: 'OrderRejected', data: { clientOrderId: off.data.clientOrderId, code: '-1111', message: 'Precision is over the maximum defined for this asset. (quantity 0.0105, step 0.001)' } });
    // Loaded once: still one record.
    expect(await rulesRecorded(store, 'ETHUSDT')).toHaveLength(1);
  });

  it('an entry on a symbol no recording lists ends OrderDenied UNKNOWN_SYMBOL, and the next entry goes on', async () => {
    const { store, svc, venue } = await started();
    const unknown = entryApproved(1, 'NOSUCHUSDT', '1');
    await expect(svc.onEvent(unknown)).resolves.toBeUndefined();
    const id = unknown.data.clientOrderId;
    const events = await orderEvents(store, id);
    expect(events.map((e) => e.type)).toEqual(['OrderInitialized', 'OrderDenied']);
    expect(events[0].data).toEqual({
      clientOrderId: id, accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'NOSUCHUSDT', side: 'BUY', type: 'MARKET', quantity: '1', price: null, timeInForce: null,
      reduceOnly: false, purpose: 'ENTRY', leverage: 5, sourceStreamId: unknown.streamId, sourceEventId: unknown.metadata.eventId, triggerPrice: null,
    });
    expect(events[1].data).toMatchObject({ clientOrderId: id, code: 'UNKNOWN_SYMBOL' });
    expect(events[1].data['message']).toMatch(/NOSUCHUSDT.*NOT_LISTED.*not listed in .*exchangeInfo-2025-11-26-testnet\.json/);
    expect(await rulesRecorded(store, 'NOSUCHUSDT')).toEqual([]);
    // Handled again (a redelivery): nothing more recorded.
    await svc.onEvent(unknown);
    expect(await orderEvents(store, id)).toHaveLength(2);

    // Listed, but its leverage brackets are not recorded: denied too, naming the missing files.
    const sol = entryApproved(2, 'SOLUSDT', '1');
    await svc.onEvent(sol);
    const solEvents = await orderEvents(store, sol.data.clientOrderId);
    expect(solEvents.map((e) => e.type)).toEqual(['OrderInitialized', 'OrderDenied']);
    expect(solEvents[1].data['code']).toBe('UNKNOWN_SYMBOL');
    expect(solEvents[1].data['message']).toContain(leverageBracketFiles(DATA, 'SOLUSDT')[1]);

    // The service goes on: a BTCUSDT entry at the recorded 2025-11-21 00:00 open is accepted.
    const bar = await btcBarAt(AT);
    venue.advance('BTCUSDT', { from: bar.open, to: bar.open, gap: true, ts: AT }, null);
    const btc = entryApproved(3, 'BTCUSDT', '0.01');
    await svc.onEvent(btc);
    expect((await orderEvents(store, btc.data.clientOrderId)).map((e) => e.type)).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted']);
  });

  it('a restart with an ETHUSDT order open in the log, and BULWARK_SYMBOLS, has those rules before any market step', async () => {
    const store = new InMemoryEventStore();
    // An ETHUSDT entry recorded as submitted, its answer never recorded (open in the log's view).
    const id = clientOrderIdFor(ACCOUNT, 7, 'E');
    const init: EventData<'OrderInitialized'> = {
      clientOrderId: id, accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: '0.015', price: null, timeInForce: null,
      reduceOnly: false, purpose: 'ENTRY', leverage: 5, sourceStreamId: Streams.account(ACCOUNT), sourceEventId: 'approval-7', triggerPrice: null,
    };
    const meta = (eventId: string) => ({ eventId, tsEvent: AT, tsInit: AT, correlationId: 'spec', causationId: 'spec', schemaVersion: 1 });
    await store.append(Streams.order(id), [{ type: 'OrderInitialized', data: init, metadata: meta('i7') }, { type: 'OrderSubmitted', data: { clientOrderId: id }, metadata: meta('s7') }], 'no_stream');

    const { rules } = await started(store);
    expect([...rules.keys()].sort()).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(await rulesRecorded(store, 'ETHUSDT')).toHaveLength(1);

    // BULWARK_SYMBOLS names symbols to load whatever the log holds; the rules already recorded are not recorded again.
    const before = process.env.BULWARK_SYMBOLS;
    process.env.BULWARK_SYMBOLS = 'btcusdt, ETHUSDT';
    try {
      const again = await started(store);
      expect([...again.rules.keys()]).toEqual(['BTCUSDT', 'ETHUSDT']);
      expect(await rulesRecorded(store, 'ETHUSDT')).toHaveLength(1);
      expect(await rulesRecorded(store, 'BTCUSDT')).toHaveLength(1);
    } finally {
      if (before === undefined) delete process.env.BULWARK_SYMBOLS;
      else process.env.BULWARK_SYMBOLS = before;
    }
  });
});

describe('ensureInstrumentRules', () => {
  /** A venue that reports its own rules (as a ccxt venue does): ETHUSDT's recorded rules, after `failures` failed calls. */
  function rulesVenue(failures: number) {
    const eth = recordedInstrumentRules(DATA, 'binance-usdm', 'ETHUSDT');
    const calls: string[] = [];
    const venue = {
      venue: 'binance-usdm',
      async instrumentRules(symbol: string): Promise<{ contract: InstrumentRules; source: string }> {
        calls.push(symbol);
        await new Promise((r) => setTimeout(r, 5));
        if (calls.length <= failures) throw new Error('ETIMEDOUT GET /fapi/v1/exchangeInfo');
        if (symbol !== 'ETHUSDT') throw new RulesParseError('exchangeInfoSymbol: expected an object'); // what the ccxt venue's parser says of a symbol it has no market for
        return { contract: eth.contract, source: 'binance-usdm GET /fapi/v1/exchangeInfo + GET /fapi/v1/leverageBracket (ccxt)' };
      },
    } as unknown as VenuePort;
    const state = new ExecutionState();
    state.venue = venue;
    const store = new InMemoryEventStore();
    return { deps: { state, store, appender: new EventAppender(store) }, calls, store };
  }

  it('shares one load between concurrent callers and records once', async () => {
    const { deps, calls, store } = rulesVenue(0);
    const [a, b, c] = await Promise.all([ensureInstrumentRules(deps, 'ETHUSDT'), ensureInstrumentRules(deps, 'ETHUSDT'), ensureInstrumentRules(deps, 'ETHUSDT')]);
    expect(calls).toEqual(['ETHUSDT']);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(await ensureInstrumentRules(deps, 'ETHUSDT')).toBe(a);
    expect(calls).toEqual(['ETHUSDT']);
    expect(await store.readStream(Streams.rules('binance-usdm', 'ETHUSDT'))).toHaveLength(1);
    expect(deps.state.rulesLoads.size).toBe(0);
  });

  it('a failed call is RULES_UNAVAILABLE and not kept (the next call asks again); a symbol the venue does not list is UNKNOWN_SYMBOL', async () => {
    const { deps, calls, store } = rulesVenue(1);
    const failed = await ensureInstrumentRules(deps, 'ETHUSDT').catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(InstrumentRulesError);
    expect(failed).toMatchObject({ venue: 'binance-usdm', symbol: 'ETHUSDT', code: 'RULES_UNAVAILABLE', reason: 'ETIMEDOUT GET /fapi/v1/exchangeInfo' });
    expect(deps.state.rules.has('ETHUSDT')).toBe(false);
    await expect(ensureInstrumentRules(deps, 'ETHUSDT')).resolves.toMatchObject({ symbol: 'ETHUSDT' });
    expect(calls).toEqual(['ETHUSDT', 'ETHUSDT']);
    await expect(ensureInstrumentRules(deps, 'NOSUCHUSDT')).rejects.toMatchObject({ name: 'InstrumentRulesError', code: 'UNKNOWN_SYMBOL', symbol: 'NOSUCHUSDT' });
    expect(await store.readStream(Streams.rules('binance-usdm', 'NOSUCHUSDT'))).toEqual([]);
  });
});

describe('BULWARK_SYMBOLS', () => {
  it('defaults to BTCUSDT; upper-cases, trims and de-duplicates; refuses what is not a symbol', () => {
    expect(executionSymbolsFromEnv({})).toEqual(['BTCUSDT']);
    expect(executionSymbolsFromEnv({ BULWARK_SYMBOLS: ' ethusdt,BTCUSDT , ETHUSDT ' })).toEqual(['ETHUSDT', 'BTCUSDT']);
    expect(() => executionSymbolsFromEnv({ BULWARK_SYMBOLS: ' , ' })).toThrow(VenueConfigError);
    expect(() => executionSymbolsFromEnv({ BULWARK_SYMBOLS: 'BTC/USDT' })).toThrow(/BULWARK_SYMBOLS: "BTC\/USDT" is not a symbol/);
  });
});
