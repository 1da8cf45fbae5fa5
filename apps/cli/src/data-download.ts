import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { unzipSync } from 'fflate';
import { dec, isConsistentBar } from '@bulwark/domain';
import { DataDirNotFoundError, resolveDataDir } from '@bulwark/market-data';

/*
 * `bulwark data download`: Binance's public monthly files from data.binance.vision, into the
 * data directory in the layout of shared/data (see shared/data/PROVENANCE.md).
 *
 *   klines  <base>/data/futures/um/monthly/klines/<SYM>/<iv>/<SYM>-<iv>-<YYYY-MM>.zip   (usdm)
 *           <base>/data/spot/monthly/klines/<SYM>/<iv>/<SYM>-<iv>-<YYYY-MM>.zip         (spot)
 *        -> <dataDir>/binance-<market>/<SYM>/klines-<iv>/<SYM>-<iv>-<YYYY-MM>.csv        (6 columns)
 *        +  <SYM>-<iv>-<first bar's UTC date>_<last bar's UTC date>.csv                 (merged range)
 *   funding (usdm) <base>/data/futures/um/monthly/fundingRate/<SYM>/<SYM>-fundingRate-<YYYY-MM>.zip
 *        -> <dataDir>/binance-usdm/<SYM>/funding-rate-monthly/<SYM>-fundingRate-<YYYY-MM>.csv (as is)
 *        +  <dataDir>/binance-usdm/<SYM>/funding-rates.csv (sorted union of the monthly files)
 *
 * Every zip has a `.CHECKSUM` beside it (`<sha256 hex>  <zip name>`). A zip is downloaded to
 * `<zip>.part`, its SHA-256 checked, then renamed; a mismatch deletes it and throws
 * ChecksumMismatchError. Output files are written to `<file>.part` and renamed, so a crash
 * never leaves a half-written CSV. Each output folder keeps `.checksums.json`: for every file
 * it wrote, the file's SHA-256 and the SHA-256 of the zip it came from. A month whose CSV is
 * still as written and whose zip checksum equals the server's is skipped without downloading
 * the zip. A file this command did not write (no entry in `.checksums.json`) is never
 * replaced by different content (OutputConflictError), except funding-rates.csv when the new
 * union keeps every row it had.
 *
 * Values are copied as text: prices and volumes never pass through a JS number.
 */

export const DEFAULT_BASE_URL = 'https://data.binance.vision';
export const MAX_MONTHS = 120;
export const BINANCE_INTERVALS = ['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d'] as const;
export type KlineInterval = (typeof BINANCE_INTERVALS)[number];
export const MARKETS = ['usdm', 'spot'] as const;
export type Market = (typeof MARKETS)[number];

const MINUTE = 60_000;
const INTERVAL_MS: Record<KlineInterval, number> = {
  '1m': MINUTE,
  '3m': 3 * MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '30m': 30 * MINUTE,
  '1h': 60 * MINUTE,
  '2h': 120 * MINUTE,
  '4h': 240 * MINUTE,
  '6h': 360 * MINUTE,
  '8h': 480 * MINUTE,
  '12h': 720 * MINUTE,
  '1d': 1440 * MINUTE,
};

export const KLINE_HEADER = 'open_time,open,high,low,close,volume';
export const FUNDING_HEADER = 'calc_time,funding_interval_hours,last_funding_rate';
const LEDGER = '.checksums.json';
const DEFAULT_RETRY_DELAYS_MS = [500, 1_000, 2_000];
const DEFAULT_TIMEOUT_MS = 120_000;

// ---------------------------------------------------------------------------------------
// Typed errors
// ---------------------------------------------------------------------------------------

/** Base of every error of this command; `url` is the remote file concerned (null for local problems). */
export class DataDownloadError extends Error {
  constructor(message: string, readonly url: string | null) {
    super(message);
    this.name = 'DataDownloadError';
  }
}

/** An option of downloadMarketData (a flag of the CLI) is invalid; `flag` names it. */
export class DownloadOptionsError extends DataDownloadError {
  constructor(readonly flag: string, message: string) {
    super(message, null);
    this.name = 'DownloadOptionsError';
  }
}

/** The server answered with an HTTP status other than 2xx and 404 (after retries for 5xx/408/429). */
export class HttpStatusError extends DataDownloadError {
  constructor(url: string, readonly status: number, readonly attempts: number) {
    super(`GET ${url} failed: HTTP ${status}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`, url);
    this.name = 'HttpStatusError';
  }
}

/** The request failed below HTTP (connection refused/reset, DNS, timeout); `code` is the system/undici code. */
export class NetworkError extends DataDownloadError {
  constructor(url: string, readonly code: string, readonly attempts: number, cause: unknown) {
    super(`GET ${url} failed: ${code}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}: ${cause instanceof Error ? cause.message : String(cause)}`, url);
    this.name = 'NetworkError';
    (this as { cause?: unknown }).cause = cause;
  }
}

