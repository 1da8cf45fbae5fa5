import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type BacktestResult, runBacktest } from '@bulwark/application';
import { dec } from '@bulwark/domain';
import { backtestHtml, backtestReportData, mergeBars, ReportTemplateError, reportTemplateFile, scriptJson, withDrawdown } from './backtest-report';

const DATA = process.env.BULWARK_DATA_DIR ?? path.resolve(__dirname, '../../../../shared/data');
const FUT = path.join(DATA, 'binance-usdm/BTCUSDT');
const DASHBOARD = path.resolve(__dirname, '../../dashboard');
const PLACEHOLDER = /<script type="application\/json" id="bulwark-report">([\s\S]*?)<\/script>/;

describe('report helpers', () => {
  it('merges bars: open of the first, close of the last, extreme high and low; a short tail stays a bar', () => {
    const bars = [
      { openTime: 0, open: '10', high: '12', low: '9', close: '11' },
      { openTime: 60_000, open: '11', high: '15.5', low: '10', close: '14' },
      { openTime: 120_000, open: '14', high: '14.2', low: '8.25', close: '9' },
      { openTime: 180_000, open: '9', high: '9.5', low: '7', close: '7.5' },
    ];
    expect(mergeBars(bars, 3)).toEqual([
      { openTime: 0, open: '10', high: '15.5', low: '8.25', close: '9' },
      { openTime: 180_000, open: '9', high: '9.5', low: '7', close: '7.5' },
    ]);
    expect(mergeBars(bars, 1)).toEqual(bars);
  });

  it('gives each equity point its drawdown from the running peak as a fraction', () => {
    expect(withDrawdown([{ t: 1, equity: '10000' }, { t: 2, equity: '9500' }, { t: 3, equity: '10500' }, { t: 4, equity: '9450' }])).toEqual([
      { t: 1, equity: '10000', drawdownFraction: '0' },
      { t: 2, equity: '9500', drawdownFraction: '0.05' },
      { t: 3, equity: '10500', drawdownFraction: '0' },
      { t: 4, equity: '9450', drawdownFraction: '0.1' },
    ]);
  });

  it('escapes JSON for a <script> element so that it round-trips', () => {
    const v = { s: '</script><script>alert(1)</script><!-- \u2028 \u2029 $& $1' };
    const j = scriptJson(v);
    expect(j).not.toMatch(/<\/|<!--|\u2028|\u2029/);
    expect(JSON.parse(j)).toEqual(v);
  });

  it('refuses a missing template with a typed error naming the file', () => {
    const missing = path.join(os.tmpdir(), 'no-such-bulwark-template.html');
    expect(() => backtestHtml({ title: 't' } as never, missing)).toThrow(ReportTemplateError);
    const bad = path.join(mkdtempSync(path.join(os.tmpdir(), 'bulwark-tpl-')), 'report.html');
    writeFileSync(bad, '<html><body></body></html>');
    expect(() => backtestHtml({ title: 't' } as never, bad)).toThrow(/no <script type="application\/json" id="bulwark-report">/);
  });
});

describe('backtestHtml on a real one-day backtest (BTCUSDT 2025-11-21, 10x, 1 %)', () => {
  let r: BacktestResult;

  beforeAll(async () => {
    // The page is the dashboard's one-file report build; build it when this checkout has not.
    if (!existsSync(reportTemplateFile())) {
      const b = spawnSync('npx', ['vite', 'build', '--config', 'vite.report.config.mts'], { cwd: DASHBOARD, encoding: 'utf8', timeout: 240_000 });
      if (b.status !== 0) throw new Error(`dashboard report build failed: ${b.stderr || b.stdout}`);
    }
    r = await runBacktest({
      accountId: 'bt-report-spec', candles: path.join(FUT, 'klines-1m/BTCUSDT-1m-2025-11-10_2025-12-10.csv'), funding: path.join(FUT, 'funding-rates.csv'),
      capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true, from: Date.parse('2025-11-21T00:00:00Z'), to: Date.parse('2025-11-22T00:00:00Z'),
    });
  }, 300_000);

  it('embeds report data that round-trips, with the candles and every trade\'s levels', async () => {
    const data = await backtestReportData(r, 'Bulwark backtest </script> & <b>$&</b>');
    const html = backtestHtml(data);
    const json = PLACEHOLDER.exec(html)?.[1];
    expect(json).toBeDefined();
    expect(JSON.parse(json!)).toEqual(JSON.parse(JSON.stringify(data)));
    expect(html).toContain('<title>Bulwark backtest &lt;/script&gt; &amp; &lt;b&gt;$&amp;&lt;/b&gt;</title>');

    // The day's 1440 one-minute candles, not downsampled; the run without its store.
    expect(data.candles).toHaveLength(1440);
    expect(data.chart).toEqual({ sourceBars: 1440, shownBars: 1440, barMs: 60_000, sourceBarMs: 60_000 });
    expect(data.candles[0].openTime).toBe(Date.parse('2025-11-21T00:00:00Z'));
    expect(data.result).not.toHaveProperty('store');
    expect(data.equity[0]).toEqual({ t: Date.parse('2025-11-21T00:00:00Z'), equity: '10000', drawdownFraction: '0' });
    const maxDd = data.equity.reduce((m, p) => (dec(p.drawdownFraction).gt(m) ? dec(p.drawdownFraction) : m), dec(0));
    expect(maxDd.gt(0)).toBe(true);

    expect(data.result.trades.length).toBe(r.trades.length);
    expect(r.trades.length).toBeGreaterThan(0);
    for (const t of data.result.trades) {
      for (const k of ['quantity', 'entryPrice', 'exitPrice', 'stopPrice', 'liquidationPrice'] as const) expect(t[k]).toMatch(/^\d+(\.\d+)?$/);
      const [entry, stop, liq] = [dec(t.entryPrice!), dec(t.stopPrice!), dec(t.liquidationPrice!)];
      // The stop sits between the entry and the liquidation price: risk closes the position first.
      if (t.side === 'LONG') expect(liq.lt(stop) && stop.lt(entry)).toBe(true);
      else expect(liq.gt(stop) && stop.gt(entry)).toBe(true);
      if (t.takeProfitPrice !== null) expect(t.side === 'LONG' ? dec(t.takeProfitPrice).gt(entry) : dec(t.takeProfitPrice).lt(entry)).toBe(true);
    }
  }, 120_000);

  it('is one file: no external src= or href=, scripts and styles inlined', async () => {
    const html = backtestHtml(await backtestReportData(r, 'one file'));
    expect(html).not.toMatch(/<script[^>]*\ssrc\s*=/i);
    expect(html).not.toMatch(/<link[^>]*\shref\s*=/i);
    expect(html).not.toMatch(/\s(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).toMatch(/<script type="module"[^>]*>[\s\S]{10000,}?<\/script>/);
    expect(html).toMatch(/<style[^>]*>[\s\S]+?<\/style>/);
  }, 120_000);
});
