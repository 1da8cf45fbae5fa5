import * as fs from 'node:fs';
import * as path from 'node:path';
import { EventMetadata } from '@bulwark/contracts';
import { parseBinanceUsdmRules, rulesFromContract } from '@bulwark/domain';
import { resolveDataDir } from '@bulwark/market-data';
import {
  BTCUSDT_FILES,
  btcusdtContract,
  btcusdtRules,
  DATA_DIR,
  eventMetadata,
  isolatedBus,
  newEvent,
  orderFilled,
  orderInitialized,
  orderSubmitted,
  rawEvent,
  readDataJson,
  realBars,
  recordedEvent,
  SPOT_BTCUSDT_FILES,
  strategyAttached,
  until,
} from './index';

describe('the data directory and the recorded files', () => {
  it('is the one the product resolves (BULWARK_DATA_DIR or ../shared/data), absolute, and holds every named file', () => {
    expect(path.isAbsolute(DATA_DIR)).toBe(true);
    expect(DATA_DIR).toBe(resolveDataDir());
    const files = [...Object.values(BTCUSDT_FILES), ...Object.values(SPOT_BTCUSDT_FILES)].filter((f): f is string => typeof f === 'string');
    for (const f of [...files, BTCUSDT_FILES.fundingRateMonthly('2025-11')]) expect(fs.existsSync(f)).toBe(true);
    expect(readDataJson('binance-usdm/BTCUSDT/exchange-info.json')).toEqual(JSON.parse(fs.readFileSync(BTCUSDT_FILES.exchangeInfo, 'utf8')));
  });
});

describe('the real BTCUSDT rules', () => {
  const parsed = (brackets: string) =>
    parseBinanceUsdmRules({ venue: 'binance-usdm', exchangeInfoSymbol: readDataJson(BTCUSDT_FILES.exchangeInfo), leverageBrackets: readDataJson(brackets) });

  it('are the recorded files through the domain parser, loaded once per bracket snapshot', () => {
    expect(btcusdtContract()).toEqual(parsed(BTCUSDT_FILES.leverageBrackets));
    expect(btcusdtRules()).toEqual(rulesFromContract(parsed(BTCUSDT_FILES.leverageBrackets)));
    expect(btcusdtRules(BTCUSDT_FILES.leverageBrackets2023)).toEqual(rulesFromContract(parsed(BTCUSDT_FILES.leverageBrackets2023)));
    expect(btcusdtRules()).toBe(btcusdtRules());
    expect(btcusdtRules(BTCUSDT_FILES.leverageBrackets2023).brackets).not.toEqual(btcusdtRules().brackets);
  });

  it('mainnet filters and VIP 0 fees: tick 0.1, step 0.001, min notional 5, taker 0.0005, maker 0.0002; bracket 1 of 2025-11-20 is 150x up to 300,000', () => {
    const r = btcusdtContract();
    expect([r.tickSize, r.stepSize, r.minNotional, r.takerFeeRate, r.makerFeeRate]).toEqual(['0.1', '0.001', '5', '0.0005', '0.0002']);
    expect(r.brackets[0]).toMatchObject({ initialLeverage: 150, notionalCap: '300000', maintMarginRatio: '0.004' });
  });
});

describe('realBars', () => {
  it('reads the window [from, to) of the month with the market-data reader', async () => {
    const bars = await realBars({ from: '2025-11-10T00:00:00Z', to: Date.parse('2025-11-10T00:05:00Z') });
    expect(bars.map((b) => b.openTime)).toEqual([0, 1, 2, 3, 4].map((i) => 1762732800000 + i * 60_000));
    expect(bars[0]).toEqual({ openTime: 1762732800000, interval: '1m', open: '104670.7', high: '104670.7', low: '104570.6', close: '104587.7', volume: '73.095' });
  });

  it('reads another file (spot, 2024-08-05) and an empty window', async () => {
    const [bar] = await realBars({ file: SPOT_BTCUSDT_FILES.candles1mAugust2024, from: '2024-08-05T00:00:00Z', to: '2024-08-05T00:01:00Z' });
    expect(bar.openTime).toBe(Date.parse('2024-08-05T00:00:00Z'));
    expect(await realBars({ from: '2025-11-10T00:00:30Z', to: '2025-11-10T00:01:00Z' })).toEqual([]);
  });
});

