import * as path from 'node:path';
import { type DataGap, findGaps } from '@bulwark/application';
import { dec } from '@bulwark/domain';
import type { EntryType, OpenAccountRequest, OrderSplit } from '@bulwark/contracts';
import { type Command, InvalidArgumentError } from 'commander';
import { CandleFileError, checkMarketDataFile, MarketDataFileError, readFundingRates } from '@bulwark/market-data';

/*
 * Checks of command-line inputs shared by the commands that read candle files (`backtest`,
 * `demo`) and the ones that name an account. A failed check is an {@link InputError}: main()
 * prints its one-line message (no stack) and exits 2, as commander does for a malformed flag.
 */

/** An input the command cannot use (exit code 2, one line, no stack trace). */
/**
 * A percentage flag that can be turned off: `lo`..`hi` % → the fraction ("50" → "0.5"), or "off"
 * (commander turns a parsed null into "", so "off" travels as text; {@link policyFlags} makes it null).
 * @throws InvalidArgumentError (commander's exit 2) for anything else
 */
function pctOrOff(flag: string, lo: number, hi: number) {
  return (v: string): string => {
    const t = v.trim().toLowerCase();
    if (t === 'off') return 'off';
    if (!/^\d+(\.\d+)?$/.test(t) || dec(t).lt(lo) || dec(t).gt(hi)) throw new InvalidArgumentError(`${flag} must be a percentage in ${lo}..${hi} or "off", got "${v}"`);
    return dec(t).div(100).toFixed();
  };
}

/** `--max-fee-risk-pct`: the cost guard, 1..100 % of the risk amount, or off. */
export const maxFeeRiskPct = pctOrOff('--max-fee-risk-pct', 1, 100);
/** `--max-lifetime-drawdown-pct`: the lifetime drawdown kill switch, 5..50 % below the equity peak, or off. */
export const maxLifetimeDrawdownPct = pctOrOff('--max-lifetime-drawdown-pct', 5, 50);
/** `--losing-streak-pause`: losing trades in a row that pause entries, 1..100, or off. */
export function losingStreakPause(v: string): string {
  const t = v.trim().toLowerCase();
  if (t === 'off') return 'off';
  if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 100) throw new InvalidArgumentError(`--losing-streak-pause must be an integer in 1..100 or "off", got "${v}"`);
  return t;
}

/** The parsed `--max-fee-risk-pct` as the configuration's `maxFeeRiskFraction`: a fraction, or null for off. */
export const feeGuardFraction = (v: string): string | null => (v === 'off' ? null : v);

/** The risk-policy flags every command that opens an account takes (account open/reconfigure, demo, backtest). */
/**
 * commander parser of an integer option in lo..hi (digits only: "1e3", "2.0" and "-1" are refused).
 * @throws InvalidArgumentError (exit 2) naming the option, the range and the value
 */
export function integerIn(name: string, lo: number, hi: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < lo || n > hi) throw new InvalidArgumentError(`${name} must be an integer in ${lo}..${hi}, got "${v}"`);
    return n;
  };
}

export function withPolicyOptions(cmd: Command): Command {
  return cmd
    .option('--max-fee-risk-pct <pct|off>', 'cost guard: deny entries whose taker fees at entry and stop exceed this % of the risk amount (1..100 or off; default 50)', maxFeeRiskPct)
    .option('--max-lifetime-drawdown-pct <pct|off>', 'lifetime kill switch: halt and flatten when equity falls this % below its peak (5..50 or off; default 10)', maxLifetimeDrawdownPct)
    .option('--losing-streak-pause <n|off>', 'pause entries after this many losing trades in a row until resumed (1..100 or off; default off)', losingStreakPause);
}

/** The policy fields the flags of {@link withPolicyOptions} set (omitted flags are left out: the policy defaults apply). */
export function policyFlags(o: { maxFeeRiskPct?: string; maxLifetimeDrawdownPct?: string; losingStreakPause?: string }): Pick<OpenAccountRequest, 'maxFeeRiskFraction' | 'maxLifetimeDrawdownFraction' | 'losingStreakPause'> {
  const off = (v: string) => (v === 'off' ? null : v);
  return {
    ...(o.maxFeeRiskPct !== undefined ? { maxFeeRiskFraction: off(o.maxFeeRiskPct) } : {}),
    ...(o.maxLifetimeDrawdownPct !== undefined ? { maxLifetimeDrawdownFraction: off(o.maxLifetimeDrawdownPct) } : {}),
    ...(o.losingStreakPause !== undefined ? { losingStreakPause: o.losingStreakPause === 'off' ? null : Number(o.losingStreakPause) } : {}),
  };
}

