import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { BTCUSDT_FILES, DATA_DIR as SHARED_DATA_DIR } from '@bulwark/testing';
import { CandleFileError, countCandles, firstLine, MAX_LINE_CHARS, readCandles, readFundingRates } from './csv';
import { ALLOWED_DATA_DIRS_ENV, allowedDataDirs, checkMarketDataFile, MarketDataFileError } from './file-check';

// Files a request may name, and the bad ones it must not: devices, FIFOs, directories,
// symlinks out of the allowed directories, missing, empty, not a CSV, a broken gzip. The good
// files are real Binance USDⓈ-M BTCUSDT data (shared/data, PROVENANCE.md) or slices of it.

// As real paths: the checks answer with them.
const DATA_DIR = fs.realpathSync(SHARED_DATA_DIR);
const MONTH_1M = fs.realpathSync(BTCUSDT_FILES.candles1m);
const GZ_15M = fs.realpathSync(BTCUSDT_FILES.candles15m);
const FUNDING = fs.realpathSync(BTCUSDT_FILES.fundingRates);
/** The header and the first 200 rows of the month file (2025-11-10 00:00 … 03:19). */
const SLICE = fs.readFileSync(MONTH_1M, 'utf8').split('\n').slice(0, 201).join('\n') + '\n';

let tmp: string;
/** A directory the checks allow (as BULWARK_ALLOWED_DATA_DIRS would). */
let allowed: string;
let allowedDirs: string[];

beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-filecheck-')));
  allowed = path.join(tmp, 'allowed');
  fs.mkdirSync(allowed);
  allowedDirs = [DATA_DIR, allowed];
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const put = (name: string, content: string | Buffer) => {
  const file = path.join(allowed, name);
  fs.writeFileSync(file, content);
  return file;
};

/** The MarketDataFileError a check rejects with (fails the test otherwise). */
/** `dirs` null: no directory restriction (the CLI's own files). */
async function refused(file: string, kind: 'candles' | 'funding' = 'candles', dirs: readonly string[] | null = allowedDirs): Promise<MarketDataFileError> {
  try {
    await checkMarketDataFile(file, kind, dirs ? { allowedDirs: dirs } : {});
  } catch (e) {
    expect(e).toBeInstanceOf(MarketDataFileError);
    return e as MarketDataFileError;
  }
  throw new Error(`expected ${file} to be refused`);
}

async function readerError(p: Promise<unknown>): Promise<CandleFileError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CandleFileError);
    return e as CandleFileError;
  }
  throw new Error('expected a CandleFileError');
}

const drain = async (it: AsyncIterable<unknown>) => {
  let n = 0;
  for await (const _ of it) n++;
  return n;
};

describe('checkMarketDataFile: files that are what they say', () => {
  it('the real month file, the gzipped 15m file and the funding file pass, with their real paths and sizes', async () => {
    const month = await checkMarketDataFile(MONTH_1M, 'candles', { allowedDirs });
    expect(month).toEqual({ file: MONTH_1M, realPath: MONTH_1M, bytes: fs.statSync(MONTH_1M).size, gzip: false, header: true });
    const gz = await checkMarketDataFile(GZ_15M, 'candles', { allowedDirs });
    expect([gz.gzip, gz.header]).toEqual([true, true]);
    expect((await checkMarketDataFile(FUNDING, 'funding', { allowedDirs })).header).toBe(true);
  });

  it('a file without a header (first field an integer open time) passes; so does a symlink inside the allowed directories to a good file', async () => {
    const noHeader = put('no-header.csv', SLICE.split('\n').slice(1).join('\n'));
    expect((await checkMarketDataFile(noHeader, 'candles', { allowedDirs })).header).toBe(false);
    const link = path.join(allowed, 'month-link.csv');
    fs.symlinkSync(MONTH_1M, link);
    expect((await checkMarketDataFile(link, 'candles', { allowedDirs })).realPath).toBe(MONTH_1M);
  });

  it('allowedDataDirs: the data directory and each existing entry of BULWARK_ALLOWED_DATA_DIRS, as real paths, without duplicates', () => {
    const linkDir = path.join(tmp, 'allowed-link');
    fs.symlinkSync(allowed, linkDir);
    const env = { BULWARK_DATA_DIR: DATA_DIR, [ALLOWED_DATA_DIRS_ENV]: `${linkDir}::${path.join(tmp, 'missing')}:${allowed}` };
    expect(allowedDataDirs(env)).toEqual([DATA_DIR, allowed]);
    // A data directory that does not exist leaves the allowed directories.
    expect(allowedDataDirs({ BULWARK_DATA_DIR: path.join(tmp, 'nowhere'), [ALLOWED_DATA_DIRS_ENV]: allowed })).toEqual([allowed]);
  });
});

