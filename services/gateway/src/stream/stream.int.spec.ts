import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { Streams } from '@bulwark/contracts';
import { eventMetadata, until } from '@bulwark/testing';
import { JSONCodec } from 'nats';
import { type GatewayKit, login, startGatewayKit } from '../gateway-test-kit';
import { MARK_INTERVAL_MS } from './stream.controller';

jest.setTimeout(120_000);

/** An open Server-Sent Events connection: the text received so far. */
interface SseClient {
  status: number;
  contentType: string;
  text: () => string;
  close: () => void;
}

function openSse(port: number, ticket: string): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const req = http.get({ host: '127.0.0.1', port, path: `/api/stream?ticket=${encodeURIComponent(ticket)}` }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => (buf += c));
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), text: () => buf, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

/** The `event:`/`data:` frames of a stream's text. */
function frames(text: string): { event: string; data: Record<string, unknown> }[] {
  return text
    .split('\n\n')
    .map((f) => ({ event: /^event: (.+)$/m.exec(f)?.[1], data: /^data: (.+)$/m.exec(f)?.[1] }))
    .filter((f): f is { event: string; data: string } => !!f.event && !!f.data)
    .map((f) => ({ event: f.event, data: JSON.parse(f.data) as Record<string, unknown> }));
}

describe('live stream (Server-Sent Events with one-use tickets)', () => {
  let kit: GatewayKit;
  let port: number;
  let auth: { authorization: string };
  beforeAll(async () => {
    kit = await startGatewayKit();
    await kit.app.listen(0, '127.0.0.1');
    port = (kit.app.getHttpServer().address() as { port: number }).port;
    auth = { authorization: `Bearer ${(await login(kit.app, 'vic', kit.passwords.vic)).accessToken}` };
  });
  afterAll(async () => {
    await kit.close();
  });

  const ticket = async () => {
    const r = await kit.app.inject({ method: 'POST', url: '/api/auth/stream-ticket', headers: auth });
    expect(r.statusCode).toBe(200);
    expect(r.json().expiresIn).toBe(30);
    return r.json().ticket as string;
  };

  it('needs an authenticated caller for a ticket, and a ticket works once', async () => {
    expect((await kit.app.inject({ method: 'POST', url: '/api/auth/stream-ticket' })).statusCode).toBe(401);
    const t = await ticket();
    const first = await openSse(port, t);
    expect(first.status).toBe(200);
    expect(first.contentType).toContain('text/event-stream');
    first.close();
    const again = await kit.app.inject({ method: 'GET', url: `/api/stream?ticket=${encodeURIComponent(t)}` });
    expect(again.statusCode).toBe(401);
    expect(again.json().error.code).toBe('INVALID_TICKET');
    expect((await kit.app.inject({ method: 'GET', url: '/api/stream' })).statusCode).toBe(401);
  });

  it('delivers an appended event as `event: <type>` with {eventId, type, streamId, ts, accountId, data}, and not the events it does not stream', async () => {
    const sse = await openSse(port, await ticket());
    try {
      await until('the connected comment', () => sse.text().includes(': connected'));
      const accountId = `acc-${randomBytes(3).toString('hex')}`;
      const eventId = randomUUID();
      const meta = (id: string) => eventMetadata({ eventId: id, tsEvent: 1_763_000_000_000, tsInit: Date.now(), correlationId: 'spec' });
      await kit.store.append(Streams.account(accountId), [{ type: 'TradingStateChanged', data: { state: 'HALTED', previous: 'ACTIVE', reason: 'kill switch', by: 'vic' }, metadata: meta(eventId) }], 'any');
      await until('the event', () => frames(sse.text()).some((f) => f.event === 'TradingStateChanged'));
      const f = frames(sse.text()).find((x) => x.event === 'TradingStateChanged')!;
      expect(f.data).toEqual({ eventId, type: 'TradingStateChanged', streamId: Streams.account(accountId), ts: 1_763_000_000_000, accountId, data: { state: 'HALTED', previous: 'ACTIVE', reason: 'kill switch', by: 'vic' } });
      // User events are not streamed.
      expect(sse.text()).not.toContain('UserCreated');
    } finally {
      sse.close();
    }
  });

  it('forwards mark prices as `event: mark`, throttled per symbol with the latest price kept', async () => {
    const sse = await openSse(port, await ticket());
    try {
      await until('the connected comment', () => sse.text().includes(': connected'));
      // A venue token of its own: nothing else on the shared server publishes or listens to it.
      const venue = `specvenue${randomBytes(3).toString('hex')}`;
      const codec = JSONCodec();
      const prices = ['91000.1', '91000.2', '91000.3', '91000.4', '91000.5', '91000.6', '91000.7', '91000.8'];
      const started = Date.now();
      for (const price of prices) kit.nc.publish(`md.mark.${venue}.BTCUSDT`, codec.encode({ ts: 1_763_000_000_000, price }));
      await kit.nc.flush();
      await until('the last mark', () => frames(sse.text()).some((f) => f.event === 'mark' && f.data.venue === venue && f.data.price === '91000.8'));
      const elapsed = Date.now() - started;
      // Only this spec's venue: other runs on the shared server (a demo, the e2e specs) publish marks of their own.
      const marks = frames(sse.text()).filter((f) => f.event === 'mark' && f.data.venue === venue);
      // The throttle's promise, whatever the machine's speed: marks of one symbol go out at least
      // MARK_INTERVAL_MS apart, so no more than 1 + elapsed / interval of them were sent in this
      // window (10 ms of slack for timer and clock granularity). Unthrottled, all 8 come in a few ms.
      expect(marks.length).toBeLessThanOrEqual(1 + Math.floor(elapsed / (MARK_INTERVAL_MS - 10)));
      expect(marks[0].data).toEqual({ venue, symbol: 'BTCUSDT', price: '91000.1', ts: 1_763_000_000_000 });
      // The latest price is never held back: the last one is what the last frame carries.
      expect(marks[marks.length - 1].data).toEqual({ venue, symbol: 'BTCUSDT', price: '91000.8', ts: 1_763_000_000_000 });
    } finally {
      sse.close();
    }
  });
});
