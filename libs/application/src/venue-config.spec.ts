import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { VenueConfigError, venueSettingsFromEnv } from './venue-config';

const KEY = 'k3y-0123456789abcdef';
const SECRET = 's3cr3t-fedcba9876543210';

describe('venueSettingsFromEnv (which venue execution trades, and what is refused without keys)', () => {
  it('defaults to the paper venue and needs nothing else', () => {
    expect(venueSettingsFromEnv({})).toMatchObject({ kind: 'paper', apiKey: null, apiSecret: null, reconcileSeconds: 60 });
  });

  it('refuses an unknown venue, naming the allowed ones', () => {
    expect(() => venueSettingsFromEnv({ BULWARK_VENUE: 'ftx' })).toThrow(/BULWARK_VENUE must be one of paper, binance-local, binance-demo, binance-live, got "ftx"/);
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
