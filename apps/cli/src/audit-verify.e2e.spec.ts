/**
 * `bulwark audit verify` and `bulwark store copy` on a real day's log: one real day
 * (2025-11-21, 1,440 BTCUSDT candles) through the in-process pipeline into a JetStream log; verify
 * is ok on it; `store copy` to another stream ends with equal chain heads; a copy in which one
 * event's data was altered behind the adapter's back (a modified message published straight to
 * JetStream) fails verify with exit 1 naming exactly that stream and revision.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runBacktest } from '@bulwark/application';
import type { RecordedEvent } from '@bulwark/contracts';
import { EventHeaders, JetStreamEventStore, subjectForStream, verifyChains } from '@bulwark/event-store';
import { headers as natsHeaders, type NatsConnection } from 'nats';
import { defaultDemoFiles } from './demo';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { main } from './main';

const FROM = Date.parse('2025-11-21T00:00:00Z');
const TO = Date.parse('2025-11-22T00:00:00Z');
const bus = isolatedBus('vfy');
const copyBus = isolatedBus('vfycp');
const tamperBus = isolatedBus('vfytm');
const accountId = `verify-${bus.tag}`;
let nc: NatsConnection;
let log: RecordedEvent[];

/** Run the CLI in this process against the bus `b` (as a user's shell would: through the environment); stdout, stderr and exit code. */
async function cli(b: typeof bus, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const saved = { ...process.env };
  Object.assign(process.env, { NATS_URL: b.natsUrl, BULWARK_ES_STREAM: b.esStream, BULWARK_ES_PREFIX: b.esPrefix, BULWARK_EVENT_STORE: 'jetstream' });
  let out = '';
  let err = '';
  const w = process.stdout.write.bind(process.stdout);
  const e = console.error;
  process.stdout.write = ((s: string | Uint8Array) => ((out += String(s)), true)) as typeof process.stdout.write;
  console.error = (...a: unknown[]) => (err += `${a.map(String).join(' ')}\n`);
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    process.stdout.write = w;
    console.error = e;
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

beforeAll(async () => {
  nc = await openIsolatedBus(bus);
  await openIsolatedBus(copyBus).then((c) => c.close());
  await openIsolatedBus(tamperBus).then((c) => c.close());
  const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  const files = defaultDemoFiles();
  await runBacktest({ accountId, candles: files.candles, funding: files.funding, capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true, from: FROM, to: TO, store });
  log = [];
  for await (const e of store.readAll()) log.push(e);
  await store.close();
}, 300_000);

afterAll(async () => {
  if (!nc) return;
  for (const b of [bus, copyBus, tamperBus]) await dropIsolatedBus(nc, b).catch(() => undefined);
  await nc.close();
});

describe('audit verify on a real day', () => {
  it('is ok on the day\'s log: every event chained, counted', async () => {
    expect(log.length).toBeGreaterThan(100);
    expect(log.some((e) => e.type === 'OrderFilled')).toBe(true);
    const r = await cli(bus, ['audit', 'verify']);
    console.log(`audit verify on the day's log (${log.length} events):\n${r.out}`);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`ok: ${log.length} events checked`);
    expect(r.out).toMatch(/unchained \(pre-hash\)\s+0/);
    const one = await cli(bus, ['audit', 'verify', '--account', accountId]);
    expect(one.code).toBe(0);
    expect(one.out).toContain(`(account ${accountId})`);
    const unknown = await cli(bus, ['audit', 'verify', '--account', 'nobody-here']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('nobody-here');
    // Checkpoints of the day (every 100 events of an account, then the rest), then verify compares them too.
    const cp = await cli(bus, ['audit', 'checkpoint', '--every', '100']);
    expect(cp.code).toBe(0);
    expect(Number(/^(\d+) checkpoint event\(s\) written/.exec(cp.out)?.[1])).toBeGreaterThanOrEqual(3);
    // A second run has nothing new to record.
    expect((await cli(bus, ['audit', 'checkpoint'])).out).toMatch(/^0 checkpoint event\(s\) written/);
    const withCheckpoints = await cli(bus, ['audit', 'verify', '--account', accountId]);
    console.log(`audit verify --account after the checkpointer:\n${withCheckpoints.out}`);
    expect(withCheckpoints.code).toBe(0);
    expect(withCheckpoints.out).not.toMatch(/checkpoint heads checked 0\b/);
  }, 120_000);

  it('store copy jetstream -> jetstream (another stream) keeps the chains: equal heads; a second copy without --resume is refused', async () => {
    const r = await cli(bus, ['store', 'copy', '--from', 'jetstream', '--to', 'jetstream', '--to-stream', copyBus.esStream, '--to-prefix', copyBus.esPrefix]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ok: \d+ events/);
    expect(r.out).toContain('chain heads equal');
    const copy = await JetStreamEventStore.connect(nc, { stream: copyBus.esStream, subjectPrefix: copyBus.esPrefix });
    const [a, b] = await Promise.all([verifyChains(copy), verifyChains(await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix }))]);
    expect(a.heads).toEqual(b.heads);
    const again = await cli(bus, ['store', 'copy', '--from', 'jetstream', '--to', 'jetstream', '--to-stream', copyBus.esStream, '--to-prefix', copyBus.esPrefix]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('not empty');
    const same = await cli(bus, ['store', 'copy', '--from', 'jetstream', '--to', 'jetstream']);
    expect(same.code).toBe(2);
  }, 180_000);

  it('flags exactly the one event altered in a copy of the log: exit 1 naming its stream and revision', async () => {
    // Copy message by message straight into JetStream (bypassing the adapter), altering one fill's price.
    const victim = log.find((e) => e.type === 'OrderFilled') as RecordedEvent;
    const js = nc.jetstream();
    for (const e of log) {
      const data = e === victim ? { ...(e.data as Record<string, unknown>), price: '1.0' } : e.data;
      const h = natsHeaders();
      h.set(EventHeaders.streamId, e.streamId);
      h.set(EventHeaders.revision, String(e.revision));
      h.set(EventHeaders.eventType, e.type);
      h.set(EventHeaders.eventId, e.metadata.eventId);
      await js.publish(subjectForStream(tamperBus.esPrefix, e.streamId), new TextEncoder().encode(JSON.stringify({ type: e.type, data, metadata: e.metadata })), { headers: h });
    }
    const r = await cli(tamperBus, ['audit', 'verify']);
    console.log(`audit verify on the altered copy (exit ${r.code}):\n${r.out}${r.err}`);
    expect(r.code).toBe(1);
    expect(r.out).toContain('BROKEN');
    // Exactly one broken link, at the altered event.
    expect(r.out.match(/broken: /g)).toHaveLength(1);
    expect(r.out).toContain(`broken: ${victim.streamId} revision ${victim.revision} position ${victim.position}: hash-mismatch`);
    expect(r.err).toContain(`hash chain broken at ${victim.streamId} revision ${victim.revision}`);
    expect(r.err).toContain(`found hash ${victim.metadata.hash}`);
  }, 180_000);
});
