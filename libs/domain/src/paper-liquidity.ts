import { dec } from './money';
import type { PaperLiquidityModel } from './paper-venue';

/** A liquidity setting that cannot be read: names what was given and what is accepted. */
export class LiquidityConfigError extends Error {
  constructor(readonly value: string) {
    super(`liquidity: expected WHOLE, VOLUME_SHARE:<share> with 0 < share <= 1 (e.g. VOLUME_SHARE:0.01), or {"kind":"VOLUME_SHARE","share":"0.01"}; got ${value}`);
    this.name = 'LiquidityConfigError';
  }
}

/**
 * Read a paper venue's liquidity model (the paper adapter's and the local venue's) from config: the text
 * `WHOLE` | `VOLUME_SHARE:<share>` (case-insensitive, e.g. from a CLI flag or an env variable)
 * or the JSON object `{ kind: 'WHOLE' }` | `{ kind: 'VOLUME_SHARE', share: '<decimal>' }`
 * (share as a decimal string or a number). The share is the fraction of a bar's base volume an
 * order may take per bar; 0 < share <= 1.
 * @throws LiquidityConfigError for anything else
 */
export function parseLiquidity(x: unknown): PaperLiquidityModel {
  const shown = typeof x === 'string' ? JSON.stringify(x) : (JSON.stringify(x) ?? String(x));
  let kind: unknown;
  let share: unknown;
  if (typeof x === 'string') {
    const m = /^\s*(whole|volume_share)\s*(?::\s*(\S+))?\s*$/i.exec(x);
    if (!m) throw new LiquidityConfigError(shown);
    kind = m[1].toUpperCase();
    share = m[2];
  } else if (x && typeof x === 'object' && !Array.isArray(x)) {
    kind = (x as Record<string, unknown>)['kind'];
    share = (x as Record<string, unknown>)['share'];
  } else throw new LiquidityConfigError(shown);
  if (kind === 'WHOLE' && share === undefined) return { kind: 'WHOLE' };
  if (kind !== 'VOLUME_SHARE') throw new LiquidityConfigError(shown);
  const text = typeof share === 'number' && Number.isFinite(share) ? String(share) : share;
  if (typeof text !== 'string' || !/^(0|[1-9]\d*)(\.\d+)?$/.test(text)) throw new LiquidityConfigError(shown);
  const d = dec(text);
  if (!d.gt(0) || d.gt(1)) throw new LiquidityConfigError(shown);
  return { kind: 'VOLUME_SHARE', share: d };
}
