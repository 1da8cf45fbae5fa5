/**
 * Risk on an intent whose symbol has no recorded instrument rules: a typed decision
 * (EntryDenied UNKNOWN_SYMBOL) on the account stream, once, not a handler that throws until the
 * intent is dead-lettered without one. A failed read of the rules stream is not "no rules": it
 * throws, and the intent is handled again.
 *
 * In process: the risk service over an in-memory log, accounting's equity answered by a stub.
 * Rules and prices: the recorded Binance USDⓈ-M BTCUSDT rules, and the close of the first
 * recorded BTCUSDT bar of 2025-11-10 (104587.7) as the entry.
 */
import { type EquitySnapshot, type EventData, type IntentEmitted, type RecordedEvent, Streams, event } from '@bulwark/contracts';
import { InMemoryEventStore, type ReadStreamOptions } from '@bulwark/event-store';
import { EventAppender } from '@bulwark/messaging';
import { btcusdtContract } from '@bulwark/testing';
import { RiskService } from './risk.service';

const AT = Date.parse('2025-11-10T00:00:59.999Z');
const ACCOUNT = 'risk-multi';

/** A log whose rules streams can be made to fail to read (a transient store error). */
class FlakyRulesStore extends InMemoryEventStore {
  failRules = false;
  override async readStream(streamId: string, opts?: ReadStreamOptions) {
    if (this.failRules && streamId.startsWith('rules-')) throw new Error('nats: timeout reading the KV bucket');
    return super.readStream(streamId, opts);
  }
}

const EQUITY: EquitySnapshot = { accountId: ACCOUNT, known: true, walletBalance: '10000', unrealisedPnl: '0', equity: '10000', usedMargin: '0', availableMargin: '10000', openPositions: 0, asOf: AT };

let seq = 0;
function intentEmitted(intentId: string, symbol: string): RecordedEvent<'IntentEmitted', EventData<'IntentEmitted'>> {
  seq++;
  const data: IntentEmitted = {
    intentId, accountId: ACCOUNT, venue: 'binance-usdm', symbol, side: 'BUY', entryPrice: '104587.7', stopPrice: '103500', takeProfitPrice: null,
    strategy: 'donchian-atr', reason: 'spec', candleOpenTime: Date.parse('2025-11-10T00:00:00Z'),
  };
  return { streamId: Streams.signal(ACCOUNT), revision: seq, position: seq, type: 'IntentEmitted', data, metadata: { eventId: `intent-${seq}`, tsEvent: AT, tsInit: AT, correlationId: 'spec', causationId: 'spec', schemaVersion: 1 } };
}

async function opened() {
  const store = new FlakyRulesStore();
  const appender = new EventAppender(store);
  const risk = new RiskService(appender, { equity: async () => EQUITY }, store);
  await risk.onModuleInit();
  await risk.configure({ accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 5, venueBalance: '10000', at: AT }, 'open');
  return { store, appender, risk };
}

const decisions = async (store: InMemoryEventStore) =>
  (await store.readStream(Streams.account(ACCOUNT))).filter((e) => e.type === 'EntryApproved' || e.type === 'EntryDenied').map((e) => ({ type: e.type, data: e.data as Record<string, unknown> }));

describe('risk on a symbol without recorded rules', () => {
  it('denies the intent UNKNOWN_SYMBOL, naming the venue and the symbol; a redelivery decides nothing again', async () => {
    const { store, risk } = await opened();
    const intent = intentEmitted('i-eth', 'ETHUSDT');
    await expect(risk.onEvent(intent)).resolves.toBeUndefined();
    const [d, ...more] = await decisions(store);
    expect(more).toEqual([]);
    expect(d.type).toBe('EntryDenied');
    expect(d.data).toMatchObject({ intentId: 'i-eth', accountId: ACCOUNT, reason: 'UNKNOWN_SYMBOL', assessment: null, tradingDay: '2025-11-10' });
    expect(d.data['detail']).toBe("no instrument rules recorded for binance-usdm ETHUSDT: execution records a symbol's rules when it first trades it or when BULWARK_SYMBOLS lists it");

    await risk.onEvent(intent);
    expect(await decisions(store)).toHaveLength(1);
  });

  it('a symbol whose rules are recorded is sized as ever', async () => {
    const { store, appender, risk } = await opened();
    await appender.append(Streams.rules('binance-usdm', 'BTCUSDT'), [event('InstrumentRulesRecorded', { ...btcusdtContract(), source: 'spec' })], 'no_stream', { tsEvent: AT, correlationId: 'spec', causationId: 'spec' });
    await risk.onEvent(intentEmitted('i-btc', 'BTCUSDT'));
    expect((await decisions(store)).map((d) => [d.type, d.data['symbol']])).toEqual([['EntryApproved', 'BTCUSDT']]);
  });

  it('a rules stream that cannot be read throws (the intent is handled again) and records nothing; once it reads, one decision', async () => {
    const { store, risk } = await opened();
    const intent = intentEmitted('i-flaky', 'ETHUSDT');
    store.failRules = true;
    await expect(risk.onEvent(intent)).rejects.toThrow('nats: timeout reading the KV bucket');
    expect(await decisions(store)).toEqual([]);
    store.failRules = false;
    await risk.onEvent(intent);
    expect((await decisions(store)).map((d) => d.data['reason'])).toEqual(['UNKNOWN_SYMBOL']);
  });
});
