/**
 * A split entry survives execution restarts: one real day (BTCUSDT 1m 2025-11-10) through the
 * in-process pipeline on the paper venue, the strategy's entries split into market SLICES of at
 * most 5,000 USDT one a bar, and again with execution restarted (a new instance, a new empty
 * paper venue restored from the log) after every candle at which a split had children left to
 * send. The log must equal the undisturbed run's: no child sent twice, none lost, the same
 * pacing, the same ends.
 */
import { type EventData, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { InMemoryEventStore } from '@bulwark/event-store';
import { readFundingRates } from '@bulwark/market-data';
import { type ClockPort, ReplayClock } from '@bulwark/messaging';
import { DEFAULT_DONCHIAN_ATR } from '@bulwark/strategies';
import { BTCUSDT_FILES } from '@bulwark/testing';
import { PaperVenueAdapter } from '@bulwark/venues';
import { InProcessSystem, PIPELINE } from './in-process';
import { comparableLog } from './log-compare';
import { replayCandles } from './replay';
import type { VenueFactory } from './venue-factory';

const FROM = Date.parse('2025-11-10T00:00:00Z');
const TO = Date.parse('2025-11-11T00:00:00Z');
const ACCOUNT = 'sr-1';
const factory: VenueFactory = async (rules) => ({ venue: new PaperVenueAdapter('binance-usdm', rules), reconcileSeconds: 0 });

/** The day, execution restarted after the candles (0-based index) in `restartAfter`. */
async function run(restartAfter: ReadonlySet<number> = new Set()): Promise<{ store: InMemoryEventStore; restarts: number }> {
  const store = new InMemoryEventStore();
  const sys = await InProcessSystem.create(store, factory);
  await sys.command(Subjects.openAccount, { accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 5, venueBalance: '10000', at: FROM });
  await sys.command(Subjects.attachStrategy, {
    accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', strategy: 'donchian-atr', params: { ...DEFAULT_DONCHIAN_ATR }, at: FROM,
    split: { style: 'SLICES', maxOrderNotional: '5000', intervalBars: 1 },
  });
  const port: ClockPort = { deliver: (service, tick) => sys.deliver(service, tick), sync: (s) => sys.sync(s), command: (subject, payload) => sys.command(subject, payload) };
  let i = 0;
  let restarts = 0;
  await replayCandles(new ReplayClock(port, PIPELINE), { runId: 'sr', venue: 'binance-usdm', symbol: 'BTCUSDT', candlesFile: BTCUSDT_FILES.candles1m, from: FROM, to: TO, schedule: [] }, await readFundingRates(BTCUSDT_FILES.fundingRates), {
    onCandle: async () => {
      if (restartAfter.has(i++)) {
        await sys.restartExecution(factory);
        restarts++;
      }
    },
  });
  await sys.execution.onModuleDestroy();
  return { store, restarts };
}

async function eventsOf(store: InMemoryEventStore): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll()) out.push(e);
  return out;
}

// Two runs of 1,440 bars through the six services in one process (seconds quiet, more on a busy CI machine).
jest.setTimeout(300_000);

describe('split entries across execution restarts (2025-11-10, SLICES of at most 5,000 USDT)', () => {
  it('restarted after every candle with children left to send: the log equals the undisturbed run', async () => {
    const base = await run();
    const events = await eventsOf(base.store);
    const candleOf = (ts: number) => Math.floor((ts - FROM) / 60_000);
    // Candles after which a split had sent some children but not all: the approval's candle up to its end's.
    const restartAfter = new Set<number>();
    for (const end of events.filter((e) => e.type === 'EntrySplitEnded')) {
      const parent = (end.data as EventData<'EntrySplitEnded'>).parentClientOrderId;
      const approved = events.find((e) => e.type === 'EntryApproved' && (e.data as EventData<'EntryApproved'>).clientOrderId === parent)!;
      for (let c = candleOf(approved.metadata.tsEvent); c < candleOf(end.metadata.tsEvent); c++) restartAfter.add(c);
    }
    expect(restartAfter.size).toBeGreaterThan(5);
    const disturbed = await run(restartAfter);
    expect(disturbed.restarts).toBe(restartAfter.size);
    expect(await comparableLog(disturbed.store)).toEqual(await comparableLog(base.store));
  });
});
