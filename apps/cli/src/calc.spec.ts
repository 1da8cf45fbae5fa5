import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BTCUSDT_FILES } from '@bulwark/testing';
import { Command, CommanderError } from 'commander';
import { registerCalcCommands, type LiquidationCalc, type SizeCalc } from './calc';

// Drives `bulwark calc …` through commander, configured like main.ts's program
// (exitOverride, errors written through the output configuration), and captures stdout and
// stderr from the output configuration. Formula: Binance FAQ "How to Calculate Liquidation
// Price of USDⓈ-M Contracts" (isolated, one-way): long LP = (Q·EP − WB − cum) / (Q·(1 − MMR)),
// short LP = (Q·EP + WB + cum) / (Q·(1 + MMR)). Rules: shared/data BTCUSDT exchange-info.json
// (step 0.001) and leverage-brackets.json (2025-11-20: bracket 1 is 0–300,000, 150x, MMR 0.004, cum 0).

const BRACKETS = BTCUSDT_FILES.leverageBrackets;
const EXCHANGE_INFO = BTCUSDT_FILES.exchangeInfo;

/** main()'s mapping of a thrown error to an exit code (apps/cli/src/main.ts). */
function exitCodeOf(e: unknown): number {
  const err = e as { code?: string };
  if (err.code?.startsWith('commander.')) return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
  return 1;
}

async function bulwark(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const program = new Command('bulwark')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s), outputError: (s, write) => write(s) });
  registerCalcCommands(program);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out, err };
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { code: exitCodeOf(e), out, err };
  }
}

const json = <T>(r: { code: number; out: string }): T => {
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as T;
};