/** The downloaded zip's SHA-256 is not the one in its `.CHECKSUM` file. The zip was deleted. */
export class ChecksumMismatchError extends DataDownloadError {
  constructor(url: string, readonly file: string, readonly expected: string, readonly actual: string) {
    super(`${file} from ${url} has SHA-256 ${actual}, but its .CHECKSUM says ${expected}: the download was deleted`, url);
    this.name = 'ChecksumMismatchError';
  }
}

/** A remote file (CHECKSUM, zip, CSV inside) or a local bookkeeping file is not what it should be. */
export class MalformedDataError extends DataDownloadError {
  constructor(readonly source: string, readonly detail: string, url: string | null = null) {
    super(`${source}: ${detail}`, url);
    this.name = 'MalformedDataError';
  }
}

/** An output file exists, was not written by this command, and would be replaced by different content. */
export class OutputConflictError extends DataDownloadError {
  constructor(readonly file: string) {
    super(
      `${file} exists, was not written by "bulwark data download" (it is not in ${LEDGER}) and differs from the downloaded data: ` +
        `move it away or choose another --data-dir`,
      null,
    );
    this.name = 'OutputConflictError';
  }
}

/** The server had no kline file for any requested month (wrong symbol, market or months?). */
export class NoDataError extends DataDownloadError {
  constructor(readonly baseUrl: string, what: string) {
    super(`no kline files on ${baseUrl} for ${what} (every month answered 404): check --symbol, --market, --interval and the months`, null);
    this.name = 'NoDataError';
  }
}

// ---------------------------------------------------------------------------------------
// Option validation (shared by the CLI flags and the programmatic API)
// ---------------------------------------------------------------------------------------

export function parseSymbol(v: string, flag = '--symbol'): string {
  if (!/^[A-Z0-9]{2,32}$/.test(v)) {
    const hint = /^[A-Za-z0-9]{2,32}$/.test(v) ? ` (did you mean ${v.toUpperCase()}?)` : '';
    throw new DownloadOptionsError(flag, `${flag} must be 2 to 32 upper-case letters or digits, like BTCUSDT, got "${v}"${hint}`);
  }
  return v;
}

export function parseMarket(v: string, flag = '--market'): Market {
  if (!(MARKETS as readonly string[]).includes(v)) throw new DownloadOptionsError(flag, `${flag} must be usdm (USDⓈ-M futures) or spot, got "${v}"`);
  return v as Market;
}

export function parseInterval(v: string, flag = '--interval'): KlineInterval {
  if (!(BINANCE_INTERVALS as readonly string[]).includes(v)) {
    throw new DownloadOptionsError(flag, `${flag} must be one of ${BINANCE_INTERVALS.join(', ')}, got "${v}"`);
  }
  return v as KlineInterval;
}

/** A month `YYYY-MM` as a month index (year × 12 + month − 1). */
function parseMonth(v: string, flag: string): number {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(v);
  if (!m) throw new DownloadOptionsError(flag, `${flag} must be a month YYYY-MM (e.g. 2025-11), got "${v}"`);
  return Number(m[1]) * 12 + Number(m[2]) - 1;
}

export function parseMonthFlag(v: string, flag: string): string {
  parseMonth(v, flag);
  return v;
}

/** The months from..to (inclusive) as YYYY-MM labels; from <= to, at most MAX_MONTHS. */
export function monthRange(from: string, to: string): string[] {
  const a = parseMonth(from, '--from');
  const b = parseMonth(to, '--to');
  if (a > b) throw new DownloadOptionsError('--from', `--from ${from} is after --to ${to}`);
  if (b - a + 1 > MAX_MONTHS) throw new DownloadOptionsError('--to', `--from ${from} --to ${to} spans ${b - a + 1} months; at most ${MAX_MONTHS} per run`);
  const out: string[] = [];
  for (let i = a; i <= b; i++) out.push(monthLabel(i));
  return out;
}

