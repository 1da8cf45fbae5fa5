/*
 * The gateway's API as the dashboard uses it: every path in one place (the contract with
 * services/gateway), the bearer token (memory + sessionStorage), one refresh on a 401, and
 * typed errors carrying the gateway's `{ error: { code, message, field?, reason? } }`.
 */
import type { LiquidationCalcResult, SizeCalcResult } from '@bulwark/domain';
import type { BacktestReportData } from './report/report-data';
import type { AccountListItem, AccountView, DatasetView as Dataset, EquityPoint, FillView, MarkPriceView as MarkTick, OrderView, PositionView, StreamedEventView as StreamEvent } from './views';

const ACCESS = 'bulwark.accessToken';
const REFRESH = 'bulwark.refreshToken';

/** A refusal or failure from the gateway: HTTP status and the typed error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let accessToken: string | null = sessionStorage.getItem(ACCESS);
let refreshToken: string | null = sessionStorage.getItem(REFRESH);
const authListeners = new Set<(loggedIn: boolean) => void>();

function setTokens(access: string | null, refresh: string | null): void {
  accessToken = access;
  refreshToken = refresh;
  if (access) sessionStorage.setItem(ACCESS, access);
  else sessionStorage.removeItem(ACCESS);
  if (refresh) sessionStorage.setItem(REFRESH, refresh);
  else sessionStorage.removeItem(REFRESH);
  for (const l of authListeners) l(access !== null);
}

/** Is a user logged in (an access token is held)? */
export const isLoggedIn = (): boolean => accessToken !== null;

/** Be told when the user logs in or out (also when a refresh fails). Returns the unsubscribe. */
export function onAuthChange(listener: (loggedIn: boolean) => void): () => void {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

async function toError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // A non-JSON answer (proxy error page): the status says enough.
  }
  const e = (body as { error?: { code?: string; message?: string; field?: string; reason?: string } } | null)?.error;
  return new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText ?? `HTTP ${res.status}`, e?.field, e?.reason);
}

let refreshing: Promise<boolean> | null = null;

