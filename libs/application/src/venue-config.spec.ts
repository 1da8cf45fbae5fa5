import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BinanceUsdmVenue, BitgetUsdtmVenue, LocalBinanceVenue, LocalBitgetVenue } from '@bulwark/venues';
import { VenueConfigError, venueSettingsFromEnv } from './venue-config';
import { venueFromEnv } from './venue-factory';

const KEY = 'k3y-0123456789abcdef';
const SECRET = 's3cr3t-fedcba9876543210';

describe('venueSettingsFromEnv (which venue execution trades, and what is refused without keys)', () => {
  it('defaults to the paper venue and needs nothing else', () => {
    expect(venueSettingsFromEnv({})).toMatchObject({ kind: 'paper', apiKey: null, apiSecret: null, reconcileSeconds: 60 });
  });

  it('refuses an unknown venue, naming the allowed ones', () => {
    expect(() => venueSettingsFromEnv({ BULWARK_VENUE: 'ftx' })).toThrow(/BULWARK_VENUE must be one of paper, binance-local, binance-demo, binance-live, bitget-local, bitget-demo, bitget-live, got "ftx"/);
  });

  it.each(['binance-local', 'binance-demo', 'binance-live'])('%s without keys is refused: only the paper venue trades without them', (kind) => {
    expect(() => venueSettingsFromEnv({ BULWARK_VENUE: kind, BULWARK_ACCOUNT_ID: 'a1' })).toThrow(VenueConfigError);
    expect(() => venueSettingsFromEnv({ BULWARK_VENUE: kind, BULWARK_ACCOUNT_ID: 'a1', BINANCE_API_KEY: KEY })).toThrow(/needs BINANCE_API_KEY and BINANCE_API_SECRET/);
  });

  it('a live account needs the explicit BULWARK_LIVE_TRADING=yes; the demo environment does not', () => {
    const env = { BULWARK_VENUE: 'binance-live', BULWARK_ACCOUNT_ID: 'a1', BINANCE_API_KEY: KEY, BINANCE_API_SECRET: SECRET };
    expect(() => venueSettingsFromEnv(env)).toThrow(/BULWARK_LIVE_TRADING=yes/);
    expect(venueSettingsFromEnv({ ...env, BULWARK_LIVE_TRADING: 'yes' })).toMatchObject({ kind: 'binance-live', apiKey: KEY, apiSecret: SECRET, accountId: 'a1' });
    expect(venueSettingsFromEnv({ ...env, BULWARK_VENUE: 'binance-demo' }).kind).toBe('binance-demo');
  });

  it('reads keys from files (Kubernetes secrets), trimmed; an unreadable file is named, never its content', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bulwark-keys-'));
    writeFileSync(path.join(dir, 'key'), `${KEY}\n`);
    writeFileSync(path.join(dir, 'secret'), `${SECRET}\n`);
    const s = venueSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_ACCOUNT_ID: 'a1', BINANCE_API_KEY_FILE: path.join(dir, 'key'), BINANCE_API_SECRET_FILE: path.join(dir, 'secret') });
    expect([s.apiKey, s.apiSecret]).toEqual([KEY, SECRET]);
    expect(() => venueSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_ACCOUNT_ID: 'a1', BINANCE_API_KEY_FILE: path.join(dir, 'missing'), BINANCE_API_SECRET: SECRET })).toThrow(/BINANCE_API_KEY_FILE names a file that cannot be read \(ENOENT\)/);
  });

  it('no error message ever carries a key or a secret', () => {
    const envs = [
      { BULWARK_VENUE: 'binance-live', BULWARK_ACCOUNT_ID: 'a1', BINANCE_API_KEY: KEY, BINANCE_API_SECRET: SECRET },
      { BULWARK_VENUE: 'binance-local', BULWARK_ACCOUNT_ID: 'a1', BINANCE_API_KEY: KEY, BINANCE_API_SECRET: SECRET },
      { BULWARK_VENUE: 'binance-demo', BINANCE_API_KEY: KEY, BINANCE_API_SECRET: SECRET },
    ];
    for (const env of envs) {
      let message = '';
      try {
        venueSettingsFromEnv(env);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain(KEY);
      expect(message).not.toContain(SECRET);
    }
  });

  it('the local venue needs its URLs and the account the keys trade', () => {
    const env = { BULWARK_VENUE: 'binance-local', BINANCE_API_KEY: KEY, BINANCE_API_SECRET: SECRET };
    expect(() => venueSettingsFromEnv(env)).toThrow(/needs BULWARK_ACCOUNT_ID/);
    expect(() => venueSettingsFromEnv({ ...env, BULWARK_ACCOUNT_ID: 'a1' })).toThrow(/needs BULWARK_VENUE_REST and BULWARK_VENUE_WS/);
    expect(venueSettingsFromEnv({ ...env, BULWARK_ACCOUNT_ID: 'a1', BULWARK_VENUE_REST: 'http://127.0.0.1:9', BULWARK_VENUE_WS: 'ws://127.0.0.1:9', BULWARK_RECONCILE_SECONDS: '0' })).toMatchObject({
      restBase: 'http://127.0.0.1:9', wsBase: 'ws://127.0.0.1:9', reconcileSeconds: 0,
    });
  });
});