export function parseBaseUrl(v: string, flag = '--base-url'): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new DownloadOptionsError(flag, `${flag} must be an http(s) URL, got "${v}"`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash || u.username || u.password) {
    throw new DownloadOptionsError(flag, `${flag} must be a plain http(s) URL (no query, fragment or credentials), got "${v}"`);
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

function monthLabel(index: number): string {
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`;
}

function monthStartMs(label: string): number {
  const [y, m] = label.split('-').map(Number);
  return Date.UTC(y, m - 1, 1);
}

function nextMonthStartMs(label: string): number {
  const [y, m] = label.split('-').map(Number);
  return Date.UTC(y, m, 1);
}

// ---------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------

export interface DownloadOptions {
  symbol: string;
  market: Market;
  interval: KlineInterval;
  /** First month, YYYY-MM. */
  from: string;
  /** Last month, YYYY-MM (inclusive). */
  to: string;
  /** The data directory (created when missing). */
  dataDir: string;
  /** Default https://data.binance.vision. */
  baseUrl?: string;
  /** Keep the verified zips beside the CSVs (default: delete them once converted). */
  keepZips?: boolean;
  /** Waits before each retry of a transient failure (5xx, 408, 429, reset, timeout); default 500, 1000, 2000 ms. */
  retryDelaysMs?: readonly number[];
  /** Per-request timeout, ms (default 120 s). */
  timeoutMs?: number;
  onProgress?: (e: DownloadProgress) => void;
}

export type DownloadProgress =
  | { kind: 'start'; months: number }
  | { kind: 'file'; month: string; file: string }
  | { kind: 'bytes'; month: string; file: string; received: number; total: number | null }
  | { kind: 'month-done'; month: string; done: number };

export interface MonthOutcomes {
  /** Downloaded (or taken from a verified zip already present) and converted. */
  fetched: string[];
  /** Already present and unchanged on the server: the zip was not downloaded. */
  skipped: string[];
  /** 404 on the server. */
  missing: string[];
}

export interface DownloadReport {
  symbol: string;
  market: Market;
  interval: KlineInterval;
  from: string;
  to: string;
  dataDir: string;
  baseUrl: string;
  klines: MonthOutcomes;
  /** null for spot (funding rates exist for USDⓈ-M only). */
  funding: MonthOutcomes | null;
  /** Candle rows in the monthly files converted by this run. */
  candlesWritten: number;
  /** The merged file of the range (null when every month is missing) and its candle count. */
  mergedFile: string | null;
  mergedCandles: number;
  /** funding-rates.csv (null for spot or when there is no monthly funding file) and its row count. */
  fundingRatesFile: string | null;
  fundingRows: number;
  /** Files created or replaced by this run (a file found already identical is not rewritten). */
  filesWritten: string[];
  /** Zip bytes downloaded by this run. */
  bytesDownloaded: number;
}

/** Kline and funding URLs and output paths of one month. */
export function binanceVisionPaths(o: { baseUrl: string; dataDir: string; market: Market; symbol: string; interval: KlineInterval }, month: string) {
  const klineZip = `${o.symbol}-${o.interval}-${month}.zip`;
  const klineRemote = o.market === 'usdm' ? 'data/futures/um/monthly/klines' : 'data/spot/monthly/klines';
  const fundingZip = `${o.symbol}-fundingRate-${month}.zip`;
  const symbolDir = path.join(o.dataDir, `binance-${o.market}`, o.symbol);
  return {
    symbolDir,
    klineDir: path.join(symbolDir, `klines-${o.interval}`),
    klineZip,
    klineUrl: `${o.baseUrl}/${klineRemote}/${o.symbol}/${o.interval}/${klineZip}`,
    klineCsv: `${o.symbol}-${o.interval}-${month}.csv`,
    fundingDir: path.join(symbolDir, 'funding-rate-monthly'),
    fundingZip,
    fundingUrl: `${o.baseUrl}/data/futures/um/monthly/fundingRate/${o.symbol}/${fundingZip}`,
    fundingCsv: `${o.symbol}-fundingRate-${month}.csv`,
    fundingRates: path.join(symbolDir, 'funding-rates.csv'),
  };
}

/**
 * Download the monthly kline files (and, for usdm, funding-rate files) of `from..to`, verify
 * them, convert them into the data directory and rebuild the merged candle file and
 * funding-rates.csv. Months already downloaded and unchanged on the server are skipped;
 * 404 months are reported as missing. Throws a DataDownloadError subclass on bad options,
 * HTTP/network failures (with the URL), checksum mismatches and malformed files.
 */
export async function downloadMarketData(opts: DownloadOptions): Promise<DownloadReport> {
  const symbol = parseSymbol(opts.symbol);
  const market = parseMarket(opts.market);
  const interval = parseInterval(opts.interval);
  const months = monthRange(opts.from, opts.to);
  const baseUrl = parseBaseUrl(opts.baseUrl ?? DEFAULT_BASE_URL);
  const dataDir = path.resolve(opts.dataDir);
  const withFunding = market === 'usdm';
  const emit = opts.onProgress ?? (() => undefined);
  const report: DownloadReport = {
    symbol,
    market,
    interval,
    from: opts.from,
    to: opts.to,
    dataDir,
    baseUrl,
    klines: { fetched: [], skipped: [], missing: [] },
    funding: withFunding ? { fetched: [], skipped: [], missing: [] } : null,
    candlesWritten: 0,
    mergedFile: null,
    mergedCandles: 0,
    fundingRatesFile: null,
    fundingRows: 0,
    filesWritten: [],
    bytesDownloaded: 0,
  };
  const where = { baseUrl, dataDir, market, symbol, interval };
  const first = binanceVisionPaths(where, months[0]);
  await fsp.mkdir(first.klineDir, { recursive: true });
  if (withFunding) await fsp.mkdir(first.fundingDir, { recursive: true });
  const klineLedger = await Ledger.load(first.klineDir);
  const fundingLedger = withFunding ? await Ledger.load(first.fundingDir) : null;
  const http: HttpContext = {
    retryDelaysMs: opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    onBytes: () => undefined,
    bytes: 0,
  };
  const keepZips = opts.keepZips ?? false;
  const intervalMs = INTERVAL_MS[interval];
  const present: string[] = [];

  emit({ kind: 'start', months: months.length });
  for (const [i, month] of months.entries()) {
    const p = binanceVisionPaths(where, month);
    const track = (file: string) => {
      emit({ kind: 'file', month, file });
      http.onBytes = (received, total) => emit({ kind: 'bytes', month, file, received, total });
    };

    track(p.klineZip);
    const k = await syncMonth(
      {
        url: p.klineUrl,
        dir: p.klineDir,
        zipName: p.klineZip,
        csvName: p.klineCsv,
        ledger: klineLedger,
        keepZips,
        convert: (text, source) => binanceKlinesToCsv(text, { source, url: p.klineUrl, month, intervalMs }),
      },
      http,
    );
    report.klines[k.status].push(month);
    if (k.status !== 'missing') present.push(path.join(p.klineDir, p.klineCsv));
    if (k.status === 'fetched') report.candlesWritten += k.rows;
    if (k.written) report.filesWritten.push(path.join(p.klineDir, p.klineCsv));

    if (withFunding && fundingLedger && report.funding) {
      track(p.fundingZip);
      const f = await syncMonth(
        {
          url: p.fundingUrl,
          dir: p.fundingDir,
          zipName: p.fundingZip,
          csvName: p.fundingCsv,
          ledger: fundingLedger,
          keepZips,
          convert: (text, source) => checkFundingCsv(text, source, p.fundingUrl),
        },
        http,
      );
      report.funding[f.status].push(month);
      if (f.written) report.filesWritten.push(path.join(p.fundingDir, p.fundingCsv));
    }
    emit({ kind: 'month-done', month, done: i + 1 });
  }
  report.bytesDownloaded = http.bytes;

  // The merged file of the requested range: exactly the candles of the months present.
  if (present.length > 0) {
    const merged = await mergeMonthlyCsvs(present, intervalMs);
    if (merged.rows > 0) {
      const name = `${symbol}-${interval}-${utcDate(merged.firstOpen)}_${utcDate(merged.lastOpen)}.csv`;
      const file = path.join(first.klineDir, name);
      if (await writeOwned(klineLedger, file, merged.text, {})) report.filesWritten.push(file);
      report.mergedFile = file;
      report.mergedCandles = merged.rows;
    }
  }

  // funding-rates.csv: the sorted union of every monthly funding file present.
  if (withFunding) {
    const union = await fundingUnion(first.fundingDir, symbol);
    if (union) {
      const symbolLedger = await Ledger.load(first.symbolDir);
      const keepsEveryRow = (existing: Buffer) => dataLines(existing.toString('utf8')).every((l) => union.rows.has(l));
      if (await writeOwned(symbolLedger, first.fundingRates, union.text, {}, keepsEveryRow)) report.filesWritten.push(first.fundingRates);
      report.fundingRatesFile = first.fundingRates;
      report.fundingRows = union.rows.size;
    }
  }
  return report;
}

// ---------------------------------------------------------------------------------------
// One month: CHECKSUM, resume check, zip, convert, write
// ---------------------------------------------------------------------------------------

interface MonthSpec {
  url: string;
  dir: string;
  zipName: string;
  csvName: string;
  ledger: Ledger;
  keepZips: boolean;
  /** The zip's CSV text -> the output file's content; throws MalformedDataError. */
  convert: (csvText: string, source: string) => { text: string; rows: number };
}

async function syncMonth(spec: MonthSpec, http: HttpContext): Promise<{ status: 'fetched' | 'skipped' | 'missing'; rows: number; written: boolean }> {
  const checksumUrl = `${spec.url}.CHECKSUM`;
  const checksumText = await request(checksumUrl, http, (res) => res.text());
  if (checksumText === NOT_FOUND) return { status: 'missing', rows: 0, written: false };
  const expected = parseChecksumFile(checksumText, spec.zipName, checksumUrl);

  const csvPath = path.join(spec.dir, spec.csvName);
  const entry = spec.ledger.get(spec.csvName);
  if (entry && entry.sourceSha256 === expected && existsSync(csvPath) && sha256(await fsp.readFile(csvPath)) === entry.sha256) {
    return { status: 'skipped', rows: 0, written: false };
  }

  const zipPath = path.join(spec.dir, spec.zipName);
  try {
    let zip: Buffer | null = existsSync(zipPath) ? await fsp.readFile(zipPath) : null;
    if (zip && sha256(zip) !== expected) {
      await fsp.rm(zipPath, { force: true }); // stale or broken: not the server's current file
      zip = null;
    }
    if (!zip) {
      if ((await downloadVerified(spec.url, zipPath, expected, http)) === NOT_FOUND) return { status: 'missing', rows: 0, written: false };
      zip = await fsp.readFile(zipPath);
    }
    const { text, rows } = spec.convert(singleCsvOfZip(zip, spec.zipName, spec.url), `${spec.zipName}`);
    const written = await writeOwned(spec.ledger, csvPath, text, { source: spec.zipName, sourceSha256: expected });
    return { status: 'fetched', rows, written };
  } finally {
    if (!spec.keepZips) await fsp.rm(zipPath, { force: true });
  }
}

/** `<sha256 hex>  <file name>` (sha256sum's format; a `*` before the name is allowed). */
export function parseChecksumFile(text: string, zipName: string, url: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const m = /^([0-9a-fA-F]{64})\s+\*?(\S+)\s*$/.exec(line.trim());
  if (!m) throw new MalformedDataError(path.basename(url), `not a "<sha256>  <file>" checksum line: "${line.slice(0, 120)}"`, url);
  if (m[2] !== zipName) throw new MalformedDataError(path.basename(url), `names "${m[2]}", expected "${zipName}"`, url);
  return m[1].toLowerCase();
}

function singleCsvOfZip(zip: Buffer, zipName: string, url: string): string {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(new Uint8Array(zip.buffer, zip.byteOffset, zip.byteLength));
  } catch (e) {
    throw new MalformedDataError(zipName, `not a readable zip: ${e instanceof Error ? e.message : String(e)}`, url);
  }
  const csvs = Object.keys(entries).filter((n) => !n.endsWith('/'));
  if (csvs.length !== 1 || !csvs[0].toLowerCase().endsWith('.csv')) {
    throw new MalformedDataError(zipName, `expected exactly one CSV file inside, found ${csvs.length === 0 ? 'none' : csvs.join(', ')}`, url);
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(entries[csvs[0]]);
}

// ---------------------------------------------------------------------------------------
// Conversions (text in, text out)
// ---------------------------------------------------------------------------------------

const DECIMAL = /^(0|[1-9]\d*)(\.\d+)?$/;

function dataLines(text: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  return lines.filter((l, i) => l.trim() !== '' && !(i === 0 && !/^\d/.test(l)));
}

/**
 * A data.binance.vision kline CSV (12 columns, with or without a header, open time in ms or,
 * in recent spot files, µs) -> our 6-column CSV with a header. Values are copied as text.
 * Every row is checked: 12 columns, open time inside `month` on the interval grid and
 * increasing, plain decimal values, consistent OHLC.
 */
export function binanceKlinesToCsv(
  text: string,
  ctx: { source: string; url?: string; month: string; intervalMs: number },
): { text: string; rows: number } {
  const start = monthStartMs(ctx.month);
  const end = nextMonthStartMs(ctx.month);
  const bad = (line: number, why: string) => new MalformedDataError(`${ctx.source}:${line}`, why, ctx.url ?? null);
  const out: string[] = [KLINE_HEADER];
  let prev = -1;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (i === 0 && !/^\d/.test(line)) continue; // header row
    const cols = line.split(',');
    if (cols.length !== 12) throw bad(i + 1, `expected the 12 columns of a Binance kline row, got ${cols.length}`);
    const ts = cols[0];
    let openTime: string;
    if (/^\d{13}$/.test(ts)) openTime = ts;
    else if (/^\d{13}000$/.test(ts)) openTime = ts.slice(0, 13); // microseconds -> milliseconds
    else throw bad(i + 1, `open_time "${ts}" is neither milliseconds (13 digits) nor whole-millisecond microseconds (16 digits)`);
    const t = Number(openTime);
    if (t < start || t >= end) throw bad(i + 1, `open_time ${openTime} (${new Date(t).toISOString()}) is outside ${ctx.month}`);
    if (t % ctx.intervalMs !== 0) throw bad(i + 1, `open_time ${openTime} is not on the ${ctx.intervalMs / MINUTE}-minute grid`);
    if (t <= prev) throw bad(i + 1, `open_time ${openTime} is not after the previous row's ${prev}`);
    prev = t;
    const values = cols.slice(1, 6);
    values.forEach((v, j) => {
      if (!DECIMAL.test(v)) throw bad(i + 1, `${['open', 'high', 'low', 'close', 'volume'][j]} "${v}" is not a plain decimal`);
    });
    const [o, h, l, c] = values.slice(0, 4).map((v) => dec(v));
    if (!isConsistentBar(o, h, l, c)) throw bad(i + 1, `inconsistent OHLC ${values.slice(0, 4).join(',')}`);
    out.push(`${openTime},${values.join(',')}`);
  }
  return { text: `${out.join('\n')}\n`, rows: out.length - 1 };
}

