// Prometheus configuration, alert rules and Grafana dashboards (deploy/prometheus, deploy/grafana,
// k8s/base/monitoring.yaml): promtool accepts them, every PromQL expression parses with
// Prometheus's own lezer grammar, and names only metrics Bulwark's processes export
// (@bulwark/telemetry's registry, METRIC_NAMES).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BulwarkMetrics, METRIC_NAMES } from '@bulwark/telemetry';
import * as YAML from 'yaml';

/** The part of lezer's tree API used here (@prometheus-io/lezer-promql is an ES module; its CommonJS build is required). */
interface PromQLNode {
  type: { isError: boolean };
  name: string;
  from: number;
  to: number;
  node: { parent: { name: string } | null };
}
interface PromQLParser {
  parse(input: string): { iterate(spec: { enter(node: PromQLNode): void }): void };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parser } = require('@prometheus-io/lezer-promql') as { parser: PromQLParser };

const ROOT = path.resolve(__dirname, '../../..');
const PROMETHEUS_DIR = path.join(ROOT, 'deploy/prometheus');
const DASHBOARDS_DIR = path.join(ROOT, 'deploy/grafana/dashboards');

/**
 * The series a scrape of a Bulwark process can hold, from the telemetry library itself: a
 * process's registry (BulwarkMetrics: Bulwark's metrics and prom-client's Node default
 * metrics), histograms and summaries with their _bucket/_sum/_count series, and Prometheus's
 * `up`. Also checks that the registry holds every name of METRIC_NAMES (docs/observability.md).
 */