describe('Bitget USDT-M venues (bitget-local, bitget-demo, bitget-live)', () => {
  const PASS = 'p4ssphr4se-0123456789';
  const keys = { BITGET_API_KEY: KEY, BITGET_API_SECRET: SECRET, BITGET_API_PASSPHRASE: PASS };

  it.each(['bitget-local', 'bitget-demo', 'bitget-live'])('%s needs the key, the secret and the passphrase (Binance keys do not count)', (kind) => {
    const env = { BULWARK_VENUE: kind, BULWARK_ACCOUNT_ID: 'a1', BULWARK_LIVE_TRADING: 'yes', BULWARK_VENUE_REST: 'http://127.0.0.1:9', BULWARK_VENUE_WS: 'ws://127.0.0.1:9' };
    expect(() => venueSettingsFromEnv({ ...env, BINANCE_API_KEY: KEY, BINANCE_API_SECRET: SECRET })).toThrow(/needs BITGET_API_KEY, BITGET_API_SECRET and BITGET_API_PASSPHRASE/);
    expect(() => venueSettingsFromEnv({ ...env, BITGET_API_KEY: KEY, BITGET_API_SECRET: SECRET })).toThrow(/BITGET_API_PASSPHRASE_FILE/);
    expect(venueSettingsFromEnv({ ...env, ...keys })).toMatchObject({ kind, apiKey: KEY, apiSecret: SECRET, passphrase: PASS, accountId: 'a1' });
  });

  it('bitget-live needs the explicit BULWARK_LIVE_TRADING=yes, exactly as binance-live; bitget-demo does not', () => {
    const env = { BULWARK_VENUE: 'bitget-live', BULWARK_ACCOUNT_ID: 'a1', ...keys };
    expect(() => venueSettingsFromEnv(env)).toThrow(/BULWARK_VENUE=bitget-live trades real money: set BULWARK_LIVE_TRADING=yes/);
    expect(() => venueSettingsFromEnv({ ...env, BULWARK_LIVE_TRADING: 'true' })).toThrow(/BULWARK_LIVE_TRADING=yes/);
    expect(venueSettingsFromEnv({ ...env, BULWARK_LIVE_TRADING: 'yes' }).kind).toBe('bitget-live');
    expect(venueSettingsFromEnv({ ...env, BULWARK_VENUE: 'bitget-demo' })).toMatchObject({ kind: 'bitget-demo', restBase: null, wsBase: null });
  });

  it('bitget-local needs the account and BULWARK_VENUE_REST / BULWARK_VENUE_WS', () => {
    const env = { BULWARK_VENUE: 'bitget-local', ...keys };
    expect(() => venueSettingsFromEnv(env)).toThrow(/needs BULWARK_ACCOUNT_ID/);
    expect(() => venueSettingsFromEnv({ ...env, BULWARK_ACCOUNT_ID: 'a1' })).toThrow(/BULWARK_VENUE=bitget-local needs BULWARK_VENUE_REST and BULWARK_VENUE_WS/);
    expect(venueSettingsFromEnv({ ...env, BULWARK_ACCOUNT_ID: 'a1', BULWARK_VENUE_REST: 'http://127.0.0.1:9', BULWARK_VENUE_WS: 'ws://127.0.0.1:9' })).toMatchObject({ restBase: 'http://127.0.0.1:9', wsBase: 'ws://127.0.0.1:9' });
  });

  it('reads the key, secret and passphrase from files; an unreadable file is named, never its content', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bulwark-bitget-'));
    for (const [f, v] of [['key', KEY], ['secret', SECRET], ['pass', PASS]]) writeFileSync(path.join(dir, f), `${v}\n`);
    const env = { BULWARK_VENUE: 'bitget-demo', BULWARK_ACCOUNT_ID: 'a1', BITGET_API_KEY_FILE: path.join(dir, 'key'), BITGET_API_SECRET_FILE: path.join(dir, 'secret'), BITGET_API_PASSPHRASE_FILE: path.join(dir, 'pass') };
    expect(venueSettingsFromEnv(env)).toMatchObject({ apiKey: KEY, apiSecret: SECRET, passphrase: PASS });
    expect(() => venueSettingsFromEnv({ ...env, BITGET_API_PASSPHRASE_FILE: path.join(dir, 'missing') })).toThrow(/BITGET_API_PASSPHRASE_FILE names a file that cannot be read \(ENOENT\)/);
  });

  it('no error message carries the key, the secret or the passphrase', () => {
    const envs = [
      { BULWARK_VENUE: 'bitget-live', BULWARK_ACCOUNT_ID: 'a1', ...keys },
      { BULWARK_VENUE: 'bitget-local', BULWARK_ACCOUNT_ID: 'a1', ...keys },
      { BULWARK_VENUE: 'bitget-demo', ...keys },
      { BULWARK_VENUE: 'bitget-demo', BULWARK_ACCOUNT_ID: 'a1', BITGET_API_KEY: KEY, BITGET_API_PASSPHRASE: PASS },
    ];
    for (const env of envs) {
      let message = '';
      try {
        venueSettingsFromEnv(env);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).not.toBe('');
      for (const secret of [KEY, SECRET, PASS]) expect(message).not.toContain(secret);
    }
  });

  it('venueFromEnv opens the Bitget adapter: demo trading (ccxt sandbox: the paptrading header), live, and the local venue driven by the replay clock', async () => {
    const env = { BULWARK_ACCOUNT_ID: 'a1', ...keys };
    const demo = await venueFromEnv({ ...env, BULWARK_VENUE: 'bitget-demo', BULWARK_RECONCILE_SECONDS: '30' }, new Map(), () => undefined);
    const live = await venueFromEnv({ ...env, BULWARK_VENUE: 'bitget-live', BULWARK_LIVE_TRADING: 'yes' }, new Map(), () => undefined);
    const local = await venueFromEnv({ ...env, BULWARK_VENUE: 'bitget-local', BULWARK_VENUE_REST: 'http://127.0.0.1:9', BULWARK_VENUE_WS: 'ws://127.0.0.1:9' }, new Map(), () => undefined);
    try {
      expect(demo.venue).toBeInstanceOf(BitgetUsdtmVenue);
      expect([demo.venue.venue, demo.reconcileSeconds, demo.accountId, typeof demo.subscribe]).toEqual(['bitget-usdtm', 30, 'a1', 'function']);
      expect((demo.venue as BitgetUsdtmVenue).exchange.options['sandboxMode']).toBe(true);
      expect((live.venue as BitgetUsdtmVenue).exchange.options['sandboxMode']).not.toBe(true);
      expect(local.venue).toBeInstanceOf(LocalBitgetVenue);
      expect([local.reconcileSeconds, local.subscribe]).toEqual([0, undefined]);
    } finally {
      for (const o of [demo, live, local]) await (o.venue as BitgetUsdtmVenue).close();
    }
  });

  it('venueFromEnv opens the Binance adapter the same way: demo and live pushed and reconciled, the local venue driven by the replay clock', async () => {
    const env = { BULWARK_ACCOUNT_ID: 'b1', BINANCE_API_KEY: 'bn-key-0123456789', BINANCE_API_SECRET: 'bn-secret-0123456789' };
    const demo = await venueFromEnv({ ...env, BULWARK_VENUE: 'binance-demo', BULWARK_RECONCILE_SECONDS: '45' }, new Map(), () => undefined);
    const local = await venueFromEnv({ ...env, BULWARK_VENUE: 'binance-local', BULWARK_VENUE_REST: 'http://127.0.0.1:9', BULWARK_VENUE_WS: 'ws://127.0.0.1:9' }, new Map(), () => undefined);
    try {
      expect(demo.venue).toBeInstanceOf(BinanceUsdmVenue);
      expect([demo.venue.venue, demo.reconcileSeconds, demo.accountId, typeof demo.subscribe]).toEqual(['binance-usdm', 45, 'b1', 'function']);
      expect(local.venue).toBeInstanceOf(LocalBinanceVenue);
      expect([local.reconcileSeconds, local.subscribe]).toEqual([0, undefined]);
    } finally {
      for (const o of [demo, local]) await (o.venue as BinanceUsdmVenue).close();
    }
  });

  it('the Binance venues carry no passphrase', () => {
    expect(venueSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_ACCOUNT_ID: 'a1', BINANCE_API_KEY: KEY, BINANCE_API_SECRET: SECRET, BITGET_API_PASSPHRASE: 'x' }).passphrase).toBeNull();
  });
});