/** A monthly fundingRate CSV is kept byte for byte; it is only checked. */
function checkFundingCsv(text: string, source: string, url: string): { text: string; rows: number } {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines[0] !== FUNDING_HEADER) throw new MalformedDataError(`${source}:1`, `expected the header "${FUNDING_HEADER}", got "${lines[0].slice(0, 120)}"`, url);
  let rows = 0;
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    if (!/^\d{1,15},\d{1,3},-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(lines[i])) {
      throw new MalformedDataError(`${source}:${i + 1}`, `not a "calc_time,funding_interval_hours,last_funding_rate" row: "${lines[i].slice(0, 120)}"`, url);
    }
    rows++;
  }
  return { text, rows };
}

async function mergeMonthlyCsvs(files: string[], intervalMs: number): Promise<{ text: string; rows: number; firstOpen: number; lastOpen: number }> {
  const out: string[] = [KLINE_HEADER];
  let prev = -1;
  let firstOpen = -1;
  for (const file of files) {
    const lines = dataLines(await fsp.readFile(file, 'utf8'));
    for (const [i, line] of lines.entries()) {
      const t = Number(line.slice(0, line.indexOf(',')));
      if (!Number.isSafeInteger(t) || t % intervalMs !== 0 || t <= prev) {
        throw new MalformedDataError(file, `row ${i + 1} ("${line.slice(0, 40)}") does not continue the candles before it: delete the file to download it again`);
      }
      if (firstOpen < 0) firstOpen = t;
      prev = t;
      out.push(line);
    }
  }
  return { text: `${out.join('\n')}\n`, rows: out.length - 1, firstOpen, lastOpen: prev };
}