describe('calc liquidation: the worked example (0.01 BTC at 60,000, 10x, wallet balance 60)', () => {
  const position = ['--entry', '60000', '--qty', '0.01', '--leverage', '10', '--wallet-balance', '60'];

  it('long, as a table: (600 − 60 − 0) / (0.01 × 0.996) = 540 / 0.00996 = 54,216.87', async () => {
    const r = await bulwark('calc', 'liquidation', '--side', 'long', ...position);
    expect(r).toEqual({
      code: 0,
      err: '',
      out: [
        'Liquidation, Binance USDⓈ-M BTCUSDT, isolated margin, one-way mode',
        '  side                   LONG',
        '  quantity               0.01 BTC',
        '  entry price            60,000.00 USDT',
        '  notional               600.00 USDT', // 0.01 × 60,000
        '  leverage               10x',
        '  initial margin         60.00 USDT', // 600 ÷ 10
        '  wallet balance         60.00 USDT',
        '  bracket                1: notional 0 – 300,000 USDT, max 150x',
        '  maint. margin ratio    0.4 % (0.004)',
        '  maintenance amount     0.00 USDT',
        '  maintenance margin     2.40 USDT', // 600 × 0.004 − 0
        '  liquidation price      54,216.87 USDT',
        '  liquidation bracket    1 (MMR 0.004, maintenance amount 0.00)', // Q·LP = 542.17: bracket 1
        '  buffer to liquidation  5,783.13 USDT (9.64 % of entry)', // 60,000 − 54,216.87; ÷ 60,000
        '',
      ].join('\n'),
    });
  });

  it('long, as JSON: every number as a decimal string', async () => {
    const c = json<LiquidationCalc>(await bulwark('calc', 'liquidation', '--side', 'long', ...position, '--json'));
    expect(c).toEqual({
      venue: 'binance-usdm',
      symbol: 'BTCUSDT',
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      side: 'LONG',
      quantity: '0.01',
      entryPrice: '60000',
      leverage: 10,
      notional: '600',
      initialMargin: '60',
      walletBalance: '60',
      walletBalanceIsInitialMargin: false,
      bracket: 1,
      bracketMaxLeverage: 150,
      notionalFloor: '0',
      notionalCap: '300000',
      maintMarginRatio: '0.004',
      maintAmount: '0',
      maintenanceMargin: '2.4',
      liquidationPrice: '54216.86746987951807228915662650602409639', // 540 / 0.00996, 40 significant digits
      liquidationPriceRounded: '54216.87',
      liquidationBracket: 1,
      liquidationMaintMarginRatio: '0.004',
      liquidationMaintAmount: '0',
      liquidationNotional: '542.1686746987951807228915662650602409639',
      bufferToLiquidation: '5783.13253012048192771084337349397590361',
      bufferToLiquidationPct: '9.64',
      warnings: [],
      files: { brackets: BRACKETS, exchangeInfo: EXCHANGE_INFO },
    });
  });

  it('short, as a table: (600 + 60 + 0) / (0.01 × 1.004) = 660 / 0.01004 = 65,737.05', async () => {
    const r = await bulwark('calc', 'liquidation', '--side', 'short', ...position);
    expect(r.code).toBe(0);
    expect(r.out).toContain('\n  side                   SHORT\n');
    expect(r.out).toContain('\n  liquidation price      65,737.05 USDT\n');
    expect(r.out).toContain('\n  buffer to liquidation  5,737.05 USDT (9.56 % of entry)\n');
  });

  it('short, as JSON', async () => {
    const c = json<LiquidationCalc>(await bulwark('calc', 'liquidation', '--side', 'short', ...position, '--json'));
    expect(c).toMatchObject({
      side: 'SHORT',
      liquidationPrice: '65737.05179282868525896414342629482071713',
      liquidationPriceRounded: '65737.05',
      bracket: 1,
      maintMarginRatio: '0.004',
      maintenanceMargin: '2.4',
      initialMargin: '60',
    });
  });

  it('the wallet balance defaults to the initial margin, entry × qty ÷ leverage = 60; buy / sell mean long / short', async () => {
    const byDefault = json<LiquidationCalc>(await bulwark('calc', 'liquidation', '--side', 'buy', '--entry', '60000', '--qty', '0.01', '--leverage', '10', '--json'));
    expect(byDefault).toMatchObject({ side: 'LONG', walletBalance: '60', walletBalanceIsInitialMargin: true, liquidationPriceRounded: '54216.87' });
    const sell = json<LiquidationCalc>(await bulwark('calc', 'liquidation', '--side', 'SELL', '--entry', '60000', '--qty', '0.01', '--leverage', '10', '--json'));
    expect(sell).toMatchObject({ side: 'SHORT', liquidationPriceRounded: '65737.05' });
    const table = await bulwark('calc', 'liquidation', '--side', 'long', '--entry', '60000', '--qty', '0.01', '--leverage', '10');
    expect(table.out).toContain('\n  wallet balance         60.00 USDT (= initial margin)\n');
  });

  it('a larger wallet balance moves the price away: WB 100 → (600 − 100) / 0.00996 = 50,200.80', async () => {
    const c = json<LiquidationCalc>(await bulwark('calc', 'liquidation', '--side', 'long', '--entry', '60000', '--qty', '0.01', '--leverage', '10', '--wallet-balance', '100', '--json'));
    expect(c.liquidationPriceRounded).toBe('50200.8');
  });

  it('a 1x long cannot be liquidated: (600 − 600) / … = 0 → none', async () => {
    const r = await bulwark('calc', 'liquidation', '--side', 'long', '--entry', '60000', '--qty', '0.01', '--leverage', '1');
    expect(r.out).toContain('\n  liquidation price      none (the position cannot be liquidated)\n');
    expect(r.out).toContain('\n  warning                the wallet balance covers the whole position: it cannot be liquidated\n');
  });

  it('warns when the leverage is above what the bracket allows: 2.5 BTC at 130,000 (N 325,000, bracket 2, max 100x) at 125x', async () => {
    const c = json<LiquidationCalc>(await bulwark('calc', 'liquidation', '--side', 'long', '--entry', '130000', '--qty', '2.5', '--leverage', '125', '--json'));
    expect(c).toMatchObject({ bracket: 2, bracketMaxLeverage: 100, maintAmount: '300', maintenanceMargin: '1325' }); // 325,000 × 0.005 − 300
    expect(c.warnings).toEqual(['125x is above the 100x that bracket 2 allows: Binance would refuse this position']);
  });

  it('reads the brackets and a whole exchangeInfo response from the given files (--symbol picks the entry)', async () => {
    const testnet = BTCUSDT_FILES.testnetExchangeInfo;
    const c = json<LiquidationCalc>(
      await bulwark('calc', 'liquidation', '--side', 'long', ...position, '--brackets', BTCUSDT_FILES.leverageBrackets2023, '--exchange-info', testnet, '--symbol', 'btcusdt', '--json'),
    );
    expect(c.files).toEqual({ brackets: BTCUSDT_FILES.leverageBrackets2023, exchangeInfo: testnet });
    expect(c).toMatchObject({ bracket: 1, bracketMaxLeverage: 125, liquidationPriceRounded: '54216.87' }); // 2023 bracket 1: 125x, same MMR
  });
});

