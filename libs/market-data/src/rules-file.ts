import { readFileSync } from 'node:fs';
import type { InstrumentRules, VenueId } from '@bulwark/contracts';
import { parseBinanceUsdmRules } from '@bulwark/domain';

/**
 * Load an instrument's rules from an exchange-info symbol entry and a leverage-bracket file
 * (the layout of shared/data/binance-usdm/<SYMBOL>/). Fees default to Binance VIP 0.
 * @throws RulesParseError (from the domain) on malformed files, Error when a file is missing.
 */
export function loadRulesFromFiles(args: {
  venue: VenueId;
  exchangeInfoFile: string;
  leverageBracketsFile: string;
  takerFeeRate?: string;
  makerFeeRate?: string;
}): InstrumentRules {
  const exchangeInfoSymbol = JSON.parse(readFileSync(args.exchangeInfoFile, 'utf8'));
  const leverageBrackets = JSON.parse(readFileSync(args.leverageBracketsFile, 'utf8'));
  return parseBinanceUsdmRules({
    venue: args.venue,
    exchangeInfoSymbol,
    leverageBrackets,
    takerFeeRate: args.takerFeeRate,
    makerFeeRate: args.makerFeeRate,
  });
}