describe('event builders', () => {
  it('metadata: valid, with defaults (tsInit = tsEvent, causation = correlation) and every field settable', () => {
    const m = eventMetadata();
    expect(EventMetadata.parse(m)).toEqual(m);
    expect(m).toMatchObject({ tsEvent: 1, tsInit: 1, correlationId: 'c', causationId: 'c', schemaVersion: 1 });
    expect(eventMetadata().eventId).not.toBe(m.eventId);
    expect(eventMetadata({ eventId: 'e1', tsEvent: 5, correlationId: 'spec' })).toEqual({ eventId: 'e1', tsEvent: 5, tsInit: 5, correlationId: 'spec', causationId: 'spec', schemaVersion: 1 });
    expect(eventMetadata({ eventId: 'e2', tsInit: 2, causationId: 'x', schemaVersion: 0 })).toEqual({ eventId: 'e2', tsEvent: 1, tsInit: 2, correlationId: 'c', causationId: 'x', schemaVersion: 0 });
  });

  it('new, raw and recorded events', () => {
    expect(newEvent('OrderCanceled', { clientOrderId: 'bw1' }, { eventId: 'e1' })).toEqual({ type: 'OrderCanceled', data: { clientOrderId: 'bw1' }, metadata: eventMetadata({ eventId: 'e1' }) });
    expect(orderSubmitted('bw1', { eventId: 'e1' })).toEqual(newEvent('OrderSubmitted', { clientOrderId: 'bw1' }, { eventId: 'e1' }));
    expect(strategyAttached('a1', { n: 3 }, { eventId: 'e1' }).data).toEqual({ accountId: 'a1', venue: 'binance-usdm', symbol: 'BTCUSDT', strategy: 'donchian-atr', params: { n: 3 } });
    expect(rawEvent('NoSuchEvent', { x: 1 }, { eventId: 'e1' })).toEqual({ type: 'NoSuchEvent', data: { x: 1 }, metadata: eventMetadata({ eventId: 'e1' }) });
    expect(recordedEvent('OrderCanceled', { clientOrderId: 'bw1' }, { streamId: 'order-bw1', eventId: 'e1' })).toEqual({
      type: 'OrderCanceled', data: { clientOrderId: 'bw1' }, streamId: 'order-bw1', revision: 0, position: 1, metadata: eventMetadata({ eventId: 'e1' }),
    });
  });

  it('orders and fills: a full taker fill at the VIP 0 rate unless told otherwise', () => {
    expect(orderInitialized({ accountId: 'a2' })).toMatchObject({ accountId: 'a2', sourceStreamId: 'account-a2', type: 'MARKET', quantity: '0.010', leverage: 10 });
    expect(orderFilled({ quantity: '0.010', price: '104587.7' })).toMatchObject({ quoteQuantity: '1045.877', fee: '0.5229385', filledQuantity: '0.010', leavesQuantity: '0' });
    expect(orderFilled({ quantity: '0.005', price: '100', feeRate: '0', leavesQuantity: '0.005', fee: '1' })).toMatchObject({ quoteQuantity: '0.5', fee: '1', leavesQuantity: '0.005' });
  });
});

describe('isolatedBus', () => {
  it('names its streams, prefixes and consumers after the spec and a random tag; opens nothing', () => {
    const bus = isolatedBus('probe', 'ab12');
    expect(bus).toEqual({
      tag: 'ab12', natsUrl: process.env.NATS_URL || 'nats://127.0.0.1:4223',
      esStream: 'T_PROBE_ab12', esPrefix: 'tprobeab12', dlqStream: 'T_PROBEDLQ_ab12', dlqPrefix: 'tprobedlqab12', consumerSuffix: 'probeab12',
    });
    expect(isolatedBus('probe').tag).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('until', () => {
  it('returns the first value that is not null, undefined or false; a throwing probe counts as not yet', async () => {
    let n = 0;
    const v = await until('the third probe', () => {
      n++;
      if (n === 1) throw new Error('not up yet');
      if (n === 2) return false;
      return n === 3 ? Promise.resolve({ n }) : null;
    }, { intervalMs: 1 });
    expect(v).toEqual({ n: 3 });
    await expect(until('zero', () => 0)).resolves.toBe(0); // 0 and '' are values
  });

  it('gives up after its time limit naming what it waited for, the last probe error and the detail', async () => {
    await expect(until('the fill', () => {
      throw new Error('connection refused');
    }, { timeoutMs: 30, intervalMs: 5, detail: () => 'service log: none' })).rejects.toThrow(/^timed out after 30 ms waiting for the fill; last probe error: connection refused\nservice log: none$/);
    await expect(until('nothing', () => null, { timeoutMs: 1 })).rejects.toThrow('timed out after 1 ms waiting for nothing');
  });
});