async function fundingUnion(dir: string, symbol: string): Promise<{ text: string; rows: Set<string> } | null> {
  const pattern = new RegExp(`^${symbol}-fundingRate-\\d{4}-\\d{2}\\.csv$`);
  const names = (await fsp.readdir(dir)).filter((n) => pattern.test(n)).sort();
  if (names.length === 0) return null;
  const byTime = new Map<number, { line: string; file: string }>();
  for (const name of names) {
    const text = await fsp.readFile(path.join(dir, name), 'utf8');
    checkFundingCsv(text, name, path.join(dir, name));
    for (const line of dataLines(text)) {
      const t = Number(line.slice(0, line.indexOf(',')));
      const seen = byTime.get(t);
      if (seen && seen.line !== line) throw new MalformedDataError(name, `calc_time ${t} is also in ${seen.file} with a different row ("${seen.line}" vs "${line}")`);
      byTime.set(t, { line, file: name });
    }
  }
  const lines = [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v.line);
  return { text: `${[FUNDING_HEADER, ...lines].join('\n')}\n`, rows: new Set(lines) };
}

function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------
// Files: SHA-256 ledger, atomic writes that never clobber someone else's file
// ---------------------------------------------------------------------------------------

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

interface LedgerEntry {
  /** SHA-256 of the file as written. */
  sha256: string;
  /** The zip it was made from and that zip's SHA-256 (the server's CHECKSUM). */
  source?: string;
  sourceSha256?: string;
}

