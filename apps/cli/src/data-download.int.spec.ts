import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BTCUSDT_FILES, SPOT_BTCUSDT_FILES } from '@bulwark/testing';
import { Command, CommanderError } from 'commander';
import { strToU8, zipSync } from 'fflate';
import {
  ChecksumMismatchError,
  downloadMarketData,
  DownloadOptionsError,
  HttpStatusError,
  MalformedDataError,
  NetworkError,
  NoDataError,
  OutputConflictError,
  registerDataCommands,
  type DownloadOptions,
} from './data-download';

/*
 * No machine here reaches the internet, so a local HTTP server on 127.0.0.1 plays
 * data.binance.vision, serving files built from the REAL data in shared/data:
 *  - USDⓈ-M 1m klines 2025-11 and 2025-12 from binance-usdm/BTCUSDT/klines-1m/
 *    BTCUSDT-1m-2025-11-10_2025-12-10.csv (the months are partial: the file runs
 *    2025-11-10 00:00 .. 2025-12-10 17:18). The shared file has 6 columns; the zips use
 *    Binance's 12, with the 6 missing columns filled deterministically:
 *    close_time = open_time + 59999, quote_volume = count = taker_buy_volume =
 *    taker_buy_quote_volume = ignore = 0. Recent futures files carry a header row, so these do.
 *  - spot 1m klines 2024-08 from binance-spot/BTCUSDT/klines-1m/BTCUSDT-1m-2024-07-26_2024-08-25.csv
 *    (2024-08-01 .. 2024-08-25 14:23) with open_time written in MICROseconds (the ms value
 *    followed by "000"), no header, CRLF line ends, as recent spot files are.
 *  - funding 2025-11 and 2025-12: funding-rate-monthly/BTCUSDT-fundingRate-YYYY-MM.csv,
 *    which ARE data.binance.vision's files, zipped byte for byte.
 * Each zip gets a `.CHECKSUM` (`<sha256>  <zip name>`), as on data.binance.vision.
 */

const USDM_1M = BTCUSDT_FILES.candles1m;
const SPOT_1M = SPOT_BTCUSDT_FILES.candles1mAugust2024;
const HEADER = 'open_time,open,high,low,close,volume';
const BINANCE_HEADER = 'open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore';
const FUNDING_HEADER = 'calc_time,funding_interval_hours,last_funding_rate';
const DEC_2025 = Date.UTC(2025, 11, 1);
const KLINES_UM = '/data/futures/um/monthly/klines/BTCUSDT/1m';
const FUNDING_UM = '/data/futures/um/monthly/fundingRate/BTCUSDT';
const KLINES_SPOT = '/data/spot/monthly/klines/BTCUSDT/1m';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const dataRows = (file: string) => fs.readFileSync(file, 'utf8').split('\n').slice(1).filter((l) => l !== '');
const csv = (rows: string[]) => `${[HEADER, ...rows].join('\n')}\n`;
const toBinanceRow = (row: string) => {
  const t = Number(row.slice(0, row.indexOf(',')));
  return `${row},${t + 59_999},0,0,0,0,0`;
};
const zipOf = (name: string, text: string) => Buffer.from(zipSync({ [name]: strToU8(text) }));

// Source rows, split by month.
const usdmRows = dataRows(USDM_1M);
const nov = usdmRows.filter((r) => Number(r.split(',')[0]) < DEC_2025);
const dec = usdmRows.filter((r) => Number(r.split(',')[0]) >= DEC_2025);
const aug = dataRows(SPOT_1M).filter((r) => r.split(',')[0] >= String(Date.UTC(2024, 7, 1)));
const fundingFile = (m: string) => BTCUSDT_FILES.fundingRateMonthly(m);

// ---------------------------------------------------------------------------------------
// The local data.binance.vision
// ---------------------------------------------------------------------------------------

type Hook = (req: http.IncomingMessage, res: http.ServerResponse) => boolean; // true = handled
const files = new Map<string, Buffer>();
const requests: string[] = [];
let hooks: Hook[] = [];
let server: http.Server;
let base: string;

function publish(dir: string, name: string, zip: Buffer, into = files): void {
  into.set(`${dir}/${name}`, zip);
  into.set(`${dir}/${name}.CHECKSUM`, Buffer.from(`${sha256(zip)}  ${name}\n`));
}

