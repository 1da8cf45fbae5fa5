import { createHmac } from 'node:crypto';
import type { OrderPurpose, OrderSide } from '@bulwark/contracts';
import { dec, str, ZERO, type D, type PaperFill, type PaperStep, type PaperVenueEvent, type Result, type VenueRejection } from '@bulwark/domain';
import type { AccountStepReport, SharedMarketVenue } from '../port';
import { messageOf } from '../binance/errors';
import { VenueCallError } from '../binance/requests';
import { BITGET_ERRORS, BitgetUsdtmVenue, type BitgetOrderRequest, type BitgetUsdtmVenueOptions } from './bitget-usdtm';

type Raw = Record<string, unknown>;
const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const dOr = (v: unknown): D => (v === undefined || v === null || v === '' ? ZERO : dec(String(v)));

export type LocalBitgetVenueOptions = Omit<BitgetUsdtmVenueOptions, 'mode' | 'restBase' | 'wsBase'> & {
  restBase: string;
  wsBase: string;
};

/** The local Bitget venue's answer to `POST /bulwark/v1/step` for the signing account: `orders` pushes with a fill or cancel, and the engine's events as JSON. */
export interface BitgetStepReportJson extends AccountStepReport {
  /** With `scope: "all"`: every account's part of the step, by account id. */
  accounts?: Record<string, AccountStepReport>;
}

/**
 * A signed request to the local Bitget venue's Bulwark-only admin endpoints (`/bulwark/v1/...`:
 * its clock and faucet), signed like any private Bitget call: ACCESS-SIGN = base64(HMAC-SHA256(
 * secret, timestamp + METHOD + path + body)), with ACCESS-KEY, ACCESS-TIMESTAMP (ms) and
 * ACCESS-PASSPHRASE (https://www.bitget.com/api-doc/common/signature), JSON body.
 * @returns the answer's `data`
 * @throws VenueCallError with the domain rejection (Bitget code in the message), or NETWORK
 */
export async function bitgetAdminCall(
  restBase: string,
  method: 'POST' | 'DELETE',
  path: string,
  body: Raw | undefined,
  creds: { apiKey: string; apiSecret: string; passphrase: string },
  redact: (s: string) => string,
): Promise<unknown> {
  const text = body === undefined ? '' : JSON.stringify(body);
  const ts = String(Date.now());
  const sign = createHmac('sha256', creds.apiSecret).update(`${ts}${method}${path}${text}`).digest('base64');
  let res: Response;
  try {
    res = await fetch(`${restBase}${path}`, {
      method,
      headers: { 'ACCESS-KEY': creds.apiKey, 'ACCESS-SIGN': sign, 'ACCESS-TIMESTAMP': ts, 'ACCESS-PASSPHRASE': creds.passphrase, 'Content-Type': 'application/json' },
      body: text || undefined,
    });
  } catch (e) {
    throw new VenueCallError({ code: 'NETWORK', message: redact(`network error on ${path}: ${messageOf(e)}`) });
  }
  const answer = await res.text();
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k] = v));
  let parsed: Raw | null = null;
  try {
    parsed = JSON.parse(answer) as Raw;
  } catch {
    /* not JSON: a transport failure below */
  }
  if (!res.ok || !parsed || s(parsed['code']) !== '00000') {
    const f = BITGET_ERRORS.toFailure(new Error(`bitget ${answer}`), { status: res.status, body: answer, headers }, [creds.apiKey, creds.apiSecret, creds.passphrase]);
    throw new VenueCallError({ code: f.rejection.code, message: redact(f.rejection.message) });
  }
  return parsed['data'];
}

/**
 * The ccxt Bitget adapter against the local Bitget USDT-M venue (@bulwark/binance-local
 * `startBitgetLocal`), driven like a simulated venue: `deposit` → `POST /bulwark/v1/deposit`
 * {coin, amount}, `advance` → `POST /bulwark/v1/step` {symbol, from, to, gap, ts, barVolume?,
 * fundingRate?}. The step's events (fills one per trade, expiries, funding, TP/SL triggers) are
 * read from the step report, in the engine's order, with the venue's exact decimal strings;
 * the purpose of a fill is the one Bulwark placed the order with. `isIdle` is answered from the
 * orders, TP/SL orders and positions this adapter tracks, without a REST call.
 *
 * Implements `DrivenVenue` (deposit and advance go over HTTP) and `SharedMarketVenue` (one
 * adapter steps the market of every account of the venue; each reads its own part).
 */
