import { accountDecider, accountInitialState, defaultProtection, validateAccountConfig, type AccountConfigInput } from './account';

/** A minimal request: everything else takes the policy defaults. */
const MINIMAL: AccountConfigInput = { accountId: 'acc-wt', venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '5000', leverage: 5, venueBalance: '5000' };

describe('trigger price type (workingType)', () => {
  it('defaults to MARK_PRICE and keeps CONTRACT_PRICE when asked', () => {
    expect(validateAccountConfig(MINIMAL)).toMatchObject({ ok: true, value: { workingType: 'MARK_PRICE' } });
    expect(validateAccountConfig({ ...MINIMAL, workingType: 'CONTRACT_PRICE' })).toMatchObject({ ok: true, value: { workingType: 'CONTRACT_PRICE' } });
  });

  it('refuses any other value, naming the field, the value and the allowed values', () => {
    const r = validateAccountConfig({ ...MINIMAL, workingType: 'LAST_PRICE' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ code: 'INVALID_CONFIG', field: 'workingType', value: 'LAST_PRICE' });
    expect(r.error.allowed).toContain('MARK_PRICE');
    expect(r.error.allowed).toContain('CONTRACT_PRICE');
  });
});

describe('protection default (docs/risk.md)', () => {
  it('is BOTH when execution trades a live venue, INTERNAL on the replay venues', () => {
    expect(defaultProtection(true)).toBe('BOTH');
    expect(defaultProtection(false)).toBe('INTERNAL');
  });

  it('fills in BOTH for a live venue, INTERNAL without context (replays), and never overrides a protection the request names', () => {
    expect(validateAccountConfig(MINIMAL, { liveVenue: true })).toMatchObject({ ok: true, value: { protection: 'BOTH' } });
    expect(validateAccountConfig(MINIMAL)).toMatchObject({ ok: true, value: { protection: 'INTERNAL' } });
    expect(validateAccountConfig(MINIMAL, { liveVenue: false })).toMatchObject({ ok: true, value: { protection: 'INTERNAL' } });
    expect(validateAccountConfig({ ...MINIMAL, protection: 'INTERNAL' }, { liveVenue: true })).toMatchObject({ ok: true, value: { protection: 'INTERNAL' } });
    expect(validateAccountConfig({ ...MINIMAL, protection: 'EXCHANGE' }, { liveVenue: true })).toMatchObject({ ok: true, value: { protection: 'EXCHANGE' } });
  });

  it('the account decider passes the context through for opening and reconfiguring', () => {
    const opened = accountDecider.decide({ kind: 'OpenAccount', config: MINIMAL, context: { liveVenue: true } }, accountInitialState());
    expect(opened).toMatchObject({ ok: true, value: [{ type: 'AccountOpened', data: { protection: 'BOTH', workingType: 'MARK_PRICE' } }] });
    if (!opened.ok) return;
    const state = accountDecider.evolve(accountInitialState(), opened.value[0]);
    const reconfigured = accountDecider.decide({ kind: 'ReconfigureAccount', config: { ...MINIMAL, workingType: 'CONTRACT_PRICE' }, context: { liveVenue: false } }, state);
    expect(reconfigured).toMatchObject({ ok: true, value: [{ type: 'AccountReconfigured', data: { protection: 'INTERNAL', workingType: 'CONTRACT_PRICE' } }] });
  });
});