beforeAll(async () => {
  publish(KLINES_UM, 'BTCUSDT-1m-2025-11.zip', zipOf('BTCUSDT-1m-2025-11.csv', `${[BINANCE_HEADER, ...nov.map(toBinanceRow)].join('\n')}\n`));
  publish(KLINES_UM, 'BTCUSDT-1m-2025-12.zip', zipOf('BTCUSDT-1m-2025-12.csv', `${[BINANCE_HEADER, ...dec.map(toBinanceRow)].join('\n')}\n`));
  const micros = aug.map((r) => toBinanceRow(r).replace(/^(\d{13}),/, '$1000,'));
  publish(KLINES_SPOT, 'BTCUSDT-1m-2024-08.zip', zipOf('BTCUSDT-1m-2024-08.csv', `${micros.join('\r\n')}\r\n`));
  for (const m of ['2025-11', '2025-12']) {
    publish(FUNDING_UM, `BTCUSDT-fundingRate-${m}.zip`, zipOf(`BTCUSDT-fundingRate-${m}.csv`, fs.readFileSync(fundingFile(m), 'utf8')));
  }
  server = http.createServer((req, res) => {
    const url = req.url ?? '';
    requests.push(url);
    if (hooks.some((h) => h(req, res))) return;
    const body = files.get(url);
    if (!body) {
      res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-data-'));
  requests.length = 0;
  hooks = [];
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const usdmOpts = (over: Partial<DownloadOptions> = {}): DownloadOptions => ({
  symbol: 'BTCUSDT',
  market: 'usdm',
  interval: '1m',
  from: '2025-11',
  to: '2025-12',
  dataDir: tmp,
  baseUrl: base,
  retryDelaysMs: [5, 10, 20],
  ...over,
});
const klineDir = (root: string, market = 'usdm') => path.join(root, `binance-${market}`, 'BTCUSDT', 'klines-1m');
const fundingDir = (root: string) => path.join(root, 'binance-usdm', 'BTCUSDT', 'funding-rate-monthly');
const read = (f: string) => fs.readFileSync(f, 'utf8');
/** Every file under `dir` (relative paths), to prove nothing else was left behind. */
const tree = (dir: string): string[] =>
  fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort() : [];

// ---------------------------------------------------------------------------------------
// The CLI, driven like main.ts drives it
// ---------------------------------------------------------------------------------------

/** main()'s mapping of a thrown error to an exit code (apps/cli/src/main.ts). */
function exitCodeOf(e: unknown): number {
  const err = e as { code?: string };
  if (err.code?.startsWith('commander.')) return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
  return 1;
}

async function bulwark(...args: string[]): Promise<{ code: number; out: string; err: string; error?: unknown }> {
  let out = '';
  let err = '';
  const program = new Command('bulwark')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s), outputError: (s, write) => write(s) });
  registerDataCommands(program);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out, err };
  } catch (e) {
    return { code: exitCodeOf(e), out, err, error: e instanceof CommanderError ? undefined : e };
  }
}

const download = (...extra: string[]) =>
  bulwark('data', 'download', '--symbol', 'BTCUSDT', '--market', 'usdm', '--interval', '1m', '--base-url', base, '--quiet', ...extra);

// ---------------------------------------------------------------------------------------