/** `--entry-type` values and the entry types they name. */
const ENTRY_TYPES = { market: 'MARKET', limit: 'LIMIT', 'post-only': 'POST_ONLY', ioc: 'IOC', fok: 'FOK' } as const satisfies Record<string, EntryType>;
/** A resting entry's life when `--expires-after-bars` is not given. */
export const DEFAULT_EXPIRES_AFTER_BARS = 3;

/** The entry-order flags of the commands that attach a strategy (demo, backtest). */
export function withEntryOptions(cmd: Command): Command {
  return cmd
    .option('--entry-type <type>', 'how entries go to the venue: market, limit (GTC at the signal\'s close), post-only (maker only: refused rather than cross), ioc or fok', oneOf('--entry-type', Object.keys(ENTRY_TYPES) as Array<keyof typeof ENTRY_TYPES>), 'market')
    .option('--expires-after-bars <n>', `limit and post-only: cancel what has not filled after this many bars (default ${DEFAULT_EXPIRES_AFTER_BARS})`, integerIn('--expires-after-bars', 1, 1000))
    .option('--split <style>', 'split large entries into child orders: slices (one every --split-interval-bars) or iceberg (limit and post-only: the next when the one before filled)', oneOf('--split', ['slices', 'iceberg']))
    .option('--max-order-notional <usdt>', 'with --split: the largest notional of one child order, USDT', positiveDecimal('--max-order-notional'))
    .option('--max-volume-pct <pct>', "with --split: the largest share of the signal bar's volume one child may take, % (0 < pct <= 100)", percentShare('--max-volume-pct'))
    .option('--split-interval-bars <n>', 'with --split slices: bars between children (0: consecutive market steps; default 1)', integerIn('--split-interval-bars', 0, 100));
}

/** A decimal > 0 (USDT amounts). @throws InvalidArgumentError (exit 2) naming the flag */
function positiveDecimal(flag: string) {
  return (v: string): string => {
    if (!/^\d+(\.\d+)?$/.test(v) || !dec(v).gt(0)) throw new InvalidArgumentError(`${flag} must be a number > 0, got "${v}"`);
    return v;
  };
}

/** A percentage in (0, 100] as a fraction ("0.5" → "0.005"). @throws InvalidArgumentError (exit 2) naming the flag */
function percentShare(flag: string) {
  return (v: string): string => {
    if (!/^\d+(\.\d+)?$/.test(v) || !dec(v).gt(0) || dec(v).gt(100)) throw new InvalidArgumentError(`${flag} must be a percentage in (0, 100], got "${v}"`);
    return dec(v).div(100).toFixed();
  };
}

/**
 * The attachment fields the flags of {@link withEntryOptions} set (none for market, so a market
 * run sends what it sent before entry types).
 * @throws InputError for `--expires-after-bars` with an entry type that does not rest
 */
export function entryFlags(o: {
  entryType?: keyof typeof ENTRY_TYPES;
  expiresAfterBars?: number;
  split?: 'slices' | 'iceberg';
  maxOrderNotional?: string;
  maxVolumePct?: string;
  splitIntervalBars?: number;
}): { entryType?: EntryType; expiresAfterBars?: number; split?: OrderSplit } {
  const entryType = ENTRY_TYPES[o.entryType ?? 'market'];
  const resting = entryType === 'LIMIT' || entryType === 'POST_ONLY';
  if (!resting && o.expiresAfterBars !== undefined) throw new InputError(`--expires-after-bars applies to --entry-type limit and post-only, not ${o.entryType ?? 'market'}`);
  const splitFlags = [['--max-order-notional', o.maxOrderNotional], ['--max-volume-pct', o.maxVolumePct], ['--split-interval-bars', o.splitIntervalBars]].filter(([, v]) => v !== undefined).map(([k]) => k);
  if (!o.split && splitFlags.length) throw new InputError(`${splitFlags.join(', ')} ${splitFlags.length > 1 ? 'apply' : 'applies'} with --split only`);
  if (o.split === 'iceberg' && !resting) throw new InputError('--split iceberg sends resting limit children: use it with --entry-type limit or post-only');
  const split: OrderSplit | undefined = o.split
    ? {
        style: o.split === 'slices' ? 'SLICES' : 'ICEBERG',
        ...(o.maxOrderNotional !== undefined ? { maxOrderNotional: o.maxOrderNotional } : {}),
        ...(o.maxVolumePct !== undefined ? { maxVolumeShare: o.maxVolumePct } : {}),
        intervalBars: o.splitIntervalBars ?? 1,
      }
    : undefined;
  const type = entryType === 'MARKET' ? {} : resting ? { entryType, expiresAfterBars: o.expiresAfterBars ?? DEFAULT_EXPIRES_AFTER_BARS } : { entryType };
  return { ...type, ...(split ? { split } : {}) };
}

