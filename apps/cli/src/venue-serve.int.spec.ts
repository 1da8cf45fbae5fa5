import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ccxt from 'ccxt';
import { binanceLocalUrls, bitgetCcxtFor, useBitgetLocal } from '@bulwark/binance-local';
import { writeAccountsFile } from './processes';
import { serveVenue, type VenueServeFlags } from './venue-serve';

jest.setTimeout(120_000);

const flags = (over: Partial<VenueServeFlags>): VenueServeFlags => ({
  venue: 'binance-margin', port: 0, host: '127.0.0.1', symbol: 'BTCUSDT', account: 'local-m', balance: '1000', apiKey: 'serve-key-0123456789', apiSecret: 'serve-secret-0123456789', ...over,
});

describe('bulwark venue serve --venue binance-margin', () => {
  it('runs on its own clock with --speed: a ccxt client sees market time move without any clock call', async () => {
    const lines: string[] = [];
    const local = await serveVenue(flags({ speed: 600, start: Date.parse('2024-08-05T00:00:00Z') }), {}, (s) => lines.push(s));
    const ex = new ccxt.binance({ enableRateLimit: false });
    ex.options['fetchMarkets'] = { ...ex.options['fetchMarkets'], types: ['spot'] };
    ex.urls['api'] = { public: `${local.url}/api/v3`, private: `${local.url}/api/v3`, sapi: `${local.url}/sapi/v1` } as unknown as typeof ex.urls['api'];
    try {
      expect(lines.join('\n')).toContain('runs at 600x market time');
      expect(lines.join('\n')).not.toContain('serve-secret');
      const first = await ex.fetchOHLCV('BTC/USDT', '1m', undefined, 1000);
      // 600x: a wall second is ten market minutes, so new 1m bars close while the client only reads.
      const deadline = Date.now() + 30_000;
      const lastOpen = (k: ccxt.OHLCV[]) => Number(k.at(-1)![0]);
      let later = first;
      while (lastOpen(later) < lastOpen(first) + 5 * 60_000 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        later = await ex.fetchOHLCV('BTC/USDT', '1m', undefined, 1000);
      }
      expect(lastOpen(later)).toBeGreaterThanOrEqual(lastOpen(first) + 5 * 60_000);
      // Real 2024-08-05 bars: the open of 00:00 UTC is the recorded one.
      expect(later.find((k) => k[0] === Date.parse('2024-08-05T00:00:00Z'))?.[1]).toBe(58_161);
    } finally {
      await local.close();
    }
  });

  it('refuses a missing key with a clear error', async () => {
    await expect(serveVenue(flags({ apiKey: undefined, apiSecret: undefined }), {}, () => undefined)).rejects.toThrow(/API key and secret are required/);
  });
});

describe('bulwark venue serve --venue binance-usdm', () => {
  it('runs on its own clock with --speed: a ccxt binanceusdm client sees the mark price move without any clock call', async () => {
    const lines: string[] = [];
    const start = Date.parse('2025-11-21T07:30:00Z');
    const local = await serveVenue(flags({ venue: 'binance-usdm', speed: 600, start }), {}, (s) => lines.push(s));
    const ex = new ccxt.binanceusdm({ enableRateLimit: false });
    ex.urls['api'] = binanceLocalUrls(local.url, local.wsUrl) as typeof ex.urls['api'];
    try {
      expect(lines.join('\n')).toContain('runs at 600x market time');
      expect(lines.join('\n')).not.toContain('serve-secret');
      const first = await ex.fetchMarkPrice('BTC/USDT:USDT');
      // 600x: a wall second is ten market minutes, so the mark moves on while the client only reads.
      const deadline = Date.now() + 20_000;
      let later = first;
      while (later.timestamp! < first.timestamp! + 5 * 60_000 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        later = await ex.fetchMarkPrice('BTC/USDT:USDT');
      }
      expect(first.timestamp).toBeGreaterThanOrEqual(start);
      expect(later.timestamp).toBeGreaterThanOrEqual(first.timestamp! + 5 * 60_000);
      // Real 2025-11-21 bars of the default futures file: the 07:30 UTC bar is the recorded one.
      const bars = await ex.fetchOHLCV('BTC/USDT:USDT', '1m', start, 1);
      expect(bars[0]).toEqual([start, 85175.8, 85278.2, 85147.2, 85201.3, 338.887]);
      // It trades on its own clock too: a signed market order fills on the clock's next step, no clock call.
      const trader = new ccxt.binanceusdm({ apiKey: 'serve-key-0123456789', secret: 'serve-secret-0123456789', enableRateLimit: false });
      trader.urls['api'] = binanceLocalUrls(local.url, local.wsUrl) as typeof trader.urls['api'];
      await trader.setLeverage(5, 'BTC/USDT:USDT');
      const placed = await trader.createOrder('BTC/USDT:USDT', 'market', 'buy', 0.002, undefined, { newClientOrderId: 'speed-buy-1' });
      const fillBy = Date.now() + 30_000;
      let order = await trader.fetchOrder(placed.id!, 'BTC/USDT:USDT');
      while (order.status !== 'closed' && Date.now() < fillBy) {
        await new Promise((r) => setTimeout(r, 200));
        order = await trader.fetchOrder(placed.id!, 'BTC/USDT:USDT');
      }
      expect(order).toMatchObject({ status: 'closed', filled: 0.002 });
      const positions = await trader.fetchPositions(['BTC/USDT:USDT']);
      expect(positions.find((p) => p.contracts)?.contracts).toBe(0.002);
    } finally {
      await local.close();
    }
  });
});