/** Trade the refresh token for new tokens once, shared by concurrent 401s. */
function refresh(): Promise<boolean> {
  if (!refreshToken) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const res = await fetch('/api/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) });
      if (!res.ok) return false;
      const t = (await res.json()) as { accessToken: string; refreshToken: string };
      setTokens(t.accessToken, t.refreshToken);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/**
 * Call the gateway: JSON in and out, bearer token attached, one refresh and retry on 401.
 * @throws ApiError on any non-2xx answer (401 after a failed refresh also logs out)
 */
export async function request<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const send = () =>
    fetch(path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  let res = await send();
  if (res.status === 401 && !path.startsWith('/api/auth/login')) {
    if (await refresh()) res = await send();
    else setTokens(null, null);
  }
  if (!res.ok) throw await toError(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

const enc = encodeURIComponent;

/** A candle as the API sends it (libs/contracts `Candle`): decimals as strings, openTime epoch ms. */
export interface Candle {
  openTime: number;
  interval?: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

/** `POST /api/accounts/validate`: each rule's verdict. */
export interface Validation {
  ok: boolean;
  verdicts: Array<{ rule: string; ok: boolean; detail: string }>;
}

/** A command's answer: the recorded events. */
export interface CommandAnswer {
  events: Array<{ eventId: string; type: string; streamId: string; revision: number; data: unknown }>;
}

/** `GET /api/datasets`: the candle files the backtest can run on. */
export type { DatasetView as Dataset } from './views';

/**
 * `POST /api/backtest`: a data set and a UTC window (days, `to` exclusive), then the account as
 * `POST /api/accounts` names it (policy fields as fractions), except `riskPct` in percent.
 */
export interface BacktestBody {
  dataset: string;
  from?: string | null;
  to?: string | null;
  capital: string;
  leverage: number;
  riskPct: string;
  highLeverageConfirmed: boolean;
  dailyLossLimitFraction?: string | null;
  maxMonthlyDrawdownFraction?: string;
}

/** `POST /api/calc/liquidation`: the CLI's `calc liquidation --json` answer (the domain's calculator). */
export type LiquidationCalc = LiquidationCalcResult;

/** `POST /api/calc/size`: the CLI's `calc size --json` answer (the domain's calculator). */
export type SizeCalc = SizeCalcResult;

/** The open-account body (libs/contracts `OpenAccountRequest` without `by`). */
export interface OpenAccountBody {
  accountId: string;
  venue: string;
  symbol: string;
  capital: string;
  leverage: number;
  riskFraction: string;
  dailyLossLimitFraction: string | null;
  maxMonthlyDrawdownFraction: string;
  highLeverageConfirmed: boolean;
  venueBalance: string;
}

/** The gateway's routes, one function each. */
export const api = {
  async login(username: string, password: string): Promise<void> {
    const t = await request<{ accessToken: string; refreshToken: string }>('POST', '/api/auth/login', { username, password });
    setTokens(t.accessToken, t.refreshToken);
  },
  async logout(): Promise<void> {
    const rt = refreshToken;
    try {
      if (rt) await request('POST', '/api/auth/logout', { refreshToken: rt });
    } finally {
      setTokens(null, null);
    }
  },
  me: () => request<{ username: string; role: string }>('GET', '/api/auth/me'),
  streamTicket: () => request<{ ticket: string }>('POST', '/api/auth/stream-ticket'),
  streamUrl: (ticket: string) => `/api/stream?ticket=${enc(ticket)}`,

  accounts: () => request<AccountListItem[]>('GET', '/api/accounts'),
  account: (id: string) => request<AccountView>('GET', `/api/accounts/${enc(id)}`),
  positions: (id: string) => request<PositionView[]>('GET', `/api/accounts/${enc(id)}/positions`),
  orders: (id: string) => request<OrderView[]>('GET', `/api/accounts/${enc(id)}/orders`),
  fills: (id: string) => request<FillView[]>('GET', `/api/accounts/${enc(id)}/fills`),
  equity: (id: string) => request<EquityPoint[]>('GET', `/api/accounts/${enc(id)}/equity`),
  auditOrder: (clientOrderId: string) => request<Record<string, unknown>>('GET', `/api/audit/orders/${enc(clientOrderId)}`),
  candles: (venue: string, symbol: string, q: { from?: number; to?: number; limit?: number } = {}) => {
    const qs = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    return request<{ candles: Candle[]; next: number | null }>('GET', `/api/market/${enc(venue)}/${enc(symbol)}/candles${qs.size ? `?${qs}` : ''}`);
  },
  /** The current price: the newest mark (market time; 404 NO_MARK while no replay or live feed runs). */
  mark: (venue: string, symbol: string) => request<MarkTick>('GET', `/api/market/${enc(venue)}/${enc(symbol)}/mark`),
  datasets: () => request<Dataset[]>('GET', '/api/datasets'),

  halt: (id: string, reason: string) => request<CommandAnswer>('POST', `/api/accounts/${enc(id)}/trading-state`, { state: 'HALTED', reason }),
  resume: (id: string, reason: string) => request<CommandAnswer>('POST', `/api/accounts/${enc(id)}/resume`, { reason }),
  flatten: (id: string, reason: string) => request<CommandAnswer>('POST', `/api/accounts/${enc(id)}/flatten`, { reason }),
  manualEntry: (id: string, body: { symbol: string; side: 'LONG' | 'SHORT'; stopPrice: string; takeProfitPrice?: string }) =>
    request<CommandAnswer>('POST', `/api/accounts/${enc(id)}/entries`, body),

  validateAccount: (body: OpenAccountBody) => request<Validation>('POST', '/api/accounts/validate', body),
  openAccount: (body: OpenAccountBody) => request<CommandAnswer>('POST', '/api/accounts', body),
  calcLiquidation: (body: { symbol: string; side: 'LONG' | 'SHORT'; entry: string; qty: string; leverage: number; walletBalance?: string }) =>
    request<LiquidationCalc>('POST', '/api/calc/liquidation', body),
  calcSize: (body: { symbol: string; side: 'LONG' | 'SHORT'; entry: string; stop: string; equity: string; riskPct: string; leverage: number; availableMargin?: string }) =>
    request<SizeCalc>('POST', '/api/calc/size', body),
  /** Runs in a worker thread on the gateway; answers the backtest report's data. */
  backtest: (body: BacktestBody) => request<BacktestReportData>('POST', '/api/backtest', body),
};

/** A live event from `GET /api/stream` (every `event:` except `mark`), and a mark-price tick (`event: mark`). */
export type { StreamedEventView as StreamEvent, MarkPriceView as MarkTick } from './views';

/**
 * Subscribe to the live stream: takes a one-use ticket, opens an EventSource, and re-opens it
 * with a fresh ticket after an error (backing off up to 30 s). Named events arrive as
 * `event: <type>`, so the listener is attached for each type of interest plus `mark`.
 * @returns a function that closes the stream
 */
export function openStream(types: readonly string[], onEvent: (e: StreamEvent) => void, onMark: (m: MarkTick) => void): () => void {
  let es: EventSource | null = null;
  let closed = false;
  let delay = 1000;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const connect = async () => {
    if (closed) return;
    try {
      const { ticket } = await api.streamTicket();
      if (closed) return;
      es = new EventSource(api.streamUrl(ticket));
      es.onopen = () => {
        delay = 1000;
      };
      es.addEventListener('mark', (m) => onMark(JSON.parse((m as MessageEvent<string>).data) as MarkTick));
      for (const t of types) es.addEventListener(t, (m) => onEvent(JSON.parse((m as MessageEvent<string>).data) as StreamEvent));
      es.onerror = () => {
        es?.close();
        retry();
      };
    } catch {
      retry();
    }
  };
  const retry = () => {
    if (closed) return;
    timer = setTimeout(() => void connect(), delay);
    delay = Math.min(delay * 2, 30_000);
  };
  void connect();
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    es?.close();
  };
}
