import { readFileSync } from 'node:fs';
import { rulesFromContract, type Rules } from '@bulwark/domain';
import { instrumentFiles, loadRulesFromFiles } from '@bulwark/market-data';
import type { BinanceLocalOptions } from './server';

/**
 * The venue inputs of one instrument from the market-data directory (layout of
 * shared/data/binance-usdm/<SYMBOL>/): rules (VIP 0 fees), the raw exchange-info and
 * leverage-bracket JSON, and the default 1m candle and funding files.
 * @throws Error when a file is missing or malformed (RulesParseError from the domain)
 */
export function localVenueInputs(dataDir: string, symbol = 'BTCUSDT'): Pick<BinanceLocalOptions, 'rules' | 'exchangeInfo' | 'leverageBrackets' | 'candlesFile' | 'fundingFile'> {
  const f = instrumentFiles(dataDir, 'binance-usdm', symbol);
  const rules: Rules = rulesFromContract(loadRulesFromFiles({ venue: 'binance-usdm', exchangeInfoFile: f.exchangeInfo, leverageBracketsFile: f.leverageBrackets }));
  return {
    rules: new Map([[symbol, rules]]),
    exchangeInfo: JSON.parse(readFileSync(f.exchangeInfo, 'utf8')),
    leverageBrackets: JSON.parse(readFileSync(f.leverageBrackets, 'utf8')),
    candlesFile: f.defaultCandles,
    fundingFile: f.fundingRates,
  };
}
