import { mkdtempSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { InstrumentRules } from '@bulwark/contracts';
import { RulesParseError } from '@bulwark/domain';
import { BITGET_USDTM_DATA_DIR, BitgetRulesFileError, bitgetUsdtmFiles, loadBitgetUsdtmFiles, loadBitgetUsdtmRulesFromDir } from './bitget-rules-file';
import { venueRulesDir } from './margin-rules-file';

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('the recorded Bitget USDT-M rules of BTCUSDT', () => {
  it('is found under data/venues/bitget-usdtm beside the Binance margin files', () => {
    expect(BITGET_USDTM_DATA_DIR).toBe(path.join(venueRulesDir(), 'bitget-usdtm'));
    expect(bitgetUsdtmFiles().contracts).toBe(path.join(BITGET_USDTM_DATA_DIR, 'BTCUSDT', 'contracts.json'));
  });

  it('loads tick, step, limits, fees and the 12 tiers with derived maintenance amounts', () => {
    const r = loadBitgetUsdtmRulesFromDir(BITGET_USDTM_DATA_DIR);
    expect(InstrumentRules.parse(r)).toEqual(r);
    expect(r.venue).toBe('bitget-usdtm');
    expect([r.tickSize, r.stepSize, r.minQty, r.maxQty, r.marketMaxQty, r.minNotional]).toEqual(['0.1', '0.0001', '0.0001', '1200', '220', '5']);
    expect([r.makerFeeRate, r.takerFeeRate]).toEqual(['0.0002', '0.0006']);
    expect(r.brackets).toHaveLength(12);
    expect(r.brackets.slice(0, 3).map((b) => [b.notionalCap, b.initialLeverage, b.maintMarginRatio, b.cum])).toEqual([
      ['200000', 150, '0.004', '0'],
      ['1000000', 100, '0.005', '200'],
      ['5000000', 75, '0.007', '2200'],
    ]);
    // The symbol folder itself works too, and the raw answers come back for a local venue.
    expect(loadBitgetUsdtmRulesFromDir(path.join(BITGET_USDTM_DATA_DIR, 'BTCUSDT'))).toEqual(r);
    expect(loadBitgetUsdtmFiles().positionTiers).toHaveLength(12);
  });

  it('reads a full {code,data} contracts answer and picks the symbol', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bitget-rules-'));
    const src = bitgetUsdtmFiles();
    const entry = loadBitgetUsdtmFiles().contract as Record<string, unknown>;
    writeFileSync(path.join(dir, 'contracts.json'), JSON.stringify({ code: '00000', msg: 'success', requestTime: 1, data: [{ ...entry, symbol: 'ETHUSDT' }, entry] }));
    copyFileSync(src.positionTiers, path.join(dir, 'position-tier.json'));
    copyFileSync(src.fees, path.join(dir, 'fees.json'));
    expect(loadBitgetUsdtmRulesFromDir(dir, 'BTCUSDT')).toEqual(loadBitgetUsdtmRulesFromDir(BITGET_USDTM_DATA_DIR));
  });

  it('refuses a path that is not a Bitget contracts file with a typed error naming the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bitget-rules-'));
    // A Binance exchange-info entry where the Bitget contract should be.
    writeFileSync(path.join(dir, 'contracts.json'), JSON.stringify({ symbol: 'BTCUSDT', filters: [{ filterType: 'PRICE_FILTER', tickSize: '0.10' }] }));
    const e = caught(() => loadBitgetUsdtmRulesFromDir(dir));
    expect(e).toBeInstanceOf(BitgetRulesFileError);
    expect(e).toBeInstanceOf(RulesParseError);
    expect((e as BitgetRulesFileError).file).toBe(path.join(dir, 'contracts.json'));
    expect(e.message).toMatch(/is not a Bitget GET \/api\/v2\/mix\/market\/contracts/);

    writeFileSync(path.join(dir, 'contracts.json'), '{not json');
    expect(caught(() => loadBitgetUsdtmRulesFromDir(dir)).message).toMatch(/contracts\.json: is not JSON/);

    const missing = path.join(dir, 'nowhere');
    mkdirSync(missing);
    const m = caught(() => loadBitgetUsdtmRulesFromDir(missing));
    expect(m).toBeInstanceOf(BitgetRulesFileError);
    expect(m.message).toMatch(/contracts\.json: cannot be read/);
  });

  it('names the field when a recorded file is malformed', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bitget-rules-'));
    const src = bitgetUsdtmFiles();
    const entry = loadBitgetUsdtmFiles().contract as Record<string, unknown>;
    writeFileSync(path.join(dir, 'contracts.json'), JSON.stringify({ ...entry, maxOrderQty: '' }));
    copyFileSync(src.positionTiers, path.join(dir, 'position-tier.json'));
    copyFileSync(src.fees, path.join(dir, 'fees.json'));
    const e = caught(() => loadBitgetUsdtmRulesFromDir(dir));
    expect(e).toBeInstanceOf(BitgetRulesFileError);
    expect(e.message).toContain('BTCUSDT.maxOrderQty');
    writeFileSync(path.join(dir, 'contracts.json'), JSON.stringify(entry));
    writeFileSync(path.join(dir, 'fees.json'), JSON.stringify({ maker: 0.0002 }));
    expect(caught(() => loadBitgetUsdtmRulesFromDir(dir)).message).toMatch(/fees\.json: expected \{makerFeeRate, takerFeeRate\}/);
  });
});