export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** What a run over candle files is given: the files and the window [from, to) in epoch ms (null = open). */
export interface CandleInput {
  candles: string;
  /** Funding-rate CSV, or null / absent for none. */
  funding?: string | null;
  from: number | null;
  to: number | null;
}

/** What the check found in a good candle input: the window's candles and its gaps. */
export interface CandleInputReport {
  /** Candles inside the window. */
  candles: number;
  /** Open time of the first of them (epoch ms). */
  first: number | null;
  /** The file's bar interval (ms), from its first two bars; 60 000 when it holds one bar. */
  interval: number;
  /** Missing bars and flat zero-volume runs inside the window (the backtest's scan, `findGaps`). */
  gaps: DataGap[];
  /** One line per gap of missing bars (at most 10, then a count of the rest), for stderr. */
  warnings: string[];
}

const utc = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');
const intervalLabel = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${ms / 60_000}m`);

/**
 * `--from` / `--to` (epoch ms) must leave a non-empty window.
 * @throws InputError when both are given and `from >= to`
 */
export function checkWindow(from: number | null, to: number | null): void {
  if (from !== null && to !== null && from >= to) {
    throw new InputError(`--from ${utc(from)} UTC is ${from === to ? 'equal to' : 'after'} --to ${utc(to)} UTC: the window [from, to) holds no candle`);
  }
}

/**
 * The warnings for the missing bars among `gaps` (flat zero-volume runs are left to the
 * report), each naming the first missing bar and how many are missing, e.g.
 * `warning: BTCUSDT-1m.csv: gap in the candles: 17 missing 1m bar(s) from 2025-11-12 03:04 UTC (first missing) to 03:20 UTC; the run goes on across it`.
 * @param max warnings listed one by one; the rest are summed up in one more line
 */
export function gapWarnings(file: string, gaps: readonly DataGap[], interval: number, max = 10): string[] {
  const missing = gaps.filter((g) => g.kind === 'MISSING_BARS');
  const name = path.basename(file);
  const out = missing.slice(0, max).map(
    (g) =>
      `warning: ${name}: gap in the candles: ${g.bars} missing ${intervalLabel(interval)} bar(s) from ${utc(g.from)} UTC (first missing) to ${utc(g.to - interval)} UTC; the run goes on across it`,
  );
  if (missing.length > max) {
    const rest = missing.slice(max);
    out.push(`warning: ${name}: ${rest.length} more gap(s), ${rest.reduce((n, g) => n + g.bars, 0)} missing bar(s) in all`);
  }
  return out;
}

/**
 * Check what a run over a candle file is given, before any service or process starts:
 * the window (`checkWindow`), the candle file and the funding file (`checkMarketDataFile`:
 * a regular, non-empty `.csv` / `.csv.gz` of at most 2 GiB that looks like a Binance CSV;
 * anywhere on disk: the operator names their own files), every candle row of the window (the
 * backtest's scan, `findGaps`, which reads them with `readCandles`), at least one candle in the
 * window, every funding row, and the gaps in the window (warnings: the run goes on).
 * @throws InputError naming the file, the line or the window
 */
export async function checkCandleInput(input: CandleInput): Promise<CandleInputReport> {
  checkWindow(input.from, input.to);
  try {
    await checkMarketDataFile(input.candles, 'candles');
    if (input.funding) await checkMarketDataFile(input.funding, 'funding');
  } catch (e) {
    if (e instanceof MarketDataFileError) throw new InputError(e.message);
    throw e;
  }
  let scan: Awaited<ReturnType<typeof findGaps>>;
  try {
    scan = await findGaps(input.candles, input.from, input.to);
    if (input.funding) await readFundingRates(input.funding);
  } catch (e) {
    if (e instanceof CandleFileError) throw new InputError(`${e.file === input.candles ? 'candle' : 'funding-rate'} file ${e.file}: ${e.line > 0 ? `line ${e.line}: ` : ''}${e.reason}`);
    throw e;
  }
  if (scan.count === 0) {
    const window = input.from !== null || input.to !== null ? ` between ${input.from === null ? 'its start' : `${utc(input.from)} UTC`} and ${input.to === null ? 'its end' : `${utc(input.to)} UTC`} (--from / --to)` : '';
    throw new InputError(`no candle in ${input.candles}${window}`);
  }
  return { candles: scan.count, first: scan.first, interval: scan.interval, gaps: scan.gaps, warnings: gapWarnings(input.candles, scan.gaps, scan.interval) };
}

/**
 * A commander parser for a flag that takes one of `allowed`.
 * @throws InvalidArgumentError (exit 2) naming the flag, the allowed values and the value
 */
export function oneOf<T extends string>(name: string, allowed: readonly T[]) {
  return (v: string): T => {
    if (!(allowed as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} must be one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  };
}
