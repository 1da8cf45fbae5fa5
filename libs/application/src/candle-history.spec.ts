import { Streams } from '@bulwark/contracts';
import { InMemoryEventStore } from '@bulwark/event-store';
import { BTCUSDT_FILES, rawEvent } from '@bulwark/testing';
import { CandleHistoryServer, FileCandleHistory, NoCandleHistoryError } from './candle-history';

// Real Binance USDⓈ-M BTCUSDT 1m bars (shared/data, see PROVENANCE.md).
const CANDLES = BTCUSDT_FILES.candles1m;
const T0 = Date.parse('2025-11-21T00:00:00Z');

async function withReplay(): Promise<InMemoryEventStore> {
  const store = new InMemoryEventStore();
  const request = { runId: 'run-1', venue: 'binance-usdm', symbol: 'BTCUSDT', candlesFile: CANDLES, fundingFile: null, speed: 0, from: T0, to: T0 + 86_400_000, schedule: [] };
  await store.append(Streams.replay('run-1'), [rawEvent('ReplayStarted', { request, total: 1440 }, { tsEvent: T0, tsInit: Date.now(), correlationId: 'spec' })], 'no_stream');
  return store;
}

describe('the candles market-data serves to a restarted strategy', () => {
  it('pages through the newest replay\'s file: [from, to), at most `limit` a page, `next` where the rest starts; the pages join to the file\'s candles', async () => {
    const server = new CandleHistoryServer(await withReplay());
    const to = T0 + 2500 * 60_000;
    const pages = [];
    for (let from: number | null = T0; from !== null; ) {
      const p = await server.page({ venue: 'binance-usdm', symbol: 'BTCUSDT', from, to, limit: 1000 });
      pages.push(p.candles.length);
      from = p.next;
      if (pages.length > 10) throw new Error('no end');
    }
    expect(pages).toEqual([1000, 1000, 500]);
    const all = await new FileCandleHistory(CANDLES).candles('binance-usdm', 'BTCUSDT', T0, to);
    expect(all).toHaveLength(2500);
    const again = await server.page({ venue: 'binance-usdm', symbol: 'BTCUSDT', from: T0 + 1000 * 60_000, to, limit: 1000 });
    expect(again.candles[0]).toEqual(all[1000]);
    expect(again.next).toBe(all[2000].openTime);
  }, 60_000);

  it('no replay of that instrument and no live feed: NO_HISTORY (the strategy then starts cold)', async () => {
    const server = new CandleHistoryServer(await withReplay());
    await expect(server.page({ venue: 'binance-usdm', symbol: 'ETHUSDT', from: T0, to: T0 + 60_000, limit: 10 })).rejects.toBeInstanceOf(NoCandleHistoryError);
    await expect(new CandleHistoryServer(new InMemoryEventStore()).page({ venue: 'binance-usdm', symbol: 'BTCUSDT', from: T0, to: T0 + 60_000, limit: 10 })).rejects.toMatchObject({ code: 'NO_HISTORY' });
  });

  it('while a live feed runs, its venue history answers', async () => {
    const calls: unknown[] = [];
    const live = { history: async (symbol: string, from: number, to: number, limit: number) => (calls.push([symbol, from, to, limit]), { candles: [], next: null }) };
    const server = new CandleHistoryServer(new InMemoryEventStore(), () => live);
    expect(await server.page({ venue: 'binance-usdm', symbol: 'BTCUSDT', from: T0, to: T0 + 60_000, limit: 5 })).toEqual({ candles: [], next: null });
    expect(calls).toEqual([['BTCUSDT', T0, T0 + 60_000, 5]]);
  });
});
