import type { InstrumentRules, VenueId } from '@bulwark/contracts';
import { bitgetUsdtmFiles, BITGET_USDTM_DATA_DIR, loadBitgetUsdtmRulesFromDir } from './bitget-rules-file';
import { instrumentFiles } from './data-dir';
import { loadRulesFromFiles } from './rules-file';

/**
 * The recorded rules of a perpetual (filters, brackets or tiers, fees) for a venue Bulwark
 * paper-trades without asking the venue: Binance USDⓈ-M from the data directory
 * (`<dataDir>/binance-usdm/<SYMBOL>/exchange-info.json` + `leverage-brackets.json`), Bitget
 * USDT-M from the repository's `data/venues/bitget-usdtm/<SYMBOL>/` (contract, position tiers,
 * fees). `source` names the files (recorded with the rules).
 * @throws RulesParseError (or BitgetRulesFileError) on a missing or malformed file; Error for a venue with no recorded futures rules
 */
export function recordedInstrumentRules(dataDir: string, venue: VenueId, symbol: string): { contract: InstrumentRules; source: string } {
  if (venue === 'bitget-usdtm') {
    const f = bitgetUsdtmFiles(BITGET_USDTM_DATA_DIR, symbol);
    return { contract: loadBitgetUsdtmRulesFromDir(BITGET_USDTM_DATA_DIR, symbol), source: `${f.contracts} + ${f.positionTiers} + ${f.fees}` };
  }
  if (venue !== 'binance-usdm') throw new Error(`no recorded perpetual-futures rules for venue ${venue}`);
  const files = instrumentFiles(dataDir, venue, symbol);
  return {
    contract: loadRulesFromFiles({ venue, exchangeInfoFile: files.exchangeInfo, leverageBracketsFile: files.leverageBrackets }),
    source: `${files.exchangeInfo} + ${files.leverageBrackets}`,
  };
}
