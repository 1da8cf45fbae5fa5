import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { InstrumentRules } from '@bulwark/contracts';
import { BITGET_USDTM_DATA_DIR, bitgetUsdtmFiles, loadBitgetUsdtmRulesFromDir } from './bitget-rules-file';
import { instrumentFiles, resolveDataDir } from './data-dir';
import { venueRulesDir } from './margin-rules-file';
import { InstrumentNotRecordedError, exchangeInfoDir, leverageBracketFiles, recordedInstrumentRules } from './recorded-rules';
import { loadRulesFromFiles } from './rules-file';

// Recorded files only (../shared/data/PROVENANCE.md section 7, data/venues/PROVENANCE.md section 10):
// ETHUSDT's filters come from the whole exchangeInfo answer of 2025-11-26 (most likely testnet),
// its brackets from the repository's data/venues/binance-usdm/ETHUSDT/leverage-brackets.json.
const DATA = resolveDataDir();
const TESTNET_2025 = path.join(exchangeInfoDir(DATA), 'exchangeInfo-2025-11-26-testnet.json');
const NAUTILUS_2022 = path.join(exchangeInfoDir(DATA), 'exchangeInfo-2022-02-19-nautilus-fixture.json');
const ETH_BRACKETS = path.join(venueRulesDir(), 'binance-usdm', 'ETHUSDT', 'leverage-brackets.json');

function notRecorded(fn: () => unknown): InstrumentNotRecordedError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InstrumentNotRecordedError) return e;
    throw e;
  }
  throw new Error('expected InstrumentNotRecordedError');
}

describe('recordedInstrumentRules for a symbol without a folder of its own', () => {
  it('gives ETHUSDT its own filters from the recorded exchangeInfo answer and its recorded brackets', () => {
    const { contract, source } = recordedInstrumentRules(DATA, 'binance-usdm', 'ETHUSDT');
    expect(InstrumentRules.parse(contract)).toEqual(contract);
    expect(source).toBe(`${TESTNET_2025}#ETHUSDT + ${ETH_BRACKETS}`);
    expect([contract.venue, contract.symbol, contract.baseAsset, contract.quoteAsset]).toEqual(['binance-usdm', 'ETHUSDT', 'ETH', 'USDT']);
    // The answer's ETHUSDT entry: PRICE_FILTER 39.86–306177 tick 0.01; LOT_SIZE and MARKET_LOT_SIZE step 0.001, 0.001–10000; MIN_NOTIONAL 20; liquidationFee 0.020000.
    expect([contract.tickSize, contract.minPrice, contract.maxPrice]).toEqual(['0.01', '39.86', '306177']);
    expect([contract.stepSize, contract.minQty, contract.maxQty, contract.marketStepSize, contract.marketMaxQty]).toEqual(['0.001', '0.001', '10000', '0.001', '10000']);
    expect([contract.minNotional, contract.liquidationFeeRate]).toEqual(['20', '0.02']);
    // VIP 0 fees, as for every recorded Binance USDⓈ-M symbol.
    expect([contract.takerFeeRate, contract.makerFeeRate]).toEqual(['0.0005', '0.0002']);
    expect(contract.brackets).toHaveLength(12);
    expect(contract.brackets.map((b) => [b.initialLeverage, b.notionalFloor, b.notionalCap, b.maintMarginRatio, b.cum])).toEqual([
      [150, '0', '300000', '0.004', '0'],
      [100, '300000', '800000', '0.005', '300'],
      [75, '800000', '3000000', '0.0065', '1500'],
      [50, '3000000', '12000000', '0.01', '12000'],
      [25, '12000000', '50000000', '0.02', '132000'],
      [20, '50000000', '65000000', '0.025', '382000'],
      [10, '65000000', '150000000', '0.05', '2007000'],
      [5, '150000000', '320000000', '0.1', '9507000'],
      [4, '320000000', '400000000', '0.125', '17507000'],
      [3, '400000000', '530000000', '0.15', '27507000'],
      [2, '530000000', '800000000', '0.25', '80507000'],
      [1, '800000000', '1200000000', '0.5', '280507000'],
    ]);
  });

  it("differs from BTCUSDT's where the recordings differ", () => {
    const eth = recordedInstrumentRules(DATA, 'binance-usdm', 'ETHUSDT').contract;
    const btc = recordedInstrumentRules(DATA, 'binance-usdm', 'BTCUSDT').contract;
    expect([btc.tickSize, eth.tickSize]).toEqual(['0.1', '0.01']);
    expect([btc.minNotional, eth.minNotional]).toEqual(['5', '20']);
    expect([btc.marketMaxQty, eth.marketMaxQty]).toEqual(['120', '10000']);
    expect([btc.minPrice, eth.minPrice]).toEqual(['556.8', '39.86']);
  });

  it('takes the newest answer that lists the symbol: ETHUSDT from 2025, not from the 2022 fixture', () => {
    expect(recordedInstrumentRules(DATA, 'binance-usdm', 'ETHUSDT').contract.minNotional).toBe('20');
    // A data directory holding only the 2022 fixture (MIN_NOTIONAL 10, liquidationFee 0.030000, PRICE_FILTER 28.23–144004.03).
    const dir = mkdtempSync(path.join(tmpdir(), 'bulwark-rules-'));
    mkdirSync(exchangeInfoDir(dir), { recursive: true });
    copyFileSync(NAUTILUS_2022, path.join(exchangeInfoDir(dir), path.basename(NAUTILUS_2022)));
    const old = recordedInstrumentRules(dir, 'binance-usdm', 'ETHUSDT');
    expect(old.source).toBe(`${path.join(exchangeInfoDir(dir), path.basename(NAUTILUS_2022))}#ETHUSDT + ${ETH_BRACKETS}`);
    expect([old.contract.tickSize, old.contract.minPrice, old.contract.maxPrice, old.contract.minNotional, old.contract.liquidationFeeRate]).toEqual(['0.01', '28.23', '144004.03', '10', '0.03']);
  });

  it('refuses an unlisted symbol with a typed error naming the files it read', () => {
    const e = notRecorded(() => recordedInstrumentRules(DATA, 'binance-usdm', 'NOSUCHUSDT'));
    expect([e.venue, e.symbol, e.reason]).toEqual(['binance-usdm', 'NOSUCHUSDT', 'NOT_LISTED']);
    expect(e.files).toEqual([TESTNET_2025, NAUTILUS_2022]);
    expect(e.message).toContain('not listed in');
    // No exchange-info folder at all: the folder is named.
    const empty = mkdtempSync(path.join(tmpdir(), 'bulwark-rules-'));
    expect(notRecorded(() => recordedInstrumentRules(empty, 'binance-usdm', 'ETHUSDT')).files).toEqual([exchangeInfoDir(empty)]);
  });

  it('refuses a listed symbol whose leverage brackets are not recorded, naming the missing files (none are made up)', () => {
    // SOLUSDT is a TRADING USDT perpetual in the 2025 answer; no bracket file is recorded for it.
    const e = notRecorded(() => recordedInstrumentRules(DATA, 'binance-usdm', 'SOLUSDT'));
    expect(e.reason).toBe('NO_LEVERAGE_BRACKETS');
    expect(e.files).toEqual(leverageBracketFiles(DATA, 'SOLUSDT'));
    expect(e.files).toEqual([path.join(DATA, 'binance-usdm', 'SOLUSDT', 'leverage-brackets.json'), path.join(venueRulesDir(), 'binance-usdm', 'SOLUSDT', 'leverage-brackets.json')]);
    expect(e.message).toContain(e.files[1]);
  });

  it('refuses what is listed but is no TRADING USDT perpetual', () => {
    expect(notRecorded(() => recordedInstrumentRules(DATA, 'binance-usdm', 'BTCUSDT_251226')).reason).toBe('NOT_LISTED'); // not a symbol id (underscore)
    expect(notRecorded(() => recordedInstrumentRules(DATA, 'binance-usdm', 'ETHUSDC')).reason).toBe('NOT_USDT_PERPETUAL');
    const settling = notRecorded(() => recordedInstrumentRules(DATA, 'binance-usdm', 'EOSUSDT'));
    expect(settling.reason).toBe('NOT_TRADING');
    expect(settling.message).toContain('status SETTLING');
  });

  it('never reads a path from a symbol', () => {
    expect(notRecorded(() => recordedInstrumentRules(DATA, 'binance-usdm', '../BTCUSDT')).reason).toBe('NOT_LISTED');
    expect(notRecorded(() => recordedInstrumentRules(DATA, 'bitget-usdtm', '../BTCUSDT')).reason).toBe('NOT_LISTED');
  });
});

