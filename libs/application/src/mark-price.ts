import { EpochMs, PositiveDecimalString, Subjects } from '@bulwark/contracts';
import { JSONCodec, type NatsConnection } from 'nats';
import { z } from 'zod';
import { VENUE_KINDS, VenueConfigError, venueOfKind, type VenueKind } from './venue-config';

/**
 * A mark price as published on core NATS `md.mark.<venue>.<symbol>` (`Subjects.mark`): on the
 * live venues the venue's mark price (Binance Mark Price Stream, every second; Bitget's
 * USDT-FUTURES ticker channel `markPrice`, as it pushes), during a file replay the price of
 * each path step.
 */
export const MarkPriceMessage = z.object({
  /** The venue's time of the mark, epoch ms. */
  ts: EpochMs,
  /** USDT per unit, the venue's decimal string. */
  price: PositiveDecimalString,
});
export type MarkPriceMessage = z.infer<typeof MarkPriceMessage>;

/** A mark-price update as `BinanceMarketStream.markPrices()` / `BitgetMarketStream.markPrices()` yield it (@bulwark/venues). */
export interface MarkPriceSourceUpdate {
  ts: number;
  markPrice: string;
}

/**
 * Publish every mark price of `source` on `subject` (default `md.mark.<venue>.<symbol>`) as a
 * {@link MarkPriceMessage}, in order, until the source ends (e.g. `BinanceMarketStream.close()`).
 * An update that is not a valid mark (no positive decimal price) is skipped and logged.
 * @returns how many were published
 */
export async function publishMarkPrices(
  nc: NatsConnection,
  venue: string,
  symbol: string,
  source: AsyncIterable<MarkPriceSourceUpdate>,
  opts: { subject?: string; log?: (line: string) => void } = {},
): Promise<number> {
  const json = JSONCodec();
  const subject = opts.subject ?? Subjects.mark(venue, symbol);
  let published = 0;
  for await (const u of source) {
    const m = MarkPriceMessage.safeParse({ ts: u.ts, price: u.markPrice });
    if (!m.success) {
      opts.log?.(`mark price of ${symbol} skipped: ${JSON.stringify(u)} is not a mark price`);
      continue;
    }
    if (nc.isClosed()) break;
    nc.publish(subject, json.encode(m.data));
    published++;
  }
  return published;
}

/** Stop-monitor's mark-price settings on a live venue. */
export interface MarkWatchSettings {
  /** Which venue: its exchange (`venueOfKind`) picks the REST poller (Binance premiumIndex, Bitget symbol-price). */
  venue: LiveVenueKind;
  /** Which environment (demo trading or live) of that exchange the REST fallback polls. */
  mode: 'demo' | 'live';
  /** No mark price for this long (ms) while a mark-price stop is armed → alert and poll (BULWARK_MARK_STALE_SECONDS, default 5 s). */
  staleMs: number;
}

/** The venues whose market is live (not a replay): demo trading or a real account, Binance or Bitget. */
export type LiveVenueKind = Extract<VenueKind, 'binance-demo' | 'binance-live' | 'bitget-demo' | 'bitget-live'>;
export const LIVE_VENUE_KINDS: readonly LiveVenueKind[] = ['binance-demo', 'binance-live', 'bitget-demo', 'bitget-live'];

/**
 * Does execution trade a live venue (Binance or Bitget demo-trading or live)? Reads only
 * BULWARK_VENUE (no keys: risk and stop-monitor hold none), default paper.
 * @throws VenueConfigError for an unknown venue
 */
export function liveVenueFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const kind = (env.BULWARK_VENUE || 'paper') as VenueKind;
  if (!VENUE_KINDS.includes(kind)) throw new VenueConfigError(`BULWARK_VENUE must be one of ${VENUE_KINDS.join(', ')}, got "${env.BULWARK_VENUE}"`);
  return (LIVE_VENUE_KINDS as readonly VenueKind[]).includes(kind);
}

/**
 * Stop-monitor's mark-price mode: BULWARK_VENUE binance-demo, binance-live, bitget-demo or
 * bitget-live (null for paper, binance-local and bitget-local: replays evaluate stops on the
 * candle path only, deterministically) and
 * BULWARK_MARK_STALE_SECONDS (seconds, > 0 and ≤ 3600, default 5).
 * @throws VenueConfigError for an unknown venue or a bad stale limit
 */
export function markWatchSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): MarkWatchSettings | null {
  if (!liveVenueFromEnv(env)) return null;
  const venue = env.BULWARK_VENUE as MarkWatchSettings['venue'];
  const raw = env.BULWARK_MARK_STALE_SECONDS;
  const seconds = raw === undefined || raw === '' ? 5 : Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new VenueConfigError(`BULWARK_MARK_STALE_SECONDS must be a number of seconds in (0, 3600], got "${raw}"`);
  return { venue, mode: venueOfKind(venue)!.mode === 'demo' ? 'demo' : 'live', staleMs: Math.round(seconds * 1000) };
}