/** `<dir>/.checksums.json`: what this command wrote in that folder. */
class Ledger {
  private constructor(private readonly file: string, private readonly files: Record<string, LedgerEntry>) {}

  static async load(dir: string): Promise<Ledger> {
    const file = path.join(dir, LEDGER);
    if (!existsSync(file)) return new Ledger(file, {});
    let parsed: unknown;
    try {
      parsed = JSON.parse(await fsp.readFile(file, 'utf8'));
    } catch (e) {
      throw new MalformedDataError(file, `not valid JSON (${e instanceof Error ? e.message : String(e)}): delete it to download that folder's months again`);
    }
    const files = (parsed as { files?: unknown } | null)?.files;
    if (typeof files !== 'object' || files === null || Array.isArray(files)) {
      throw new MalformedDataError(file, 'has no "files" object: delete it to download that folder\'s months again');
    }
    return new Ledger(file, files as Record<string, LedgerEntry>);
  }

  get(name: string): LedgerEntry | undefined {
    return Object.prototype.hasOwnProperty.call(this.files, name) ? this.files[name] : undefined;
  }

  async set(name: string, entry: LedgerEntry): Promise<void> {
    this.files[name] = entry;
    const sorted = Object.fromEntries(Object.entries(this.files).sort(([a], [b]) => a.localeCompare(b)));
    await atomicWrite(this.file, `${JSON.stringify({ version: 1, files: sorted }, null, 2)}\n`);
  }
}

async function atomicWrite(file: string, content: string | Uint8Array): Promise<void> {
  const part = `${file}.part`;
  try {
    await fsp.writeFile(part, content);
    await fsp.rename(part, file);
  } finally {
    await fsp.rm(part, { force: true });
  }
}

/**
 * Write `content` to `file` (through `<file>.part`) and record it in the folder's ledger.
 * An identical file is left alone (returns false). A different file this command did not
 * write is replaced only when `mayReplace` allows it; otherwise OutputConflictError.
 */
async function writeOwned(
  ledger: Ledger,
  file: string,
  content: string,
  source: Omit<LedgerEntry, 'sha256'>,
  mayReplace: (existing: Buffer) => boolean = () => false,
): Promise<boolean> {
  const bytes = Buffer.from(content, 'utf8');
  const name = path.basename(file);
  let write = true;
  if (existsSync(file)) {
    const existing = await fsp.readFile(file);
    if (existing.equals(bytes)) write = false;
    else if (!ledger.get(name) && !mayReplace(existing)) throw new OutputConflictError(file);
  }
  if (write) await atomicWrite(file, bytes);
  await ledger.set(name, { sha256: sha256(bytes), ...source });
  return write;
}

