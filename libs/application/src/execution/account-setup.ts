import { type DomainEvent, type EventData, type RecordedEvent, event } from '@bulwark/contracts';
import { dec, str } from '@bulwark/domain';
import { causedBy } from '@bulwark/messaging';
import type { Logger } from '@nestjs/common';
import { type ExecutionState, isDriven, isLive } from './state';
import type { ExecutionStreams } from './streams';

/**
 * The venue account's settings, recorded on its venue stream: fund the account (simulated
 * venues), then set one-way mode, isolated margin and leverage before any order. A venue that
 * refuses one-way mode (hedge mode with open positions) or isolated margin leaves the account
 * unconfigured: its entries are denied (VENUE_NOT_CONFIGURED).
 */
export async function configureAccount(state: ExecutionState, streams: ExecutionStreams, log: Logger, e: RecordedEvent<'AccountOpened', EventData<'AccountOpened'>>): Promise<void> {
  const cfg = e.data;
  const venue = state.venue;
  if (state.configured.has(cfg.accountId)) return; // redelivery
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
  const margin = await venue.setIsolatedMargin(cfg.accountId, cfg.symbol);
  if (margin.ok) events.push(event('MarginModeSet', { symbol: cfg.symbol, marginMode: 'ISOLATED' }));
  else return refused('isolated margin', margin.error);
  const lev = await venue.setLeverage(cfg.accountId, cfg.symbol, cfg.leverage);
  if (lev.ok) events.push(event('LeverageSet', { symbol: cfg.symbol, leverage: lev.value.leverage, maxNotional: str(lev.value.maxNotional) }));
  else log.warn(`leverage ${cfg.leverage} refused for ${cfg.accountId}: ${lev.error.message}`);
  await streams.appendVenue(cfg.accountId, events, causedBy(e));
  state.configured.add(cfg.accountId);
}