describe('paper venue fill settings', () => {
  it('BULWARK_PAPER_LIQUIDITY and BULWARK_PAPER_TRADES_PER_FILL shape the paper venue; whole fills by default', () => {
    expect(venueSettingsFromEnv({}).paper).toEqual({});
    const s = venueSettingsFromEnv({ BULWARK_PAPER_LIQUIDITY: 'VOLUME_SHARE:0.01', BULWARK_PAPER_TRADES_PER_FILL: '3' });
    expect(s.paper.tradesPerFill).toBe(3);
    expect(s.paper.liquidity).toMatchObject({ kind: 'VOLUME_SHARE' });
    expect(String((s.paper.liquidity as { share: unknown }).share)).toBe('0.01');
  });

  it.each([
    [{ BULWARK_PAPER_LIQUIDITY: 'VOLUME_SHARE:2' }, /BULWARK_PAPER_LIQUIDITY/],
    [{ BULWARK_PAPER_LIQUIDITY: 'lots' }, /BULWARK_PAPER_LIQUIDITY/],
    [{ BULWARK_PAPER_TRADES_PER_FILL: '0' }, /BULWARK_PAPER_TRADES_PER_FILL must be an integer from 1 to 1000, got "0"/],
    [{ BULWARK_PAPER_TRADES_PER_FILL: '2.5' }, /BULWARK_PAPER_TRADES_PER_FILL/],
  ])('%j is refused with a message naming the variable', (env, message) => {
    expect(() => venueSettingsFromEnv(env)).toThrow(VenueConfigError);
    expect(() => venueSettingsFromEnv(env)).toThrow(message);
  });
});
