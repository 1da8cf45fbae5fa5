import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';

/**
 * The WebSocket side of the local venue, on the HTTP server's port.
 *
 * Market streams (https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams):
 * - raw: `/ws/<stream>`, `/market/ws/<stream>`, `/public/ws/<stream>` (ccxt.pro connects to
 *   `…/market/ws/<n>` — `getWsUrl` rewrites `…/ws` to `…/<category>/ws` — and sends
 *   `{"method":"SUBSCRIBE","params":["btcusdt@kline_1m"],"id":1}`, answered `{"result":null,"id":1}`);
 * - combined: `/stream?streams=a/b` (and `/market/stream`, `/public/stream`): messages wrapped
 *   as `{"stream": "<name>", "data": {...}}`.
 * Methods: SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS. Ping frames are answered by `ws`.
 *
 * User data streams (https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams):
 * `/private/ws?listenKey=K` (the 2025 path ccxt.pro uses) and `/ws/<listenKey>`; events of
 * the listen key's account only. An unknown listen key is refused at the handshake (HTTP 400).
 */
export type WsKind = 'market' | 'user';

interface Conn {
  ws: WebSocket;
  kind: WsKind;
  combined: boolean;
  streams: Set<string>;
  accountId: string | null;
  listenKey: string | null;
}

export class WsHub {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly conns = new Set<Conn>();

  /** @param accountOfListenKey the account of an active listen key, or null */
  constructor(private readonly accountOfListenKey: (key: string) => string | null) {}

  /** Handle an HTTP upgrade of the server. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'ws://local');
    const parts = url.pathname.split('/').filter(Boolean);
    const refuse = (code: number, text: string) => {
      socket.write(`HTTP/1.1 ${code} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    // Strip the category prefix (market/public/private), keep ws|stream and the rest.
    const category = parts[0] === 'market' || parts[0] === 'public' || parts[0] === 'private' ? parts.shift() : undefined;
    const mode = parts.shift();
    if (mode !== 'ws' && mode !== 'stream') return refuse(404, 'Not Found');
    const rest = parts.join('/');
    let conn: Omit<Conn, 'ws'>;
    const lk = url.searchParams.get('listenKey') ?? (mode === 'ws' && rest && !rest.includes('@') && !/^\d+$/.test(rest) ? rest : null);
    if (category === 'private' || lk) {
      const key = lk ?? '';
      const accountId = this.accountOfListenKey(key);
      if (!accountId) return refuse(400, 'Bad Request');
      conn = { kind: 'user', combined: false, streams: new Set(), accountId, listenKey: key };
    } else {
      const streams = new Set<string>();
      if (mode === 'stream') for (const s of (url.searchParams.get('streams') ?? '').split('/').filter(Boolean)) streams.add(s);
      else if (rest.includes('@')) streams.add(rest);
      conn = { kind: 'market', combined: mode === 'stream', streams, accountId: null, listenKey: null };
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const c: Conn = { ...conn, ws };
      this.conns.add(c);
      ws.on('close', () => this.conns.delete(c));
      ws.on('error', () => this.conns.delete(c));
      ws.on('message', (data) => this.onMessage(c, data.toString()));
    });
  }

  private onMessage(c: Conn, text: string): void {
    let m: { method?: unknown; params?: unknown; id?: unknown };
    try {
      m = JSON.parse(text);
    } catch {
      c.ws.send(JSON.stringify({ error: { code: 3, msg: 'Invalid JSON' } }));
      return;
    }
    const id = m.id ?? null;
    const params = Array.isArray(m.params) ? m.params.filter((p): p is string => typeof p === 'string') : [];
    switch (m.method) {
      case 'SUBSCRIBE':
        for (const p of params) c.streams.add(p);
        c.ws.send(JSON.stringify({ result: null, id }));
        return;
      case 'UNSUBSCRIBE':
        for (const p of params) c.streams.delete(p);
        c.ws.send(JSON.stringify({ result: null, id }));
        return;
      case 'LIST_SUBSCRIPTIONS':
        c.ws.send(JSON.stringify({ result: [...c.streams], id }));
        return;
      default:
        c.ws.send(JSON.stringify({ error: { code: 2, msg: 'Invalid request: unknown method' }, id }));
    }
  }

  /** Push a market event to every connection subscribed to `stream` (e.g. "btcusdt@kline_1m"). */
  publishMarket(stream: string, data: unknown): void {
    for (const c of this.conns) {
      if (c.kind !== 'market' || !c.streams.has(stream) || c.ws.readyState !== WebSocket.OPEN) continue;
      c.ws.send(JSON.stringify(c.combined ? { stream, data } : data));
    }
  }

  /** Push a user-data event to every connection of the account. @returns how many connections got it */
  publishUser(accountId: string, data: unknown): number {
    let n = 0;
    for (const c of this.conns) {
      if (c.kind !== 'user' || c.accountId !== accountId || c.ws.readyState !== WebSocket.OPEN) continue;
      c.ws.send(JSON.stringify(data));
      n++;
    }
    return n;
  }

  /** `listenKeyExpired` to the key's connections, then close them. */
  expireListenKey(listenKey: string, now: number): void {
    for (const c of this.conns) {
      if (c.listenKey !== listenKey) continue;
      if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify({ e: 'listenKeyExpired', E: now, listenKey }));
      c.ws.close(1000, 'listenKeyExpired');
    }
  }

  /** Drop connections abruptly (a network failure as the client sees it). @returns how many */
  disconnect(kind: WsKind | 'all'): number {
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
  count(kind: WsKind | 'all' = 'all'): number {
    return [...this.conns].filter((c) => kind === 'all' || c.kind === kind).length;
  }

  /** Open market connections subscribed to `stream` now (for tests: a push before the SUBSCRIBE arrived is not seen). */
  subscribers(stream: string): number {
    return [...this.conns].filter((c) => c.kind === 'market' && c.streams.has(stream)).length;
  }

  close(): Promise<void> {
    this.disconnect('all');
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}
