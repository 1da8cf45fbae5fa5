/**
 * Fault injection for tests of the venue adapter: a rule matches a request by HTTP method and
 * path (and optionally the account) and applies its action to the next `count` matching
 * requests (default 1; -1 = until cleared).
 *
 * Actions (what a client sees):
 * - `delay`: the answer comes `ms` later (processing happens after the delay).
 * - `drop`: no answer; the socket is destroyed after `ms` (a client timeout). `when: 'before'`
 *   (default) = the request is not processed; `'after'` = it IS processed (outcome unknown).
 * - `503`: HTTP 503 `{"code":-1007,"msg":"Timeout waiting for response from backend server. Send status unknown; execution status unknown."}`,
 *   `when: 'before'` (default, not processed) or `'after'` (processed: e.g. the order is placed).
 * - `429` / `418`: Binance's rate-limit / ban answer (-1003) with `Retry-After: retryAfterSec`.
 * - `error`: a Binance error `{code, msg}` (HTTP `status`, default 400) before processing, e.g. -1021.
 * - `fillBeforeCancel`: on `DELETE /fapi/v1/order`, the order is first filled at the current mark
 *   price (a zero-length step at the mark), then the cancel answers -2011 "Unknown order sent.".
 * - `splitFill`: on `POST /fapi/v1/order`, the order is accepted as usual and each of its fills
 *   is split into `trades` trades (same step, same price; quantities on the lot step, the last
 *   takes the remainder, fewer trades when the order has fewer lots): one ORDER_TRADE_UPDATE
 *   per trade (X PARTIALLY_FILLED … FILLED, own `t`, `l`, `n`, `rp`) and one
 *   `GET /fapi/v1/userTrades` row per trade. `count` orders are split (default 1).
 * WebSocket disconnects are not request rules: `FaultInjector.disconnectWs(kind)` /
 * `POST /bulwark/v1/ws/disconnect?kind=market|user|all`.
 */
export interface FaultRule {
  method: string; // 'GET' | 'POST' | 'PUT' | 'DELETE' | '*'
  path: string; // exact path, e.g. '/fapi/v1/order'
  accountId?: string;
  count?: number;
  action: 'delay' | 'drop' | '503' | '429' | '418' | 'error' | 'fillBeforeCancel' | 'splitFill';
  when?: 'before' | 'after';
  ms?: number;
  retryAfterSec?: number;
  code?: number;
  msg?: string;
  status?: number;
  /** splitFill: trades per fill, an integer 1..1000. */
  trades?: number;
}

const ACTIONS = new Set(['delay', 'drop', '503', '429', '418', 'error', 'fillBeforeCancel', 'splitFill']);

/**
 * Validate a rule read from JSON.
 * @throws Error naming the bad field
 */
export function parseFaultRule(x: unknown): FaultRule {
  if (!x || typeof x !== 'object') throw new Error('fault rule: expected a JSON object');
  const r = x as Record<string, unknown>;
  if (typeof r['method'] !== 'string' || typeof r['path'] !== 'string') throw new Error('fault rule: method and path are required strings');
  if (typeof r['action'] !== 'string' || !ACTIONS.has(r['action'])) throw new Error(`fault rule: action must be one of ${[...ACTIONS].join(', ')}`);
  for (const k of ['count', 'ms', 'retryAfterSec', 'code', 'status', 'trades'] as const) {
    if (r[k] !== undefined && (typeof r[k] !== 'number' || !Number.isInteger(r[k]))) throw new Error(`fault rule: ${k} must be an integer`);
  }
  if (r['when'] !== undefined && r['when'] !== 'before' && r['when'] !== 'after') throw new Error("fault rule: when must be 'before' or 'after'");
  if (r['action'] === 'error' && typeof r['code'] !== 'number') throw new Error('fault rule: action error needs a code');
  if (r['action'] === 'splitFill') {
    if (typeof r['trades'] !== 'number' || r['trades'] < 1 || r['trades'] > 1000) throw new Error('fault rule: action splitFill needs trades, an integer from 1 to 1000');
    if (r['path'] !== '/fapi/v1/order' || r['method'].toUpperCase() !== 'POST') throw new Error('fault rule: action splitFill applies to POST /fapi/v1/order (method POST)');
  }
  return r as unknown as FaultRule;
}

interface ActiveRule {
  rule: FaultRule;
  left: number;
}

/** The in-process fault API of a running local venue (also driven by POST/DELETE /bulwark/v1/faults). */
export class FaultInjector {
  private rules: ActiveRule[] = [];
  /** How many times each rule fired (for assertions), by index of addition. */
  readonly fired: FaultRule[] = [];

  constructor(private readonly wsDisconnect: (kind: 'market' | 'user' | 'all') => number) {}

  /** Add a rule (validated). */
  add(rule: FaultRule): void {
    const r = parseFaultRule(rule);
    this.rules.push({ rule: { ...r, method: r.method.toUpperCase() }, left: r.count ?? 1 });
  }

  /** Remove every rule. */
  clear(): void {
    this.rules = [];
  }

  /** Rules still armed. */
  pending(): FaultRule[] {
    return this.rules.map((a) => a.rule);
  }

  /** Close every WebSocket connection of a kind; returns how many were closed. */
  disconnectWs(kind: 'market' | 'user' | 'all' = 'all'): number {
    return this.wsDisconnect(kind);
  }

  /** The rule that applies to this request (consumed), or null. */
  take(method: string, path: string, accountId: string | null): FaultRule | null {
    const i = this.rules.findIndex(
      (a) => (a.rule.method === '*' || a.rule.method === method) && a.rule.path === path && (!a.rule.accountId || a.rule.accountId === accountId),
    );
    if (i < 0) return null;
    const a = this.rules[i];
    if (a.left > 0) {
      a.left--;
      if (a.left === 0) this.rules.splice(i, 1);
    }
    this.fired.push(a.rule);
    return a.rule;
  }
}