describe('bulwark data download (USDⓈ-M, real BTCUSDT data served locally)', () => {
  it('writes monthly and merged candle CSVs equal to the source rows, copies the funding files and unions them', async () => {
    expect(nov).toHaveLength(30_240); // 2025-11-10 .. 11-30, 21 days × 1440
    expect(dec.length).toBe(usdmRows.length - 30_240);
    const root = path.join(tmp, 'new', 'data'); // does not exist: --data-dir is created
    const r = await download('--from', '2025-11', '--to', '2025-12', '--data-dir', root);
    expect(r.error).toBeUndefined();
    expect(r.code).toBe(0);

    const k = klineDir(root);
    expect(read(path.join(k, 'BTCUSDT-1m-2025-11.csv'))).toBe(csv(nov));
    expect(read(path.join(k, 'BTCUSDT-1m-2025-12.csv'))).toBe(csv(dec));
    // The merged file is named by its first and last bar, like the shared file, and equals it byte for byte.
    expect(read(path.join(k, 'BTCUSDT-1m-2025-11-10_2025-12-10.csv'))).toBe(read(USDM_1M));

    const f = fundingDir(root);
    for (const m of ['2025-11', '2025-12']) expect(read(path.join(f, `BTCUSDT-fundingRate-${m}.csv`))).toBe(read(fundingFile(m)));
    // funding-rates.csv = the union of the two months = the shared union's rows of those months.
    const union = dataRows(BTCUSDT_FILES.fundingRates).filter((l) => {
      const t = Number(l.split(',')[0]);
      return t >= Date.UTC(2025, 10, 1) && t < Date.UTC(2026, 0, 1);
    });
    expect(union).toHaveLength(90 + 93);
    expect(read(path.join(root, 'binance-usdm/BTCUSDT/funding-rates.csv'))).toBe(`${[FUNDING_HEADER, ...union].join('\n')}\n`);

    // Nothing else: no zip, no .part; the ledgers record what was written.
    expect(tree(root)).toEqual([
      'binance-usdm/BTCUSDT/.checksums.json',
      'binance-usdm/BTCUSDT/funding-rate-monthly/.checksums.json',
      'binance-usdm/BTCUSDT/funding-rate-monthly/BTCUSDT-fundingRate-2025-11.csv',
      'binance-usdm/BTCUSDT/funding-rate-monthly/BTCUSDT-fundingRate-2025-12.csv',
      'binance-usdm/BTCUSDT/funding-rates.csv',
      'binance-usdm/BTCUSDT/klines-1m/.checksums.json',
      'binance-usdm/BTCUSDT/klines-1m/BTCUSDT-1m-2025-11-10_2025-12-10.csv',
      'binance-usdm/BTCUSDT/klines-1m/BTCUSDT-1m-2025-11.csv',
      'binance-usdm/BTCUSDT/klines-1m/BTCUSDT-1m-2025-12.csv',
    ]);
    const ledger = JSON.parse(read(path.join(k, '.checksums.json'))) as { files: Record<string, { sourceSha256?: string }> };
    expect(ledger.files['BTCUSDT-1m-2025-11.csv'].sourceSha256).toBe(sha256(files.get(`${KLINES_UM}/BTCUSDT-1m-2025-11.zip`)!));
    expect(requests.filter((u) => u.endsWith('.zip')).sort()).toEqual([
      `${FUNDING_UM}/BTCUSDT-fundingRate-2025-11.zip`,
      `${FUNDING_UM}/BTCUSDT-fundingRate-2025-12.zip`,
      `${KLINES_UM}/BTCUSDT-1m-2025-11.zip`,
      `${KLINES_UM}/BTCUSDT-1m-2025-12.zip`,
    ]);
    expect(r.out).toContain('klines    fetched 2 (2025-11, 2025-12), skipped 0, missing 0');
    expect(r.out).toContain('(44,239 candles)');
  });

  it('a second run skips both months without requesting any zip; an edited monthly CSV is fetched again', async () => {
    const first = await downloadMarketData(usdmOpts());
    expect(first.klines.fetched).toEqual(['2025-11', '2025-12']);
    expect(first.candlesWritten).toBe(44_239);
    expect(first.filesWritten).toHaveLength(6); // 2 + merged + 2 funding + funding-rates.csv
    const before = tree(tmp).map((f) => [f, read(path.join(tmp, f))]);

    requests.length = 0;
    const second = await downloadMarketData(usdmOpts());
    expect(second.klines).toEqual({ fetched: [], skipped: ['2025-11', '2025-12'], missing: [] });
    expect(second.funding).toEqual({ fetched: [], skipped: ['2025-11', '2025-12'], missing: [] });
    expect(second.candlesWritten).toBe(0);
    expect(second.mergedCandles).toBe(44_239);
    expect(second.filesWritten).toEqual([]);
    expect(second.bytesDownloaded).toBe(0);
    expect(requests.filter((u) => !u.endsWith('.CHECKSUM'))).toEqual([]);
    expect(requests).toHaveLength(4);
    expect(tree(tmp).map((f) => [f, read(path.join(tmp, f))])).toEqual(before);

    // A monthly CSV that no longer hashes to what was written is downloaded again and restored.
    const novFile = path.join(klineDir(tmp), 'BTCUSDT-1m-2025-11.csv');
    fs.writeFileSync(novFile, csv(nov.slice(0, 10)));
    requests.length = 0;
    const third = await downloadMarketData(usdmOpts());
    expect(third.klines).toEqual({ fetched: ['2025-11'], skipped: ['2025-12'], missing: [] });
    expect(requests.filter((u) => u.endsWith('.zip'))).toEqual([`${KLINES_UM}/BTCUSDT-1m-2025-11.zip`]);
    expect(read(novFile)).toBe(csv(nov));
  });

  it('refuses a zip whose SHA-256 differs from its CHECKSUM (typed error, nothing left), and resumes once the server is right', async () => {
    const good = files.get(`${KLINES_UM}/BTCUSDT-1m-2025-12.zip`)!;
    const bad = Buffer.from(good);
    bad[bad.length >> 1] ^= 0xff;
    hooks.push((req, res) => {
      if (req.url !== `${KLINES_UM}/BTCUSDT-1m-2025-12.zip`) return false;
      res.writeHead(200, { 'content-length': bad.length }).end(bad);
      return true;
    });
    const err = await downloadMarketData(usdmOpts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(err).toMatchObject({ url: `${base}${KLINES_UM}/BTCUSDT-1m-2025-12.zip`, file: 'BTCUSDT-1m-2025-12.zip', expected: sha256(good), actual: sha256(bad) });
    // November was complete and stays; nothing of December (no .part, no zip, no CSV), no merged file.
    expect(tree(klineDir(tmp))).toEqual(['.checksums.json', 'BTCUSDT-1m-2025-11.csv']);

    // The CLI lets the same typed error through (main() prints it, exit 1).
    const cli = await download('--from', '2025-12', '--to', '2025-12', '--data-dir', tmp);
    expect(cli.code).toBe(1);
    expect(cli.error).toBeInstanceOf(ChecksumMismatchError);

    hooks = [];
    const again = await downloadMarketData(usdmOpts());
    expect(again.klines).toEqual({ fetched: ['2025-12'], skipped: ['2025-11'], missing: [] });
    expect(read(path.join(klineDir(tmp), 'BTCUSDT-1m-2025-11-10_2025-12-10.csv'))).toBe(read(USDM_1M));
  });

  it('reports 404 months as missing, for klines and funding, and merges only what exists', async () => {
    hooks.push((req, res) => {
      if (!req.url?.startsWith(`${FUNDING_UM}/BTCUSDT-fundingRate-2025-12.zip`)) return false;
      res.writeHead(404).end();
      return true;
    });
    const r = await downloadMarketData(usdmOpts({ from: '2025-10', to: '2025-12' }));
    expect(r.klines).toEqual({ fetched: ['2025-11', '2025-12'], skipped: [], missing: ['2025-10'] });
    expect(r.funding).toEqual({ fetched: ['2025-11'], skipped: [], missing: ['2025-10', '2025-12'] });
    expect(r.mergedFile).toBe(path.join(klineDir(tmp), 'BTCUSDT-1m-2025-11-10_2025-12-10.csv'));
    expect(r.mergedCandles).toBe(44_239);
    expect(read(r.fundingRatesFile!)).toBe(read(fundingFile('2025-11')));
    expect(r.fundingRows).toBe(90);
    // A missing month's zip is never asked for once its CHECKSUM is 404.
    expect(requests).not.toContain(`${KLINES_UM}/BTCUSDT-1m-2025-10.zip`);

    // Nothing at all on the server: the CLI says so and fails (exit 1), after its summary.
    const none = await download('--from', '2025-08', '--to', '2025-09', '--data-dir', tmp);
    expect(none.code).toBe(1);
    expect(none.error).toBeInstanceOf(NoDataError);
    expect(none.out).toContain('missing 2 (2025-08, 2025-09)');
  });

  it('converts a spot month with microsecond timestamps (no header, CRLF) to milliseconds, and asks for no funding', async () => {
    const r = await downloadMarketData(usdmOpts({ market: 'spot', from: '2024-08', to: '2024-08' }));
    expect(aug).toHaveLength(24 * 1440 + 14 * 60 + 24); // 2024-08-01 00:00 .. 08-25 14:23
    expect(r.klines.fetched).toEqual(['2024-08']);
    expect(r.funding).toBeNull();
    expect(r.candlesWritten).toBe(aug.length);
    const k = klineDir(tmp, 'spot');
    expect(read(path.join(k, 'BTCUSDT-1m-2024-08.csv'))).toBe(csv(aug));
    expect(read(path.join(k, 'BTCUSDT-1m-2024-08-01_2024-08-25.csv'))).toBe(csv(aug));
    expect(aug[0]).toMatch(/^1722470400000,/); // ms, 13 digits
    expect(requests.some((u) => u.includes('fundingRate'))).toBe(false);
    expect(fs.existsSync(path.join(tmp, 'binance-usdm'))).toBe(false);
  });
});

describe('bulwark data download: network and HTTP failures', () => {
  const one = { from: '2025-12', to: '2025-12' };

  it('retries 5xx and a reset connection, then succeeds', async () => {
    const zip = `${KLINES_UM}/BTCUSDT-1m-2025-12.zip`;
    let n = 0;
    hooks.push((req, res) => {
      if (req.url !== zip || ++n > 2) return false;
      if (n === 1) res.writeHead(503).end('Slow Down');
      else req.socket.destroy(); // the connection drops before any response
      return true;
    });
    const r = await downloadMarketData(usdmOpts(one));
    expect(r.klines.fetched).toEqual(['2025-12']);
    expect(requests.filter((u) => u === zip)).toHaveLength(3);
    expect(read(path.join(klineDir(tmp), 'BTCUSDT-1m-2025-12.csv'))).toBe(csv(dec));
  });

  it('gives up after 3 retries of a 5xx with an HttpStatusError naming the URL', async () => {
    const checksum = `${KLINES_UM}/BTCUSDT-1m-2025-12.zip.CHECKSUM`;
    hooks.push((req, res) => (req.url === checksum ? (res.writeHead(502).end(), true) : false));
    const err = await downloadMarketData(usdmOpts(one)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpStatusError);
    expect(err).toMatchObject({ status: 502, attempts: 4, url: `${base}${checksum}` });
    expect((err as Error).message).toContain(`${base}${checksum}`);
    expect(requests.filter((u) => u === checksum)).toHaveLength(4);
  });

  it('does not retry a 403; a refused connection is a NetworkError with the URL', async () => {
    hooks.push((_req, res) => (res.writeHead(403).end('AccessDenied'), true));
    const forbidden = await downloadMarketData(usdmOpts(one)).catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(HttpStatusError);
    expect(forbidden).toMatchObject({ status: 403, attempts: 1 });
    expect(requests).toHaveLength(1);

    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await downloadMarketData(usdmOpts({ ...one, baseUrl: `http://127.0.0.1:${port}` })).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NetworkError);
    expect(refused).toMatchObject({ code: 'ECONNREFUSED', url: `http://127.0.0.1:${port}${KLINES_UM}/BTCUSDT-1m-2025-12.zip.CHECKSUM` });
  });
});

