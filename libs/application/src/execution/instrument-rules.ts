import { isDeepStrictEqual } from 'node:util';
import { type InstrumentRules, Streams, event } from '@bulwark/contracts';
import { type Rules, rulesFromContract } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import { recordedInstrumentRules, resolveDataDir } from '@bulwark/market-data';
import type { EventAppender } from '@bulwark/messaging';
import type { ExecutionVenue } from '../venue-factory';
import { SYMBOLS } from './state';
import { venuesLib } from '../venues-lib';

/**
 * Load the instrument rules of every traded symbol into `rules` (the map the venue reads when
 * it trades), and record them (`InstrumentRulesRecorded` on `rules-<venue>-<symbol>`) when they
 * differ from the last recorded. A ccxt venue gives the exchange's own filters and the
 * account's leverage brackets (or position tiers); any other venue, the instrument files of
 * the data directory.
 */
export async function loadInstrumentRules(venue: ExecutionVenue, rules: Map<string, Rules>, store: EventStore, appender: EventAppender): Promise<void> {
  const venueId = venue.venue;
  const { isInstrumentRulesSource } = venuesLib();
  const dataDir = isInstrumentRulesSource(venue) ? null : resolveDataDir();
  for (const symbol of SYMBOLS) {
    let contract: InstrumentRules;
    let source: string;
    if (isInstrumentRulesSource(venue)) {
      ({ contract, source } = await venue.instrumentRules(symbol));
    } else {
      ({ contract, source } = recordedInstrumentRules(dataDir!, venueId, symbol));
    }
    const streamId = Streams.rules(venueId, symbol);
    const existing = await store.readStream(streamId);
    const last = existing[existing.length - 1];
    const recorded = { ...contract, source };
    if (!last || !isDeepStrictEqual(last.data, recorded)) {
      await appender.append(streamId, [event('InstrumentRulesRecorded', recorded)], last ? last.revision : 'no_stream', {
        tsEvent: Date.now(),
        correlationId: `rules-${venueId}-${symbol}`,
        causationId: `rules-${venueId}-${symbol}`,
      });
    }
    rules.set(symbol, rulesFromContract(contract));
  }
}
