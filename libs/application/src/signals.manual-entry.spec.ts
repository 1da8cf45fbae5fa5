import { type MarketTick, Streams } from '@bulwark/contracts';
import { InMemoryEventStore } from '@bulwark/event-store';
import { EventAppender } from '@bulwark/messaging';
import { readCandles, resolveDataDir, instrumentFiles } from '@bulwark/market-data';
import { SignalsService } from './signals.service';

// A manual entry is an IntentEmitted with strategy 'manual' at the last closing price signals
// saw (real Binance 1m candles of shared/data); without a closed candle it is refused.

async function firstCandles(n: number) {
  const out = [];
  for await (const c of readCandles(instrumentFiles(resolveDataDir()).defaultCandles)) {
    out.push(c);
    if (out.length === n) break;
  }
  return out;
}

function closeTick(c: Awaited<ReturnType<typeof firstCandles>>[number], seq: number): MarketTick {
  return { runId: 'r1', venue: 'binance-usdm', symbol: 'BTCUSDT', seq, ts: c.openTime + 60_000, candleOpenTime: c.openTime, pathIndex: 3, from: c.close, to: c.close, gap: false, candle: c, funding: null };
}

describe('SignalsService.manualEntry', () => {
  const req = { accountId: 'acct-1', venue: 'binance-usdm' as const, symbol: 'BTCUSDT', side: 'BUY' as const, stopPrice: '100000', takeProfitPrice: null, by: 'alice', requestId: 'req1' };

  it('refuses NO_MARKET_PRICE before any candle closed, and records nothing', async () => {
    const store = new InMemoryEventStore();
    const signals = new SignalsService(new EventAppender(store), store);
    await expect(signals.manualEntry(req)).rejects.toMatchObject({ error: { code: 'NO_MARKET_PRICE' } });
    expect(await store.lastPosition()).toBe(0);
  });

  it('records an IntentEmitted with strategy manual at the last close, naming the user', async () => {
    const candles = await firstCandles(3);
    const store = new InMemoryEventStore();
    const signals = new SignalsService(new EventAppender(store), store);
    for (const [i, c] of candles.entries()) await signals.onTick(closeTick(c, i));
    const last = candles[2];
    const answer = await signals.manualEntry(req);
    const stored = await store.readStream(Streams.signal('acct-1'));
    expect(stored).toHaveLength(1);
    expect(stored[0].type).toBe('IntentEmitted');
    expect(stored[0].metadata.tsEvent).toBe(last.openTime + 60_000);
    expect(stored[0].data).toEqual({
      intentId: `m${last.openTime + 60_000}-req1`,
      accountId: 'acct-1',
      venue: 'binance-usdm',
      symbol: 'BTCUSDT',
      side: 'BUY',
      entryPrice: last.close,
      stopPrice: '100000',
      takeProfitPrice: null,
      strategy: 'manual',
      reason: 'manual entry by alice',
      candleOpenTime: last.openTime,
    });
    expect(answer).toEqual({ events: [{ eventId: stored[0].metadata.eventId, type: 'IntentEmitted', streamId: 'signal-acct-1', revision: 0, data: stored[0].data }] });
    // A second entry and a later strategy attachment append to the same stream (no revision conflict).
    await signals.manualEntry({ ...req, requestId: 'req2', side: 'SELL', stopPrice: '120000' });
    await signals.attach({ accountId: 'acct-1', venue: 'binance-usdm', symbol: 'BTCUSDT', strategy: 'donchian-atr', params: {} });
    expect((await store.readStream(Streams.signal('acct-1'))).map((e) => e.type)).toEqual(['IntentEmitted', 'IntentEmitted', 'StrategyAttached']);
  });

  it('a restarted service continues the signal stream a manual entry opened', async () => {
    const candles = await firstCandles(1);
    const store = new InMemoryEventStore();
    const first = new SignalsService(new EventAppender(store), store);
    await first.onTick(closeTick(candles[0], 0));
    await first.manualEntry(req);
    const again = new SignalsService(new EventAppender(store), store);
    await again.onModuleInit();
    await again.onTick(closeTick(candles[0], 0));
    await again.manualEntry({ ...req, requestId: 'req3' });
    expect((await store.readStream(Streams.signal('acct-1'))).map((e) => e.revision)).toEqual([0, 1]);
  });
});
