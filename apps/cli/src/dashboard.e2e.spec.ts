/**
 * Browser test of the dashboard (issue 12, "Browser tests"): Debian's Chromium, driven by
 * playwright-core, against the gateway a ONE-DAY demo starts (2025-11-21, 1,440 candles of
 * Binance USDⓈ-M BTCUSDT, 10x confirmed) while the replay runs:
 * log in → the setup wizard at 10x (the confirmation is demanded) → its liquidation price equals
 * `bulwark calc liquidation` for the inputs it shows → a position of the run's account appears
 * with its liquidation meter → the position closes and its card goes, the page stays whole → the
 * kill switch halts the account (TradingStateChanged by the user) → the audit of an order opens.
 * No uncaught error in the page and no part replaced by its error. Screenshots of each step go to
 * var/screenshots/. `BULWARK_E2E_CPU_SLOWDOWN=10` slows the page's scripts tenfold, as on a loaded
 * CI machine (it found the blank page after a position closed).
 *
 * The six services, the gateway and a nats-server of the test's own (core subjects are not
 * isolated by the bus configuration). The replay runs at a market-time multiplier that keeps the
 * day's positions open for tens of seconds of wall time, so the page can be looked at while a
 * position is open; the gateway stays up after the replay (afterRun) until the browser is done.
 * Needs the services, the gateway and the dashboard built, `npm run setup` (NATS credentials),
 * nats-server on the PATH and /usr/bin/chromium (or BULWARK_CHROMIUM).
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RecordedEvent, ReplayProgress } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { JetStreamEventStore } from '@bulwark/event-store';
import { createCredentialsBucket } from '@bulwark/messaging';
import { until } from '@bulwark/testing';
import type { NatsConnection } from 'nats';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type PrivateNats, startPrivateNats } from './demo-faults';
import { belongsTo, type DemoGateway, type DemoReport, paceReplay, runDemo } from './demo';
import { REAL_DAY_FROM, REAL_DAY_TO, realDayAt10x } from './real-day.fixture';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SHOTS = path.join(ROOT, 'var', 'screenshots');
const CHROMIUM = process.env.BULWARK_CHROMIUM || '/usr/bin/chromium';
/**
 * Market time per wall time. The day's first positions are open from about 02:07 to 05:20 UTC
 * with one minute flat between them (and later ones for minutes to hours): at 360x that is
 * about 30 s of wall time from about 20 s into the replay; the whole day takes 4 minutes.
 */
const SPEED = 360;
/** How long a step may wait for the page (a busy 2-core machine runs seven processes and a browser). */
const UI_WAIT_MS = 60_000;

const bus = isolatedBus('dash');
const accountId = `dash-${bus.tag}`;
const wizardAccountId = `wizard-${bus.tag}`;
const logDir = path.join(os.tmpdir(), `bulwark-dashboard-e2e-${bus.tag}`);
const run = promisify(execFile);

let nats: PrivateNats | null = null;
let nc: NatsConnection | null = null;
let store: JetStreamEventStore | null = null;
let browser: Browser | null = null;
let page: Page;
/** Uncaught errors in the page (each would have blanked the dashboard before its error boundaries). */
const pageErrors: string[] = [];
let gateway: DemoGateway;
let demo: Promise<DemoReport> | null = null;
/** Rejects when the demo fails: a wait raced with it fails then, not at its time limit. */
let demoFailed: Promise<never> = new Promise<never>(() => undefined);
let progress: ReplayProgress | null = null;
/** Lets the demo's afterRun return (the gateway stays up until then). */
let releaseGateway: () => void = () => undefined;

const shot = async (name: string) => {
  await page.screenshot({ path: path.join(SHOTS, `dashboard-${name}.png`) });
};
const byTestId = (id: string) => page.getByTestId(id);
/** The page still shows the account, with no part replaced by its error (ErrorBoundary) and no uncaught error. */
async function expectPageWhole(): Promise<void> {
  expect(pageErrors).toEqual([]);
  await expect(byTestId('render-error').count()).resolves.toBe(0);
  await byTestId('account-id').waitFor();
}
/** A number as the page shows it (thin-space thousands separators) as a decimal string. */
const shownNumber = (text: string | null) => (text ?? '').replace(/[^\d.-]/g, '');

/** A wait for the page or the replay: polled every 250 ms (each probe asks the browser), for up to UI_WAIT_MS. */
const uiWait = { timeoutMs: UI_WAIT_MS, intervalMs: 250 };

