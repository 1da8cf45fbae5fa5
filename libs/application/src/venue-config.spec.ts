import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BinanceUsdmVenue, BitgetUsdtmVenue, DrivenMultiAccountVenue, LocalBinanceVenue, LocalBitgetVenue, MultiAccountVenue } from '@bulwark/venues';
import { VenueConfigError, venueSettingsFromEnv } from './venue-config';
import { venueFromEnv } from './venue-factory';

const KEY = 'k3y-0123456789abcdef';
const SECRET = 's3cr3t-fedcba9876543210';

describe('venueSettingsFromEnv (which venue execution trades, and what is refused without keys)', () => {
  it('defaults to the paper venue and needs nothing else', () => {
    expect(venueSettingsFromEnv({})).toMatchObject({ kind: 'paper', accounts: [], reconcileSeconds: 60 });
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
    expect(venueSettingsFromEnv({ ...env, BULWARK_LIVE_TRADING: 'yes' })).toMatchObject({ kind: 'binance-live', accounts: [{ accountId: 'a1', apiKey: KEY, apiSecret: SECRET, passphrase: null }] });
    expect(venueSettingsFromEnv({ ...env, BULWARK_VENUE: 'binance-demo' }).kind).toBe('binance-demo');
  });

  it('reads keys from files (Kubernetes secrets), trimmed; an unreadable file is named, never its content', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bulwark-keys-'));
    writeFileSync(path.join(dir, 'key'), `${KEY}\n`);
    writeFileSync(path.join(dir, 'secret'), `${SECRET}\n`);
    const s = venueSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_ACCOUNT_ID: 'a1', BINANCE_API_KEY_FILE: path.join(dir, 'key'), BINANCE_API_SECRET_FILE: path.join(dir, 'secret') });
    expect([s.accounts[0].apiKey, s.accounts[0].apiSecret]).toEqual([KEY, SECRET]);
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
    expect(venueSettingsFromEnv({ ...env, ...keys })).toMatchObject({ kind, accounts: [{ accountId: 'a1', apiKey: KEY, apiSecret: SECRET, passphrase: PASS }] });
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
    expect(venueSettingsFromEnv(env).accounts).toEqual([{ accountId: 'a1', apiKey: KEY, apiSecret: SECRET, passphrase: PASS }]);
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
      expect([demo.venue.venue, demo.reconcileSeconds, demo.accountIds, typeof demo.subscribe]).toEqual(['bitget-usdtm', 30, ['a1'], 'function']);
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
      expect([demo.venue.venue, demo.reconcileSeconds, demo.accountIds, typeof demo.subscribe]).toEqual(['binance-usdm', 45, ['b1'], 'function']);
      expect(local.venue).toBeInstanceOf(LocalBinanceVenue);
      expect([local.reconcileSeconds, local.subscribe]).toEqual([0, undefined]);
    } finally {
      for (const o of [demo, local]) await (o.venue as BinanceUsdmVenue).close();
    }
  });

  it('the Binance venues carry no passphrase', () => {
    expect(venueSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_ACCOUNT_ID: 'a1', BINANCE_API_KEY: KEY, BINANCE_API_SECRET: SECRET, BITGET_API_PASSPHRASE: 'x' }).accounts[0].passphrase).toBeNull();
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