export class LocalBitgetVenue extends BitgetUsdtmVenue implements SharedMarketVenue {
  private readonly restBase: string;
  private readonly known = new Set<string>();
  /** clientOrderId → quantity placed (an order stops being open when its fills reach it). */
  private readonly placedQty = new Map<string, D>();

  constructor(o: LocalBitgetVenueOptions) {
    super({ ...o, mode: 'local' });
    this.restBase = o.restBase.replace(/\/+$/, '');
  }

  hasAccount(accountId: string): boolean {
    return this.known.has(accountId);
  }

  protected override accountSeen(): void {
    this.known.add(this.accountId);
  }

  /** No open order, TP/SL order or position as far as the adapter has seen. */
  isIdle(): boolean {
    return this.openOrderIds.size === 0 && this.openAlgoIds.size === 0 && this.positionQty.size === 0;
  }

  override async placeOrder(accountId: string, o: BitgetOrderRequest): Promise<Result<{ venueOrderId: string }, VenueRejection>> {
    const r = await super.placeOrder(accountId, o);
    if (r.ok) await this.settleImmediate(o.symbol, [o]);
    return r;
  }

  override async batchPlaceOrders(accountId: string, orders: BitgetOrderRequest[]): Promise<Array<Result<{ venueOrderId: string }, VenueRejection>>> {
    const r = await super.batchPlaceOrders(accountId, orders);
    const placed = orders.filter((_, i) => r[i].ok);
    if (placed.length > 0) await this.settleImmediate(orders[0].symbol, placed);
    return r;
  }

  /**
   * After placing: the local venue settles a post-only / IOC / FOK order at once (canceled, or
   * filled at the mark); read them back so the adapter's view of open orders and the position
   * stays right (GTC and market orders rest until a step).
   */
  private async settleImmediate(symbol: string, orders: BitgetOrderRequest[]): Promise<void> {
    for (const o of orders) this.placedQty.set(o.clientOrderId, o.quantity);
    const immediate = orders.filter((o) => o.type === 'LIMIT' && (o.timeInForce ?? 'GTC') !== 'GTC');
    if (immediate.length === 0) return;
    for (const o of immediate) {
      const snap = await this.order(this.accountId, symbol, o.clientOrderId);
      if (snap && snap.status !== 'NEW' && snap.status !== 'PARTIALLY_FILLED') this.openOrderIds.delete(o.clientOrderId);
      if (snap && snap.executedQty.gt(0)) await this.positions(this.accountId, symbol);
    }
  }

  /** `POST /bulwark/v1/deposit` {coin USDT, amount} (signed with the account's key). */
  async deposit(accountId: string, amount: D): Promise<void> {
    if (accountId !== this.accountId) throw new Error(`this adapter trades account ${this.accountId} only`);
    await this.admin('POST', '/bulwark/v1/deposit', { coin: 'USDT', amount: str(amount) });
    this.known.add(accountId);
  }

  /**
   * `POST /bulwark/v1/step` for one path step (with `fundingRate` when funding settles and
   * `barVolume` when the step carries its bar's volume); answers the step's events.
   */
  async advance(symbol: string, step: PaperStep, funding: { rate: string } | null): Promise<PaperVenueEvent[]> {
    return this.stepEvents(symbol, step.ts, await this.step(symbol, step, funding, false));
  }

  /** `POST /bulwark/v1/step` {scope: "all"}: the market moves once for every account of the venue; each account's part of it, by account id. */
  async stepAll(symbol: string, step: PaperStep, funding: { rate: string } | null): Promise<Record<string, AccountStepReport>> {
    return (await this.step(symbol, step, funding, true)).accounts ?? {};
  }

  /** This account's events of a step, from its part of the step report (the report carries them whole). */
  async stepEvents(symbol: string, ts: number, report: AccountStepReport | undefined): Promise<PaperVenueEvent[]> {
    return this.toEvents(symbol, ts, Array.isArray(report?.events) ? (report.events as Raw[]) : []);
  }