describe('recordedInstrumentRules for the symbols recorded before (unchanged)', () => {
  it('BTCUSDT: its own folder, the same source text and contract as before', () => {
    const f = instrumentFiles(DATA, 'binance-usdm', 'BTCUSDT');
    const r = recordedInstrumentRules(DATA, 'binance-usdm', 'BTCUSDT');
    expect(r.source).toBe(`${f.exchangeInfo} + ${f.leverageBrackets}`);
    expect(r.contract).toEqual(loadRulesFromFiles({ venue: 'binance-usdm', exchangeInfoFile: f.exchangeInfo, leverageBracketsFile: f.leverageBrackets }));
    expect([r.contract.tickSize, r.contract.stepSize, r.contract.brackets.length]).toEqual(['0.1', '0.001', 12]);
  });

  it('Bitget BTCUSDT as before; a symbol Bitget has no recording of is a typed error', () => {
    const f = bitgetUsdtmFiles(BITGET_USDTM_DATA_DIR, 'BTCUSDT');
    const r = recordedInstrumentRules(DATA, 'bitget-usdtm', 'BTCUSDT');
    expect(r).toEqual({ contract: loadBitgetUsdtmRulesFromDir(BITGET_USDTM_DATA_DIR, 'BTCUSDT'), source: `${f.contracts} + ${f.positionTiers} + ${f.fees}` });
    const e = notRecorded(() => recordedInstrumentRules(DATA, 'bitget-usdtm', 'ETHUSDT'));
    expect([e.venue, e.reason, e.files]).toEqual(['bitget-usdtm', 'NOT_LISTED', [bitgetUsdtmFiles(BITGET_USDTM_DATA_DIR, 'ETHUSDT').contracts]]);
  });
});
