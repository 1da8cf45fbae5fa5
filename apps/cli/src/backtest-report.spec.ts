import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type BacktestResult, backtestReportData, runBacktest } from '@bulwark/application';
import { BTCUSDT_FILES } from '@bulwark/testing';
import { backtestHtml, ReportTemplateError, reportTemplateFile, scriptJson } from './backtest-report';

const DASHBOARD = path.resolve(__dirname, '../../dashboard');
const PLACEHOLDER = /<script type="application\/json" id="bulwark-report">([\s\S]*?)<\/script>/;

// The report data itself (candles, levels, drawdown): libs/application/src/backtest-report-data.spec.ts.
describe('report page helpers', () => {
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
      accountId: 'bt-report-spec', candles: BTCUSDT_FILES.candles1m, funding: BTCUSDT_FILES.fundingRates,
      capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true, from: Date.parse('2025-11-21T00:00:00Z'), to: Date.parse('2025-11-22T00:00:00Z'),
    });
  }, 300_000);

  it('embeds the report data (libs/application backtestReportData) so that it round-trips', async () => {
    const data = await backtestReportData(r, 'Bulwark backtest </script> & <b>$&</b>');
    const html = backtestHtml(data);
    const json = PLACEHOLDER.exec(html)?.[1];
    expect(json).toBeDefined();
    expect(JSON.parse(json!)).toEqual(JSON.parse(JSON.stringify(data)));
    expect(html).toContain('<title>Bulwark backtest &lt;/script&gt; &amp; &lt;b&gt;$&amp;&lt;/b&gt;</title>');

    expect(data.candles).toHaveLength(1440);
    expect(data.result.trades.length).toBeGreaterThan(0);
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
