import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import type { PositionSide } from '@bulwark/contracts';
import {
  ACCOUNT_DEFAULTS,
  calcLiquidation as computeLiquidation,
  calcSize as computeSize,
  D,
  dec,
  type LiquidationCalcInput,
  type LiquidationCalcResult,
  parseBinanceUsdmRules,
  RulesParseError,
  rulesFromContract,
  type SizeCalcInput,
  type SizeCalcResult,
  str,
  type Rules,
} from '@bulwark/domain';
import { instrumentFiles, resolveDataDir } from '@bulwark/market-data';
import { grouped } from './format';
import { feeGuardFraction, maxFeeRiskPct } from './input-checks';

/*
 * `bulwark calc liquidation` and `bulwark calc size`: the risk engine's own numbers for one
 * position, on the command line. Nothing is re-implemented: the rules come from
 * `parseBinanceUsdmRules` + `rulesFromContract`, the numbers from the domain's `calcLiquidation`
 * and `calcSize` (libs/domain/src/calc.ts, also behind the gateway's /api/calc), with the
 * account policy defaults the risk service uses (`ACCOUNT_DEFAULTS`). This file parses flags
 * and formats.
 *
 * Bad flags throw commander's InvalidArgumentError (or call `command.error` with the code
 * `commander.invalidArgument`), which `main()` maps to exit code 2. A sizing denial is an
 * answer, printed with its reason (exit 0).
 */

// ---------------------------------------------------------------------------------------
// Flag parsers (each error names the flag and the value)
// ---------------------------------------------------------------------------------------

const DECIMAL_TEXT = /^(\d+(\.\d*)?|\.\d+)$/;

/** A decimal flag value as a plain string; `positive` refuses 0. `unit` goes into the message. */
function decimalFlag(flag: string, what: string, opts: { positive: boolean; max?: string; maxExclusive?: boolean }) {
  return (v: string): string => {
    const t = v.trim();
    const bound = opts.positive ? 'a positive' : 'a non-negative';
    const range = opts.max === undefined ? '' : ` ${opts.maxExclusive ? 'below' : 'at most'} ${opts.max}`;
    if (/^-/.test(t)) throw new InvalidArgumentError(`${flag} must be ${bound} decimal number (${what})${range}, got "${v}" (negative)`);
    if (!DECIMAL_TEXT.test(t)) throw new InvalidArgumentError(`${flag} must be ${bound} decimal number (${what})${range}, got "${v}"`);
    const d = dec(t);
    if (opts.positive && d.isZero()) throw new InvalidArgumentError(`${flag} must be ${bound} decimal number (${what})${range}, got "${v}"`);
    if (opts.max !== undefined && (opts.maxExclusive ? d.gte(opts.max) : d.gt(opts.max))) {
      throw new InvalidArgumentError(`${flag} must be ${bound} decimal number (${what})${range}, got "${v}"`);
    }
    return str(d);
  };
}

/** Binance USDⓈ-M leverage: an integer 1..125. */
function leverageFlag(flag: string) {
  return (v: string): number => {
    const n = /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > 125) throw new InvalidArgumentError(`${flag} must be an integer in 1..125, got "${v}"`);
    return n;
  };
}

/** long | short, also buy | sell (case-insensitive). */
function sideFlag(v: string): PositionSide {
  const s = v.trim().toLowerCase();
  if (s === 'long' || s === 'buy') return 'LONG';
  if (s === 'short' || s === 'sell') return 'SHORT';
  throw new InvalidArgumentError(`--side must be long or short (or buy / sell), got "${v}"`);
}

/** A flag error found after parsing (a file that cannot be read, a combination): exit 2 through main(). */
function flagError(cmd: Command, message: string): never {
  return cmd.error(`error: ${message}`, { exitCode: 2, code: 'commander.invalidArgument' });
}

// ---------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------

interface RulesOptions {
  brackets?: string;
  exchangeInfo?: string;
  symbol: string;
}

