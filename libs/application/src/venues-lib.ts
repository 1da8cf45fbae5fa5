import type * as Venues from '@bulwark/venues';

/**
 * @bulwark/venues, loaded on first use. Its barrel brings ccxt (~340 modules, ~40 MiB), which
 * only the code that drives a venue needs: the services importing this library for anything
 * else (risk, signals, accounting, stop-monitor, the CLI's other commands) never load it.
 * Synchronous because its callers are (a venue's constructor, an error's classification on the
 * order path); Node's module cache makes every later call a lookup.
 */
export function venuesLib(): typeof Venues {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose, see above
  return require('@bulwark/venues') as typeof Venues;
}