describe('calc size', () => {
  it('long at 104,587.7 (close of 2025-11-10 00:00 UTC), stop 102,500, equity 10,000, 1 %, 10x: every field', async () => {
    const candles = BTCUSDT_FILES.candles1m;
    expect(fs.readFileSync(candles, 'utf8').split('\n')[1]).toBe('1762732800000,104670.7,104670.7,104570.6,104587.7,73.095');

    const args = ['calc', 'size', '--side', 'long', '--entry', '104587.7', '--stop', '102500', '--equity', '10000', '--leverage', '10'];
    const c = json<SizeCalc>(await bulwark(...args, '--json'));
    expect(c).toEqual({
      venue: 'binance-usdm',
      symbol: 'BTCUSDT',
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      decision: 'APPROVED',
      reason: null,
      message: null,
      side: 'BUY',
      entryPrice: '104587.7',
      stopPrice: '102500',
      takeProfitPrice: null,
      equity: '10000',
      availableMargin: '10000', // defaults to the equity
      riskFraction: '0.01', // --risk-pct 1 (default)
      riskAmount: '100', // 10,000 × 0.01
      stopDistance: '2087.7', // 104,587.7 − 102,500
      feePerUnit: '103.54385', // 0.0005 × (104,587.7 + 102,500)
      lossPerUnit: '2191.24385', // 2,087.7 + 103.54385
      rawQuantity: '0.04563618056475092902143227920525595542458', // 100 ÷ 2,191.24385
      marginCappedQuantity: '0.04563618056475092902143227920525595542458', // cap 5,000 × 10 ÷ 104,587.7 = 0.478 does not bind
      quantity: '0.045', // down to the 0.001 step
      notional: '4706.4465', // 0.045 × 104,587.7
      requestedLeverage: 10,
      leverageCap: 20, // the account policy default
      bracketMaxLeverage: 150,
      leverage: 10,
      bracket: 1,
      maintMarginRatio: '0.004',
      maintAmount: '0',
      initialMargin: '470.64465', // 4,706.4465 ÷ 10
      maxMargin: '5000', // 50 % of the available margin
      liquidationPrice: '94506.95783132530120481927710843373493976', // (4,706.4465 − 470.64465) ÷ (0.045 × 0.996)
      liquidationDistance: '10080.74216867469879518072289156626506024',
      stopToLiquidation: '7993.04216867469879518072289156626506024', // 102,500 − 94,506.96
      requiredBuffer: '1008.074216867469879518072289156626506024', // 0.1 × 10,080.74
      lossAtStop: '98.60597325', // 0.045 × 2,191.24385 <= 100
      takerFeeRate: '0.0005',
      feesAtStop: '4.65947325', // 0.045 × 103.54385
      feeRiskShare: '0.0465947325', // of the 100 risk amount
      maxFeeRiskFraction: '0.5', // the policy's cost guard
      walletBalance: '470.64465',
      maintenanceMargin: '18.825786', // 4,706.4465 × 0.004 − 0
      liquidationPriceRounded: '94506.96',
      files: { brackets: BRACKETS, exchangeInfo: EXCHANGE_INFO },
    });

    const t = await bulwark(...args);
    expect(t.code).toBe(0);
    expect(t.out.split('\n')).toEqual([
      'Position size, Binance USDⓈ-M BTCUSDT, isolated margin',
      '  decision                APPROVED',
      '  side                    BUY (long)',
      '  entry price             104,587.70 USDT',
      '  stop price              102,500.00 USDT',
      '  take-profit             —',
      '  equity                  10,000.00 USDT',
      '  available margin        10,000.00 USDT',
      '  risk                    1 % (0.01) of equity',
      '  risk amount             100.00 USDT',
      '  stop distance           2,087.70 USDT',
      '  fee per unit            103.54 USDT',
      '  loss per unit           2,191.24 USDT',
      '  raw quantity            0.04563618… BTC',
      '  margin-capped quantity  0.04563618… BTC',
      '  quantity                0.045 BTC',
      '  notional                4,706.45 USDT',
      '  leverage                10x (requested 10x, cap 20x, bracket max 150x)',
      '  bracket                 1',
      '  maint. margin ratio     0.4 % (0.004)',
      '  maintenance amount      0.00 USDT',
      '  maintenance margin      18.83 USDT',
      '  initial margin          470.64 USDT',
      '  max margin              5,000.00 USDT',
      '  liquidation price       94,506.96 USDT',
      '  liquidation distance    10,080.74 USDT',
      '  buffer to liquidation   7,993.04 USDT from the stop to the liquidation price (required ≥ 1,008.07 USDT)',
      '  loss at stop            98.61 USDT',
      '  taker fee rate          0.05 % (0.0005)',
      '  fees at entry and stop  4.66 USDT (4.7 % of the risk amount; at most 50 %)',
      '',
    ]);
  });

  it('uses the flags it is given: risk 2 %, available margin 1,000, taker fee 0.0004, short', async () => {
    // loss/unit 2,087.7 + 0.0004 × (104,587.7 + 106,675.4) = 2,172.20524; raw 200 ÷ 2,172.20524 = 0.0920723…;
    // margin cap 50 % × 1,000 × 10 ÷ 104,587.7 = 0.0478069… binds → 0.047.
    const c = json<SizeCalc>(
      await bulwark('calc', 'size', '--side', 'short', '--entry', '104587.7', '--stop', '106675.4', '--equity', '10000', '--leverage', '10', '--risk-pct', '2', '--available-margin', '1000', '--taker-fee', '0.0004', '--json'),
    );
    expect(c).toMatchObject({ decision: 'APPROVED', side: 'SELL', riskFraction: '0.02', riskAmount: '200', takerFeeRate: '0.0004', feePerUnit: '84.50524', maxMargin: '500', quantity: '0.047', initialMargin: '491.56219' }); // 0.047 × 104,587.7 ÷ 10
  });

  it('a denial is an answer (exit 0) with its reason and what would pass: 50x with a 5 % stop is STOP_TOO_CLOSE_TO_LIQUIDATION', async () => {
    // 100 ÷ (3,000 + 0.0005 × 117,000) = 0.0326957… → 0.032 BTC; N 1,920, WB 1,920 ÷ 50 = 38.4;
    // LP = (1,920 − 38.4) ÷ (0.032 × 0.996) = 59,036.14: the stop at 57,000 is 2,036.14 past it.
    // What passes: the stop at LP + 0.1 × (60,000 − LP) = 59,132.53 → 59,132.6 (up to the tick), or 16x at this stop.
    const args = ['calc', 'size', '--side', 'long', '--entry', '60000', '--stop', '57000', '--equity', '10000', '--leverage', '50', '--leverage-cap', '50'];
    const t = await bulwark(...args);
    expect(t.code).toBe(0);
    expect(t.err).toBe('');
    const lines = t.out.split('\n');
    expect(lines[1]).toBe('  decision                DENIED: STOP_TOO_CLOSE_TO_LIQUIDATION');
    expect(lines[2]).toBe(
      '  reason                  stop 57000 is -2036.14 from the liquidation price 59036.14 at 50x; at least 96.39 (0.1 of the entry-to-liquidation distance 963.86) is required',
    );
    expect(lines.slice(3, 6)).toEqual(['  max quantity            —', '  recommended stop        59,132.60 USDT', '  max leverage            16x']);
    expect(lines).toContain('  liquidation price       59,036.14 USDT');
    expect(lines).toContain('  buffer to liquidation   none: the stop is 2,036.14 USDT past the liquidation price and would never fire first (required ≥ 96.39 USDT)');
    expect(lines).toContain('  leverage                50x (requested 50x, cap 50x, bracket max 150x)');

    const c = json<SizeCalc>(await bulwark(...args, '--json'));
    expect(c).toMatchObject({
      decision: 'DENIED',
      reason: 'STOP_TOO_CLOSE_TO_LIQUIDATION',
      quantity: '0.032',
      notional: '1920',
      initialMargin: '38.4',
      maintenanceMargin: '7.68', // 1,920 × 0.004
      liquidationPriceRounded: '59036.14',
      stopToLiquidation: '-2036.1445783132530120481927710843373494', // full precision in the JSON
      maxQuantity: null, // a smaller position at 50x has the same liquidation price
      recommendedStop: '59132.6',
      maxLeverage: 16,
    });
    expect(json<SizeCalc>(await bulwark(...args, '--stop', '59132.6', '--json'))).toMatchObject({ decision: 'APPROVED', leverage: 50 });
    expect(json<SizeCalc>(await bulwark(...args, '--leverage', '16', '--json'))).toMatchObject({ decision: 'APPROVED', leverage: 16 });
  });

  it('cost guard (default 50 %): a stop 100 below the entry sizes 0.478 BTC whose fees take 49.97 % of the risk amount; --max-fee-risk-pct 40 denies it COST_TOO_HIGH (exit 0), off turns it off', async () => {
    const args = ['calc', 'size', '--side', 'long', '--entry', '104587.7', '--stop', '104487.7', '--equity', '10000', '--leverage', '10'];
    const passed = json<SizeCalc>(await bulwark(...args, '--json'));
    expect(passed).toMatchObject({ decision: 'APPROVED', quantity: '0.478', feesAtStop: '49.9690206', feeRiskShare: '0.499690206', maxFeeRiskFraction: '0.5' });
    const t = await bulwark(...args, '--max-fee-risk-pct', '40');
    expect(t.code).toBe(0);
    const lines = t.out.split('\n');
    expect(lines[1]).toBe('  decision                DENIED: COST_TOO_HIGH');
    expect(lines[2]).toBe('  reason                  taker fees at entry and stop 49.97 USDT are 50 % of the risk amount 100 USDT; at most 40 % allowed (widen the stop or raise the limit)');
    // What passes: 0.4 × 100 ÷ 104.5377 = 0.3826 → 0.382 BTC; 8x (5,000 × 8 ÷ 104,587.7 = 0.382 BTC); a stop
    // 2 × 0.0005 × 104,587.7 × 0.6 ÷ (0.4 + 0.0005 × 0.6) = 156.76 below the entry, 104,430.9; the quantity rounds
    // down to the step, so bisected back: 104,431.1 sizes 100 ÷ 261.1094 = 0.38298 → 0.382 BTC, fees 39.92 ≤ 40
    // (104,431.2: 0.383 BTC, 40.03).
    expect(lines.slice(3, 6)).toEqual(['  max quantity            0.382 BTC', '  recommended stop        104,431.10 USDT', '  max leverage            8x']);
    expect(json<SizeCalc>(await bulwark(...args, '--stop', '104431.1', '--max-fee-risk-pct', '40', '--json'))).toMatchObject({ decision: 'APPROVED' });
    expect(passed).not.toHaveProperty('recommendedStop'); // approvals carry no recommendation
    expect(json<SizeCalc>(await bulwark(...args, '--max-fee-risk-pct', 'off', '--json'))).toMatchObject({ decision: 'APPROVED', maxFeeRiskFraction: null });
    for (const bad of ['0', '101', 'half']) expect((await bulwark(...args, '--max-fee-risk-pct', bad)).code).toBe(2);
  });

  it('the account leverage cap (20 by default) applies: --leverage 125 sizes at 20x', async () => {
    const c = json<SizeCalc>(await bulwark('calc', 'size', '--side', 'long', '--entry', '60000', '--stop', '59000', '--equity', '10000', '--leverage', '125', '--json'));
    expect(c).toMatchObject({ decision: 'APPROVED', requestedLeverage: 125, leverageCap: 20, leverage: 20 });
  });

  it('other denials too: no equity', async () => {
    const c = json<SizeCalc>(await bulwark('calc', 'size', '--side', 'long', '--entry', '60000', '--stop', '59000', '--equity', '0', '--leverage', '10', '--json'));
    expect(c).toMatchObject({ decision: 'DENIED', reason: 'NO_EQUITY', message: 'equity is 0: nothing to risk' });
  });
});