// ---------------------------------------------------------------------------------------
// HTTP with retries
// ---------------------------------------------------------------------------------------

interface HttpContext {
  retryDelaysMs: readonly number[];
  timeoutMs: number;
  onBytes: (received: number, total: number | null) => void;
  /** Zip bytes received so far. */
  bytes: number;
}

const NOT_FOUND = Symbol('404');
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const isTransientStatus = (s: number) => s >= 500 || s === 408 || s === 429;

/** The most specific error code in an error's cause chain (fetch wraps them in "fetch failed"). */
function errorCode(e: unknown): string {
  let cur: unknown = e;
  let found = 'EUNKNOWN';
  for (let depth = 0; depth < 6 && cur && typeof cur === 'object'; depth++) {
    const err = cur as { code?: unknown; name?: unknown; cause?: unknown };
    if (err.name === 'TimeoutError') return 'ETIMEDOUT';
    if (typeof err.code === 'string') found = err.code;
    cur = err.cause;
  }
  return found;
}

/**
 * GET `url` and hand a 2xx response to `consume`. 404 -> NOT_FOUND. 5xx, 408, 429 and
 * transient network errors (also while `consume` reads the body) are retried after each
 * of `retryDelaysMs`; anything else, or the last failure, is an HttpStatusError/NetworkError
 * carrying the URL. A DataDownloadError thrown by `consume` is final.
 */
async function request<T>(url: string, http: HttpContext, consume: (res: Response) => Promise<T>): Promise<T | typeof NOT_FOUND> {
  for (let attempt = 1; ; attempt++) {
    let failure: { status: number } | { code: string; cause: unknown };
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(http.timeoutMs) });
      if (res.ok) return await consume(res);
      await res.body?.cancel().catch(() => undefined);
      if (res.status === 404) return NOT_FOUND;
      failure = { status: res.status };
    } catch (e) {
      if (e instanceof DataDownloadError) throw e;
      failure = { code: errorCode(e), cause: e };
    }
    const transient = 'status' in failure ? isTransientStatus(failure.status) : TRANSIENT_CODES.has(failure.code);
    if (!transient || attempt > http.retryDelaysMs.length) {
      throw 'status' in failure ? new HttpStatusError(url, failure.status, attempt) : new NetworkError(url, failure.code, attempt, failure.cause);
    }
    await sleep(http.retryDelaysMs[attempt - 1]);
  }
}

