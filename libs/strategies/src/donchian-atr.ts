import { ATR } from 'trading-signals';
import type { Candle, OrderSide } from '@bulwark/contracts';
import { ceilToStep, dec, floorToStep, str, type D } from '@bulwark/domain';
import { RollingExtremes } from './rolling-extremes';

/** Parameters of the Donchian breakout (all integers are bar counts). */
export interface DonchianAtrParams {
  /** Bars in the Donchian channel (highest high / lowest low of the previous N bars). */
  channel: number;
  /** Bars in the ATR. */
  atrPeriod: number;
  /** Stop distance in ATRs. */
  atrMultiple: number;
  /** Take-profit distance in multiples of the stop distance (R). */
  rewardRisk: number;
  /** Price tick the stop and target are rounded to (string decimal). */
  tickSize: string;
}

export const DEFAULT_DONCHIAN_ATR: DonchianAtrParams = {
  channel: 120,
  atrPeriod: 30,
  atrMultiple: 3,
  rewardRisk: 2,
  tickSize: '0.1',
};

/** What the strategy wants: WHEN and where its technical stop and target are. Sizing is risk's job. */
export interface EntrySignal {
  side: OrderSide;
  entryPrice: string;
  stopPrice: string;
  takeProfitPrice: string;
  reason: string;
}

/**
 * Donchian channel breakout with an ATR stop and an R-multiple target.
 * A long fires on the first close above the highest high of the previous `channel` bars
 * (the previous close was inside the channel), a short on the first close below the lowest
 * low. Stop = entry ∓ atrMultiple × ATR, target = entry ± rewardRisk × stop distance, both
 * rounded to the tick (stop away from entry, target toward it).
 *
 * The ATR comes from trading-signals, the channel from {@link RollingExtremes} (the numbers
 * trading-signals' `Period` gives, in O(1) per bar); both are float arithmetic and their output
 * is a technical level, turned into a tick-rounded decimal before it leaves the strategy.
 * Deterministic: the same candles give the same signals.
 */
export class DonchianAtrStrategy {
  static readonly strategyName = 'donchian-atr';
  private readonly highs: RollingExtremes;
  private readonly lows: RollingExtremes;
  private readonly atr: ATR;
  private prevClose: number | null = null;
  private prevUpper: number | null = null;
  private prevLower: number | null = null;
  /** The channel that judged the previous bar: a breakout is fresh when the previous close was inside it. */
  private judgedUpper: number | null = null;
  private judgedLower: number | null = null;
  private readonly tick: D;

  constructor(readonly params: DonchianAtrParams = DEFAULT_DONCHIAN_ATR) {
    for (const k of ['channel', 'atrPeriod'] as const) {
      if (!Number.isInteger(params[k]) || params[k] < 2) throw new RangeError(`${k} must be an integer >= 2, got ${params[k]}`);
    }
    if (!(params.atrMultiple > 0) || !(params.rewardRisk > 0)) throw new RangeError('atrMultiple and rewardRisk must be > 0');
    this.highs = new RollingExtremes(params.channel);
    this.lows = new RollingExtremes(params.channel);
    this.atr = new ATR(params.atrPeriod);
    this.tick = dec(params.tickSize);
  }

  /** Feed one closed candle; returns an entry signal or null. */
  onCandle(c: Candle): EntrySignal | null {
    const high = Number(c.high);
    const low = Number(c.low);
    const close = Number(c.close);
    const upper = this.prevUpper;
    const lower = this.prevLower;
    const prevClose = this.prevClose;
    const atr = this.atr.update({ high, low, close }, false);

    let signal: EntrySignal | null = null;
    const wasInsideHigh = this.judgedUpper !== null && prevClose !== null && prevClose <= this.judgedUpper;
    const wasInsideLow = this.judgedLower !== null && prevClose !== null && prevClose >= this.judgedLower;
    const long = upper !== null && close > upper && wasInsideHigh;
    const short = !long && lower !== null && close < lower && wasInsideLow;
    // Decimals only for a breakout (most bars have none).
    if ((long || short) && upper !== null && lower !== null && atr !== null && atr > 0) {
      const entry = dec(c.close);
      const distance = dec(atr).mul(this.params.atrMultiple);
      if (long) {
        const stop = floorToStep(entry.minus(distance), this.tick);
        const target = floorToStep(entry.plus(entry.minus(stop).mul(this.params.rewardRisk)), this.tick);
        signal = { side: 'BUY', entryPrice: c.close, stopPrice: str(stop), takeProfitPrice: str(target), reason: `close ${c.close} broke the ${this.params.channel}-bar high ${upper}; stop ${this.params.atrMultiple}×ATR(${this.params.atrPeriod})=${atr.toFixed(2)}` };
      } else {
        const stop = ceilToStep(entry.plus(distance), this.tick);
        const target = ceilToStep(entry.minus(stop.minus(entry).mul(this.params.rewardRisk)), this.tick);
        signal = { side: 'SELL', entryPrice: c.close, stopPrice: str(stop), takeProfitPrice: str(target), reason: `close ${c.close} broke the ${this.params.channel}-bar low ${lower}; stop ${this.params.atrMultiple}×ATR(${this.params.atrPeriod})=${atr.toFixed(2)}` };
      }
    }

    // The channel of the previous N bars excludes the bar being judged.
    const h = this.highs.update(high);
    const l = this.lows.update(low);
    this.prevUpper = h ? h.highest : null;
    this.prevLower = l ? l.lowest : null;
    this.judgedUpper = upper;
    this.judgedLower = lower;
    this.prevClose = close;
    return signal;
  }
}
