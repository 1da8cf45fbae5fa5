import { type DomainEvent, type EventData, type RecordedEvent, event } from '@bulwark/contracts';
import { type Result, type VenueRejection, dec, err, ok, str } from '@bulwark/domain';
import { type Causation, causedBy } from '@bulwark/messaging';
import type { VenuePort } from '@bulwark/venues';
import type { Logger } from '@nestjs/common';
import { type ExecutionState, isDriven, isLive } from './state';
import type { ExecutionStreams } from './streams';

/**
 * The venue account's settings, recorded on its venue stream: fund the account (simulated
 * venues), then set one-way mode, isolated margin and leverage for its configured symbol before
 * any order (any other symbol is isolated before its first entry, {@link ensureIsolatedMargin}).
 * A venue that refuses one-way mode (hedge mode with open positions) or isolated margin leaves
 * the account unconfigured: its entries are denied (VENUE_NOT_CONFIGURED).
 */
export async function configureAccount(state: ExecutionState, streams: ExecutionStreams, log: Logger, e: RecordedEvent<'AccountOpened', EventData<'AccountOpened'>>): Promise<void> {
  const cfg = e.data;
  const venue = state.venue;
  if (state.configured.has(cfg.accountId)) return; // redelivery
  if (!state.trades(cfg.accountId)) {
    // Not an account of this execution's venue connection(s): its entries are denied VENUE_NOT_CONFIGURED.
    log.warn(`account ${cfg.accountId} is not one this execution trades (BULWARK_ACCOUNT_ID / BULWARK_ACCOUNTS_FILE); not configured here`);
    return;
  }
  if (isDriven(venue) && venue.hasAccount(cfg.accountId)) return; // redelivery
  const events: DomainEvent[] = [];
  if (isDriven(venue)) {
    await venue.deposit(cfg.accountId, dec(cfg.capital));
    events.push(event('VenueAccountFunded', { accountId: cfg.accountId, asset: 'USDT', amount: cfg.capital }));
  }
  const refused = async (what: string, error: { code: string; message: string }) => {
    await streams.appendVenue(cfg.accountId, [...events, event('VenueAlert', { kind: 'PROTECTION_FAILED', detail: `venue refused ${what}: ${error.code} ${error.message}; no orders for this account`, until: null })], causedBy(e));
    if (!isLive(venue)) throw new Error(`venue refused ${what} for ${cfg.accountId}: ${error.code} ${error.message}`);
  };
  const mode = await venue.setOneWayMode(cfg.accountId);
  if (mode.ok) events.push(event('PositionModeSet', { mode: 'ONE_WAY' }));
  else return refused('one-way mode', mode.error);
  const margin = await isolate(venue, cfg.accountId, cfg.symbol);
  if (margin.ok) events.push(margin.value);
  else return refused('isolated margin', margin.error);
  const lev = await venue.setLeverage(cfg.accountId, cfg.symbol, cfg.leverage);
  if (lev.ok) events.push(event('LeverageSet', { symbol: cfg.symbol, leverage: lev.value.leverage, maxNotional: str(lev.value.maxNotional) }));
  else log.warn(`leverage ${cfg.leverage} refused for ${cfg.accountId}: ${lev.error.message}`);
  await streams.appendVenue(cfg.accountId, events, causedBy(e));
  noteIsolated(state, cfg.accountId, cfg.symbol);
  state.configured.add(cfg.accountId);
}

/** Whether the account's venue stream records isolated margin on `symbol` (ExecutionState.isolated). */
export function isIsolated(state: Pick<ExecutionState, 'isolated'>, accountId: string, symbol: string): boolean {
  return state.isolated.get(accountId)?.has(symbol) ?? false;
}

/** Keep a recorded MarginModeSet of the account in ExecutionState.isolated (when appended, and when the log is folded at start-up). */
export function noteIsolated(state: Pick<ExecutionState, 'isolated'>, accountId: string, symbol: string): void {
  const symbols = state.isolated.get(accountId) ?? new Set<string>();
  symbols.add(symbol);
  state.isolated.set(accountId, symbols);
}

/**
 * `POST /fapi/v1/marginType` ISOLATED for one symbol of the account. The venue's "already
 * isolated" (Binance -4046 "No need to change margin type", answered UNCHANGED) is success.
 * @returns the MarginModeSet to record, or the venue's refusal (e.g. Binance -4048 with a position open in cross margin)
 * @throws Error from the venue transport
 */
async function isolate(venue: VenuePort, accountId: string, symbol: string): Promise<Result<DomainEvent, VenueRejection>> {
  const r = await venue.setIsolatedMargin(accountId, symbol);
  return r.ok ? ok(event('MarginModeSet', { symbol, marginMode: 'ISOLATED' })) : err(r.error);
}

/**
 * Isolated margin on `symbol` before the account's first entry on it: when its venue stream
 * records no MarginModeSet for the symbol, the venue is asked and MarginModeSet recorded (once;
 * later entries, also after a restart, ask nothing). A venue that would leave the symbol in its
 * default margin mode (Binance: cross, the whole wallet behind the position) refuses the entry.
 * @returns null when the symbol is isolated; else the refusal to deny the entry with:
 *   `{ code: 'MARGIN_MODE_NOT_ISOLATED', message }`, the message naming the venue's code and message
 * @throws Error from the venue transport or the log (the entry is handled again)
 */
export async function ensureIsolatedMargin(state: ExecutionState, streams: ExecutionStreams, accountId: string, symbol: string, c: Causation): Promise<{ code: 'MARGIN_MODE_NOT_ISOLATED'; message: string } | null> {
  if (isIsolated(state, accountId, symbol)) return null;
  const margin = await isolate(state.venue, accountId, symbol);
  if (!margin.ok) {
    return { code: 'MARGIN_MODE_NOT_ISOLATED', message: `venue refused isolated margin on ${symbol}: ${margin.error.code} ${margin.error.message}; no entry in cross margin` };
  }
  await streams.appendVenue(accountId, [margin.value], c);
  noteIsolated(state, accountId, symbol);
  return null;
}
