import type { EventData } from '@bulwark/contracts';
import { type PositionState, foldFillAcrossLifecycles, positionInitialState } from '@bulwark/domain';
import type { Logger } from '@nestjs/common';

/**
 * One fill into the net position of `account|symbol` in `net`, with the position aggregate's
 * own fold (the same as accounting's). A fill the fold refuses is logged and leaves it unchanged.
 * @returns the position after the fill
 */
export function foldNet(net: Map<string, PositionState>, f: EventData<'OrderFilled'>, log: Logger): PositionState {
  const key = `${f.accountId}|${f.symbol}`;
  const before = net.get(key) ?? positionInitialState();
  const r = foldFillAcrossLifecycles(before, f);
  if (!r.ok) {
    log.warn(`net position ${key}: fill ${f.tradeId} refused: ${r.error.code} ${r.error.message}`);
    return before;
  }
  net.set(key, r.value.state);
  return r.value.state;
}