describe('BULWARK_ACCOUNTS_FILE (one execution, many venue accounts)', () => {
  const PASS = 'p4ssphr4se-0123456789';
  /** A directory with key files k1..k3 / s1..s3 / p1..p3 (distinct keys) and an accounts file of `entries`. */
  function accountsFile(entries: unknown, extra: Record<string, string> = {}): { file: string; dir: string } {
    const dir = mkdtempSync(path.join(tmpdir(), 'bulwark-accounts-'));
    for (const i of [1, 2, 3]) {
      writeFileSync(path.join(dir, `k${i}`), `${KEY}-${i}\n`);
      writeFileSync(path.join(dir, `s${i}`), `${SECRET}-${i}\n`);
      writeFileSync(path.join(dir, `p${i}`), `${PASS}-${i}\n`);
    }
    for (const [name, content] of Object.entries(extra)) writeFileSync(path.join(dir, name), content);
    const file = path.join(dir, 'accounts.json');
    writeFileSync(file, typeof entries === 'string' ? entries : JSON.stringify(entries));
    return { file, dir };
  }
  const binance = (i: number, venue = 'binance-demo') => ({ accountId: `acc-${i}`, venue, keyFile: `k${i}`, secretFile: `s${i}` });
  const bitget = (i: number, venue = 'bitget-demo') => ({ ...binance(i, venue), passphraseFile: `p${i}` });

  it('reads every account and its key material from the files (relative to the accounts file, trimmed), in order', () => {
    // An absolute key path is taken as it is: the key files of the first set, named from another directory's accounts file.
    const first = accountsFile([binance(1)]);
    const { file } = accountsFile([{ ...binance(1), keyFile: path.join(first.dir, 'k1'), secretFile: path.join(first.dir, 's1') }, binance(2)]);
    expect(venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: file })).toMatchObject({
      kind: 'binance-demo',
      accounts: [
        { accountId: 'acc-1', apiKey: `${KEY}-1`, apiSecret: `${SECRET}-1`, passphrase: null },
        { accountId: 'acc-2', apiKey: `${KEY}-2`, apiSecret: `${SECRET}-2`, passphrase: null },
      ],
    });
    expect(venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: accountsFile([bitget(1), bitget(2)]).file }).accounts.map((a) => a.passphrase)).toEqual([`${PASS}-1`, `${PASS}-2`]);
  });

  it('BULWARK_VENUE may name the accounts\' venue (the other services read it) but not another', () => {
    const { file } = accountsFile([binance(1)]);
    expect(venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: file, BULWARK_VENUE: 'binance-demo' }).kind).toBe('binance-demo');
    expect(() => venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: file, BULWARK_VENUE: 'paper' })).toThrow(/BULWARK_VENUE=paper but the accounts of BULWARK_ACCOUNTS_FILE trade binance-demo/);
  });

  it('replaces the single-account variables: both at once are refused, naming them', () => {
    const { file, dir } = accountsFile([binance(1)], { empty: '' });
    expect(() => venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: file, BULWARK_ACCOUNT_ID: 'a1', BINANCE_API_KEY_FILE: path.join(dir, 'k2') })).toThrow(
      /BULWARK_ACCOUNTS_FILE replaces BULWARK_ACCOUNT_ID, BINANCE_API_KEY_FILE: set one or the other, not both/,
    );
    expect(() => venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: file, BITGET_API_SECRET: SECRET })).toThrow(/replaces BITGET_API_SECRET/);
    // The deploy files always name the key files: empty (compose's default secret) or absent (an optional Kubernetes Secret) give no key.
    const deployed = { BULWARK_ACCOUNTS_FILE: file, BULWARK_ACCOUNT_ID: '', BINANCE_API_KEY_FILE: path.join(dir, 'empty'), BINANCE_API_SECRET_FILE: path.join(dir, 'absent') };
    expect(venueSettingsFromEnv(deployed).accounts.map((a) => a.accountId)).toEqual(['acc-1']);
  });

  it.each<[string, unknown, RegExp]>([
    ['not JSON', '[{', /accounts\.json: is not JSON/],
    ['no account', [], /the file: expected at least one account/],
    ['a field missing', [{ accountId: 'acc-1', venue: 'binance-demo', keyFile: 'k1' }], /accounts\[0\] \(acc-1\) secretFile: Required/],
    ['an unknown venue', [binance(1, 'paper')], /accounts\[0\] \(acc-1\) venue: Invalid enum value/],
    ['an account id unfit for a stream id', [{ ...binance(1), accountId: 'a b' }], /accounts\[0\] \(a b\) accountId: expected \[A-Za-z0-9_-\]\{1,64\}/],
    ['an unknown field', [{ ...binance(1), apiKey: 'inline' }], /accounts\[0\] \(acc-1\).*Unrecognized key/],
    ['a missing key file', [binance(1), { ...binance(2), keyFile: 'nope' }], /accounts\[1\] \(acc-2\) keyFile names a file that cannot be read \(ENOENT\): nope/],
    ['an empty secret', [{ ...binance(1), secretFile: 'empty' }], /accounts\[0\] \(acc-1\) secretFile names an empty file: empty/],
    ['a duplicate account', [binance(1), { ...binance(2), accountId: 'acc-1' }], /accounts\[1\] \(acc-1\) accountId: also accounts\[0\]'s/],
    ['one API key twice', [binance(1), { ...binance(2), keyFile: 'k1' }], /accounts\[1\] \(acc-2\) keyFile: the same API key as account acc-1/],
    ['two exchanges', [binance(1), bitget(2)], /accounts\[1\] \(acc-2\) venue: bitget-demo is another exchange than accounts\[0\]'s binance-demo; one execution trades one venue/],
    ['demo beside live', [binance(1, 'binance-live'), binance(2, 'binance-demo')], /accounts\[1\] \(acc-2\) venue: binance-demo mixes demo with accounts\[0\]'s live/],
    ['local beside demo', [bitget(1, 'bitget-local'), bitget(2)], /mixes demo with accounts\[0\]'s local/],
    ['a Bitget account without passphrase', [bitget(1), binance(2, 'bitget-demo')], /accounts\[1\] \(acc-2\) passphraseFile: required for a Bitget account/],
    ['a passphrase for Binance', [{ ...binance(1), passphraseFile: 'p1' }], /accounts\[0\] \(acc-1\) passphraseFile: Binance keys have no passphrase/],
  ])('refuses %s with a typed error naming the entry and field', (_what, entries, message) => {
    const { file } = accountsFile(entries, { empty: ' \n' });
    expect(() => venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: file })).toThrow(VenueConfigError);
    expect(() => venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: file })).toThrow(message);
  });

  it('an unreadable accounts file is named with the reason', () => {
    expect(() => venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: '/nonexistent/accounts.json' })).toThrow(/BULWARK_ACCOUNTS_FILE \/nonexistent\/accounts.json: cannot be read \(ENOENT\)/);
  });

  it('the venue rules apply to the file\'s venue: live needs BULWARK_LIVE_TRADING=yes, local its URLs', () => {
    expect(() => venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: accountsFile([binance(1, 'binance-live')]).file })).toThrow(/BULWARK_VENUE=binance-live trades real money/);
    expect(() => venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: accountsFile([bitget(1, 'bitget-local')]).file })).toThrow(/needs BULWARK_VENUE_REST and BULWARK_VENUE_WS/);
  });

  it('no error message carries key material', () => {
    const cases = [[binance(1), { ...binance(2), keyFile: 'k1' }], [binance(1, 'binance-live')], [bitget(1), binance(2, 'bitget-demo')]];
    for (const entries of cases) {
      let message = '';
      try {
        venueSettingsFromEnv({ BULWARK_ACCOUNTS_FILE: accountsFile(entries).file });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).not.toBe('');
      for (const secret of [KEY, SECRET, PASS]) expect(message).not.toContain(secret);
    }
  });

  it('venueFromEnv opens one adapter per account behind one multi-account venue; each adapter\'s alerts name its account', async () => {
    const alerts: Array<[string, string | undefined]> = [];
    const demo = await venueFromEnv({ BULWARK_ACCOUNTS_FILE: accountsFile([binance(1), binance(2), binance(3)]).file, BULWARK_RECONCILE_SECONDS: '30' }, new Map(), (a, accountId) => alerts.push([a.kind, accountId]));
    const local = await venueFromEnv(
      { BULWARK_ACCOUNTS_FILE: accountsFile([bitget(1, 'bitget-local'), bitget(2, 'bitget-local')]).file, BULWARK_VENUE_REST: 'http://127.0.0.1:9', BULWARK_VENUE_WS: 'ws://127.0.0.1:9' },
      new Map(),
      () => undefined,
    );
    const one = await venueFromEnv({ BULWARK_ACCOUNTS_FILE: accountsFile([binance(1)]).file }, new Map(), () => undefined);
    try {
      expect(demo.venue).toBeInstanceOf(MultiAccountVenue);
      expect(demo.venue).not.toBeInstanceOf(DrivenMultiAccountVenue);
      expect([demo.venue.venue, demo.reconcileSeconds, demo.accountIds, typeof demo.subscribe]).toEqual(['binance-usdm', 30, ['acc-1', 'acc-2', 'acc-3'], 'function']);
      const adapters = (demo.venue as unknown as { adapters: BinanceUsdmVenue[] }).adapters;
      expect(adapters.map((a) => [a.accountId, a instanceof BinanceUsdmVenue])).toEqual([['acc-1', true], ['acc-2', true], ['acc-3', true]]);
      // Each adapter has its own rate budget (a ban of one is not a ban of another).
      expect(new Set(adapters.map((a) => (a as unknown as { budget: unknown }).budget)).size).toBe(3);
      (adapters[1] as unknown as { onAlert: (a: { kind: 'IP_BANNED'; message: string; until: number }) => void }).onAlert({ kind: 'IP_BANNED', message: 'banned', until: 1 });
      expect(alerts).toEqual([['IP_BANNED', 'acc-2']]);
      expect(local.venue).toBeInstanceOf(DrivenMultiAccountVenue);
      expect([local.venue.venue, local.reconcileSeconds, local.accountIds, local.subscribe]).toEqual(['bitget-usdtm', 0, ['acc-1', 'acc-2'], undefined]);
      // One account in the file: the single adapter, as BULWARK_ACCOUNT_ID would open it.
      expect(one.venue).toBeInstanceOf(BinanceUsdmVenue);
      expect(one.accountIds).toEqual(['acc-1']);
    } finally {
      for (const o of [demo, local, one]) await (o.venue as BinanceUsdmVenue).close();
    }
  });
});