describe('bulwark data download: bad data and files it did not write', () => {
  it('refuses a CHECKSUM for another file and a kline row without 12 columns', async () => {
    const served = new Map<string, Buffer>();
    hooks.push((req, res) => {
      const body = served.get(req.url ?? '');
      if (!body) return false;
      res.writeHead(200).end(body);
      return true;
    });
    served.set(`${KLINES_UM}/BTCUSDT-1m-2025-09.zip.CHECKSUM`, Buffer.from(`${'ab'.repeat(32)}  BTCUSDT-1m-2025-08.zip\n`));
    const wrongName = await downloadMarketData(usdmOpts({ from: '2025-09', to: '2025-09' })).catch((e: unknown) => e);
    expect(wrongName).toBeInstanceOf(MalformedDataError);
    expect((wrongName as Error).message).toContain('names "BTCUSDT-1m-2025-08.zip", expected "BTCUSDT-1m-2025-09.zip"');

    // A 2025-11 zip whose second data row (line 3) is a real row left with 6 columns.
    const rows = [BINANCE_HEADER, toBinanceRow(nov[0]), nov[1]].join('\n');
    publish(KLINES_UM, 'BTCUSDT-1m-2025-11.zip', zipOf('BTCUSDT-1m-2025-11.csv', rows), served);
    const short = await downloadMarketData(usdmOpts({ from: '2025-11', to: '2025-11' })).catch((e: unknown) => e);
    expect(short).toBeInstanceOf(MalformedDataError);
    expect((short as Error).message).toBe('BTCUSDT-1m-2025-11.zip:3: expected the 12 columns of a Binance kline row, got 6');
    expect(tree(klineDir(tmp))).toEqual([]);
  });

  it('does not replace a different file it did not write; replaces funding-rates.csv only when no row is lost', async () => {
    const k = klineDir(tmp);
    fs.mkdirSync(k, { recursive: true });
    const foreign = path.join(k, 'BTCUSDT-1m-2025-11-10_2025-12-10.csv');
    fs.writeFileSync(foreign, csv(nov.slice(0, 3)));
    const symbolDir = path.join(tmp, 'binance-usdm/BTCUSDT');
    const fundingRates = path.join(symbolDir, 'funding-rates.csv');
    fs.writeFileSync(fundingRates, `${[FUNDING_HEADER, ...dataRows(fundingFile('2025-11')).slice(0, 5)].join('\n')}\n`); // a subset

    const err = await downloadMarketData(usdmOpts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputConflictError);
    expect(err).toMatchObject({ file: foreign });
    expect(read(foreign)).toBe(csv(nov.slice(0, 3)));

    fs.rmSync(foreign);
    const r = await downloadMarketData(usdmOpts());
    expect(r.filesWritten).toContain(fundingRates); // the subset was replaced by the union
    expect(dataRows(fundingRates)).toHaveLength(90 + 93);

    // A funding-rates.csv with a row the union lacks is not replaced.
    const extra = '1500000000000,8,0.00010000';
    const withExtra = `${read(fundingRates)}${extra}\n`;
    fs.writeFileSync(fundingRates, withExtra);
    fs.rmSync(path.join(symbolDir, '.checksums.json'));
    await expect(downloadMarketData(usdmOpts())).rejects.toBeInstanceOf(OutputConflictError);
    expect(read(fundingRates)).toBe(withExtra);
  });
});

