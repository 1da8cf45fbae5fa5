import { isDeepStrictEqual } from 'node:util';
import { Streams, event } from '@bulwark/contracts';
import { type Rules, parseBinanceUsdmRules, rulesFromContract } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import { instrumentFiles, loadRulesFromFiles, resolveDataDir } from '@bulwark/market-data';
import type { EventAppender } from '@bulwark/messaging';
import type { BinanceUsdmVenue } from '@bulwark/venues';
import type { ExecutionVenue } from '../venue-factory';
import { SYMBOLS, VENUE } from './state';

/**
 * Load the instrument rules of every traded symbol into `rules` (the map the venue reads when
 * it trades), and record them (`InstrumentRulesRecorded` on `rules-<venue>-<symbol>`) when they
 * differ from the last recorded. A ccxt venue gives the exchange's own filters and the
 * account's leverage brackets; any other venue, the instrument files of the data directory.
 */
export async function loadInstrumentRules(venue: ExecutionVenue, rules: Map<string, Rules>, store: EventStore, appender: EventAppender): Promise<void> {
  const fromVenue = (venue as Partial<BinanceUsdmVenue>).loadRules?.bind(venue);
  const dataDir = fromVenue ? null : resolveDataDir();
  for (const symbol of SYMBOLS) {
    let contract: ReturnType<typeof parseBinanceUsdmRules>;
    let source: string;
    if (fromVenue) {
      // A ccxt venue: the exchange's own filters and the account's leverage brackets.
      const raw = await fromVenue(symbol);
      contract = parseBinanceUsdmRules({ venue: VENUE, exchangeInfoSymbol: raw.exchangeInfoSymbol, leverageBrackets: raw.leverageBrackets });
      source = `${VENUE} GET /fapi/v1/exchangeInfo + GET /fapi/v1/leverageBracket (ccxt)`;
    } else {
      const files = instrumentFiles(dataDir!, VENUE, symbol);
      contract = loadRulesFromFiles({ venue: VENUE, exchangeInfoFile: files.exchangeInfo, leverageBracketsFile: files.leverageBrackets });
      source = `${files.exchangeInfo} + ${files.leverageBrackets}`;
    }
    const streamId = Streams.rules(VENUE, symbol);
    const existing = await store.readStream(streamId);
    const last = existing[existing.length - 1];
    const recorded = { ...contract, source };
    if (!last || !isDeepStrictEqual(last.data, recorded)) {
      await appender.append(streamId, [event('InstrumentRulesRecorded', recorded)], last ? last.revision : 'no_stream', {
        tsEvent: Date.now(),
        correlationId: `rules-${VENUE}-${symbol}`,
        causationId: `rules-${VENUE}-${symbol}`,
      });
    }
    rules.set(symbol, rulesFromContract(contract));
  }
}