  private async step(symbol: string, step: PaperStep, funding: { rate: string } | null, all: boolean): Promise<BitgetStepReportJson> {
    const body: Raw = { symbol, from: step.from, to: step.to, gap: step.gap, ts: step.ts };
    if (funding) body['fundingRate'] = funding.rate;
    if (step.barVolume !== undefined && step.barVolume !== null) body['barVolume'] = step.barVolume;
    if (all) body['scope'] = 'all';
    return (await this.admin('POST', '/bulwark/v1/step', body)) as BitgetStepReportJson;
  }

  /** The report's events as PaperVenueEvents (exact decimals from its strings), keeping the adapter's tracked state current. */
  private toEvents(symbol: string, ts: number, report: Raw[]): PaperVenueEvent[] {
    const out: PaperVenueEvent[] = [];
    for (const e of report) {
      const kind = s(e['kind']);
      if (kind === 'funding') {
        out.push({ kind: 'funding', accountId: this.accountId, symbol: s(e['symbol']) || symbol, amount: dOr(e['amount']), rate: dOr(e['rate']), markPrice: dOr(e['markPrice']), ts: Number(e['ts'] ?? ts) });
      } else if (kind === 'algoTriggered') {
        out.push({ kind: 'algoTriggered', accountId: this.accountId, symbol: s(e['symbol']) || symbol, algoId: s(e['algoId']), clientAlgoId: s(e['clientAlgoId']), venueOrderId: s(e['venueOrderId']), ts: Number(e['ts'] ?? ts) });
        this.openAlgoIds.delete(s(e['clientAlgoId']));
        this.clientIdOf.set(s(e['venueOrderId']), s(e['clientAlgoId']));
      } else if (kind === 'fill') {
        out.push({ kind: 'fill', fill: this.reportFill((e['fill'] ?? {}) as Raw, ts) });
      } else if (kind === 'rejected') {
        out.push(this.rejectedOf(null, Number(e['ts'] ?? ts), e));
      }
    }
    return out;
  }

  /** A fill from the step report (the engine's PaperFill as JSON); purpose and leverage as Bulwark placed them. */
  private reportFill(f: Raw, ts: number): PaperFill {
    const clientOrderId = s(f['clientOrderId']);
    const symbol = s(f['symbol']);
    const venueGenerated = f['venueGenerated'] === true;
    const purpose: OrderPurpose = venueGenerated ? 'LIQUIDATION' : (this.placed.get(clientOrderId)?.purpose ?? ((s(f['purpose']) || 'ENTRY') as OrderPurpose));
    const fill: PaperFill = {
      accountId: this.accountId, clientOrderId, venueOrderId: s(f['venueOrderId']), tradeId: s(f['tradeId']), symbol, side: s(f['side']) as OrderSide, purpose,
      quantity: dOr(f['quantity']), price: dOr(f['price']), fee: dOr(f['fee']), liquidity: s(f['liquidity']) === 'MAKER' ? 'MAKER' : 'TAKER',
      leverage: this.leverageBySymbol.get(symbol) ?? Number(f['leverage'] ?? 20), realisedPnl: dOr(f['realisedPnl']), liquidationFee: dOr(f['liquidationFee']),
      venueGenerated, ts: Number(f['ts'] ?? ts),
    };
    if (s(f['cumulativeQuantity'])) fill.cumulativeQuantity = dec(s(f['cumulativeQuantity']));
    this.clientIdOf.set(fill.venueOrderId, clientOrderId);
    const prev = this.positionQty.get(symbol) ?? ZERO;
    const next = fill.side === 'BUY' ? prev.plus(fill.quantity) : prev.minus(fill.quantity);
    if (next.isZero()) this.positionQty.delete(symbol);
    else this.positionQty.set(symbol, next);
    const placedQty = this.placedQty.get(clientOrderId);
    if (!placedQty || (fill.cumulativeQuantity && fill.cumulativeQuantity.gte(placedQty))) this.openOrderIds.delete(clientOrderId);
    return fill;
  }

  private admin(method: 'POST' | 'DELETE', path: string, body?: Raw): Promise<unknown> {
    // The simulation's clock and faucet: outside the account's request budget.
    return bitgetAdminCall(this.restBase, method, path, body, this.credentials, (m) => this.redact(m));
  }
}
