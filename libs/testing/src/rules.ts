import type { InstrumentRules } from '@bulwark/contracts';
import { rulesFromContract, type Rules } from '@bulwark/domain';
import { loadRulesFromFiles } from '@bulwark/market-data';
import { BTCUSDT_FILES } from './data';

const contracts = new Map<string, InstrumentRules>();
const rules = new Map<string, Rules>();

/**
 * The recorded Binance USDⓈ-M BTCUSDT rules as the contract records them (`InstrumentRules`:
 * decimal strings), loaded by `@bulwark/market-data`'s `loadRulesFromFiles` from
 * {@link BTCUSDT_FILES}`.exchangeInfo` (mainnet filters) and a leverage-bracket snapshot, with
 * VIP 0 fees (taker 0.0005, maker 0.0002). Read once per bracket file and spec file; the same
 * object is returned each time (do not mutate it).
 * @param leverageBracketsFile {@link BTCUSDT_FILES}`.leverageBrackets` (2025-11-20, the default) or `.leverageBrackets2023` (2023-07-18)
 * @throws RulesParseError on a malformed file, Error when a file is missing
 */
export function btcusdtContract(leverageBracketsFile: string = BTCUSDT_FILES.leverageBrackets): InstrumentRules {
  let c = contracts.get(leverageBracketsFile);
  if (!c) {
    c = loadRulesFromFiles({ venue: 'binance-usdm', exchangeInfoFile: BTCUSDT_FILES.exchangeInfo, leverageBracketsFile });
    contracts.set(leverageBracketsFile, c);
  }
  return c;
}

/**
 * The recorded Binance USDⓈ-M BTCUSDT rules as the engine uses them (`Rules`: decimals; tick
 * 0.1 USDT, step 0.001 BTC, MARKET max 120 BTC, min notional 5 USDT, VIP 0 fees, the brackets
 * of the snapshot): {@link btcusdtContract} through the domain's `rulesFromContract`. Built once
 * per bracket file and spec file; the same object is returned each time (do not mutate it).
 * @param leverageBracketsFile {@link BTCUSDT_FILES}`.leverageBrackets` (2025-11-20, the default) or `.leverageBrackets2023` (2023-07-18)
 */
export function btcusdtRules(leverageBracketsFile: string = BTCUSDT_FILES.leverageBrackets): Rules {
  let r = rules.get(leverageBracketsFile);
  if (!r) {
    r = rulesFromContract(btcusdtContract(leverageBracketsFile));
    rules.set(leverageBracketsFile, r);
  }
  return r;
}