/** The run's events in the log (reading never changes it). */
async function accountEvents(): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of store!.readAll({ fromPosition: 1 })) if (belongsTo(e, accountId)) out.push(e);
  return out;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  nats = await startPrivateNats();
  const b = { ...bus, natsUrl: nats.url };
  nc = await openIsolatedBus(b, 'dashboard-e2e');
  // Set-up creates the gateway's credentials bucket on the machine's server; this server is the test's own.
  await createCredentialsBucket(nc);
  store = await JetStreamEventStore.connect(nc, { stream: b.esStream, subjectPrefix: b.esPrefix });
  let ready: (g: DemoGateway) => void = () => undefined;
  const gatewayReady = new Promise<DemoGateway>((r) => (ready = r));
  const browserDone = new Promise<void>((r) => (releaseGateway = r));
  demo = runDemo({
    ...realDayAt10x(),
    speed: SPEED, accountId, bus: b, logDir,
    onProgress: (p) => (progress = p),
    gateway: { port: 0, onReady: ready, afterRun: () => browserDone },
  });
  demoFailed = demo.then(
    () => new Promise<never>(() => undefined),
    (e: unknown) => Promise.reject(new Error(`the demo failed: ${String(e)}`)),
  );
  demoFailed.catch(() => undefined); // handled where it is raced; no unhandled rejection before that
  gateway = await Promise.race([gatewayReady, demo.then(() => Promise.reject(new Error('the demo ended before its gateway was ready')))]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(UI_WAIT_MS);
  page.on('pageerror', (e) => pageErrors.push(e.stack ?? e.message));
  // A slow machine, as a page sees it: BULWARK_E2E_CPU_SLOWDOWN=10 runs the page's scripts ten times slower (Chrome's CPU throttling).
  const slowdown = Number(process.env.BULWARK_E2E_CPU_SLOWDOWN ?? 1);
  if (slowdown > 1) await (await page.context().newCDPSession(page)).send('Emulation.setCPUThrottlingRate', { rate: slowdown });
}, 300_000);

afterAll(async () => {
  releaseGateway();
  await browser?.close().catch(() => undefined);
  // The demo stops its services and the gateway itself, also when it failed.
  await demo?.catch(() => undefined);
  if (nc) await dropIsolatedBus(nc, { ...bus, natsUrl: nats!.url }).catch(() => undefined);
  await store?.close().catch(() => undefined);
  await nc?.drain().catch(() => undefined);
  await nats?.stop();
}, 400_000);

