/**
 * Test stand-ins for the alerter's two channels, shared by alerter.int.spec.ts and
 * alerter.e2e.spec.ts (excluded from the service's build): a local HTTP server that answers
 * the Telegram Bot API's sendMessage (grammy is pointed at it by BULWARK_TELEGRAM_API_ROOT)
 * and a webhook receiver that verifies every request's HMAC-SHA256 signature as
 * docs/observability.md tells a receiver to. Both listen on a free port of 127.0.0.1.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertPayload } from './format';
import { verifyWebhook } from './webhook';

/** A local stand-in for the Bot API: answers sendMessage like Telegram does and records each call. */
export class BotApiStandIn {
  /** Each sendMessage call, in arrival order. */
  readonly messages: { chat_id: string; text: string }[] = [];
  /** Each request's path (`/bot<token>/sendMessage`). */
  readonly paths: string[] = [];
  server: Server | null = null;
  private nextId = 1;

  /** Listen on a free loopback port. @returns the API root to give grammy (`http://127.0.0.1:<port>`) */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      void readBody(req).then((raw) => {
        this.paths.push(req.url ?? '');
        const body = JSON.parse(raw) as { chat_id: string | number; text: string };
        this.messages.push({ chat_id: String(body.chat_id), text: body.text });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ok: true, result: { message_id: this.nextId++, date: Math.floor(Date.now() / 1000), chat: { id: Number(body.chat_id), type: 'private' }, text: body.text } }));
      });
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }
}

/**
 * A webhook receiver that verifies each request with the shared `secret`; a request that
 * fails verification is answered 401. `failures` requests are answered 500 first, or every
 * verified one while `down`.
 */
export class WebhookReceiver {
  /** Verified deliveries answered 200, in arrival order. */
  readonly delivered: AlertPayload[] = [];
  /** Every request's event id (also the refused ones). */
  readonly attempts: string[] = [];
  /** Why requests were refused (verifyWebhook's reasons). */
  readonly rejected: string[] = [];
  failures = 0;
  down = false;
  server: Server | null = null;

  constructor(private readonly secret: string) {}

  /** Listen on a free loopback port. @returns the URL to POST to (`http://127.0.0.1:<port>/hook`) */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      void readBody(req).then((raw) => {
        const v = verifyWebhook(this.secret, req.headers, raw);
        const payload = JSON.parse(raw) as AlertPayload;
        this.attempts.push(payload.eventId);
        if (!v.ok) {
          this.rejected.push(v.reason);
          res.statusCode = 401;
        } else if (this.down || this.failures > 0) {
          this.failures = Math.max(0, this.failures - 1);
          res.statusCode = 500;
        } else {
          this.delivered.push(payload);
          res.statusCode = 200;
        }
        res.end();
      });
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function closeServer(server: Server | null): Promise<void> {
  if (!server) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

/**
 * Wait until `pred()` holds, checking every 25 ms.
 * @throws Error naming `what` after `ms` milliseconds
 */
export async function until(what: string, pred: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** How often each id occurs. */
export const countBy = (ids: readonly string[]): Record<string, number> => ids.reduce<Record<string, number>>((m, id) => ((m[id] = (m[id] ?? 0) + 1), m), {});
