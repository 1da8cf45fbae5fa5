import { processMetrics } from './process';

/**
 * Time one venue request into `bulwark_venue_request_seconds{venue,endpoint}` (the endpoint
 * as Binance names it, e.g. `POST /fapi/v1/order`), whatever its outcome.
 */
export async function timeVenueRequest<T>(venue: string, endpoint: string, fn: () => Promise<T>): Promise<T> {
  const end = processMetrics().venueRequestSeconds.startTimer({ venue, endpoint });
  try {
    return await fn();
  } finally {
    end();
  }
}

/**
 * The request weight the venue says is used in the current minute (Binance's
 * `X-MBX-USED-WEIGHT-1m` response header), into `bulwark_venue_weight_used{venue}`.
 * A missing or unreadable header leaves the gauge as it was.
 */
export function reportVenueWeight(venue: string, used: string | number | undefined | null): void {
  const n = typeof used === 'number' ? used : used == null || used === '' ? NaN : Number(used);
  if (Number.isFinite(n) && n >= 0) processMetrics().venueWeightUsed.set({ venue }, n);
}
