/**
 * Parity: for the same candles and configuration, the distributed run (six services over
 * NATS, JetStream store) and the in-process backtest produce the same domain events, stream
 * by stream, in the same order — apart from event ids, tsInit and causation ids (which name
 * event ids; `comparableStreams` compares them as the stream and revision they name). One real
 * day: 2025-11-21 (1,440 candles of the sell-off's low).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { comparableStreams, runBacktest } from '@bulwark/application';
import type { RecordedEvent } from '@bulwark/contracts';
import { JetStreamEventStore } from '@bulwark/event-store';
import type { NatsConnection } from 'nats';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { belongsTo, defaultDemoFiles, runDemo } from './demo';

const bus = isolatedBus('par');
const tag = bus.tag;
const accountId = `parity-${tag}`;
const FROM = Date.parse('2025-11-21T00:00:00Z');
const TO = Date.parse('2025-11-22T00:00:00Z');

let nc: NatsConnection;
let distributed: RecordedEvent[];
let inProcess: RecordedEvent[];

beforeAll(async () => {
  nc = await openIsolatedBus(bus);
  const files = defaultDemoFiles();
  const report = await runDemo({
    candles: files.candles, funding: files.funding, speed: 0, capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true,
    from: FROM, to: TO, accountId, bus, logDir: path.join(os.tmpdir(), `bulwark-parity-${tag}`),
  });
  const js = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  distributed = [];
  for await (const e of js.readAll({ fromPosition: report.firstPosition })) if (belongsTo(e, accountId)) distributed.push(e);
  const bt = await runBacktest({ accountId, candles: files.candles, funding: files.funding, capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true, from: FROM, to: TO });
  inProcess = [];
  for await (const e of bt.store.readAll()) if (belongsTo(e, accountId)) inProcess.push(e);
}, 300_000);

afterAll(async () => {
  await dropIsolatedBus(nc, bus);
  await nc.drain();
});

describe('parity of the distributed run and the in-process backtest on 2025-11-21', () => {
  it('writes the same streams', () => {
    const streams = (events: RecordedEvent[]) => [...new Set(events.map((e) => e.streamId))].sort();
    expect(streams(inProcess)).toEqual(streams(distributed));
    expect(streams(distributed).length).toBeGreaterThan(10);
  });

  it('writes the same events in every stream, in the same order (first difference printed)', () => {
    const d = comparableStreams(distributed);
    const p = comparableStreams(inProcess);
    for (const [streamId, events] of d) {
      const other = p.get(streamId) ?? [];
      const n = Math.max(events.length, other.length);
      for (let i = 0; i < n; i++) {
        // On a divergence the failure shows the stream, the index and both events.
        expect({ streamId, index: i, event: other[i] ?? null }).toEqual({ streamId, index: i, event: events[i] ?? null });
      }
    }
  });

  it('agrees on the money', () => {
    const closes = (events: RecordedEvent[]) => events.filter((e) => e.type === 'PositionClosed').map((e) => (e.data as { netPnl: string }).netPnl).sort();
    expect(closes(inProcess)).toEqual(closes(distributed));
    expect(closes(distributed).length).toBeGreaterThan(0);
  });
});