/** A local file could not be written (disk full, permissions): not retried. */
export class LocalFileError extends DataDownloadError {
  constructor(readonly file: string, cause: unknown) {
    super(`cannot write ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, null);
    this.name = 'LocalFileError';
  }
}

/** Download `url` to `<dest>.part`, check its SHA-256, rename it to `dest`. Nothing stays on failure. */
async function downloadVerified(url: string, dest: string, expected: string, http: HttpContext): Promise<'ok' | typeof NOT_FOUND> {
  const part = `${dest}.part`;
  try {
    const actual = await request(url, http, async (res) => {
      const hash = createHash('sha256');
      const total = Number(res.headers.get('content-length'));
      let received = 0;
      const fh = await fsp.open(part, 'w').catch((e: unknown) => {
        throw new LocalFileError(part, e);
      });
      try {
        if (res.body) {
          for await (const chunk of Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>)) {
            const bytes = chunk as Uint8Array;
            hash.update(bytes);
            received += bytes.byteLength;
            http.bytes += bytes.byteLength;
            await fh.write(bytes).catch((e: unknown) => {
              throw new LocalFileError(part, e);
            });
            http.onBytes(received, Number.isFinite(total) && total > 0 ? total : null);
          }
        }
      } finally {
        await fh.close();
      }
      return hash.digest('hex');
    });
    if (actual === NOT_FOUND) return NOT_FOUND;
    if (actual !== expected) throw new ChecksumMismatchError(url, path.basename(dest), expected, actual);
    await fsp.rename(part, dest);
    return 'ok';
  } finally {
    await fsp.rm(part, { force: true });
  }
}

// ---------------------------------------------------------------------------------------
// CLI: bulwark data download
// ---------------------------------------------------------------------------------------

/** Wrap a validator so a bad flag is commander's InvalidArgumentError (exit 2 through main()). */
function flag<T>(parse: (v: string) => T) {
  return (v: string): T => {
    try {
      return parse(v);
    } catch (e) {
      if (e instanceof DownloadOptionsError) throw new InvalidArgumentError(e.message);
      throw e;
    }
  };
}

function flagError(cmd: Command, message: string): never {
  return cmd.error(`error: ${message}`, { exitCode: 2, code: 'commander.invalidArgument' });
}

interface DownloadFlags {
  symbol: string;
  market: Market;
  interval: KlineInterval;
  from: string;
  to: string;
  dataDir?: string;
  baseUrl: string;
  keepZips: boolean;
  quiet: boolean;
}

function formatSummary(r: DownloadReport): string {
  const list = (ms: string[]) => (ms.length ? ` (${ms.join(', ')})` : '');
  const outcomes = (o: MonthOutcomes) => `fetched ${o.fetched.length}${list(o.fetched)}, skipped ${o.skipped.length}${list(o.skipped)}, missing ${o.missing.length}${list(o.missing)}`;
  const lines = [
    `Binance ${r.market === 'usdm' ? 'USDⓈ-M futures' : 'spot'} ${r.symbol} ${r.interval}, ${r.from}..${r.to}, from ${r.baseUrl} into ${r.dataDir}`,
    `  klines    ${outcomes(r.klines)}`,
  ];
  if (r.funding) lines.push(`  funding   ${outcomes(r.funding)}`);
  if (r.mergedFile) lines.push(`  candles   ${r.mergedFile} (${r.mergedCandles.toLocaleString('en-US')} candles)`);
  if (r.fundingRatesFile) lines.push(`  funding   ${r.fundingRatesFile} (${r.fundingRows.toLocaleString('en-US')} settlements)`);
  lines.push(`  ${r.filesWritten.length} file(s) written, ${(r.bytesDownloaded / 1_048_576).toFixed(1)} MiB downloaded`);
  return `${lines.join('\n')}\n`;
}

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('Market data: download Binance public files into the data directory.');
  data
    .command('download')
    .description(
      'Download Binance monthly klines (and USDⓈ-M funding rates) from data.binance.vision into the data directory, ' +
        'SHA-256 verified; months already downloaded and unchanged are skipped, 404 months are reported.',
    )
    .requiredOption('--symbol <SYMBOL>', 'symbol, upper-case letters and digits (e.g. BTCUSDT)', flag(parseSymbol))
    .option('--market <market>', 'usdm (USDⓈ-M futures) or spot', flag(parseMarket), 'usdm' as Market)
    .option('--interval <interval>', `kline interval: ${BINANCE_INTERVALS.join(', ')}`, flag(parseInterval), '1m' as KlineInterval)
    .requiredOption('--from <YYYY-MM>', 'first month', flag((v) => parseMonthFlag(v, '--from')))
    .requiredOption('--to <YYYY-MM>', `last month (inclusive; at most ${MAX_MONTHS} months)`, flag((v) => parseMonthFlag(v, '--to')))
    .option('--data-dir <dir>', 'data directory, created when missing (default: BULWARK_DATA_DIR or ../shared/data)')
    .option('--base-url <url>', 'mirror of data.binance.vision', flag(parseBaseUrl), DEFAULT_BASE_URL)
    .option('--keep-zips', 'keep the verified zips beside the CSVs', false)
    .option('--quiet', 'no progress bar', false)
    .action(async (opts: DownloadFlags, cmd: Command) => {
      try {
        monthRange(opts.from, opts.to);
      } catch (e) {
        if (e instanceof DownloadOptionsError) flagError(cmd, e.message);
        throw e;
      }
      let dataDir: string;
      if (opts.dataDir !== undefined) dataDir = path.resolve(opts.dataDir);
      else {
        try {
          dataDir = resolveDataDir();
        } catch (e) {
          if (e instanceof DataDirNotFoundError) flagError(cmd, `${e.message} Or pass --data-dir DIR (it is created when missing).`);
          throw e;
        }
      }
      const bar = opts.quiet
        ? null
        : new SingleBar(
            {
              format: ' download |{bar}| {value}/{total} months | {file} {mib}',
              hideCursor: true,
              noTTYOutput: !process.stderr.isTTY,
              notTTYSchedule: 10_000,
            },
            Presets.shades_classic,
          );
      const report = await downloadMarketData({
        symbol: opts.symbol,
        market: opts.market,
        interval: opts.interval,
        from: opts.from,
        to: opts.to,
        dataDir,
        baseUrl: opts.baseUrl,
        keepZips: opts.keepZips,
        onProgress: (e) => {
          if (!bar) return;
          if (e.kind === 'start') bar.start(e.months, 0, { file: '', mib: '' });
          else if (e.kind === 'file') bar.update({ file: e.file, mib: '' });
          else if (e.kind === 'bytes') {
            const mib = (n: number) => (n / 1_048_576).toFixed(1);
            bar.update({ mib: e.total ? `${mib(e.received)}/${mib(e.total)} MiB` : `${mib(e.received)} MiB` });
          } else bar.update(e.done);
        },
      }).finally(() => bar?.stop());
      const write = cmd.configureOutput().writeOut ?? ((t: string) => process.stdout.write(t));
      write(formatSummary(report));
      if (report.klines.fetched.length + report.klines.skipped.length === 0) {
        throw new NoDataError(report.baseUrl, `${report.market} ${report.symbol} ${report.interval} ${report.from}..${report.to}`);
      }
    });
}
