import { dec, str, ZERO, type D, type PaperStep, type PaperVenueEvent } from '@bulwark/domain';
import type { AccountStepReport, SharedMarketVenue } from '../port';
import { BinanceUsdmVenue, type BinanceUsdmVenueOptions, type UserDataMessage } from './binance-usdm';
import { VenueCallError } from './requests';
import { toVenueFailure } from './errors';
import { signedAdminPost } from './local-admin';

type Raw = Record<string, unknown>;
const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const dOr = (v: unknown): D => (v === undefined || v === null || v === '' ? ZERO : dec(String(v)));

/**
 * The local venue's answer to POST /bulwark/v1/step: ORDER_TRADE_UPDATE (x TRADE|EXPIRED)
 * count pushed for the signing account, and the engine's events as JSON; with `scope=all`,
 * every account's part by account id.
 */
export interface StepReportJson extends AccountStepReport {
  accounts?: Record<string, AccountStepReport>;
}

export type LocalBinanceVenueOptions = Omit<BinanceUsdmVenueOptions, 'mode' | 'restBase' | 'wsBase'> & {
  restBase: string;
  wsBase: string;
  /** How long `advance` waits for the step's order updates on the websocket (default 10 000 ms). */
  streamTimeoutMs?: number;
};

/**
 * The ccxt adapter against the local Binance-compatible venue (@bulwark/binance-local),
 * driven like a simulated venue: `deposit` → `POST /bulwark/v1/deposit`, `advance` →
 * `POST /bulwark/v1/step`, then exactly `orderUpdates` ORDER_TRADE_UPDATE messages (x TRADE
 * or EXPIRED) are awaited on the user-data websocket (ccxt.pro) and turned into
 * `PaperVenueEvent`s in the engine's order: fills from the messages (price `L`, quantity `l`,
 * fee `n`, realised PnL `rp`, trade id `t`, maker `m`; `o`=LIQUIDATION → purpose LIQUIDATION,
 * venue-generated, clearance fee from `GET /fapi/v1/income` INSURANCE_CLEAR), expiries as
 * `rejected`; funding and algoTriggered events come from the step report (no websocket
 * message carries the funding rate). `isIdle` is answered from the orders, algo orders and
 * positions this adapter tracks (its own calls and the stream), without a REST call.
 *
 * Implements `DrivenVenue` (the asynchronous form of `SimulatedVenue`: deposit and advance
 * go over HTTP) and `SharedMarketVenue` (one adapter steps the market of every account of the
 * venue; each reads its own order updates).
 */
export class LocalBinanceVenue extends BinanceUsdmVenue implements SharedMarketVenue {
  private readonly restBase: string;
  private readonly streamTimeoutMs: number;
  private readonly known = new Set<string>();
  /** ORDER_TRADE_UPDATE messages with x TRADE|EXPIRED not yet consumed by a step, in arrival order. */
  private readonly pending: Raw[] = [];
  private waiter: (() => void) | null = null;

  constructor(o: LocalBinanceVenueOptions) {
    super({ ...o, mode: 'local' });
    this.restBase = o.restBase.replace(/\/+$/, '');
    this.streamTimeoutMs = o.streamTimeoutMs ?? 10_000;
    this.onUserData((m) => this.collect(m));
  }

  private collect(m: UserDataMessage): void {
    if (m.e !== 'ORDER_TRADE_UPDATE') return;
    const o = (m['o'] ?? {}) as Raw;
    const x = s(o['x']);
    if (x !== 'TRADE' && x !== 'EXPIRED') return;
    this.pending.push(o);
    this.waiter?.();
  }

  hasAccount(accountId: string): boolean {
    return this.known.has(accountId);
  }

  protected override accountSeen(): void {
    this.known.add(this.accountId);
  }

  /** No open order, algo order or position as far as the adapter has seen (its calls and the user-data stream). */
  isIdle(): boolean {
    return this.openOrderIds.size === 0 && this.openAlgoIds.size === 0 && this.positionQty.size === 0;
  }

  /** `POST /bulwark/v1/deposit?asset=USDT&amount=` (signed with the account's key); starts the user-data stream. */
  async deposit(accountId: string, amount: D): Promise<void> {
    if (accountId !== this.accountId) throw new Error(`this adapter trades account ${this.accountId} only`);
    await this.admin('/bulwark/v1/deposit', { asset: 'USDT', amount: str(amount) });
    this.known.add(accountId);
    await this.startUserData();
  }

  /**
   * `POST /bulwark/v1/step` for one path step (with `fundingRate` when funding settles and
   * `barVolume` when the step carries its bar's volume), then the step's fills (one per trade)
   * and expiries from the user-data stream.
   * @throws when the stream does not deliver the announced updates within streamTimeoutMs
   */
  async advance(symbol: string, step: PaperStep, funding: { rate: string } | null): Promise<PaperVenueEvent[]> {
    await this.startUserData();
    return this.stepEvents(symbol, step.ts, await this.step(symbol, step, funding, false));
  }

