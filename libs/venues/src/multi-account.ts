import type { InstrumentRules, VenueId } from '@bulwark/contracts';
import { type D, err, type PaperAccountView, type PaperStep, type PaperVenueEvent, type Result, VenueErrors, type VenueRejection } from '@bulwark/domain';
import { messageOf } from './binance/errors';
import { VenueCallError } from './binance/requests';
import type {
  DrivenVenue,
  InstrumentRulesSource,
  LiveVenuePort,
  ProtectiveOrderRequest,
  SharedMarketVenue,
  VenueAlgoSnapshot,
  VenueOrderRequest,
  VenueOrderSnapshot,
  VenuePositionSnapshot,
  VenueTrade,
} from './port';
import { isSharedMarketVenue } from './port';

/**
 * One venue account's adapter, as the multi-account venue routes to it: a ccxt adapter of one
 * account (BinanceUsdmVenue, BitgetUsdtmVenue, or their local forms), which pushes its fills
 * (user-data stream / Bitget's private `orders` channel).
 */
export type AccountVenue = LiveVenuePort &
  InstrumentRulesSource & {
    readonly accountId: string;
    onVenueEvents(listener: (events: PaperVenueEvent[], ts: number) => void): () => void;
    startUserData(): Promise<void>;
  };

/** The multi-account venue's adapters are unusable together; the message says why. */
export class MultiAccountVenueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultiAccountVenueError';
  }
}

export interface MultiAccountVenueOptions {
  /**
   * An account's part failed where the multi-account venue goes on for the others (its share of
   * a market step, the start of its user-data stream): reported here with the account it
   * concerns (execution records it as that account's venue alert).
   */
  onAccountFailure?: (accountId: string, message: string) => void;
}

/**
 * Many venue accounts of one venue behind the one port execution uses: every account-scoped
 * call goes to that account's own adapter, which keeps its own rate budget, ban state,
 * clock offset, retries and connections — so one account's rejection, 429 pause or 418 ban
 * never delays or refuses another's calls. A call for an account no adapter trades is answered
 * as each single adapter answers a foreign account: writes with the typed rejection
 * UNKNOWN_ACCOUNT (-2015), reads with nothing (no orders, no positions, null), and
 * `positionMode` with a VenueCallError.
 *
 * Market-wide calls (a symbol's instrument rules) go to the first adapter, and to the next when
 * one fails: every adapter trades the same venue (one venue id) in the same mode (one market),
 * so any of them answers the same rules; trying the next keeps one account's ban from blocking
 * the others' need for rules. Fills pushed by every adapter reach the one listener.
 */
export class MultiAccountVenue implements LiveVenuePort, InstrumentRulesSource {
  readonly venue: VenueId;
  /** The accounts traded, in the adapters' order. */
  readonly accountIds: readonly string[];
  protected readonly adapters: readonly AccountVenue[];
  private readonly byAccount: ReadonlyMap<string, AccountVenue>;
  protected readonly onAccountFailure: (accountId: string, message: string) => void;

  /** @throws MultiAccountVenueError for no adapter, adapters of different venues, or one account twice */
  constructor(adapters: readonly AccountVenue[], o: MultiAccountVenueOptions = {}) {
    if (adapters.length === 0) throw new MultiAccountVenueError('a multi-account venue needs at least one account adapter');
    const venues = new Set(adapters.map((a) => a.venue));
    if (venues.size > 1) throw new MultiAccountVenueError(`the accounts of one execution trade one venue, got ${[...venues].join(' and ')}`);
    const byAccount = new Map<string, AccountVenue>();
    for (const a of adapters) {
      if (byAccount.has(a.accountId)) throw new MultiAccountVenueError(`account ${a.accountId} has two adapters`);
      byAccount.set(a.accountId, a);
    }
    this.venue = adapters[0].venue;
    this.adapters = adapters;
    this.accountIds = adapters.map((a) => a.accountId);
    this.byAccount = byAccount;
    this.onAccountFailure = o.onAccountFailure ?? (() => undefined);
  }

  /** The adapter of an account; null when none trades it. */
  protected adapterOf(accountId: string): AccountVenue | null {
    return this.byAccount.get(accountId) ?? null;
  }

  /** The rejection of a call for an account no adapter trades (the single adapters' -2015). */
  protected unknown(accountId: string): VenueRejection {
    return { code: VenueErrors.UNKNOWN_ACCOUNT.code, message: `${VenueErrors.UNKNOWN_ACCOUNT.message} (this execution trades ${this.accountIds.join(', ')}; not ${accountId})` };
  }