async function knownSeries(): Promise<Set<string>> {
  const metrics = await new BulwarkMetrics('deploy-check', true).registry.getMetricsAsJSON();
  const names = new Set<string>(['up']);
  for (const m of metrics) {
    names.add(m.name);
    if (String(m.type) === 'histogram' || String(m.type) === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  for (const n of METRIC_NAMES) if (!names.has(n)) throw new Error(`METRIC_NAMES lists ${n}, which BulwarkMetrics does not register`);
  return names;
}

interface ParsedExpr {
  errors: string[];
  metrics: string[];
}

/**
 * Parse one PromQL expression with @prometheus-io/lezer-promql.
 * @returns the text of every error node (empty when the expression is valid) and every metric
 *   name it selects (the Identifier of each VectorSelector)
 */
function parsePromQL(expr: string): ParsedExpr {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  const metrics: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`error at ${node.from}: ${JSON.stringify(expr.slice(Math.max(0, node.from - 10), node.to + 10))}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metrics.push(expr.slice(node.from, node.to));
    },
  });
  return { errors, metrics };
}

/** Grafana's interval variables are not PromQL: give them a value Prometheus would get. */
const withGrafanaVariables = (expr: string) => expr.replace(/\$__(rate_interval|interval|range)/g, '5m');

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const alertGroups = (): { name: string; rules: AlertRule[] }[] => YAML.parse(fs.readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')).groups;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const dashboards = (): { file: string; json: Json }[] =>
  fs
    .readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(fs.readFileSync(path.join(DASHBOARDS_DIR, file), 'utf8')) }));

/** Every PromQL expression of a dashboard: panel targets and the metric of each label_values() variable. */
function dashboardExprs(json: Json): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of json.panels ?? []) for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: withGrafanaVariables(t.expr) });
  for (const v of json.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = /^label_values\((.+),\s*[a-zA-Z_]\w*\)$/.exec(q ?? '');
    if (m) out.push({ where: `variable ${v.name}`, expr: m[1] });
  }
  return out;
}

const promtool = (() => {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
})();
const NO_PROMTOOL = 'promtool is not installed: run `bash scripts/setup.sh` (it installs Debian package prometheus, which ships promtool)';

describe('Prometheus configuration (deploy/prometheus)', () => {
  it('promtool check config accepts prometheus.yml (and finds alerts.yml)', () => {
    if (!promtool) throw new Error(NO_PROMTOOL);
    const out = execFileSync(promtool, ['check', 'config', path.join(PROMETHEUS_DIR, 'prometheus.yml')], { encoding: 'utf8', stdio: 'pipe' });
    expect(out).toMatch(/SUCCESS: 1 rule files found/);
    expect(out).toMatch(/is valid prometheus config file syntax/);
  }, 60_000);

  it('promtool check rules accepts alerts.yml', () => {
    if (!promtool) throw new Error(NO_PROMTOOL);
    const out = execFileSync(promtool, ['check', 'rules', path.join(PROMETHEUS_DIR, 'alerts.yml')], { encoding: 'utf8', stdio: 'pipe' });
    expect(out).toMatch(new RegExp(`SUCCESS: ${alertGroups().flatMap((g) => g.rules).length} rules found`));
  }, 60_000);

  it('promtool rejects a rule file with a broken expression (the check can fail)', () => {
    if (!promtool) throw new Error(NO_PROMTOOL);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-rules-'));
    try {
      const groups = alertGroups();
      groups[0].rules[0].expr = 'max by (account (bulwark_drawdown_ratio)';
      fs.writeFileSync(path.join(dir, 'alerts.yml'), YAML.stringify({ groups }));
      const r = spawnSync(promtool, ['check', 'rules', path.join(dir, 'alerts.yml')], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/parse error|unexpected/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('scrapes the six services, the alerter and the gateway on port 9100, each target labelled with its service, all as job bulwark', () => {
    const config = YAML.parse(fs.readFileSync(path.join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8'));
    const job = config.scrape_configs.find((j: Json) => j.job_name === 'bulwark');
    expect(job.honor_labels).toBe(true);
    const targets = job.static_configs.map((s: Json) => [s.targets, s.labels.service]);
    const six = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting'];
    expect(targets).toEqual([...six, 'alerter'].map((p) => [[`${p}:9100`], p]));
    // The gateway (a compose profile) by DNS, relabelled into job bulwark with service gateway.
    const gateway = config.scrape_configs.find((j: Json) => j.job_name === 'bulwark-gateway');
    expect(gateway.dns_sd_configs).toEqual([{ names: ['gateway'], type: 'A', port: 9100, refresh_interval: '30s' }]);
    expect(gateway.relabel_configs).toEqual([
      { target_label: 'job', replacement: 'bulwark' },
      { target_label: 'service', replacement: 'gateway' },
    ]);
    const processes = [...six, 'alerter', 'gateway'];
    // Each target is a service of docker-compose.yml (the network name Prometheus resolves).
    const compose = YAML.parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
    for (const p of processes) expect(Object.keys(compose.services)).toContain(p);
  });
});

describe('alert rules (deploy/prometheus/alerts.yml)', () => {
  const rules = alertGroups().flatMap((g) => g.rules);

  it('covers drawdown, margin ratio, stop coverage, readiness, dead letters, venue weight, tick-to-order, service roles and the live feed\'s lag', () => {
    const exprs = rules.map((r) => r.expr).join('\n');
    for (const metric of [
      'bulwark_drawdown_ratio',
      'bulwark_position_margin_ratio',
      'bulwark_position_stop_coverage_ratio',
      'up{job="bulwark"} == 0',
      'bulwark_dead_letters_total',
      'bulwark_venue_weight_used',
      'bulwark_tick_to_order_seconds_bucket',
      'bulwark_breaker_events_total',
      'bulwark_service_role',
      'bulwark_live_feed_lag_seconds',
    ])
      expect(exprs).toContain(metric);
    expect(rules.find((r) => r.alert === 'BulwarkStopCoverageBelowOne')?.expr).toMatch(/< 1$/);
  });

  it('alerts when a service has no active instance (critical, 30 s) and when it has no standby (warning, 10 min)', () => {
    // bulwark_service_role{service,role}: 1 for the role an instance has (active holds the lease), 0 for the other.
    const noActive = rules.find((r) => r.alert === 'BulwarkServiceNoActiveInstance');
    expect(noActive).toMatchObject({ for: '30s', labels: { severity: 'critical' } });
    // No active series at all while standbys report counts as 0 too.
    expect(noActive?.expr).toBe('(sum by (service) (bulwark_service_role{role="active"}) or 0 * sum by (service) (bulwark_service_role{role="standby"})) == 0');
    expect(noActive?.annotations?.summary).toMatch(/^\{\{ \$labels\.service \}\} .*positions of that service are not being watched/);
    const noStandby = rules.find((r) => r.alert === 'BulwarkServiceNoStandby');
    expect(noStandby).toMatchObject({ for: '10m', labels: { severity: 'warning' } });
    // Each instance reports one role="active" series: fewer than two now, after two within the last day (a single-instance compose set-up never fires).
    expect(noStandby?.expr).toBe('count by (service) (bulwark_service_role{role="active"}) < 2 and on (service) max_over_time(count by (service) (bulwark_service_role{role="active"})[1d:5m]) >= 2');
    expect(noStandby?.annotations?.summary).toMatch(/^\{\{ \$labels\.service \}\} has no standby/);
  });

  it.each(rules.map((r) => [r.alert ?? r.record ?? '?', r] as const))('%s has for:, a severity, a summary and a description', (_name, rule) => {
    expect(rule.alert).toMatch(/^Bulwark[A-Z]\w+$/);
    expect(rule.for).toMatch(/^\d+[smh]$/);
    expect(['warning', 'critical']).toContain(rule.labels?.severity);
    expect(rule.annotations?.summary?.length).toBeGreaterThan(10);
    expect(rule.annotations?.description?.length).toBeGreaterThan(10);
  });

  it('every expression parses with lezer-promql and names only known metrics', async () => {
    const known = await knownSeries();
    const problems: string[] = [];
    for (const r of rules) {
      const { errors, metrics } = parsePromQL(r.expr);
      problems.push(...errors.map((e) => `${r.alert}: ${e}`));
      problems.push(...metrics.filter((m) => !known.has(m)).map((m) => `${r.alert}: unknown metric ${m}`));
      if (metrics.length === 0) problems.push(`${r.alert}: selects no metric`);
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('k8s/base/monitoring.yaml carries the same groups as a PrometheusRule', () => {
    const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(ROOT, 'k8s/base/monitoring.yaml'), 'utf8')).map((d) => d.toJSON());
    const rule = docs.find((d) => d.kind === 'PrometheusRule');
    expect(rule.spec.groups).toEqual(alertGroups());
  });
});

describe('Grafana (deploy/grafana)', () => {
  it('provisions the Prometheus data source (uid prometheus) and a file provider for dashboards/', () => {
    const ds = YAML.parse(fs.readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'));
    expect(ds.datasources.find((d: Json) => d.type === 'prometheus')).toMatchObject({ uid: 'prometheus', url: 'http://prometheus:9090' });
    const prov = YAML.parse(fs.readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/dashboards/bulwark.yml'), 'utf8'));
    expect(prov.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards' } });
    const compose = YAML.parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
    expect(compose.services.grafana.volumes).toEqual(
      expect.arrayContaining(['./deploy/grafana/provisioning:/etc/grafana/provisioning:ro', './deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro']),
    );
  });

  it('has the Trading and System dashboards with the panels the runbook names', () => {
    const byUid = Object.fromEntries(dashboards().map((d) => [d.json.uid, d.json]));
    const titles = (uid: string) => byUid[uid].panels.map((p: Json) => p.title);
    expect(titles('bulwark-trading')).toEqual(
      expect.arrayContaining(['Equity', 'Drawdown', 'Open positions', 'Liquidation distance', 'Margin ratio', 'Breakers', 'Entry denials by reason']),
    );
    expect(titles('bulwark-system')).toEqual(
      expect.arrayContaining(['Event appends per second', 'Tick to order', 'Consumer lag', 'Dead letters', 'Venue request latency', 'Venue request weight', 'Memory per service', 'Live feed lag']),
    );
  });

  it.each(dashboards().map((d) => [d.file, d.json] as const))('%s: unique panel ids, every target on the provisioned data source', (_file, json) => {
    const ids = json.panels.map((p: Json) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of json.panels) {
      expect(p.targets.length).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.datasource).toEqual({ type: 'prometheus', uid: 'prometheus' });
    }
  });

  it('every dashboard expression parses with lezer-promql and names only known metrics', async () => {
    const known = await knownSeries();
    const problems: string[] = [];
    let count = 0;
    for (const { file, json } of dashboards()) {
      for (const { where, expr } of dashboardExprs(json)) {
        count++;
        const { errors, metrics } = parsePromQL(expr);
        problems.push(...errors.map((e) => `${file} ${where}: ${e}`));
        problems.push(...metrics.filter((m) => !known.has(m)).map((m) => `${file} ${where}: unknown metric ${m}`));
      }
    }
    expect(problems).toEqual([]);
    expect(count).toBeGreaterThan(20);
  }, 60_000);

  it('the checks catch a misspelt metric and a broken expression', async () => {
    const known = await knownSeries();
    const misspelt = parsePromQL('sum by (account) (bulwark_equity_usd{account=~"$account"})');
    expect(misspelt.errors).toEqual([]);
    expect(misspelt.metrics.filter((m) => !known.has(m))).toEqual(['bulwark_equity_usd']);
    expect(parsePromQL(withGrafanaVariables('sum by (le (rate(bulwark_tick_to_order_seconds_bucket[$__rate_interval]))')).errors.length).toBeGreaterThan(0);
    expect(known.has('process_resident_memory_bytes')).toBe(true);
    expect(known.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
  }, 60_000);
});
