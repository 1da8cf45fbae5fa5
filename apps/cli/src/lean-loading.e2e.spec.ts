/**
 * Lean services: the services that drive no venue, and the CLI's `--help`, load neither ccxt
 * nor the venue libraries (@bulwark/venues, @bulwark/binance-local). Each probe loads the built
 * module graph (dist) in a fresh Node process and lists what is in its require.cache; counts and
 * memory are not asserted, so the machine's speed does not matter.
 * Needs the services and the CLI built (`npm test` builds first).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from '@jest/globals';

const root = path.resolve(__dirname, '../../..');
const VENUE_CODE = /node_modules\/ccxt\/|\/libs\/venues\/|\/libs\/binance-local\//;

/** Run `script` in a fresh Node process at the repository root; it prints the loaded module paths as one JSON line prefixed `LOADED `. */
function loadedBy(script: string, env: NodeJS.ProcessEnv = {}): string[] {
  const report = `process.on('exit', () => console.log('\\nLOADED ' + JSON.stringify(Object.keys(require.cache))));`;
  const out = execFileSync(process.execPath, ['-e', `${report}\n${script}`], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  const line = out.split('\n').find((l) => l.startsWith('LOADED '));
  if (!line) throw new Error(`the probe printed no module list:\n${out}`);
  return (JSON.parse(line.slice('LOADED '.length)) as string[]).map((p) => p.split(path.sep).join('/'));
}

const venueCode = (loaded: string[]) => loaded.filter((p) => VENUE_CODE.test(p));

describe('lean loading', () => {
  it.each([
    ['risk', 'services/risk/dist/risk.module.js'],
    ['signals', 'services/signals/dist/signals.module.js'],
    ['accounting', 'services/accounting/dist/accounting.module.js'],
    ['stop-monitor', 'services/stop-monitor/dist/stop-monitor.module.js'],
    ['gateway', 'services/gateway/dist/app.module.js'],
    ['alerter', 'services/alerter/dist/alerter.module.js'],
  ])('%s loads no venue code', (_name, file) => {
    const loaded = loadedBy(`require(${JSON.stringify(path.join(root, file))});`);
    expect(loaded.length).toBeGreaterThan(100);
    expect(venueCode(loaded)).toEqual([]);
  });

  it('the CLI answers --help without venue code', () => {
    const loaded = loadedBy(`process.argv = [process.argv[0], 'bulwark', '--help'];\nrequire(${JSON.stringify(path.join(root, 'apps/cli/bin/bulwark.js'))});`);
    expect(loaded.some((p) => p.endsWith('apps/cli/dist/main.js'))).toBe(true);
    expect(venueCode(loaded)).toEqual([]);
  });

  it('detects ccxt once a venue is opened (the probe can fail)', () => {
    const app = JSON.stringify(path.join(root, 'libs/application/dist/index.js'));
    const loaded = loadedBy(
      `const { venueFromEnv } = require(${app});\nvenueFromEnv(process.env, new Map(), () => {}).then((o) => o.venue.close()).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`,
      { BULWARK_VENUE: 'binance-demo', BULWARK_ACCOUNT_ID: 'lean-probe', BINANCE_API_KEY: 'k', BINANCE_API_SECRET: 's' },
    );
    expect(venueCode(loaded).some((p) => p.includes('node_modules/ccxt/'))).toBe(true);
  });
});