  /** `POST /bulwark/v1/step?scope=all`: the market moves once for every account of the venue; each account's part of it, by account id. */
  async stepAll(symbol: string, step: PaperStep, funding: { rate: string } | null): Promise<Record<string, AccountStepReport>> {
    return (await this.step(symbol, step, funding, true)).accounts ?? {};
  }

  /** This account's fills (one per trade) and expiries of a step: its announced order updates from its own user-data stream, in the engine's order. */
  async stepEvents(symbol: string, ts: number, report: AccountStepReport | undefined): Promise<PaperVenueEvent[]> {
    await this.startUserData();
    const updates = await this.take(Number(report?.orderUpdates ?? 0));
    return this.toEvents(symbol, ts, updates, Array.isArray(report?.events) ? (report.events as Raw[]) : []);
  }

  private async step(symbol: string, step: PaperStep, funding: { rate: string } | null, all: boolean): Promise<StepReportJson> {
    const q: Record<string, string> = { symbol, from: step.from, to: step.to, gap: String(step.gap), ts: String(step.ts) };
    if (funding) q['fundingRate'] = funding.rate;
    if (step.barVolume !== undefined && step.barVolume !== null) q['barVolume'] = step.barVolume;
    if (all) q['scope'] = 'all';
    return (await this.admin('/bulwark/v1/step', q)) as StepReportJson;
  }

  /** Wait for `n` collected order updates and remove them from the queue. */
  private async take(n: number): Promise<Raw[]> {
    const deadline = Date.now() + this.streamTimeoutMs;
    while (this.pending.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`user-data stream delivered ${this.pending.length} of ${n} order updates within ${this.streamTimeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = null;
    }
    return this.pending.splice(0, n);
  }

  /**
   * Events in the engine's order (the step report), each fill and expiry built from its
   * websocket message (matched by client order id and trade id); messages the report does not
   * list are appended in arrival order.
   */
  private async toEvents(symbol: string, ts: number, updates: Raw[], report: Raw[]): Promise<PaperVenueEvent[]> {
    const left = [...updates];
    const takeMsg = (pred: (o: Raw) => boolean): Raw | null => {
      const i = left.findIndex(pred);
      return i < 0 ? null : left.splice(i, 1)[0];
    };
    const out: PaperVenueEvent[] = [];
    for (const e of report) {
      const kind = s(e['kind']);
      if (kind === 'funding') {
        out.push({ kind: 'funding', accountId: this.accountId, symbol: s(e['symbol']) || symbol, amount: dOr(e['amount']), rate: dOr(e['rate']), markPrice: dOr(e['markPrice']), ts: Number(e['ts'] ?? ts) });
      } else if (kind === 'algoTriggered') {
        out.push({ kind: 'algoTriggered', accountId: this.accountId, symbol: s(e['symbol']) || symbol, algoId: s(e['algoId']), clientAlgoId: s(e['clientAlgoId']), venueOrderId: s(e['venueOrderId']), ts: Number(e['ts'] ?? ts) });
        this.openAlgoIds.delete(s(e['clientAlgoId']));
      } else if (kind === 'fill') {
        const f = (e['fill'] ?? {}) as Raw;
        const m = takeMsg((o) => s(o['x']) === 'TRADE' && s(o['c']) === s(f['clientOrderId']) && (!f['tradeId'] || s(o['t']) === s(f['tradeId'])));
        if (m) out.push(await this.fillOf(m, ts, f));
      } else if (kind === 'rejected') {
        const m = takeMsg((o) => s(o['x']) === 'EXPIRED' && s(o['c']) === s(e['clientOrderId']));
        out.push(this.rejectedOf(m, ts, e));
      }
    }
    for (const m of left) out.push(s(m['x']) === 'TRADE' ? await this.fillOf(m, ts, {}) : this.rejectedOf(m, ts, {}));
    return out;
  }

  /**
   * A signed POST to the local venue's Bulwark-only admin endpoints: Binance's SIGNED scheme
   * (query + timestamp + recvWindow, HMAC-SHA256 with the secret as `signature`, key in the
   * X-MBX-APIKEY header; https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info#signed-trade-and-user_data-endpoint-security),
   * outside the rate budget and any ban. Errors are VenueCallErrors with redacted messages.
   */
  private async admin(path: string, params: Record<string, string>): Promise<unknown> {
    // Not a Binance endpoint but the simulation's clock and faucet: outside the account's request
    // budget (a replayed month is tens of thousands of steps), and the market moves on during a ban.
    const { apiKey, apiSecret } = this.credentials;
    const res = await signedAdminPost(this.restBase, path, params, { apiKey, apiSecret }, Number(this.exchange.options['timeDifference'] ?? 0), (m) => this.redact(m));
    this.budget.observe(res.headers);
    if (!res.ok) {
      const f = toVenueFailure(new Error(res.text), { status: res.status, body: res.text, headers: res.headers }, [apiKey, apiSecret]);
      if (res.status === 429) this.budget.pause(f.retryAfterMs);
      if (res.status === 418) this.budget.ban(f.retryAfterMs);
      throw new VenueCallError(f.rejection);
    }
    return res.text ? JSON.parse(res.text) : null;
  }
}
