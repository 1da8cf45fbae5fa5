import { dec } from '@bulwark/domain';

/** Leverage of the accounts of a set, by position (1-based, repeating): all at most 5x, so none needs the high-leverage confirmation. */
export const ACCOUNT_SET_LEVERAGE: readonly number[] = [3, 5, 2, 4, 1];

/** One account of a set trading the same candles at once. */
export interface AccountSetMember {
  accountId: string;
  /** Risk per trade, % of equity (a decimal string). */
  riskPct: string;
  leverage: number;
}

/**
 * N accounts with different risk settings for one run (`bulwark demo --accounts N`, the
 * multi-account parity spec): account i (1..N) is `<baseId>-<i>`, risks 0.5 + 0.5·i % of equity
 * per trade (1 %, 1.5 %, 2 %, …, 5.5 % for the tenth) at the leverage ACCOUNT_SET_LEVERAGE[(i − 1) mod 5]
 * (3x, 5x, 2x, 4x, 1x, 3x, …).
 * @throws RangeError unless 1 <= n <= 10
 */
export function accountSet(baseId: string, n: number): AccountSetMember[] {
  if (!Number.isInteger(n) || n < 1 || n > 10) throw new RangeError(`an account set has 1 to 10 accounts, got ${n}`);
  return Array.from({ length: n }, (_, k) => ({
    accountId: `${baseId}-${k + 1}`,
    riskPct: dec('0.5').plus(dec('0.5').mul(k + 1)).toFixed(),
    leverage: ACCOUNT_SET_LEVERAGE[k % ACCOUNT_SET_LEVERAGE.length],
  }));
}
