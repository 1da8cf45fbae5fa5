import { accountSet } from './account-set';

describe('accountSet: N accounts with different risk settings for one run', () => {
  it('account i is <base>-i, risks 0.5 + 0.5·i % at 3x, 5x, 2x, 4x, 1x, repeating; never above 5x', () => {
    expect(accountSet('d', 10)).toEqual([
      { accountId: 'd-1', riskPct: '1', leverage: 3 },
      { accountId: 'd-2', riskPct: '1.5', leverage: 5 },
      { accountId: 'd-3', riskPct: '2', leverage: 2 },
      { accountId: 'd-4', riskPct: '2.5', leverage: 4 },
      { accountId: 'd-5', riskPct: '3', leverage: 1 },
      { accountId: 'd-6', riskPct: '3.5', leverage: 3 },
      { accountId: 'd-7', riskPct: '4', leverage: 5 },
      { accountId: 'd-8', riskPct: '4.5', leverage: 2 },
      { accountId: 'd-9', riskPct: '5', leverage: 4 },
      { accountId: 'd-10', riskPct: '5.5', leverage: 1 },
    ]);
    expect(accountSet('d', 1)).toEqual([{ accountId: 'd-1', riskPct: '1', leverage: 3 }]);
  });

  it.each([0, 11, 2.5])('refuses %p accounts', (n) => {
    expect(() => accountSet('d', n)).toThrow(new RangeError(`an account set has 1 to 10 accounts, got ${n}`));
  });
});
