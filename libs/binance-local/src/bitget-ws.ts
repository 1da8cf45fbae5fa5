import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';

/**
 * The WebSocket side of the local Bitget venue, on the HTTP server's port
 * (https://www.bitget.com/api-doc/common/websocket-intro):
 * - `/v2/ws/public` and `/v2/ws/private` (ccxt.pro bitget's `urls.api.ws.public/private`);
 * - text `ping` → `pong` (Bitget's keep-alive, sent by ccxt.pro every ~20 s);
 * - `{"op":"login","args":[{apiKey, passphrase, timestamp, sign}]}` with timestamp in SECONDS and
 *   sign = base64(HMAC-SHA256(secret, timestamp + 'GET' + '/user/verify')) →
 *   `{"event":"login","code":0}`, or `{"event":"error","code":<30011|30012|30013|30014|30015>,"msg"}`
 *   (ccxt.pro maps 30011/30012/30013/30015 to AuthenticationError);
 * - `{"op":"subscribe","args":[{instType, channel, instId}]}` → `{"event":"subscribe","arg":{…}}`
 *   per arg; private channels need a login first (`30004`);
 * - private pushes `{"action":"snapshot","arg":{instType, channel, instId:"default"},"data":[…],"ts"}`;
 * - public pushes `{"action":"snapshot"|"update","arg":{instType, channel, instId},"data":[…],"ts"}`
 *   to the connections subscribed to that channel of that instId (see `publishPublic`).
 * Unknown ops → `{"event":"error","code":30003,"msg":"invalid op"}`; bad JSON → 30016.
 */
export type BitgetWsKind = 'public' | 'private';

interface Conn {
  ws: WebSocket;
  kind: BitgetWsKind;
  accountId: string | null;
  subs: Set<string>;
}

/** The outcome of a login attempt: the account, or Bitget's websocket error code and message. */
export type BitgetWsLogin = { accountId: string } | { code: number; msg: string };

/** A subscription: private channels by instType and channel (instId "default"), public ones also by instId. */
const subKey = (instType: string, channel: string, instId = '') => `${instType.toUpperCase()}|${channel}|${instId}`;

export class BitgetWsHub {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly conns = new Set<Conn>();

  /** @param login checks a login op's args (key, passphrase, timestamp in s, sign) */
  constructor(private readonly login: (args: Record<string, unknown>) => BitgetWsLogin) {}

  /** Handle an HTTP upgrade of the server: `/v2/ws/public` or `/v2/ws/private`, else 404. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'ws://local').pathname.replace(/\/+$/, '');
    const kind: BitgetWsKind | null = path === '/v2/ws/public' ? 'public' : path === '/v2/ws/private' ? 'private' : null;
    if (!kind) {
      socket.write('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const c: Conn = { ws, kind, accountId: null, subs: new Set() };
      this.conns.add(c);
      ws.on('close', () => this.conns.delete(c));
      ws.on('error', () => this.conns.delete(c));
      ws.on('message', (data) => this.onMessage(c, data.toString()));
    });
  }

  private send(c: Conn, m: unknown): void {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  private onMessage(c: Conn, text: string): void {
    if (text === 'ping') return this.send(c, 'pong');
    let m: { op?: unknown; args?: unknown };
    try {
      m = JSON.parse(text);
    } catch {
      return this.send(c, { event: 'error', code: 30016, msg: 'Param error' });
    }
    const args = Array.isArray(m.args) ? (m.args.filter((a) => a && typeof a === 'object') as Array<Record<string, unknown>>) : [];
    switch (m.op) {
      case 'login': {
        if (c.kind !== 'private' || args.length !== 1) return this.send(c, { event: 'error', code: 30002, msg: 'illegal request' });
        const r = this.login(args[0]);
        if ('accountId' in r) {
          c.accountId = r.accountId;
          return this.send(c, { event: 'login', code: 0 });
        }
        return this.send(c, { event: 'error', code: r.code, msg: r.msg });
      }
      case 'subscribe':
      case 'unsubscribe':
        for (const a of args) {
          const arg = { instType: String(a['instType'] ?? ''), channel: String(a['channel'] ?? ''), instId: String(a['instId'] ?? '') };
          if (!arg.instType || !arg.channel) {
            this.send(c, { event: 'error', arg, code: 30016, msg: 'Param error' });
            continue;
          }
          if (c.kind === 'private' && !c.accountId) {
            this.send(c, { event: 'error', arg, code: 30004, msg: 'User not logged in' });
            continue;
          }
          const key = subKey(arg.instType, arg.channel, c.kind === 'public' ? arg.instId : '');
          if (m.op === 'subscribe') c.subs.add(key);
          else c.subs.delete(key);
          this.send(c, { event: m.op, arg });
        }
        return;
      default:
        return this.send(c, { event: 'error', code: 30003, msg: 'invalid op' });
    }
  }

  /**
   * Push private `data` on `channel` to the account's logged-in connections subscribed to it.
   * @returns how many connections got it
   */
  publishPrivate(accountId: string, instType: string, channel: string, data: unknown[], ts: number): number {
    let n = 0;
    for (const c of this.conns) {
      if (c.kind !== 'private' || c.accountId !== accountId || !c.subs.has(subKey(instType, channel))) continue;
      this.send(c, { action: 'snapshot', arg: { instType, channel, instId: 'default' }, data, ts });
      n++;
    }
    return n;
  }

  /**
   * Push public `data` on `channel` of `instId` (the symbol, e.g. "BTCUSDT") to the public
   * connections subscribed to exactly that (instType, channel, instId), as Bitget frames it:
   * `{action, arg:{instType, channel, instId}, data, ts}` (`ts` ms).
   * @returns how many connections got it
   */
  publishPublic(instType: string, channel: string, instId: string, data: unknown[], ts: number, action: 'snapshot' | 'update' = 'snapshot'): number {
    let n = 0;
    for (const c of this.conns) {
      if (c.kind !== 'public' || !c.subs.has(subKey(instType, channel, instId))) continue;
      this.send(c, { action, arg: { instType, channel, instId }, data, ts });
      n++;
    }
    return n;
  }

  /** Drop connections abruptly (a network failure as the client sees it). @returns how many */
  disconnect(kind: BitgetWsKind | 'all'): number {
    let n = 0;
    for (const c of [...this.conns]) {
      if (kind !== 'all' && c.kind !== kind) continue;
      c.ws.terminate();
      this.conns.delete(c);
      n++;
    }
    return n;
  }

  /** Connections open now, by kind (for tests). */
  count(kind: BitgetWsKind | 'all' = 'all'): number {
    return [...this.conns].filter((c) => kind === 'all' || c.kind === kind).length;
  }

  /** Subscriptions held now by connections of `kind` (for tests: a push before the subscribe arrived is not seen). */
  subscriptions(kind: BitgetWsKind | 'all' = 'all'): number {
    let n = 0;
    for (const c of this.conns) if (kind === 'all' || c.kind === kind) n += c.subs.size;
    return n;
  }

  close(): Promise<void> {
    this.disconnect('all');
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}
