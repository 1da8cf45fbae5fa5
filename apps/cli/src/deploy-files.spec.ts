// Static checks of docker-compose.yml, deploy/Dockerfile and k8s/base/ (no Docker engine or
// cluster needed). The checks live in scripts/validate-deploy.js so they also run from the
// command line: `node scripts/validate-deploy.js`. The schemas and the rendered overlays are
// checked by deploy-compose.spec.ts, deploy-k8s.int.spec.ts and deploy-prometheus.int.spec.ts.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

interface K8sFile {
  file: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  docs: any[];
}
interface ValidateDeployModule {
  SERVICES: string[];
  validateDeploy(root?: string, opts?: { services?: string[] }): { problems: string[]; services: string[] };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readCompose(root?: string): any;
  readK8s(root?: string): K8sFile[];
  envMap(environment: unknown): Record<string, string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  loadYamlDocuments(file: string): any[];
  GATEWAY_SECRET_FILES: string[];
}
/** services/gateway/src/config.ts, loaded from source like the workspace libraries (jest.preset.js). */
interface GatewayConfigModule {
  gatewayConfigFromEnv(env: NodeJS.ProcessEnv): { host: string; port: number; tls: { cert: Buffer; key: Buffer } | null; jwtSecret: Uint8Array };
}

const ROOT = path.resolve(__dirname, '../../..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const deploy = require(path.join(ROOT, 'scripts/validate-deploy.js')) as ValidateDeployModule;
// eslint-disable-next-line @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any
const YAML = require('yaml') as { stringify(value: unknown): string; parse(text: string): any };

const SIX = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting'];

describe('deployment files', () => {
  it('knows the six services, and services/ holds no others but the alerter and the gateway', () => {
    expect([...deploy.SERVICES].sort()).toEqual([...SIX].sort());
    const onDisk = fs
      .readdirSync(path.join(ROOT, 'services'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    for (const name of onDisk) expect([...SIX, 'alerter', 'gateway']).toContain(name);
  });

  it('passes every check', () => {
    expect(deploy.validateDeploy(ROOT).problems).toEqual([]);
  });

  describe('docker-compose.yml', () => {
    const compose = deploy.readCompose(ROOT);

    it.each(SIX)('runs %s from deploy/Dockerfile with NATS_URL, after a healthy nats', (name) => {
      const svc = compose.services[name];
      expect(svc).toBeDefined();
      expect(svc.build.dockerfile).toBe('deploy/Dockerfile');
      expect(deploy.envMap(svc.build.args).SERVICE).toBe(name);
      const env = deploy.envMap(svc.environment);
      expect(env.NATS_URL).toBe('nats://nats:4222');
      expect(env.BULWARK_DATA_DIR).toBe('/data/market');
      expect(svc.depends_on.nats.condition).toBe('service_healthy');
      expect(svc.restart).toBe('unless-stopped');
    });

    it('runs nats with JetStream on a volume and a healthcheck', () => {
      const nats = compose.services.nats;
      expect(nats.command).toEqual(expect.arrayContaining(['-js', '-sd', '/data']));
      expect(nats.volumes.some((v: string) => v.endsWith(':/data'))).toBe(true);
      expect(nats.healthcheck.test.join(' ')).toContain('8222');
    });
  });

  it('deploy/Dockerfile declares ARG SERVICE and runs as a non-root user', () => {
    const text = fs.readFileSync(path.join(ROOT, 'deploy/Dockerfile'), 'utf8');
    expect(text).toMatch(/^ARG SERVICE\b/m);
    expect(text).toMatch(/^USER (?!root)\S+/m);
  });

  describe('k8s/base/', () => {
    const files = deploy.readK8s(ROOT);
    const objects = files.filter((f) => f.file !== 'kustomization.yaml').flatMap((f) => f.docs);

    it('kustomization.yaml lists every other YAML file in k8s/base/', () => {
      const kust = files.find((f) => f.file === 'kustomization.yaml')!.docs[0];
      const others = files.map((f) => f.file).filter((f) => f !== 'kustomization.yaml');
      expect([...kust.resources].sort()).toEqual(others.sort());
      expect(kust.namespace).toBe('bulwark');
    });

    it.each(SIX)('has a Deployment for %s on the shared ConfigMap, 2 replicas rolled out without a gap', (name) => {
      const dep = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
      expect(dep).toBeDefined();
      // One active (holds the lease), one standby; a new pod is Ready before an old one stops.
      expect(dep.spec.replicas).toBe(2);
      expect(dep.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
      const c = dep.spec.template.spec.containers[0];
      expect(c.command).toEqual(['node', `services/${name}/dist/main.js`]);
      expect(c.envFrom).toEqual([{ configMapRef: { name: 'bulwark-config' } }]);
      expect(c.resources.requests).toBeDefined();
      expect(c.resources.limits).toBeDefined();
      // /healthz and /readyz on the metrics port the container declares (BULWARK_METRICS_PORT).
      expect(c.ports).toEqual([{ name: 'metrics', containerPort: 9100 }]);
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    });

    it('runs the alerter with exactly 1 replica (it takes no lease)', () => {
      const dep = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'alerter');
      expect(dep.spec.replicas).toBe(1);
    });

    it('runs NATS as a StatefulSet with JetStream on a PVC', () => {
      const sts = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats');
      expect(sts.spec.template.spec.containers[0].args).toEqual(['-c', '/etc/nats/nats.conf']);
      const natsConf = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'nats-config').data['nats.conf'];
      expect(natsConf).toMatch(/store_dir: \/data\/jetstream/);
      expect(sts.spec.template.spec.containers[0].volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
      expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'bulwark-config');
      expect(cm.data.NATS_URL).toBe('nats://nats:4222');
    });
  });

  describe('the venue of the execution service (libs/application/src/venue-config.ts)', () => {
    const compose = deploy.readCompose(ROOT);
    const k8s = deploy.readK8s(ROOT).filter((f) => f.file !== 'kustomization.yaml').flatMap((f) => f.docs);
    const execution = k8s.find((o) => o.kind === 'Deployment' && o.metadata.name === 'execution');
    const container = execution.spec.template.spec.containers[0];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const k8sEnv = (name: string) => (container.env as any[]).find((e) => e.name === name);
    const composeEnv = deploy.envMap(compose.services.execution.environment);

    /** The variables venue-config.ts reads: `env.NAME`, and `secretFromEnv(env, 'NAME')` = NAME or NAME_FILE. */
    const readByVenueConfig = (() => {
      const src = fs.readFileSync(path.join(ROOT, 'libs/application/src/venue-config.ts'), 'utf8');
      const names = new Set<string>();
      for (const m of src.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)) names.add(m[1]);
      for (const m of src.matchAll(/secretFromEnv\(env, '([A-Z][A-Z0-9_]*)'\)/g)) names.add(m[1]).add(`${m[1]}_FILE`);
      return names;
    })();
    const venueVar = (n: string) => /^(BINANCE_|BULWARK_(VENUE|ACCOUNT_ID|ACCOUNTS_FILE|RECONCILE|LIVE))/.test(n);
    const REQUIRED = ['BULWARK_VENUE', 'BULWARK_ACCOUNT_ID', 'BULWARK_RECONCILE_SECONDS', 'BINANCE_API_KEY_FILE', 'BINANCE_API_SECRET_FILE'];

    it('venue-config.ts reads every variable the deploy files are built on', () => {
      for (const n of [...REQUIRED, 'BULWARK_LIVE_TRADING', 'BULWARK_VENUE_REST', 'BULWARK_VENUE_WS']) expect(readByVenueConfig).toContain(n);
    });

    it('compose gives execution the venue variables, each one venue-config.ts reads, paper by default', () => {
      for (const n of REQUIRED) expect(Object.keys(composeEnv)).toContain(n);
      for (const n of Object.keys(composeEnv).filter(venueVar)) expect(readByVenueConfig).toContain(n);
      expect(composeEnv.BULWARK_VENUE).toBe('${BULWARK_VENUE:-paper}');
      expect(composeEnv.BULWARK_RECONCILE_SECONDS).toBe('${BULWARK_RECONCILE_SECONDS:-60}');
      expect(composeEnv.BINANCE_API_KEY_FILE).toBe('/run/secrets/binance_api_key');
      expect(composeEnv.BINANCE_API_SECRET_FILE).toBe('/run/secrets/binance_api_secret');
    });

    it('compose passes the keys as secrets from files (empty by default), to execution and the local venue only', () => {
      expect(compose.secrets).toMatchObject({
        binance_api_key: { file: '${BINANCE_API_KEY_HOST_FILE:-./deploy/no-binance-key}' },
        binance_api_secret: { file: '${BINANCE_API_SECRET_HOST_FILE:-./deploy/no-binance-key}' },
      });
      expect(fs.statSync(path.join(ROOT, 'deploy/no-binance-key')).size).toBe(0); // a key written here fails this test
      const withSecrets = Object.entries(compose.services as Record<string, { secrets?: string[] }>)
        .map(([name, svc]) => [name, (svc.secrets ?? []).filter((s) => s.startsWith('binance_'))] as const)
        .filter(([, secrets]) => secrets.length > 0);
      expect(withSecrets).toEqual([
        ['execution', ['binance_api_key', 'binance_api_secret']],
        ['venue', ['binance_api_key', 'binance_api_secret']],
      ]);
    });

    it('compose runs the local venue only with the local-venue profile, and execution points at it', () => {
      const venue = compose.services.venue;
      expect(venue.profiles).toEqual(['local-venue']);
      expect(venue.build.dockerfile).toBe('deploy/Dockerfile');
      expect(venue.command.join(' ')).toContain('exec node apps/cli/bin/bulwark.js venue serve --port 8090 --host 0.0.0.0 --account "$${BULWARK_ACCOUNT_ID');
      expect(venue.command.join(' ')).toContain('BINANCE_API_KEY="$$(cat /run/secrets/binance_api_key)"');
      expect(deploy.envMap(venue.environment).BULWARK_DATA_DIR).toBe('/data/market');
      expect(venue.healthcheck.test.join(' ')).toContain('http://127.0.0.1:8090/fapi/v1/ping');
      expect(composeEnv.BULWARK_VENUE_REST).toBe('${BULWARK_VENUE_REST:-http://venue:8090}');
      expect(composeEnv.BULWARK_VENUE_WS).toBe('${BULWARK_VENUE_WS:-ws://venue:8090}');
      expect(compose.services.execution.depends_on.venue).toEqual({ condition: 'service_healthy', required: false });
      for (const name of SIX) expect(compose.services[name].profiles).toBeUndefined();
    });

    it('the image carries the CLI the venue service runs', () => {
      const text = fs.readFileSync(path.join(ROOT, 'deploy/Dockerfile'), 'utf8');
      expect(text).toMatch(/tar -cf - .*libs\/\*\/dist services\/\*\/dist apps\/cli\/dist apps\/cli\/bin/);
    });

    it('k8s gives execution the venue from ConfigMap bulwark-venue (paper) and the keys as files from Secret bulwark-binance', () => {
      const cm = k8s.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'bulwark-venue');
      expect(cm.data).toEqual({ BULWARK_VENUE: 'paper', BULWARK_ACCOUNT_ID: '', BULWARK_ACCOUNTS_FILE: '', BULWARK_RECONCILE_SECONDS: '60', BULWARK_LIVE_TRADING: 'no' });
      const names = (container.env as { name: string }[]).map((e) => e.name);
      for (const n of REQUIRED) expect(names).toContain(n);
      for (const n of names.filter(venueVar)) expect(readByVenueConfig).toContain(n);
      for (const n of ['BULWARK_VENUE', 'BULWARK_ACCOUNT_ID', 'BULWARK_ACCOUNTS_FILE', 'BULWARK_RECONCILE_SECONDS', 'BULWARK_LIVE_TRADING']) {
        expect(k8sEnv(n).valueFrom.configMapKeyRef).toEqual({ name: 'bulwark-venue', key: n });
        expect(Object.keys(cm.data)).toContain(n);
      }
      expect(k8sEnv('BINANCE_API_KEY_FILE').value).toBe('/var/run/secrets/bulwark/binance/api-key');
      expect(k8sEnv('BINANCE_API_SECRET_FILE').value).toBe('/var/run/secrets/bulwark/binance/api-secret');
      expect(container.volumeMounts).toContainEqual({ name: 'binance-keys', mountPath: '/var/run/secrets/bulwark/binance', readOnly: true });
      const vol = execution.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'binance-keys');
      expect(vol.secret).toMatchObject({ secretName: 'bulwark-binance', optional: true, items: [{ key: 'api-key', path: 'api-key' }, { key: 'api-secret', path: 'api-secret' }] });
      expect(execution.spec.template.spec.securityContext.fsGroup).toBe(1000); // 0440 files readable by the node user
      for (const dep of k8s.filter((o) => o.kind === 'Deployment' && o.metadata.name !== 'execution')) {
        expect(JSON.stringify(dep)).not.toContain('bulwark-binance');
        expect(JSON.stringify(dep)).not.toContain('bulwark-accounts');
      }
    });

    it('k8s mounts an accounts file and its key files from the optional Secret bulwark-accounts, for execution\'s many accounts', () => {
      expect(container.volumeMounts).toContainEqual({ name: 'accounts', mountPath: '/var/run/secrets/bulwark/accounts', readOnly: true });
      const vol = execution.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'accounts');
      expect(vol.secret).toEqual({ secretName: 'bulwark-accounts', optional: true, defaultMode: 288 });
      const example = YAML.parse(fs.readFileSync(path.join(ROOT, 'k8s/examples/accounts-secret.example.yaml'), 'utf8'));
      expect(example).toMatchObject({ kind: 'Secret', metadata: { name: 'bulwark-accounts', namespace: 'bulwark' } });
      expect(Object.keys(example.stringData)).toContain('accounts.json');
      for (const v of Object.values(example.stringData)) expect(v).toMatch(/^REPLACE_WITH_/);
    });

    it('k8s/examples/secret.example.yaml shows the Secret with placeholders, and the base kustomization does not include it', () => {
      const file = path.join(ROOT, 'k8s/examples/secret.example.yaml');
      const text = fs.readFileSync(file, 'utf8');
      expect(text).toMatch(/Real API keys NEVER go into git/);
      expect(text).toContain('kubectl -n bulwark create secret generic bulwark-binance');
      const secret = YAML.parse(text);
      expect(secret).toMatchObject({ kind: 'Secret', metadata: { name: 'bulwark-binance', namespace: 'bulwark' } });
      expect(Object.keys(secret.stringData).sort()).toEqual(['api-key', 'api-secret']);
      for (const v of Object.values(secret.stringData)) expect(v).toMatch(/^REPLACE_WITH_YOUR_BINANCE_API_(KEY|SECRET)$/);
      const kust = deploy.readK8s(ROOT).find((f) => f.file === 'kustomization.yaml')!.docs[0];
      expect(JSON.stringify(kust)).not.toMatch(/secret|examples/i);
      expect(k8s.some((o) => o.kind === 'Secret')).toBe(false);
    });

    it('no deploy file holds a key: no BINANCE_API_KEY / _SECRET values, no 64-character key-like strings', () => {
      const files = ['docker-compose.yml', ...fs.readdirSync(path.join(ROOT, 'deploy'), { recursive: true }).map((f) => `deploy/${String(f)}`), ...fs.readdirSync(path.join(ROOT, 'k8s'), { recursive: true }).map((f) => `k8s/${String(f)}`)].filter(
        (f) => fs.statSync(path.join(ROOT, f)).isFile(),
      );
      for (const f of files) {
        const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
        expect({ f, key: text.match(/[A-Za-z0-9]{64}/)?.[0] }).toEqual({ f, key: undefined });
        // A value may only be read from a secret file (the venue service's `BINANCE_API_KEY="$$(cat /run/secrets/…)"`).
        expect({ f, env: text.match(/BINANCE_API_(KEY|SECRET)\s*[:=]\s*(?!"\$\$\(cat \/run\/secrets\/binance_api_(key|secret)\)")\S+/)?.[0] }).toEqual({ f, env: undefined });
      }
      expect(Object.keys(composeEnv).filter((n) => /^BINANCE_API_(KEY|SECRET)$/.test(n))).toEqual([]);
      expect((container.env as { name: string }[]).filter((e) => /^BINANCE_API_(KEY|SECRET)$/.test(e.name))).toEqual([]);
    });
  });

  describe('the gateway (services/gateway/src/config.ts): its JWT key and TLS files, never plain HTTP beyond loopback', () => {
    const compose = deploy.readCompose(ROOT);
    const gateway = compose.services.gateway;
    const composeEnv = deploy.envMap(gateway.environment);
    const component = deploy.loadYamlDocuments(path.join(ROOT, 'k8s/components/gateway/gateway.yaml'));
    const k8sDeployment = component.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway');
    const k8sPod = k8sDeployment.spec.template.spec;
    const k8sContainer = k8sPod.containers[0];
    const k8sEnv: Record<string, string> = Object.fromEntries(k8sContainer.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { gatewayConfigFromEnv } = require(path.join(ROOT, 'services/gateway/src/config.ts')) as GatewayConfigModule;

    /** Compose's `${VAR:-default}` / `${VAR:+alt}` as with VAR unset. */
    const unsetDefaults = (env: Record<string, string>) =>
      Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{\w+:-([^}]*)\}/g, '$1').replace(/\$\{\w+:\+[^}]*\}/g, '')]));

    /** The deployed environment with its secret files (under `mountDir`) moved to a temporary folder holding real-looking files. */
    function withSecretFiles(env: Record<string, string>, mountDir: string, run: (env: NodeJS.ProcessEnv) => void): void {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-gateway-secrets-'));
      try {
        const local: NodeJS.ProcessEnv = {};
        for (const [k, v] of Object.entries(env)) {
          if (!deploy.GATEWAY_SECRET_FILES.includes(k)) {
            local[k] = v;
            continue;
          }
          expect([k, v.startsWith(`${mountDir}/`)]).toEqual([k, true]);
          const file = path.join(tmp, path.basename(v));
          fs.writeFileSync(file, k === 'BULWARK_JWT_SECRET_FILE' ? randomBytes(48).toString('base64') : `-----BEGIN ${k}-----\n`, { mode: 0o600 });
          local[k] = file;
        }
        run(local);
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    }

    it('compose: HTTPS on 0.0.0.0 with the JWT key, certificate and key as compose secrets from host files, published on the host loopback only', () => {
      expect(gateway.profiles).toEqual(['gateway']);
      expect(composeEnv).toMatchObject({
        BULWARK_GATEWAY_HOST: '0.0.0.0',
        BULWARK_GATEWAY_PORT: '8080',
        BULWARK_JWT_SECRET_FILE: '/run/secrets/gateway_jwt_secret',
        BULWARK_TLS_CERT_FILE: '/run/secrets/gateway_tls_cert',
        BULWARK_TLS_KEY_FILE: '/run/secrets/gateway_tls_key',
        BULWARK_DATA_DIR: '/data/market',
      });
      expect(gateway.secrets).toEqual(['nats-gateway.nk', 'gateway_jwt_secret', 'gateway_tls_cert', 'gateway_tls_key']);
      expect(compose.secrets).toMatchObject({
        gateway_jwt_secret: { file: '${BULWARK_JWT_SECRET_HOST_FILE:-./var/gateway/jwt-secret}' },
        gateway_tls_cert: { file: '${BULWARK_TLS_CERT_HOST_FILE:-./var/gateway/tls.crt}' },
        gateway_tls_key: { file: '${BULWARK_TLS_KEY_HOST_FILE:-./var/gateway/tls.key}' },
      });
      // The defaults are under var/, which git ignores (set-up makes var/gateway/jwt-secret there).
      expect(fs.readFileSync(path.join(ROOT, '.gitignore'), 'utf8')).toMatch(/^\/?var\/?$/m);
      expect(gateway.ports).toEqual(['127.0.0.1:${BULWARK_GATEWAY_HOST_PORT:-8080}:8080']);
      // No other service is given the gateway's secrets.
      for (const [name, svc] of Object.entries(compose.services as Record<string, { secrets?: string[] }>)) {
        if (name !== 'gateway') expect([name, (svc.secrets ?? []).filter((x) => x.startsWith('gateway_'))]).toEqual([name, []]);
      }
    });

    it('k8s: HTTPS on 0.0.0.0 with the JWT key, certificate and key from Secret bulwark-gateway, mounted read-only; one replica, PDB maxUnavailable 1', () => {
      expect(k8sEnv).toMatchObject({
        BULWARK_GATEWAY_HOST: '0.0.0.0',
        BULWARK_GATEWAY_PORT: '8080',
        BULWARK_JWT_SECRET_FILE: '/var/run/secrets/bulwark/gateway/jwt-secret',
        BULWARK_TLS_CERT_FILE: '/var/run/secrets/bulwark/gateway/tls.crt',
        BULWARK_TLS_KEY_FILE: '/var/run/secrets/bulwark/gateway/tls.key',
      });
      expect(k8sContainer.volumeMounts).toContainEqual({ name: 'gateway-secrets', mountPath: '/var/run/secrets/bulwark/gateway', readOnly: true });
      const vol = k8sPod.volumes.find((v: { name: string }) => v.name === 'gateway-secrets');
      expect(vol.secret).toEqual({
        secretName: 'bulwark-gateway',
        defaultMode: 0o440,
        items: ['jwt-secret', 'tls.crt', 'tls.key'].map((k) => ({ key: k, path: k })),
      });
      expect(k8sPod.securityContext.fsGroup).toBe(1000); // 0440 files readable by the node user
      expect(k8sContainer.ports).toContainEqual({ name: 'https', containerPort: 8080 });
      expect(k8sDeployment.spec.replicas).toBe(1);
      expect(component.find((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'gateway').spec.maxUnavailable).toBe(1);
      const example = YAML.parse(fs.readFileSync(path.join(ROOT, 'k8s/examples/gateway-secret.example.yaml'), 'utf8'));
      expect(example).toMatchObject({ kind: 'Secret', metadata: { name: 'bulwark-gateway', namespace: 'bulwark' } });
      expect(Object.keys(example.stringData).sort()).toEqual(['jwt-secret', 'tls.crt', 'tls.key']);
    });

    it.each([
      ['compose', () => unsetDefaults(composeEnv), '/run/secrets'],
      ['k8s', () => k8sEnv, '/var/run/secrets/bulwark/gateway'],
    ] as const)("%s: the gateway's own configuration accepts the deployed environment, and refuses it without the TLS files", (_where, env, mountDir) => {
      withSecretFiles(env(), mountDir, (local) => {
        const config = gatewayConfigFromEnv(local);
        expect(config.host).toBe('0.0.0.0');
        expect(config.port).toBe(8080);
        expect(config.tls).not.toBeNull();
        expect(config.jwtSecret.length).toBeGreaterThanOrEqual(32);
        const { BULWARK_TLS_CERT_FILE: _c, BULWARK_TLS_KEY_FILE: _k, ...plain } = local;
        expect(() => gatewayConfigFromEnv(plain)).toThrow(/BULWARK_GATEWAY_HOST=0\.0\.0\.0 is not loopback/);
      });
    });
  });

  describe('the validator catches', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-deploy-'));
      fs.mkdirSync(path.join(dir, 'deploy'));
      fs.mkdirSync(path.join(dir, 'k8s'));
      fs.copyFileSync(path.join(ROOT, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
      fs.copyFileSync(path.join(ROOT, 'deploy/Dockerfile'), path.join(dir, 'deploy/Dockerfile'));
      fs.cpSync(path.join(ROOT, 'k8s'), path.join(dir, 'k8s'), { recursive: true }); // with k8s/examples/
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const problems = () => deploy.validateDeploy(dir, { services: SIX }).problems;
    const editCompose = (edit: (c: ReturnType<ValidateDeployModule['readCompose']>) => void) => {
      const c = deploy.readCompose(dir);
      edit(c);
      fs.writeFileSync(path.join(dir, 'docker-compose.yml'), YAML.stringify(c));
    };

    it('an untouched copy as clean', () => {
      expect(problems()).toEqual([]);
    });

    it('a service missing from compose', () => {
      editCompose((c) => delete c.services.risk);
      expect(problems()).toEqual(['docker-compose.yml: service risk is missing']);
    });

    it('a compose service without NATS_URL', () => {
      editCompose((c) => {
        c.services.signals.environment = { BULWARK_DATA_DIR: '/data/market' };
      });
      expect(problems()).toEqual(['docker-compose.yml: service signals has no NATS_URL in its environment']);
    });

    it('a Dockerfile without ARG SERVICE', () => {
      const f = path.join(dir, 'deploy/Dockerfile');
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(/^ARG SERVICE.*$/m, ''));
      expect(problems()).toEqual(['deploy/Dockerfile: no ARG SERVICE']);
    });

    it('a k8s file the kustomization does not list', () => {
      fs.writeFileSync(path.join(dir, 'k8s/base/extra.yaml'), 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n');
      expect(problems()).toEqual(['k8s/base/kustomization.yaml does not list extra.yaml']);
    });

    it('a gateway beyond loopback without TLS files, in compose and in k8s', () => {
      editCompose((c) => {
        delete c.services.gateway.environment.BULWARK_TLS_CERT_FILE;
      });
      const f = path.join(dir, 'k8s/components/gateway/gateway.yaml');
      const tlsEnv = '            - name: BULWARK_TLS_CERT_FILE\n              value: /var/run/secrets/bulwark/gateway/tls.crt\n            - name: BULWARK_TLS_KEY_FILE\n              value: /var/run/secrets/bulwark/gateway/tls.key\n';
      const text = fs.readFileSync(f, 'utf8');
      expect(text).toContain(tlsEnv);
      fs.writeFileSync(f, text.replace(tlsEnv, ''));
      expect(problems()).toEqual([
        'docker-compose.yml: service gateway listens on 0.0.0.0 without BULWARK_TLS_CERT_FILE and BULWARK_TLS_KEY_FILE: plain HTTP beyond loopback (the gateway refuses to start)',
        'k8s/components/gateway/gateway.yaml: Deployment gateway listens on 0.0.0.0 without BULWARK_TLS_CERT_FILE and BULWARK_TLS_KEY_FILE: plain HTTP beyond loopback (the gateway refuses to start)',
      ]);
    });

    it("a gateway on its container's loopback, and one without its JWT key file", () => {
      editCompose((c) => {
        c.services.gateway.environment.BULWARK_GATEWAY_HOST = '127.0.0.1';
        delete c.services.gateway.environment.BULWARK_JWT_SECRET_FILE;
      });
      expect(problems()).toEqual([
        "docker-compose.yml: service gateway listens on 127.0.0.1 (BULWARK_GATEWAY_HOST): a container's loopback is unreachable from outside it; listen on 0.0.0.0 with TLS files",
        'docker-compose.yml: service gateway has no BULWARK_JWT_SECRET_FILE (its default var/gateway/jwt-secret is not in the image)',
      ]);
    });

    it('gateway secret files that are no mounted secret: a compose secret not given, a k8s path outside the Secret and an optional Secret', () => {
      editCompose((c) => {
        c.services.gateway.secrets = c.services.gateway.secrets.filter((x: string) => x !== 'gateway_tls_key');
      });
      const f = path.join(dir, 'k8s/components/gateway/gateway.yaml');
      const text = fs.readFileSync(f, 'utf8');
      expect(text).toContain('value: /var/run/secrets/bulwark/gateway/jwt-secret');
      expect(text).toContain('            secretName: bulwark-gateway\n');
      fs.writeFileSync(
        f,
        text
          .replace('value: /var/run/secrets/bulwark/gateway/jwt-secret', 'value: /etc/bulwark/jwt-secret')
          .replace('value: /var/run/secrets/bulwark/gateway/tls.key', 'value: /var/run/secrets/bulwark/gateway/key.pem')
          .replace('            secretName: bulwark-gateway\n', '            secretName: bulwark-gateway\n            optional: true\n'),
      );
      expect(problems()).toEqual([
        'docker-compose.yml: service gateway: BULWARK_TLS_KEY_FILE=/run/secrets/gateway_tls_key is not a secret the service is given (secrets:)',
        'k8s/components/gateway/gateway.yaml: Deployment gateway: BULWARK_JWT_SECRET_FILE=/etc/bulwark/jwt-secret is in no volume the container mounts',
        'k8s/components/gateway/gateway.yaml: Deployment gateway: Secret bulwark-gateway (BULWARK_TLS_CERT_FILE) is optional; the gateway cannot start without it',
        'k8s/components/gateway/gateway.yaml: Deployment gateway: Secret bulwark-gateway (BULWARK_TLS_KEY_FILE) is optional; the gateway cannot start without it',
        "k8s/components/gateway/gateway.yaml: Deployment gateway: BULWARK_TLS_KEY_FILE=/var/run/secrets/bulwark/gateway/key.pem: Secret bulwark-gateway's items give no key.pem",
      ]);
    });

    it('a leased service on 1 replica, one rolled out with Recreate, one that may stop a pod first, and a second alerter', () => {
      const f = path.join(dir, 'k8s/base/services.yaml');
      const rollout = (name: string) => `  name: ${name}\n  labels:\n    app.kubernetes.io/name: ${name}\n    app.kubernetes.io/component: service\n    app.kubernetes.io/part-of: bulwark\nspec:\n  replicas: 2\n  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 0\n`;
      const text = fs.readFileSync(f, 'utf8');
      for (const name of ['risk', 'signals', 'accounting']) expect(text).toContain(rollout(name));
      fs.writeFileSync(
        f,
        text
          .replace(rollout('risk'), rollout('risk').replace('replicas: 2', 'replicas: 1'))
          .replace(rollout('signals'), rollout('signals').replace(/ {2}strategy:\n[\s\S]*$/, '  strategy:\n    type: Recreate\n'))
          .replace(rollout('accounting'), rollout('accounting').replace('maxUnavailable: 0', 'maxUnavailable: 1')),
      );
      const alerter = path.join(dir, 'k8s/base/alerter.yaml');
      const alerterText = fs.readFileSync(alerter, 'utf8');
      expect(alerterText).toContain('\n  replicas: 1\n');
      fs.writeFileSync(alerter, alerterText.replace('\n  replicas: 1\n', '\n  replicas: 2\n'));
      expect(deploy.validateDeploy(dir, { services: [...SIX, 'alerter'] }).problems).toEqual([
        'k8s: Deployment signals should roll out with strategy RollingUpdate (a new pod Ready as a standby before an old one stops), not Recreate',
        'k8s: Deployment risk should run 2 replicas (one active holding the lease, one standby), not 1',
        'k8s: Deployment accounting should roll out with maxUnavailable 0 (no pod stops before its replacement is Ready), not 1',
        'k8s: Deployment alerter should run exactly 1 replica (it takes no lease: two copies would split its durable consumer and send alerts out of log order), not 2',
      ]);
    });

    it('a missing Deployment and a probe on a port nobody opens', () => {
      const f = path.join(dir, 'k8s/base/services.yaml');
      const liveness = '          livenessProbe:\n            httpGet:\n              path: /healthz\n              port: metrics';
      const text = fs.readFileSync(f, 'utf8');
      expect(text).toContain(liveness);
      fs.writeFileSync(f, text.replace('name: accounting\n  labels', 'name: accounting-renamed\n  labels').replace(liveness, liveness.replace('port: metrics', 'port: 3000')));
      expect(problems()).toEqual([
        'k8s: Deployment accounting is missing',
        'k8s/base/services.yaml: market-data livenessProbe targets port 3000, which market-data does not declare',
      ]);
    });
  });
});
