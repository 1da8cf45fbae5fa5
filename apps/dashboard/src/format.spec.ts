import { fixed, isDecimalText, liquidationLevel, liquidationShareLeft, marginRatioLevel, meterWidth, pct, percentToFraction, rMultiple, tradingStateLevel, usdt, utc } from './format';

const guards = { marginRatioWarn: '0.9', marginRatioClose: '0.95', liquidationDistanceClose: '0.05' };

describe('display rounding', () => {
  it('rounds USDT to the cent half-even and groups thousands', () => {
    expect(usdt('392.02468195')).toBe('392.02 USDT');
    expect(usdt('10000')).toBe('10\u202f000.00 USDT');
    expect(usdt('-1234567.125', { unit: false })).toBe('-1\u202f234\u202f567.12');
    expect(usdt('0.005')).toBe('0.00 USDT');
    expect(usdt('-0.001')).toBe('0.00 USDT');
    expect(usdt('134', { sign: true })).toBe('+134.00 USDT');
    expect(usdt(null)).toBe('—');
    expect(usdt('not a number')).toBe('—');
  });
  it('shows fractions as percentages and R to 2 dp', () => {
    expect(pct('0.0675123')).toBe('6.75 %');
    expect(pct('0.4')).toBe('40.00 %');
    expect(rMultiple('-1.0034')).toBe('-1.00 R');
    expect(fixed('86658.7', 2)).toBe('86\u202f658.70');
  });
  it('prints UTC times', () => {
    expect(utc(Date.parse('2025-11-21T14:05:09Z'))).toBe('2025-11-21 14:05 UTC');
    expect(utc(Date.parse('2025-11-21T14:05:09Z'), { seconds: true })).toBe('2025-11-21 14:05:09 UTC');
    expect(utc(null)).toBe('—');
  });
});

describe('meter colouring by the guard thresholds', () => {
  it('measures the share of the entry-to-liquidation buffer left, clamped to [0, 1]', () => {
    expect(liquidationShareLeft('100', '100', '90', 'LONG')).toBe('1');
    expect(liquidationShareLeft('100', '95', '90', 'LONG')).toBe('0.5');
    expect(liquidationShareLeft('100', '89', '90', 'LONG')).toBe('0');
    expect(liquidationShareLeft('100', '110', '90', 'LONG')).toBe('1');
    expect(liquidationShareLeft('100', '109', '110', 'SHORT')).toBe('0.1');
    expect(liquidationShareLeft('100', '99', null, 'SHORT')).toBeNull();
  });
  it('is danger at or below the close share, warn at or below twice it (or the sent warn share), else ok', () => {
    expect(liquidationLevel('0.05', guards)).toBe('danger');
    expect(liquidationLevel('0.06', guards)).toBe('warn');
    expect(liquidationLevel('0.1', guards)).toBe('warn');
    expect(liquidationLevel('0.1001', guards)).toBe('ok');
    expect(liquidationLevel('0.15', { ...guards, liquidationDistanceWarn: '0.2' })).toBe('warn');
    expect(liquidationLevel(null, guards)).toBe('unknown');
    expect(liquidationLevel('0.5', null)).toBe('unknown');
  });
  it('colours the margin ratio: ok below warn, warn from 90 %, danger from 95 %', () => {
    expect(marginRatioLevel('0.8999', guards)).toBe('ok');
    expect(marginRatioLevel('0.9', guards)).toBe('warn');
    expect(marginRatioLevel('0.95', guards)).toBe('danger');
    expect(marginRatioLevel(null, guards)).toBe('unknown');
  });
  it('clamps meter widths and colours trading states', () => {
    expect(meterWidth('0.1234')).toBe(12.3);
    expect(meterWidth('1.7')).toBe(100);
    expect(meterWidth('-0.2')).toBe(0);
    expect(meterWidth(null)).toBe(0);
    expect(tradingStateLevel('ACTIVE')).toBe('ok');
    expect(tradingStateLevel('HALTED')).toBe('danger');
    expect(tradingStateLevel('REDUCING')).toBe('warn');
  });
});

describe('form input', () => {
  it('accepts decimals and turns per cent into the fraction the API takes', () => {
    expect(isDecimalText('10000')).toBe(true);
    expect(isDecimalText('1.5', { positive: true })).toBe(true);
    expect(isDecimalText('0', { positive: true })).toBe(false);
    expect(isDecimalText('1e3')).toBe(false);
    expect(isDecimalText('abc')).toBe(false);
    expect(percentToFraction('1')).toBe('0.01');
    expect(percentToFraction('0.5')).toBe('0.005');
  });
});