function readJsonFile(cmd: Command, file: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return flagError(cmd, `${flag} ${file}: cannot read the file (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    return flagError(cmd, `${flag} ${file}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * The instrument rules the engine would use: Binance `GET /fapi/v1/leverageBracket` and the
 * symbol's `GET /fapi/v1/exchangeInfo` entry (or a whole exchangeInfo response: the entry of
 * `--symbol` is taken), parsed by the domain. Defaults: the data directory's files.
 * @throws DataDirNotFoundError (exit 1) when a default is needed and no data directory exists.
 */
function loadRules(cmd: Command, opts: RulesOptions, takerFeeRate?: string): { rules: Rules; files: { brackets: string; exchangeInfo: string } } {
  const defaults = () => instrumentFiles(resolveDataDir(), 'binance-usdm', opts.symbol);
  const files = { brackets: opts.brackets ?? defaults().leverageBrackets, exchangeInfo: opts.exchangeInfo ?? defaults().exchangeInfo };
  const leverageBrackets = readJsonFile(cmd, files.brackets, '--brackets');
  const info = readJsonFile(cmd, files.exchangeInfo, '--exchange-info');
  let exchangeInfoSymbol: unknown = info;
  if (typeof info === 'object' && info !== null && Array.isArray((info as { symbols?: unknown }).symbols)) {
    exchangeInfoSymbol = (info as { symbols: Array<{ symbol?: unknown }> }).symbols.find((s) => s?.symbol === opts.symbol);
    if (exchangeInfoSymbol === undefined) flagError(cmd, `--exchange-info ${files.exchangeInfo}: no symbol ${opts.symbol} in symbols[]`);
  }
  try {
    return { rules: rulesFromContract(parseBinanceUsdmRules({ venue: 'binance-usdm', exchangeInfoSymbol, leverageBrackets, takerFeeRate })), files };
  } catch (e) {
    if (e instanceof RulesParseError) return flagError(cmd, `--brackets ${files.brackets} / --exchange-info ${files.exchangeInfo}: ${e.message}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------


const money = (s: string | null | undefined, quote: string) => (s === null || s === undefined ? '—' : `${grouped(s)} ${quote}`);
const rate = (s: string | null | undefined) => (s === null || s === undefined ? '—' : `${str(dec(s).mul(100))} % (${s})`);
/** A quantity as is, or cut to 8 decimals with an ellipsis when it carries more. */
const quantity = (s: string | null | undefined, base: string) => {
  if (s === null || s === undefined) return '—';
  const cut = dec(s).toDecimalPlaces(8, D.ROUND_DOWN);
  return `${cut.eq(dec(s)) ? s : `${str(cut)}…`} ${base}`;
};

type Row = [label: string, value: string];

function table(title: string, rows: Row[]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return [title, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n') + '\n';
}

function write(cmd: Command, text: string): void {
  const out = cmd.configureOutput().writeOut ?? ((t: string) => process.stdout.write(t));
  out(text);
}

// ---------------------------------------------------------------------------------------
// calc liquidation
// ---------------------------------------------------------------------------------------

interface LiquidationOptions extends RulesOptions, LiquidationCalcInput {
  json?: boolean;
}

/** The JSON answer of `calc liquidation`: the domain's answer plus the rules files used. */
export type LiquidationCalc = LiquidationCalcResult & { files: { brackets: string; exchangeInfo: string } };

function calcLiquidation(cmd: Command, o: LiquidationOptions): LiquidationCalc {
  const { rules, files } = loadRules(cmd, o);
  return { ...computeLiquidation(rules, o), files };
}

function liquidationTable(c: LiquidationCalc): string {
  const { baseAsset: base, quoteAsset: quote } = c;
  const rows: Row[] = [
    ['side', c.side],
    ['quantity', `${c.quantity} ${base}`],
    ['entry price', money(c.entryPrice, quote)],
    ['notional', money(c.notional, quote)],
    ['leverage', `${c.leverage}x`],
    ['initial margin', money(c.initialMargin, quote)],
    ['wallet balance', `${money(c.walletBalance, quote)}${c.walletBalanceIsInitialMargin ? ' (= initial margin)' : ''}`],
    ['bracket', `${c.bracket}: notional ${grouped(c.notionalFloor, 0)} – ${grouped(c.notionalCap, 0)} ${quote}, max ${c.bracketMaxLeverage}x`],
    ['maint. margin ratio', rate(c.maintMarginRatio)],
    ['maintenance amount', money(c.maintAmount, quote)],
    ['maintenance margin', money(c.maintenanceMargin, quote)],
    ['liquidation price', c.liquidationPriceRounded === null ? 'none (the position cannot be liquidated)' : money(c.liquidationPriceRounded, quote)],
    ['liquidation bracket', `${c.liquidationBracket} (MMR ${c.liquidationMaintMarginRatio}, maintenance amount ${grouped(c.liquidationMaintAmount)})`],
    ['buffer to liquidation', c.bufferToLiquidation === null ? '—' : `${money(c.bufferToLiquidation, quote)} (${c.bufferToLiquidationPct} % of entry)`],
    ...c.warnings.map((w): Row => ['warning', w]),
  ];
  return table(`Liquidation, Binance USDⓈ-M ${c.symbol}, isolated margin, one-way mode`, rows);
}

// ---------------------------------------------------------------------------------------
// calc size
// ---------------------------------------------------------------------------------------

/** The flags of `calc size`: the domain's input, with the cost guard as the flag gives it. */
interface SizeOptions extends RulesOptions, Omit<SizeCalcInput, 'maxFeeRiskFraction'> {
  takerFee?: string;
  /** The cost guard as a fraction, or "off" (from `--max-fee-risk-pct`). */
  maxFeeRiskPct: string;
  json?: boolean;
}

/** The JSON answer of `calc size`: the domain's answer (`calcSize`) plus the rules files used. */
export type SizeCalc = SizeCalcResult & { files: { brackets: string; exchangeInfo: string } };

function calcSize(cmd: Command, o: SizeOptions): SizeCalc {
  const { rules, files } = loadRules(cmd, o, o.takerFee);
  return {
    ...computeSize(rules, {
      side: o.side,
      entry: o.entry,
      stop: o.stop,
      ...(o.takeProfit === undefined ? {} : { takeProfit: o.takeProfit }),
      equity: o.equity,
      riskPct: o.riskPct,
      leverage: o.leverage,
      leverageCap: o.leverageCap,
      ...(o.availableMargin === undefined ? {} : { availableMargin: o.availableMargin }),
      maxMarginPct: o.maxMarginPct,
      liquidationBufferPct: o.liquidationBufferPct,
      maxFeeRiskFraction: feeGuardFraction(o.maxFeeRiskPct),
    }),
    files,
  };
}

/** The stop's distance ahead of the liquidation price, against the buffer the policy requires. */
function bufferText(c: SizeCalc, quote: string): string {
  if (c.stopToLiquidation === undefined || c.stopToLiquidation === null) return '—';
  const d = dec(c.stopToLiquidation);
  const required = `required ≥ ${money(c.requiredBuffer, quote)}`;
  return d.gt(0)
    ? `${money(c.stopToLiquidation, quote)} from the stop to the liquidation price (${required})`
    : `none: the stop is ${money(str(d.abs()), quote)} past the liquidation price and would never fire first (${required})`;
}

/** The taker fees at entry and stop, their share of the risk amount (to 0.1 %) and the cost guard's limit, for a person. */
function feesText(c: SizeCalc, quote: string): string {
  if (c.feesAtStop === undefined) return '—';
  const share = (x: string) => `${str(dec(x).mul(100).toDecimalPlaces(1, D.ROUND_HALF_UP))} %`;
  const guard = c.maxFeeRiskFraction ? `at most ${share(c.maxFeeRiskFraction)}` : 'no cost guard';
  return `${money(c.feesAtStop, quote)} (${c.feeRiskShare === undefined ? '—' : share(c.feeRiskShare)} of the risk amount; ${guard})`;
}

/**
 * What would pass instead, on a denial that says so (`recommendEntry`: ABOVE_MAX_QTY,
 * STOP_TOO_CLOSE_TO_LIQUIDATION, COST_TOO_HIGH); none on an approval or another denial. '—': nothing of that kind passes.
 */
function recommendationRows(c: SizeCalc): Row[] {
  if (c.maxQuantity === undefined && c.recommendedStop === undefined && c.maxLeverage === undefined) return [];
  return [
    ['max quantity', quantity(c.maxQuantity, c.baseAsset)],
    ['recommended stop', money(c.recommendedStop, c.quoteAsset)],
    ['max leverage', c.maxLeverage === null || c.maxLeverage === undefined ? '—' : `${c.maxLeverage}x`],
  ];
}

function sizeTable(c: SizeCalc): string {
  const { baseAsset: base, quoteAsset: quote } = c;
  const lev =
    c.leverage === undefined
      ? '—'
      : `${c.leverage}x (requested ${c.requestedLeverage ?? '—'}x, cap ${c.leverageCap ?? '—'}x, bracket max ${c.bracketMaxLeverage ?? '—'}x)`;
  const rows: Row[] = [
    ['decision', c.decision === 'APPROVED' ? 'APPROVED' : `DENIED: ${c.reason}`],
    ...(c.message === null ? [] : [['reason', c.message] as Row]),
    ...recommendationRows(c),
    ['side', c.side === undefined ? '—' : `${c.side} (${c.side === 'BUY' ? 'long' : 'short'})`],
    ['entry price', money(c.entryPrice, quote)],
    ['stop price', money(c.stopPrice, quote)],
    ['take-profit', money(c.takeProfitPrice, quote)],
    ['equity', money(c.equity, quote)],
    ['available margin', money(c.availableMargin, quote)],
    ['risk', c.riskFraction === undefined ? '—' : `${rate(c.riskFraction)} of equity`],
    ['risk amount', money(c.riskAmount, quote)],
    ['stop distance', money(c.stopDistance, quote)],
    ['fee per unit', money(c.feePerUnit, quote)],
    ['loss per unit', money(c.lossPerUnit, quote)],
    ['raw quantity', quantity(c.rawQuantity, base)],
    ['margin-capped quantity', quantity(c.marginCappedQuantity, base)],
    ['quantity', quantity(c.quantity, base)],
    ['notional', money(c.notional, quote)],
    ['leverage', lev],
    ['bracket', c.bracket === undefined ? '—' : String(c.bracket)],
    ['maint. margin ratio', rate(c.maintMarginRatio)],
    ['maintenance amount', money(c.maintAmount, quote)],
    ['maintenance margin', money(c.maintenanceMargin, quote)],
    ['initial margin', money(c.initialMargin, quote)],
    ['max margin', money(c.maxMargin, quote)],
    ['liquidation price', c.liquidationPrice === null ? 'none (cannot be liquidated)' : money(c.liquidationPriceRounded, quote)],
    ['liquidation distance', money(c.liquidationDistance, quote)],
    ['buffer to liquidation', bufferText(c, quote)],
    ['loss at stop', money(c.lossAtStop, quote)],
    ['taker fee rate', rate(c.takerFeeRate)],
    ['fees at entry and stop', feesText(c, quote)],
  ];
  return table(`Position size, Binance USDⓈ-M ${c.symbol}, isolated margin`, rows);
}

// ---------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------

const rulesFlags = (c: Command) =>
  c
    .option('--brackets <file>', "leverage brackets JSON (GET /fapi/v1/leverageBracket; default: the data directory's leverage-brackets.json)")
    .option('--exchange-info <file>', "exchangeInfo JSON: the symbol entry or the whole response (default: the data directory's exchange-info.json)")
    .option('--symbol <symbol>', 'symbol, e.g. BTCUSDT', (v) => v.trim().toUpperCase(), 'BTCUSDT')
    .option('--json', 'print JSON instead of a table');

/**
 * Add `calc liquidation` and `calc size` to the `bulwark` program.
 *
 * - `calc liquidation --side long|short --entry P --qty Q --leverage L [--wallet-balance WB]`:
 *   Binance USDⓈ-M isolated liquidation price (FAQ "How to Calculate Liquidation Price of
 *   USDⓈ-M Contracts"), bracket, MMR, maintenance amount, maintenance margin, initial margin
 *   and the buffer to liquidation. WB defaults to the initial margin, entry × qty ÷ leverage.
 * - `calc size --side long|short --entry P --stop S --equity E --leverage L [--risk-pct 1]
 *   [--available-margin E] [--taker-fee 0.0005] [--leverage-cap 20] [--max-margin-pct 50]
 *   [--liquidation-buffer-pct 10] [--max-fee-risk-pct 50|off] [--take-profit T]`: `sizeEntry` with the account policy
 *   defaults of the risk service; a denial is printed with its reason (exit 0).
 *
 * Both take `--brackets FILE`, `--exchange-info FILE`, `--symbol` and `--json`. Bad flag
 * values raise commander's `commander.invalidArgument` (exit 2 in `main()`), naming the flag.
 * Output goes to the command's `writeOut` (stdout unless configured).
 */
export function registerCalcCommands(program: Command): void {
  const calc = program.command('calc').description('Risk calculators: the same numbers the risk engine uses.');

  rulesFlags(
    calc
      .command('liquidation')
      .description('Liquidation price of an isolated Binance USDⓈ-M position (one-way mode).')
      .requiredOption('--side <side>', 'long | short (also buy | sell)', sideFlag)
      .requiredOption('--entry <price>', 'entry price, USDT per BTC', decimalFlag('--entry', 'USDT per BTC', { positive: true }))
      .requiredOption('--qty <quantity>', 'position quantity, BTC', decimalFlag('--qty', 'BTC', { positive: true }))
      .requiredOption('--leverage <n>', 'leverage, an integer 1..125', leverageFlag('--leverage'))
      .option('--wallet-balance <usdt>', 'isolated wallet balance, USDT (default: initial margin = entry × qty ÷ leverage)', decimalFlag('--wallet-balance', 'USDT', { positive: false })),
  ).action(function (this: Command, opts: LiquidationOptions) {
    const c = calcLiquidation(this, opts);
    write(this, opts.json ? `${JSON.stringify(c, null, 2)}\n` : liquidationTable(c));
  });

  const riskPct = str(dec(ACCOUNT_DEFAULTS.riskFraction).mul(100));
  const maxMarginPct = str(dec(ACCOUNT_DEFAULTS.maxMarginFraction).mul(100));
  const bufferPct = str(dec(ACCOUNT_DEFAULTS.liquidationBufferFraction).mul(100));
  rulesFlags(
    calc
      .command('size')
      .description('Position size for a stop: risk % of equity, fees included, within margin, leverage, bracket and lot limits (sizeEntry).')
      .requiredOption('--side <side>', 'long | short (also buy | sell)', sideFlag)
      .requiredOption('--entry <price>', 'entry price, USDT per BTC', decimalFlag('--entry', 'USDT per BTC', { positive: true }))
      .requiredOption('--stop <price>', 'stop price, USDT per BTC', decimalFlag('--stop', 'USDT per BTC', { positive: true }))
      .option('--take-profit <price>', 'take-profit price, USDT per BTC', decimalFlag('--take-profit', 'USDT per BTC', { positive: true }))
      .requiredOption('--equity <usdt>', 'account equity, USDT', decimalFlag('--equity', 'USDT', { positive: false }))
      .requiredOption('--leverage <n>', 'requested leverage, an integer 1..125', leverageFlag('--leverage'))
      .option('--risk-pct <pct>', 'risk per trade, % of equity', decimalFlag('--risk-pct', '% of equity', { positive: true, max: '100' }), riskPct)
      .option('--available-margin <usdt>', 'margin available for the entry, USDT (default: the equity)', decimalFlag('--available-margin', 'USDT', { positive: false }))
      .option('--taker-fee <rate>', 'taker fee rate as a fraction (default from the rules: 0.0005)', decimalFlag('--taker-fee', 'a fraction, e.g. 0.0005', { positive: false, max: '1', maxExclusive: true }))
      .option('--leverage-cap <n>', "the account's leverage cap, an integer 1..125", leverageFlag('--leverage-cap'), ACCOUNT_DEFAULTS.leverageCap)
      .option('--max-margin-pct <pct>', 'max initial margin, % of the available margin', decimalFlag('--max-margin-pct', '% of available margin', { positive: true, max: '100' }), maxMarginPct)
      .option(
        '--liquidation-buffer-pct <pct>',
        'required stop-to-liquidation buffer, % of the entry-to-liquidation distance',
        decimalFlag('--liquidation-buffer-pct', '% of the liquidation distance', { positive: false, max: '100', maxExclusive: true }),
        bufferPct,
      )
      .option(
        '--max-fee-risk-pct <pct|off>',
        'cost guard: deny when the taker fees at entry and stop exceed this % of the risk amount (1..100 or off)',
        maxFeeRiskPct,
        ACCOUNT_DEFAULTS.maxFeeRiskFraction,
      ),
  ).action(function (this: Command, opts: SizeOptions) {
    const c = calcSize(this, opts);
    write(this, opts.json ? `${JSON.stringify(c, null, 2)}\n` : sizeTable(c));
  });
}