  /** A write for one account: its adapter's answer, or UNKNOWN_ACCOUNT. */
  private write<T>(accountId: string, call: (a: AccountVenue) => Promise<Result<T, VenueRejection>>): Promise<Result<T, VenueRejection>> {
    const a = this.adapterOf(accountId);
    return a ? call(a) : Promise.resolve(err(this.unknown(accountId)));
  }

  /** A read for one account: its adapter's answer, or `none`. */
  private read<T>(accountId: string, call: (a: AccountVenue) => Promise<T>, none: T): Promise<T> {
    const a = this.adapterOf(accountId);
    return a ? call(a) : Promise.resolve(none);
  }

  setOneWayMode(accountId: string): Promise<Result<'CHANGED' | 'UNCHANGED', VenueRejection>> {
    return this.write(accountId, (a) => a.setOneWayMode(accountId));
  }

  setIsolatedMargin(accountId: string, symbol: string): Promise<Result<'CHANGED' | 'UNCHANGED', VenueRejection>> {
    return this.write(accountId, (a) => a.setIsolatedMargin(accountId, symbol));
  }

  setLeverage(accountId: string, symbol: string, leverage: number): Promise<Result<{ leverage: number; maxNotional: D }, VenueRejection>> {
    return this.write(accountId, (a) => a.setLeverage(accountId, symbol, leverage));
  }

  placeOrder(accountId: string, order: VenueOrderRequest): Promise<Result<{ venueOrderId: string }, VenueRejection>> {
    return this.write(accountId, (a) => a.placeOrder(accountId, order));
  }

  cancelOrder(accountId: string, clientOrderId: string): Promise<Result<{ venueOrderId: string }, VenueRejection>> {
    return this.write(accountId, (a) => a.cancelOrder(accountId, clientOrderId));
  }

  placeProtectiveOrder(accountId: string, o: ProtectiveOrderRequest): Promise<Result<{ algoId: string }, VenueRejection>> {
    return this.write(accountId, (a) => a.placeProtectiveOrder(accountId, o));
  }

  cancelProtectiveOrder(accountId: string, symbol: string, clientAlgoId: string): Promise<Result<{ algoId: string }, VenueRejection>> {
    return this.write(accountId, (a) => a.cancelProtectiveOrder(accountId, symbol, clientAlgoId));
  }

  account(accountId: string): Promise<PaperAccountView | null> {
    return this.read(accountId, (a) => a.account(accountId), null);
  }

  order(accountId: string, symbol: string, clientOrderId: string): Promise<VenueOrderSnapshot | null> {
    return this.read(accountId, (a) => a.order(accountId, symbol, clientOrderId), null);
  }

  openOrders(accountId: string, symbol: string): Promise<VenueOrderSnapshot[]> {
    return this.read(accountId, (a) => a.openOrders(accountId, symbol), []);
  }

  openProtectiveOrders(accountId: string, symbol: string): Promise<VenueAlgoSnapshot[]> {
    return this.read(accountId, (a) => a.openProtectiveOrders(accountId, symbol), []);
  }

  protectiveOrder(accountId: string, symbol: string, clientAlgoId: string): Promise<VenueAlgoSnapshot | null> {
    return this.read(accountId, (a) => a.protectiveOrder(accountId, symbol, clientAlgoId), null);
  }

  trades(accountId: string, symbol: string, sinceMs?: number): Promise<VenueTrade[]> {
    return this.read(accountId, (a) => a.trades(accountId, symbol, sinceMs), []);
  }

  positions(accountId: string, symbol?: string): Promise<VenuePositionSnapshot[]> {
    return this.read(accountId, (a) => a.positions(accountId, symbol), []);
  }

  cancelAll(accountId: string, symbol: string): Promise<{ orders: number; algoOrders: number }> {
    return this.read(accountId, (a) => a.cancelAll(accountId, symbol), { orders: 0, algoOrders: 0 });
  }

  fundingHistory(accountId: string, symbol: string, sinceMs?: number): Promise<Array<{ symbol: string; amount: D; ts: number }>> {
    return this.read(accountId, (a) => a.fundingHistory(accountId, symbol, sinceMs), []);
  }

  /** @throws VenueCallError UNKNOWN_ACCOUNT for an account no adapter trades (as a single adapter does) */
  async positionMode(accountId: string): Promise<'ONE_WAY' | 'HEDGE'> {
    const a = this.adapterOf(accountId);
    if (!a) throw new VenueCallError(this.unknown(accountId));
    return a.positionMode(accountId);
  }