describe('bulwark data download: flags', () => {
  const ok = ['--symbol', 'BTCUSDT', '--market', 'usdm', '--interval', '1m', '--from', '2025-11', '--to', '2025-12', '--quiet'];
  const withFlag = (name: string, value: string) => {
    const args = [...ok];
    args[args.indexOf(name) + 1] = value;
    return args;
  };
  it.each([
    [withFlag('--symbol', 'btcusdt'), '--symbol must be 2 to 32 upper-case letters or digits, like BTCUSDT, got "btcusdt" (did you mean BTCUSDT?)'],
    [withFlag('--symbol', 'BTC-USDT'), '--symbol must be'],
    [withFlag('--market', 'coinm'), '--market must be usdm (USDⓈ-M futures) or spot, got "coinm"'],
    [withFlag('--interval', '7m'), '--interval must be one of 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, got "7m"'],
    [withFlag('--interval', '1M'), '--interval must be one of'],
    [withFlag('--from', '2025-13'), '--from must be a month YYYY-MM (e.g. 2025-11), got "2025-13"'],
    [withFlag('--to', '2025-1'), '--to must be a month YYYY-MM'],
    [withFlag('--from', '2026-01'), '--from 2026-01 is after --to 2025-12'],
    [withFlag('--from', '2015-12'), '--from 2015-12 --to 2025-12 spans 121 months; at most 120 per run'],
    [[...ok, '--base-url', 'ftp://mirror.example'], '--base-url must be a plain http(s) URL'],
    [[...ok, '--base-url', 'not a url'], '--base-url must be an http(s) URL, got "not a url"'],
    [ok.filter((_, i) => i > 1), "required option '--symbol <SYMBOL>' not specified"],
  ])('%j exits 2: %s', async (args, message) => {
    const r = await bulwark('data', 'download', '--data-dir', tmp, ...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(requests).toEqual([]);
    expect(tree(tmp)).toEqual([]);
  });

  it('120 months is allowed (the bound is inclusive) and validates as the programmatic API does', async () => {
    await expect(downloadMarketData(usdmOpts({ symbol: 'btcusdt' }))).rejects.toBeInstanceOf(DownloadOptionsError);
    await expect(downloadMarketData(usdmOpts({ from: '2015-12', to: '2025-12' }))).rejects.toMatchObject({ flag: '--to' });
    const r = await downloadMarketData(usdmOpts({ from: '2016-01', to: '2025-12', market: 'spot', interval: '1d' }));
    expect(r.klines.missing).toHaveLength(120);
    expect(requests).toHaveLength(120); // one CHECKSUM per month; all 404 here
  });

  it('without --data-dir and without a data directory: exit 2 telling to pass --data-dir', async () => {
    const saved = process.env['BULWARK_DATA_DIR'];
    process.env['BULWARK_DATA_DIR'] = path.join(tmp, 'nowhere');
    try {
      const r = await bulwark('data', 'download', ...ok, '--base-url', base);
      expect(r.code).toBe(2);
      expect(r.err).toContain('Or pass --data-dir DIR');
      expect(requests).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env['BULWARK_DATA_DIR'];
      else process.env['BULWARK_DATA_DIR'] = saved;
    }
  });
});
