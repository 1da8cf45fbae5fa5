/**
 * Parity: for the same candles and configuration, the distributed run (six services over
 * NATS, JetStream store) and the in-process backtest produce the same domain events, stream
 * by stream, in the same order — apart from event ids, tsInit and causation ids (which name
 * event ids). One real day: 2025-11-21 (1,440 candles of the sell-off's low).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runBacktest } from '@bulwark/application';
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
let distributed: Map<string, RecordedEvent[]>;
let inProcess: Map<string, RecordedEvent[]>;

/**
 * What must be equal: the fact, when it happened in market time, what it belongs to, and
 * what it refers to. Event ids are random, so a reference to an event (e.g. an order's
 * `sourceEventId`, a causation) is compared as the stream and revision it names.
 */
function essence(e: RecordedEvent, ref: Map<string, string>) {
  const data = JSON.parse(JSON.stringify(e.data), (_k, v) => (typeof v === 'string' && ref.has(v) ? `→${ref.get(v)}` : v));
  return { type: e.type, data, tsEvent: e.metadata.tsEvent, correlationId: e.metadata.correlationId, causation: ref.get(e.metadata.causationId) ?? 'outside', revision: e.revision };
}

function byStream(events: RecordedEvent[]): Map<string, RecordedEvent[]> {
  const m = new Map<string, RecordedEvent[]>();
  for (const e of events) m.set(e.streamId, [...(m.get(e.streamId) ?? []), e]);
  return m;
}

const refs = (m: Map<string, RecordedEvent[]>) => new Map([...m.values()].flat().map((e) => [e.metadata.eventId, `${e.streamId}@${e.revision}`]));

beforeAll(async () => {
  nc = await openIsolatedBus(bus);
  const files = defaultDemoFiles();
  const report = await runDemo({
    candles: files.candles, funding: files.funding, speed: 0, capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true,
    from: FROM, to: TO, accountId, bus, logDir: path.join(os.tmpdir(), `bulwark-parity-${tag}`),
  });
  const js = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  const d: RecordedEvent[] = [];
  for await (const e of js.readAll({ fromPosition: report.firstPosition })) if (belongsTo(e, accountId)) d.push(e);
  distributed = byStream(d);
  const bt = await runBacktest({ accountId, candles: files.candles, funding: files.funding, capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true, from: FROM, to: TO });
  const p: RecordedEvent[] = [];
  for await (const e of bt.store.readAll()) if (belongsTo(e, accountId)) p.push(e);
  inProcess = byStream(p);
}, 300_000);

afterAll(async () => {
  await dropIsolatedBus(nc, bus);
  await nc.drain();
});

describe('parity of the distributed run and the in-process backtest on 2025-11-21', () => {
  it('writes the same streams', () => {
    expect([...inProcess.keys()].sort()).toEqual([...distributed.keys()].sort());
    expect(distributed.size).toBeGreaterThan(10);
  });

  it('writes the same events in every stream, in the same order (first difference printed)', () => {
    const refD = refs(distributed);
    const refP = refs(inProcess);
    for (const [streamId, events] of distributed) {
      const other = inProcess.get(streamId) ?? [];
      const n = Math.max(events.length, other.length);
      for (let i = 0; i < n; i++) {
        const a = events[i] ? essence(events[i], refD) : null;
        const b = other[i] ? essence(other[i], refP) : null;
        // On a divergence the failure shows the stream, the index and both events.
        expect({ streamId, index: i, event: b }).toEqual({ streamId, index: i, event: a });
      }
    }
  });

  it('agrees on the money', () => {
    const closes = (m: Map<string, RecordedEvent[]>) => [...m.values()].flat().filter((e) => e.type === 'PositionClosed').map((e) => (e.data as { netPnl: string }).netPnl).sort();
    expect(closes(inProcess)).toEqual(closes(distributed));
    expect(closes(distributed).length).toBeGreaterThan(0);
  });
});
