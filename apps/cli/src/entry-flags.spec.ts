import { DEFAULT_EXPIRES_AFTER_BARS, entryFlags, InputError } from './input-checks';

describe('entryFlags: --entry-type, --expires-after-bars and --split as the strategy attachment takes them', () => {
  it('market (the default) sends nothing: the attachment keeps its earlier shape', () => {
    expect(entryFlags({})).toEqual({});
    expect(entryFlags({ entryType: 'market' })).toEqual({});
  });

  it('limit and post-only rest, with the default life in bars unless given', () => {
    expect(entryFlags({ entryType: 'limit' })).toEqual({ entryType: 'LIMIT', expiresAfterBars: DEFAULT_EXPIRES_AFTER_BARS });
    expect(entryFlags({ entryType: 'post-only', expiresAfterBars: 7 })).toEqual({ entryType: 'POST_ONLY', expiresAfterBars: 7 });
  });

  it('ioc and fok do not rest: an expiry is refused', () => {
    expect(entryFlags({ entryType: 'ioc' })).toEqual({ entryType: 'IOC' });
    expect(() => entryFlags({ entryType: 'fok', expiresAfterBars: 2 })).toThrow(new InputError('--expires-after-bars applies to --entry-type limit and post-only, not fok'));
  });

  it('--split with its limits; the limits alone are refused, and an iceberg needs a resting entry', () => {
    expect(entryFlags({ split: 'slices', maxOrderNotional: '5000', maxVolumePct: '0.001' })).toEqual({ split: { style: 'SLICES', maxOrderNotional: '5000', maxVolumeShare: '0.001', intervalBars: 1 } });
    expect(entryFlags({ entryType: 'limit', split: 'iceberg', splitIntervalBars: 0 })).toEqual({ entryType: 'LIMIT', expiresAfterBars: 3, split: { style: 'ICEBERG', intervalBars: 0 } });
    expect(() => entryFlags({ maxOrderNotional: '5000' })).toThrow(new InputError('--max-order-notional applies with --split only'));
    expect(() => entryFlags({ split: 'iceberg' })).toThrow(new InputError('--split iceberg sends resting limit children: use it with --entry-type limit or post-only'));
  });
});