  /**
   * A symbol's rules from the first adapter that answers (same venue, same market: any of them
   * answers the same rules).
   * @throws the last adapter's error when none answers
   */
  async instrumentRules(symbol: string): Promise<{ contract: InstrumentRules; source: string }> {
    let last: unknown = null;
    for (const a of this.adapters) {
      try {
        return await a.instrumentRules(symbol);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  /** Every adapter's pushed fills and expiries reach `listener` (each event names its account). @returns a function that stops listening to all */
  onVenueEvents(listener: (events: PaperVenueEvent[], ts: number) => void): () => void {
    const stops = this.adapters.map((a) => a.onVenueEvents(listener));
    return () => stops.forEach((stop) => stop());
  }

  /** Start every account's user-data stream; one that does not start is reported (onAccountFailure) and the others run. */
  async startUserData(): Promise<void> {
    await this.eachAccount((a) => a.startUserData(), 'user-data stream did not start');
  }

  /** Close every adapter (its sockets and timers); one that fails to close does not keep the others open. */
  async close(): Promise<void> {
    await Promise.allSettled(this.adapters.map((a) => a.close()));
  }

  /** Run `fn` for every adapter at once; a failure is reported for its account only. @returns each adapter's answer, null where it failed */
  protected async eachAccount<T, A extends AccountVenue>(fn: (a: A) => Promise<T>, what: string, adapters = this.adapters as readonly A[]): Promise<Array<T | null>> {
    const settled = await Promise.allSettled(adapters.map(fn));
    return settled.map((r, i) => {
      if (r.status === 'fulfilled') return r.value;
      this.onAccountFailure(adapters[i].accountId, `${what}: ${messageOf(r.reason)}`);
      return null;
    });
  }
}

/** An account adapter of a local venue: driven by the replay clock on a market its accounts share. */
export type SharedMarketAccountVenue = AccountVenue & SharedMarketVenue;

/**
 * Many accounts of a local venue (`bulwark venue serve`), driven by the replay clock: a market
 * step moves the venue's one market once, for every account (`stepAll` by the first adapter),
 * then each account's adapter reads its own part (its order updates on its own user-data
 * stream). An account whose part cannot be read (its stream late or down) is reported and the
 * others' events are returned; its order updates stay queued on its adapter and are recorded
 * with a later step.
 */
export class DrivenMultiAccountVenue extends MultiAccountVenue implements DrivenVenue {
  private readonly driven: readonly SharedMarketAccountVenue[];

  constructor(adapters: readonly SharedMarketAccountVenue[], o: MultiAccountVenueOptions = {}) {
    super(adapters, o);
    this.driven = adapters;
  }

  hasAccount(accountId: string): boolean {
    return (this.adapterOf(accountId) as SharedMarketAccountVenue | null)?.hasAccount(accountId) ?? false;
  }

  /** True when no account holds a position or a resting order. */
  isIdle(): boolean {
    return this.driven.every((a) => a.isIdle());
  }

  /** @throws VenueCallError UNKNOWN_ACCOUNT for an account no adapter trades (as a single adapter refuses a foreign account) */
  async deposit(accountId: string, amount: D): Promise<void> {
    const a = this.adapterOf(accountId) as SharedMarketAccountVenue | null;
    if (!a) throw new VenueCallError(this.unknown(accountId));
    await a.deposit(accountId, amount);
  }

  /**
   * One path step of the shared market: stepped once, then every account's fills and expiries
   * (each account's in the engine's order, the accounts in the adapters' order).
   * @throws when the step itself fails (the market did not move, or its outcome is unknown: never stepped twice)
   */
  async advance(symbol: string, step: PaperStep, funding: { rate: string } | null): Promise<PaperVenueEvent[]> {
    const parts = await this.driven[0].stepAll(symbol, step, funding);
    const events = await this.eachAccount((a: SharedMarketAccountVenue) => a.stepEvents(symbol, step.ts, parts[a.accountId]), `step ${step.ts} of ${symbol} not read`, this.driven);
    return events.flatMap((e) => e ?? []);
  }
}

/**
 * The venue of an execution that trades many accounts: driven (DrivenMultiAccountVenue) when
 * every adapter shares a local market, pushing (MultiAccountVenue) when none does.
 * @throws MultiAccountVenueError for a mix of local and remote adapters (two markets), or see the constructors
 */
export function multiAccountVenue(adapters: readonly AccountVenue[], o: MultiAccountVenueOptions = {}): MultiAccountVenue {
  const shared = adapters.filter((a) => isSharedMarketVenue(a));
  if (shared.length === adapters.length) return new DrivenMultiAccountVenue(shared as SharedMarketAccountVenue[], o);
  if (shared.length > 0) throw new MultiAccountVenueError('the accounts of one execution trade one market: local and remote accounts cannot be mixed');
  return new MultiAccountVenue(adapters, o);
}
