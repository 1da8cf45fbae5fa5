import { MarginConfigError, marginSettingsFromEnv } from './margin-execution';

const base = {
  BULWARK_MARGIN_VENUE: 'binance-margin-local', BULWARK_MARGIN_ACCOUNT_ID: 'm-1', BINANCE_MARGIN_API_KEY: 'key-VALUE-7', BINANCE_MARGIN_API_SECRET: 'secret-VALUE-9',
  BULWARK_MARGIN_REST: 'http://127.0.0.1:1', BULWARK_MARGIN_WS: 'ws://127.0.0.1:1',
};

describe('marginSettingsFromEnv', () => {
  it('is off without BULWARK_MARGIN_VENUE, and reads the defaults: BTCUSDT, 1 s watch, 3x, 1 % risk, 50 % margin cap', () => {
    expect(marginSettingsFromEnv({})).toBeNull();
    const s = marginSettingsFromEnv(base)!;
    expect({ ...s, risk: { leverage: s.risk.leverage, riskFraction: s.risk.riskFraction.toString(), maxMarginFraction: s.risk.maxMarginFraction.toString() } }).toEqual({
      kind: 'binance-margin-local', accountId: 'm-1', symbols: ['BTCUSDT'], apiKey: 'key-VALUE-7', apiSecret: 'secret-VALUE-9', restBase: 'http://127.0.0.1:1', wsBase: 'ws://127.0.0.1:1',
      watchMs: 1000, driven: false, risk: { leverage: 3, riskFraction: '0.01', maxMarginFraction: '0.5' },
    });
  });

  it.each([
    [{ BULWARK_MARGIN_VENUE: 'binance-margin' }, 'BULWARK_MARGIN_VENUE must be'],
    [{ BULWARK_MARGIN_ACCOUNT_ID: 'a b' }, 'BULWARK_MARGIN_ACCOUNT_ID'],
    [{ BULWARK_MARGIN_SYMBOLS: 'btcusdt' }, 'BULWARK_MARGIN_SYMBOLS'],
    [{ BINANCE_MARGIN_API_SECRET: '' }, 'BINANCE_MARGIN_API_KEY and BINANCE_MARGIN_API_SECRET'],
    [{ BULWARK_MARGIN_REST: '' }, 'BULWARK_MARGIN_REST and BULWARK_MARGIN_WS'],
    [{ BULWARK_MARGIN_VENUE: 'binance-margin-live' }, 'BULWARK_LIVE_TRADING=yes'],
    [{ BULWARK_MARGIN_LEVERAGE: '11' }, 'BULWARK_MARGIN_LEVERAGE must be an integer in 1..10'],
    [{ BULWARK_MARGIN_RISK_FRACTION: '0.1' }, 'BULWARK_MARGIN_RISK_FRACTION'],
    [{ BULWARK_MARGIN_WATCH_MS: '10' }, 'BULWARK_MARGIN_WATCH_MS'],
    [{ BULWARK_MARGIN_VENUE: 'binance-margin-live', BULWARK_LIVE_TRADING: 'yes', BULWARK_MARGIN_DRIVEN: 'yes' }, 'only with BULWARK_MARGIN_VENUE=binance-margin-local'],
    [{ BINANCE_MARGIN_API_KEY_FILE: '/nonexistent/key' }, 'cannot be read'],
  ])('%o is refused, naming the variable (never a secret)', (over, message) => {
    const env = { ...base, ...over };
    expect(() => marginSettingsFromEnv(env)).toThrow(MarginConfigError);
    expect(() => marginSettingsFromEnv(env)).toThrow(message);
    try {
      marginSettingsFromEnv(env);
    } catch (e) {
      expect((e as Error).message).not.toMatch(/VALUE-[79]/);
    }
  });

  it('live with the opt-in, several pairs, driven only locally', () => {
    const s = marginSettingsFromEnv({ ...base, BULWARK_MARGIN_VENUE: 'binance-margin-live', BULWARK_LIVE_TRADING: 'yes', BULWARK_MARGIN_SYMBOLS: 'BTCUSDT, ETHUSDT' })!;
    expect([s.kind, s.symbols, s.driven]).toEqual(['binance-margin-live', ['BTCUSDT', 'ETHUSDT'], false]);
    expect(marginSettingsFromEnv({ ...base, BULWARK_MARGIN_DRIVEN: 'yes' })!.driven).toBe(true);
  });
});