describe('bad flags: exit code 2, the flag named', () => {
  const liq = ['calc', 'liquidation', '--side', 'long', '--entry', '60000', '--qty', '0.01', '--leverage', '10'];
  const size = ['calc', 'size', '--side', 'long', '--entry', '60000', '--stop', '59000', '--equity', '10000', '--leverage', '10'];
  const without = (args: string[], flag: string) => {
    const i = args.indexOf(flag);
    return [...args.slice(0, i), ...args.slice(i + 2)];
  };
  const replace = (args: string[], flag: string, value: string) => args.map((a, i) => (args[i - 1] === flag ? value : a));

  it.each([
    ['missing --entry', without(liq, '--entry'), "error: required option '--entry <price>' not specified"],
    ['missing --side', without(size, '--side'), "error: required option '--side <side>' not specified"],
    ['missing --stop', without(size, '--stop'), "error: required option '--stop <price>' not specified"],
    ['non-numeric --qty', replace(liq, '--qty', 'abc'), `error: option '--qty <quantity>' argument 'abc' is invalid. --qty must be a positive decimal number (BTC), got "abc"`],
    ['zero --entry', replace(liq, '--entry', '0'), `error: option '--entry <price>' argument '0' is invalid. --entry must be a positive decimal number (USDT per BTC), got "0"`],
    ['negative --entry', replace(liq, '--entry', '-60000'), `--entry must be a positive decimal number (USDT per BTC), got "-60000" (negative)`],
    ['negative --wallet-balance', [...liq, '--wallet-balance', '-1'], `--wallet-balance must be a non-negative decimal number (USDT), got "-1" (negative)`],
    ['--leverage 0', replace(liq, '--leverage', '0'), `error: option '--leverage <n>' argument '0' is invalid. --leverage must be an integer in 1..125, got "0"`],
    ['--leverage 2.5', replace(liq, '--leverage', '2.5'), `--leverage must be an integer in 1..125, got "2.5"`],
    ['--leverage 126', replace(size, '--leverage', '126'), `--leverage must be an integer in 1..125, got "126"`],
    ['--leverage-cap 200', [...size, '--leverage-cap', '200'], `--leverage-cap must be an integer in 1..125, got "200"`],
    ['unknown side', replace(liq, '--side', 'up'), `error: option '--side <side>' argument 'up' is invalid. --side must be long or short (or buy / sell), got "up"`],
    ['--risk-pct 0', [...size, '--risk-pct', '0'], `--risk-pct must be a positive decimal number (% of equity) at most 100, got "0"`],
    ['--risk-pct 101', [...size, '--risk-pct', '101'], `--risk-pct must be a positive decimal number (% of equity) at most 100, got "101"`],
    ['--risk-pct 1%', [...size, '--risk-pct', '1%'], `--risk-pct must be a positive decimal number (% of equity) at most 100, got "1%"`],
    ['--taker-fee 1', [...size, '--taker-fee', '1'], `--taker-fee must be a non-negative decimal number (a fraction, e.g. 0.0005) below 1, got "1"`],
    ['--equity 1e4', replace(size, '--equity', '1e4'), `--equity must be a non-negative decimal number (USDT), got "1e4"`],
    ['--brackets missing', [...liq, '--brackets', '/nonexistent/brackets.json'], 'error: --brackets /nonexistent/brackets.json: cannot read the file (ENOENT'],
    ['--brackets not brackets', [...liq, '--brackets', EXCHANGE_INFO], `error: --brackets ${EXCHANGE_INFO} / --exchange-info ${EXCHANGE_INFO}: leverageBrackets[BTCUSDT].brackets: expected a non-empty array`],
  ])('%s', async (_name, args, message) => {
    const r = await bulwark(...args);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(message);
  });

  it('a file that is not JSON names the flag', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-calc-'));
    const bad = path.join(dir, 'exchange-info.json');
    fs.writeFileSync(bad, '{ not json');
    try {
      const r = await bulwark(...liq, '--exchange-info', bad);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`error: --exchange-info ${bad}: not valid JSON`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