describe('bulwark venue serve --venue bitget-local', () => {
  it('serves Bitget on its own clock with --speed: an unmodified ccxt bitget sees the recorded contract and the mark price move', async () => {
    const lines: string[] = [];
    const start = Date.parse('2025-11-21T07:30:00Z');
    const keys = { apiKey: 'bg-serve-key-0123', apiSecret: 'bg-serve-secret-0123', passphrase: 'bg-serve-pass' };
    const local = await serveVenue(flags({ venue: 'bitget-local', speed: 600, start, apiKey: undefined, apiSecret: undefined }), { BITGET_API_KEY: keys.apiKey, BITGET_API_SECRET: keys.apiSecret, BITGET_API_PASSPHRASE: keys.passphrase }, (s) => lines.push(s));
    const cfg = bitgetCcxtFor(local, keys);
    const ex = useBitgetLocal(new ccxt.bitget(cfg.config), cfg);
    try {
      expect(lines.join('\n')).toContain('runs at 600x market time');
      expect(lines.join('\n')).not.toMatch(/bg-serve-secret|bg-serve-pass/);
      const markets = await ex.loadMarkets();
      expect(markets['BTC/USDT:USDT']).toMatchObject({ id: 'BTCUSDT', taker: 0.0006, maker: 0.0002, precision: { amount: 0.0001, price: 0.1 } });
      const first = await ex.fetchMarkPrice('BTC/USDT:USDT');
      const deadline = Date.now() + 20_000;
      let later = first;
      while (later.timestamp! < first.timestamp! + 5 * 60_000 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        later = await ex.fetchMarkPrice('BTC/USDT:USDT');
      }
      expect(later.timestamp!).toBeGreaterThanOrEqual(first.timestamp! + 5 * 60_000);
      await expect(ex.fetchBalance()).resolves.toMatchObject({ USDT: { total: 1000 } });
      // It trades on its own clock too: a market order fills on the clock's next step, no clock call.
      await ex.setLeverage(5, 'BTC/USDT:USDT');
      const placed = await ex.createOrder('BTC/USDT:USDT', 'market', 'buy', 0.002, undefined, { clientOid: 'speedbuy1' });
      const fillBy = Date.now() + 30_000;
      let order = await ex.fetchOrder(placed.id!, 'BTC/USDT:USDT');
      while (order.status !== 'closed' && Date.now() < fillBy) {
        await new Promise((r) => setTimeout(r, 200));
        order = await ex.fetchOrder(placed.id!, 'BTC/USDT:USDT');
      }
      expect(order).toMatchObject({ status: 'closed', filled: 0.002 });
      const positions = await ex.fetchPositions(['BTC/USDT:USDT']);
      expect(positions.find((p) => p.contracts)?.contracts).toBe(0.002);
    } finally {
      await local.close();
    }
  });

  it('refuses a missing passphrase with a clear error', async () => {
    await expect(serveVenue(flags({ venue: 'bitget-local' }), {}, () => undefined)).rejects.toThrow(/passphrase/);
  });
});

describe('bulwark venue serve --accounts-file (the accounts of one execution: BULWARK_ACCOUNTS_FILE\'s format)', () => {
  it('serves every account of the file with its own keys and balance; the keys are never printed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bulwark-serve-accounts-'));
    const { file } = writeAccountsFile(path.join(dir, 'set'), 'binance-local', ['serve-a', 'serve-b']);
    const entries = JSON.parse(readFileSync(file, 'utf8')) as Array<{ accountId: string; keyFile: string; secretFile: string }>;
    const keysOf = (i: number) => ({ apiKey: readFileSync(path.join(dir, 'set', entries[i].keyFile), 'utf8'), secret: readFileSync(path.join(dir, 'set', entries[i].secretFile), 'utf8') });
    const lines: string[] = [];
    const local = await serveVenue(flags({ venue: 'binance-usdm', accountsFile: file, apiKey: undefined, apiSecret: undefined }), {}, (s) => lines.push(s));
    try {
      expect(lines[0]).toContain('2 accounts (serve-a, serve-b) with 1000 USDT each (API keys from the accounts file; never printed)');
      for (const i of [0, 1]) {
        const { apiKey, secret } = keysOf(i);
        expect(lines.join('\n')).not.toContain(secret);
        const ex = new ccxt.binanceusdm({ apiKey, secret, enableRateLimit: false });
        ex.urls['api'] = binanceLocalUrls(local.url, local.wsUrl) as typeof ex.urls['api'];
        // The account's own wallet, answered to its own signed key (ccxt's raw answer of GET /fapi/v2/account).
        await expect(ex.fetchBalance()).resolves.toMatchObject({ info: { assets: [{ asset: 'USDT', walletBalance: '1000.00000000' }] } });
      }
      // A Bitget venue does not serve Binance accounts.
      await expect(serveVenue(flags({ venue: 'bitget-local', accountsFile: file }), {}, () => undefined)).rejects.toThrow(/its accounts trade binance-local; this venue serves bitget-local accounts/);
    } finally {
      await local.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
