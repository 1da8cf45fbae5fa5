import { type AccountConfig, type EventData, type RecordedEvent, parseStreamId } from '@bulwark/contracts';
import { type OrderState, dec, orderDecider } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import type { Quarantine } from '@bulwark/messaging';
import type { Logger } from '@nestjs/common';
import { type Rebuildable, rebuildFromLog, rebuildStartFromEnv } from '../rebuild';
import { noteIsolated } from './account-setup';
import { foldNet } from './net-positions';
import { type ExecutionState, OPEN_STATUSES, isDriven, openOrderOf } from './state';

/**
 * Rebuild accounts, kill-switch states, the symbols each account has isolated, open orders, exchange stops and net positions from
 * the log into `state`; `splits` sees the events split entries are rebuilt from. An event that cannot be applied (unknown type, invalid data, a
 * transition the order state machine refuses) is quarantined and skipped: one bad event never
 * keeps execution from starting.
 */
export async function rebuildExecutionState(name: string, state: ExecutionState, store: EventStore, quarantine: Quarantine, log: Logger, splits?: (e: RecordedEvent) => void): Promise<void> {
  const states = new Map<string, OrderState>();
  const fold: Rebuildable = {
    name,
    // venue: EntrySplitEnded (a split that sends no more children), MarginModeSet (the symbols already isolated).
    rebuildCategories: ['account', 'order', 'venue'],
    rebuild: (e) => {
      if (e.type === 'EntryApproved' || e.type === 'OrderInitialized' || e.type === 'EntrySplitEnded') splits?.(e);
      if (e.type === 'AccountOpened' || e.type === 'AccountReconfigured') {
        const cfg = e.data as AccountConfig;
        if (cfg.venue === state.venueId) state.accounts.set(cfg.accountId, cfg);
      } else if (e.type === 'TradingStateChanged') {
        state.tradingState.set(e.streamId.slice('account-'.length), (e.data as EventData<'TradingStateChanged'>).state);
      } else if (e.type === 'MarginModeSet') {
        const at = parseStreamId(e.streamId);
        if (at?.category === 'venue' && at.venue === state.venueId) noteIsolated(state, at.accountId, (e.data as EventData<'MarginModeSet'>).symbol);
      } else if (e.streamId.startsWith('order-')) {
        const s = orderDecider.evolve(states.get(e.streamId) ?? orderDecider.initialState(), e as never);
        states.set(e.streamId, s);
        if (e.type === 'OrderFilled') foldNet(state.net, e.data as EventData<'OrderFilled'>, log);
      }
    },
  };
  const r = await rebuildFromLog(fold, store, quarantine, rebuildStartFromEnv());
  log.log(`rebuilt from ${r.events} events in ${r.ms} ms, ${r.quarantined} quarantined`);
  for (const [streamId, s] of states) {
    const o = s.order;
    if (!o || !OPEN_STATUSES.has(s.status)) continue;
    const clientOrderId = streamId.slice('order-'.length);
    if (o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET') {
      state.protective.set(clientOrderId, {
        clientOrderId, accountId: o.accountId, symbol: o.symbol, kind: o.type === 'STOP_MARKET' ? 'STOP_LOSS' : 'TAKE_PROFIT', side: o.side,
        triggerPrice: dec(o.triggerPrice ?? '0'), quantity: dec(o.quantity), stopStreamId: o.sourceStreamId, accepted: s.status === 'ACCEPTED',
      });
    } else {
      state.openOrders.set(clientOrderId, openOrderOf(o, s.status));
    }
  }
  // A simulated venue holds only the accounts restored into it.
  for (const id of state.accounts.keys()) if (!isDriven(state.venue) || state.venue.hasAccount(id)) state.configured.add(id);
}
