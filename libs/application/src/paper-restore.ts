import type { RecordedEvent } from '@bulwark/contracts';
import type { PaperRestoreEvent } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import { Quarantine } from '@bulwark/messaging';
import type { VenuePort } from '@bulwark/venues';
import { type Rebuildable, rebuildFromLog, rebuildStartFromEnv } from './rebuild';
import { venuesLib } from './venues-lib';

/** What a start-up restore of the paper venue read and put back. */
export interface PaperVenueRestoreSummary {
  /** Events read (venue, order, position and signal streams of the window). */
  events: number;
  /** Accounts the venue holds again. */
  accounts: number;
  /** Events that could not be applied (quarantined, skipped). */
  quarantined: number;
  /** `tick-<runId>-<seq>` of the last clock step with venue facts (a repeat of it is run again, see PaperVenueAdapter), null when none. */
  lastStep: string | null;
  ms: number;
}

/**
 * Put the paper venue back after a restart of the execution service: the paper exchange lives
 * in execution's memory, and a new process opens an empty one. Reads the log's facts about it
 * (`venue-<account>-binance-usdm`: funding and settings; `order-<clientOrderId>`: requests,
 * acceptances with venue order ids, every trade, expiries, cancels; `position-…`: funding
 * settlements; `signal-…`: the closes intents were made on) from `fromPosition` (as execution's
 * own rebuild, BULWARK_REBUILD_FROM_POSITION) and rebuilds the engine from them (domain
 * `restorePaperVenue`): accounts, wallets, one-way / isolated / leverage settings, positions
 * with isolated margin and entry, working orders with their venue order ids, the id sequences,
 * order records and trade history. An event that cannot be read or applied is quarantined and
 * skipped (one bad event never keeps execution from starting).
 *
 * Only a paper venue that holds nothing is restored (a venue that survived, e.g. one a test
 * hands to a restarted service, is left alone); any other venue is the exchange's own business.
 * @param prepare called with the symbols the events read name (their `symbol`), before they are
 *   applied: the venue needs each one's instrument rules to take its facts back
 * @returns what was restored, or null when `venue` is not an empty paper venue
 */
export async function restorePaperVenueFromLog(
  store: EventStore,
  venue: VenuePort,
  quarantine: Quarantine,
  fromPosition = rebuildStartFromEnv(),
  prepare?: (symbols: string[]) => Promise<void>,
): Promise<PaperVenueRestoreSummary | null> {
  if (!(venue instanceof venuesLib().PaperVenueAdapter) || !venue.isEmpty()) return null;
  const started = Date.now();
  const recorded: RecordedEvent[] = [];
  const fold: Rebuildable = {
    name: 'execution',
    rebuildCategories: ['venue', 'order', 'position', 'signal'],
    rebuild: (e) => {
      recorded.push(e);
    },
  };
  const read = await rebuildFromLog(fold, store, quarantine, fromPosition);
  if (prepare) {
    const symbols = new Set<string>();
    for (const e of recorded) {
      const symbol = (e.data as { symbol?: unknown } | null)?.symbol;
      if (typeof symbol === 'string') symbols.add(symbol);
    }
    await prepare([...symbols].sort());
  }
  const events: PaperRestoreEvent[] = recorded.map((e) => ({ streamId: e.streamId, type: e.type, data: e.data, metadata: { tsEvent: e.metadata.tsEvent, causationId: e.metadata.causationId } }));
  const r = venue.restore(events);
  for (const p of r.problems) await quarantine.report(Quarantine.of(recorded[p.index]), `paper venue restore: ${p.reason}`);
  return { events: read.events, accounts: r.accounts, quarantined: read.quarantined + r.problems.length, lastStep: r.lastStep?.causationId ?? null, ms: Date.now() - started };
}