describe('the dashboard in Chromium while a one-day demo (2025-11-21) runs', () => {
  it('logs in as the run’s user', async () => {
    await page.goto(gateway.url);
    await byTestId('login-username').fill(gateway.username);
    await byTestId('login-password').fill(gateway.password);
    await shot('01-login');
    await byTestId('login-submit').click();
    await expect(byTestId('whoami').textContent()).resolves.toContain(gateway.username);
  }, 120_000);

  it('completes the setup wizard at 10x: the confirmation is demanded, then given', async () => {
    // The live panel prices at the last candle market-data serves: wait for the replay to start.
    await Promise.race([demoFailed, until('the first candles of the replay', () => (progress?.candles ?? 0) > 0, uiWait)]);
    await page.goto(`${gateway.url}/#/setup`);
    await byTestId('wizard-account-id').fill(wizardAccountId);
    const slider = byTestId('wizard-leverage');
    await slider.fill('10');
    await expect(slider.inputValue()).resolves.toBe('10');
    // Above 5x: the confirmation is asked for and Save stays disabled until it is ticked.
    await byTestId('wizard-high-leverage').waitFor();
    await byTestId('wizard-confirm-needed').waitFor();
    await expect(byTestId('wizard-save').isDisabled()).resolves.toBe(true);
    await byTestId('liquidation-price').waitFor();
    await Promise.race([demoFailed, until('the live panel at 10x', async () => /^\d+(\.\d+)?$/.test((await byTestId('liquidation-price').textContent()) ?? ''), uiWait)]);
    // Priced at the replay's current market time, not at the first candle of market-data's file.
    await expect(byTestId('preview-time').textContent()).resolves.toMatch(/^2025-11-21 /);
    await shot('02-wizard-10x-unconfirmed');
    await byTestId('wizard-confirm-high-leverage').check();
    await expect(byTestId('wizard-save').isEnabled()).resolves.toBe(true);
    await expect(byTestId('wizard-confirm-needed').count()).resolves.toBe(0);
    await byTestId('wizard-validate').click();
    await byTestId('wizard-verdicts').waitFor();
    await byTestId('wizard-save').click();
    await expect(byTestId('wizard-saved').textContent()).resolves.toContain('AccountOpened');
    await shot('03-wizard-10x-saved');
  }, 180_000);

  it('shows the liquidation price `bulwark calc liquidation` gives for the same inputs', async () => {
    const entry = (await byTestId('preview-entry').textContent())!.trim();
    const qty = (await byTestId('preview-qty').textContent())!.trim();
    const side = await byTestId('wizard-side').inputValue();
    const leverage = await byTestId('wizard-leverage').inputValue();
    const shown = (await byTestId('liquidation-price').textContent())!.trim();
    expect(dec(qty).gt(0)).toBe(true);
    const { stdout } = await run(process.execPath, [
      path.join(ROOT, 'apps', 'cli', 'bin', 'bulwark.js'), 'calc', 'liquidation', '--side', side.toLowerCase(), '--entry', entry, '--qty', qty, '--leverage', leverage, '--json',
    ], { cwd: ROOT, timeout: 60_000 });
    const cli = JSON.parse(stdout) as { liquidationPriceRounded: string; leverage: number };
    expect(cli.leverage).toBe(10);
    expect(dec(shown).toFixed()).toBe(dec(cli.liquidationPriceRounded).toFixed());
  }, 120_000);

  it('shows a position of the run’s account with its liquidation meter and margin-ratio gauge', async () => {
    await page.goto(`${gateway.url}/#/accounts/${accountId}`);
    await byTestId('account-id').waitFor();
    // Positions open and close as the day replays: wait (live updates, no reload) until one is open.
    await byTestId('position-row').first().waitFor({ timeout: 240_000 });
    const row = byTestId('position-row').first();
    await row.getByTestId('liquidation-meter').waitFor();
    await row.getByTestId('margin-gauge').waitFor();
    expect(await row.getByTestId('liquidation-meter').getAttribute('data-level')).toMatch(/^(ok|warn|danger)$/);
    expect(dec(shownNumber(await row.getByTestId('position-liquidation-price').textContent())).gt(0)).toBe(true);
    // The API's view of it: opened during the replayed day (market time), and the card loads its chart without an error.
    const positions = await page.evaluate(async (id) => {
      // In the page: the dashboard keeps its access token in sessionStorage (apps/dashboard/src/api.ts).
      const session = (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage;
      const res = await fetch(`/api/accounts/${id}/positions`, { headers: { authorization: `Bearer ${session.getItem('bulwark.accessToken')}` } });
      return (await res.json()) as Array<{ openedAt: number; markTs: number | null }>;
    }, accountId);
    expect(positions.length).toBeGreaterThan(0);
    for (const p of positions) expect(p.openedAt >= REAL_DAY_FROM && p.openedAt < REAL_DAY_TO).toBe(true);
    await row.getByTestId('price-chart').waitFor();
    await new Promise((r) => setTimeout(r, 1_000));
    await expect(row.getByTestId('error').count()).resolves.toBe(0);
    await shot('04-account-live-position');
  }, 300_000);

  it('a position that closes takes its card (and chart) off the live page, the rest of the page stays', async () => {
    // The dashboard once went blank here: the chart's series were removed after the chart (an uncaught error unmounts the whole page).
    const card = page.locator(`[data-testid="position-row"][data-position="${await byTestId('position-row').first().getAttribute('data-position')}"]`);
    await card.waitFor({ state: 'detached', timeout: 240_000 });
    await expectPageWhole();
  }, 300_000);

  it('the kill switch, after its confirmation, halts the account (TradingStateChanged by the user)', async () => {
    await expectPageWhole();
    await expect(byTestId('trading-state').textContent()).resolves.toBe('ACTIVE');
    await byTestId('kill-switch').click();
    await byTestId('confirm-dialog').waitFor();
    await shot('05-kill-switch-confirm');
    await byTestId('confirm-ok').click();
    await Promise.race([demoFailed, until('trading-state HALTED', async () => (await byTestId('trading-state').textContent()) === 'HALTED', uiWait)]);
    await expect(byTestId('confirm-dialog').count()).resolves.toBe(0);
    await shot('06-halted');
    const changed = (await accountEvents()).filter((e) => e.type === 'TradingStateChanged').map((e) => e.data as { state: string; by: string });
    expect(changed).toContainEqual(expect.objectContaining({ state: 'HALTED', by: gateway.username }));
  }, 120_000);

  it('opens the audit of an order: candle → intent → assessment → order → fills', async () => {
    await byTestId('audit-link').last().click();
    const panel = byTestId('audit-panel');
    await panel.waitFor();
    const text = (await panel.textContent()) ?? '';
    for (const step of ['Candle', 'Intent', 'Assessment: why this size', 'Order', 'Fills (']) expect(text).toContain(step);
    await panel.getByTestId('audit-why-size').waitFor();
    expect(text).not.toContain('not recorded');
    await panel.scrollIntoViewIfNeeded();
    await shot('07-audit');
    await expectPageWhole();
  }, 120_000);

  it('the demo ends after the day with the same trading it reports', async () => {
    // The browser is done: the rest of the day as fast as the services take it (pace is wall time only).
    // Not paced only when the day was over already (a very slow machine).
    if (!(await paceReplay({ natsUrl: nats!.url }, accountId, 0))) await Promise.race([demoFailed, until('the replay to be done, since it was not running', () => progress?.done === true, uiWait)]);
    await expect(paceReplay({ natsUrl: nats!.url }, 'no-such-run', 0)).resolves.toBe(false);
    releaseGateway();
    const report = await demo!;
    expect(report.candles).toBe(1440);
    expect(report.fills).toBeGreaterThanOrEqual(2);
  }, 400_000);
});