describe('checkMarketDataFile: the bad cases get a typed error, never a hang', () => {
  it('/dev/zero: outside the allowed directories (FILE_NOT_ALLOWED); anywhere allowed, a character device (INVALID_CANDLE_FILE)', async () => {
    const e = await refused('/dev/zero');
    expect(e.code).toBe('FILE_NOT_ALLOWED');
    expect(e.message).toBe(`candle file /dev/zero is outside the directories market data may be read from: ${DATA_DIR}, ${allowed} (the data directory BULWARK_DATA_DIR and BULWARK_ALLOWED_DATA_DIRS)`);
    const anywhere = await refused('/dev/zero', 'candles', null);
    expect([anywhere.code, anywhere.message]).toEqual(['INVALID_CANDLE_FILE', 'candle file /dev/zero: not a regular file (a character device)']);
  });

  it('/etc/passwd: outside (FILE_NOT_ALLOWED); anywhere allowed, not named .csv; copied in as passwd.csv, its first line is not a kline row', async () => {
    expect((await refused('/etc/passwd')).code).toBe('FILE_NOT_ALLOWED');
    expect((await refused('/etc/passwd', 'candles', null)).message).toBe('candle file /etc/passwd: the name passwd does not end in .csv or .csv.gz');
    const copy = put('passwd.csv', fs.readFileSync('/etc/passwd'));
    const e = await refused(copy);
    expect(e.code).toBe('INVALID_CANDLE_FILE');
    expect(e.message).toMatch(/^candle file .*passwd\.csv: the first line is neither the open_time,… header nor a row starting with an integer time: "root:/);
  });

  it('a symlink inside the data directory to /etc/passwd is judged by its real path: FILE_NOT_ALLOWED naming it', async () => {
    const link = path.join(allowed, 'sneaky.csv');
    fs.symlinkSync('/etc/passwd', link);
    const e = await refused(link);
    expect(e.code).toBe('FILE_NOT_ALLOWED');
    expect(e.message).toContain(`candle file ${link} (really /etc/passwd) is outside`);
  });

  it('a directory (even one named .csv) and a FIFO are not regular files; the FIFO is refused without waiting for a writer', async () => {
    const dir = path.join(allowed, 'dir.csv');
    fs.mkdirSync(dir);
    expect((await refused(dir)).message).toBe(`candle file ${dir}: not a regular file (a directory)`);
    const fifo = path.join(allowed, 'pipe.csv');
    execFileSync('mkfifo', [fifo]);
    expect((await refused(fifo)).message).toBe(`candle file ${fifo}: not a regular file (a FIFO)`);
    // The readers refuse it the same way (they open with O_NONBLOCK and look before reading).
    expect((await readerError(drain(readCandles(fifo)))).message).toBe(`${fifo}:0: not a regular file (a FIFO)`);
  });

  it('a missing file and a dangling symlink are FILE_NOT_FOUND; an empty file and a blank one are INVALID_CANDLE_FILE', async () => {
    const missing = path.join(allowed, 'missing.csv');
    expect([(await refused(missing)).code, (await refused(missing)).message]).toEqual(['FILE_NOT_FOUND', `candle file not found: ${missing}`]);
    const dangling = path.join(allowed, 'dangling.csv');
    fs.symlinkSync(path.join(allowed, 'gone.csv'), dangling);
    expect((await refused(dangling)).code).toBe('FILE_NOT_FOUND');
    const empty = put('empty.csv', '');
    expect((await refused(empty)).message).toBe(`candle file ${empty}: the file is empty`);
    const blank = put('blank.csv', '\n\n  \n');
    expect((await refused(blank)).message).toBe(`candle file ${blank}: the file holds no line`);
  });

  it('a corrupt gzip is refused at its first line; a truncated one passes the first-line check and the reader names the truncation', async () => {
    const corrupt = put('corrupt.csv.gz', Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from('not deflate data at all, just text')]));
    const e = await refused(corrupt);
    expect(e.code).toBe('INVALID_CANDLE_FILE');
    expect(e.message).toMatch(/^candle file .*corrupt\.csv\.gz: line 1: the gzip data is corrupt or truncated \(.+\)$/);
    const whole = gzipSync(Buffer.from(SLICE));
    const truncated = put('truncated.csv.gz', whole.subarray(0, Math.floor(whole.length / 2)));
    expect((await checkMarketDataFile(truncated, 'candles', { allowedDirs })).gzip).toBe(true);
    const r = await readerError(drain(readCandles(truncated)));
    expect(r.reason).toMatch(/^the gzip data is corrupt or truncated \(unexpected end of file\)$/);
    expect((await readerError(countCandles(truncated))).reason).toBe(r.reason);
    // The whole gzip reads all 200 rows.
    expect(await drain(readCandles(put('whole.csv.gz', whole)))).toBe(200);
  });

  it('a line longer than MAX_LINE_CHARS stops the read (no unbounded buffering): the check and every reader', async () => {
    const long = put('long.csv', `${'9'.repeat(MAX_LINE_CHARS + 10)}\n`);
    expect((await refused(long)).message).toBe(`candle file ${long}: line 1: the line is longer than ${MAX_LINE_CHARS} characters: not a CSV of klines or funding rates`);
    const noEol = put('long-no-eol.csv', `${SLICE}${'1'.repeat(3 * MAX_LINE_CHARS)}`);
    expect((await readerError(drain(readCandles(noEol)))).line).toBe(202);
    expect((await readerError(readFundingRates(long))).line).toBe(1);
  });

  it('a kline file named as funding, and the funding file named as candles, are refused for their first line', async () => {
    expect((await refused(MONTH_1M, 'funding')).message).toMatch(/^funding-rate file .*: the first line is neither the calc_time,… header nor a row starting with an integer time: "open_time,open,high,low,close,volume"$/);
    expect((await refused(FUNDING, 'candles')).code).toBe('INVALID_CANDLE_FILE');
    const narrow = put('narrow.csv', '1762732800000,104670.7,104670.7\n');
    expect((await refused(narrow)).message).toBe(`candle file ${narrow}: the first line has 3 column(s), a candle file has at least 6: "1762732800000,104670.7,104670.7"`);
  });
});

describe('the readers on non-regular files', () => {
  it('/dev/zero: readCandles, countCandles, readFundingRates and firstLine refuse it at once (a character device)', async () => {
    const reason = 'not a regular file (a character device)';
    expect((await readerError(drain(readCandles('/dev/zero')))).reason).toBe(reason);
    expect((await readerError(countCandles('/dev/zero'))).reason).toBe(reason);
    expect((await readerError(readFundingRates('/dev/zero'))).reason).toBe(reason);
    expect((await readerError(firstLine('/dev/zero'))).reason).toBe(reason);
  });

  it('a directory: readCandles refuses it (a directory)', async () => {
    expect((await readerError(drain(readCandles(allowed)))).reason).toBe('not a regular file (a directory)');
  });
});
