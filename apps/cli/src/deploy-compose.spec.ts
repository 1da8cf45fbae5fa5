// docker-compose.yml against the Compose Specification's JSON schema (vendored in
// deploy/compose-spec/, source and date in its README) and against the rest of deploy/: health
// checks, limits, pinned images, secrets, mounted files. No Docker engine is needed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import * as YAML from 'yaml';

const ROOT = path.resolve(__dirname, '../../..');
const SIX = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting'];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

/** docker-compose.yml as Compose reads it (YAML merge keys `<<:` resolved). */
const readCompose = (text = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')): Obj => YAML.parse(text, { merge: true });

/**
 * The compose-spec schema compiled with ajv 8. The schema names its meta-schema
 * `https://json-schema.org/draft-07/schema`; ajv ships draft-07 under the http:// id, so it is
 * registered under the https one too.
 */
function composeValidator(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const draft07 = require('ajv/dist/refs/json-schema-draft-07.json');
  ajv.addMetaSchema({ ...draft07, $id: 'https://json-schema.org/draft-07/schema' });
  const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/compose-spec/compose-spec.json'), 'utf8'));
  return ajv.compile(schema);
}
const validate = composeValidator();
const errorsOf = (doc: Obj) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));

describe('docker-compose.yml', () => {
  const compose = readCompose();
  const bulwark = [...SIX, 'alerter', 'gateway'];

  it('validates against the Compose Specification schema', () => {
    expect(errorsOf(compose)).toEqual([]);
  });

  it.each([
    ['a misspelt service key', (c: Obj) => (c.services.risk.restrat = 'always'), /\/services\/risk must NOT have additional properties .*restrat/],
    ['a misspelt healthcheck key', (c: Obj) => (c.services.nats.healthcheck.intervall = '5s'), /\/services\/nats\/healthcheck must NOT have additional properties/],
    ['a depends_on condition Compose does not know', (c: Obj) => (c.services.signals.depends_on.nats.condition = 'service_ready'), /\/services\/signals\/depends_on/],
    ['a wrongly typed limit', (c: Obj) => (c.services.risk.deploy.resources.limits.memory = 512), /\/services\/risk\/deploy\/resources\/limits\/memory must be string/],
  ])('the schema rejects %s', (_what, spoil, message) => {
    const c = readCompose();
    spoil(c);
    expect(errorsOf(c).join('\n')).toMatch(message);
  });

  it('pins every image (no latest, no bare name), also with the defaults of ${VAR:-default}', () => {
    const withDefaults = (s: string) => s.replace(/\$\{\w+:-([^}]*)\}/g, '$1');
    for (const [name, svc] of Object.entries<Obj>(compose.services)) {
      expect([name, withDefaults(svc.image)]).toEqual([name, expect.stringMatching(/^[\w./-]+:(?!latest$)[\w.-]+$/)]);
    }
    expect(compose.services.risk.image).toBe('bulwark-risk:${BULWARK_VERSION:-0.1.0}');
    expect(compose.services.kurrentdb.image).toMatch(/kurrentdb:\d+\.\d+\.\d+$/);
  });

  it.each(bulwark)('%s: health from /healthz and /readyz on 9100, limits, metrics port, traces, its own NATS seed', (name) => {
    const svc = compose.services[name];
    const test = svc.healthcheck.test.join(' ');
    expect(test).toContain("['/healthz','/readyz']");
    expect(test).toContain('http://127.0.0.1:9100');
    expect(svc.deploy.resources.limits).toEqual({ cpus: expect.any(String), memory: expect.stringMatching(/^\d+[MG]$/) });
    expect(svc.environment).toMatchObject({
      BULWARK_METRICS_PORT: '9100',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318',
      OTEL_SERVICE_NAME: name,
      NATS_URL: 'nats://nats:4222',
      NATS_NKEY_SEED_FILE: `/run/secrets/nats-${name}.nk`,
      BULWARK_EVENT_STORE: '${BULWARK_EVENT_STORE:-jetstream}',
      KURRENTDB_URL: 'kurrentdb://kurrentdb:2113?tls=false',
    });
    expect(svc.secrets).toContain(`nats-${name}.nk`);
    expect(compose.secrets[`nats-${name}.nk`]).toEqual({ file: `\${BULWARK_NATS_CREDS_DIR:-./var/nats/creds}/${name}.nk` });
    expect(svc.depends_on).toMatchObject({
      nats: { condition: 'service_healthy' },
      'nats-setup': { condition: 'service_completed_successfully' },
      kurrentdb: { condition: 'service_healthy', required: false },
    });
  });

  it('runs NATS with the rendered auth config, the set-up job as admin, and the gateway only with its profile', () => {
    const nats = compose.services.nats;
    expect(nats.command).toEqual(['-c', '/etc/nats/nats-server.conf', '-js', '-sd', '/data', '-m', '8222']);
    expect(nats.volumes).toContain('${BULWARK_NATS_CONFIG_HOST_FILE:-./var/nats/nats-server.conf}:/etc/nats/nats-server.conf:ro');
    const setup = compose.services['nats-setup'];
    expect(setup.command).toEqual(['node', 'scripts/nats-streams.js']);
    expect(setup.environment.NATS_NKEY_SEED_FILE).toBe('/run/secrets/nats-admin.nk');
    expect(setup.secrets).toEqual(['nats-admin.nk']);
    expect(setup.restart).toBe('no');
    expect(compose.services.gateway.profiles).toEqual(['gateway']);
    expect(compose.services.kurrentdb.profiles).toEqual(['kurrentdb']);
    // Only the gateway, of the Bulwark processes, publishes a port (NATS and the UIs: loopback only).
    for (const [name, svc] of Object.entries<Obj>(compose.services)) {
      for (const p of svc.ports ?? []) expect([name, p]).toEqual([name, expect.stringMatching(/^127\.0\.0\.1:/)]);
      if (SIX.includes(name)) expect(svc.ports).toBeUndefined();
    }
  });

  it('gives the alerter its Telegram token and webhook key as secret files, each read only when its channel is set', () => {
    const alerter = compose.services.alerter;
    expect(alerter.profiles).toBeUndefined();
    expect(alerter.ports).toBeUndefined();
    expect(alerter.secrets).toEqual(['nats-alerter.nk', 'telegram_bot_token', 'alert_webhook_secret']);
    expect(alerter.environment).toMatchObject({
      BULWARK_TELEGRAM_CHAT_ID: '${BULWARK_TELEGRAM_CHAT_ID:-}',
      BULWARK_TELEGRAM_TOKEN_FILE: '${BULWARK_TELEGRAM_CHAT_ID:+/run/secrets/telegram_bot_token}',
      BULWARK_WEBHOOK_URL: '${BULWARK_WEBHOOK_URL:-}',
      BULWARK_WEBHOOK_SECRET_FILE: '${BULWARK_WEBHOOK_URL:+/run/secrets/alert_webhook_secret}',
    });
    // No token, key or chat in the file itself: the secrets are host files outside git (an empty default).
    expect(compose.secrets.telegram_bot_token).toEqual({ file: '${BULWARK_TELEGRAM_TOKEN_HOST_FILE:-./deploy/no-binance-key}' });
    expect(compose.secrets.alert_webhook_secret).toEqual({ file: '${BULWARK_WEBHOOK_SECRET_HOST_FILE:-./deploy/no-binance-key}' });
    expect(fs.readFileSync(path.join(ROOT, 'deploy/no-binance-key'), 'utf8')).toBe('');
    // Prometheus scrapes it with the services.
    const prom = YAML.parse(fs.readFileSync(path.join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8'));
    const bulwarkJob = prom.scrape_configs.find((j: Obj) => j.job_name === 'bulwark');
    expect(bulwarkJob.static_configs).toContainEqual({ targets: ['alerter:9100'], labels: { service: 'alerter' } });
  });

  it('mounts files and folders that exist in the repository', () => {
    const mounts = Object.values<Obj>(compose.services).flatMap((svc) => (svc.volumes ?? []).filter((v: unknown) => typeof v === 'string' && v.startsWith('./deploy/')));
    expect(mounts.length).toBeGreaterThanOrEqual(4);
    for (const m of mounts) expect([m, fs.existsSync(path.join(ROOT, m.split(':')[0]))]).toEqual([m, true]);
  });

  it('wires Prometheus, Grafana and the collector to their configuration in deploy/', () => {
    expect(compose.services.prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(compose.services.prometheus.volumes).toContain('./deploy/prometheus:/etc/prometheus:ro');
    expect(compose.services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD__FILE).toBe('/run/secrets/grafana_admin_password');
    const otel = YAML.parse(fs.readFileSync(path.join(ROOT, 'deploy/otel/collector.yml'), 'utf8'));
    // Every component a pipeline names is defined, and the services' endpoint is the OTLP/HTTP receiver.
    for (const [, p] of Object.entries<Obj>(otel.service.pipelines)) {
      for (const r of p.receivers) expect(Object.keys(otel.receivers)).toContain(r);
      for (const x of p.processors) expect(Object.keys(otel.processors)).toContain(x);
      for (const e of p.exporters) expect(Object.keys(otel.exporters)).toContain(e);
    }
    expect(otel.receivers.otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
    expect(otel.exporters['otlp/jaeger'].endpoint).toBe('jaeger:4317');
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['otel-collector', 'jaeger']));
  });

  it('the vendored schema says where it comes from', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'deploy/compose-spec/README.md'), 'utf8');
    expect(readme).toMatch(/github\.com\/compose-spec\/compose-spec/);
    expect(readme).toMatch(/schema\/compose-spec\.json/);
    expect(readme).toMatch(/\b[0-9a-f]{40}\b/); // the commit
  });
});
