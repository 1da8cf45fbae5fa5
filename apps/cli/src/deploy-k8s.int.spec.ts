// The Kubernetes manifests (k8s/base, k8s/overlays/{dev,prod}, k8s/components/gateway): kustomize
// renders each overlay, every rendered object validates against the kubernetes-models classes
// (the Kubernetes OpenAPI schemas; prometheus-operator's CRD schemas for ServiceMonitor and
// PrometheusRule) with unknown fields rejected, and the objects fit together (probes, ports,
// secrets, selectors, network policies). The backtest sweep Job (k8s/jobs/backtest-sweep) is
// rendered and checked the same way, and its arguments parsed by the CLI. No cluster is needed.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as monitoringV1 from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as batchV1 from 'kubernetes-models/batch/v1';
import * as networkingV1 from 'kubernetes-models/networking.k8s.io/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as coreV1 from 'kubernetes-models/v1';
import * as YAML from 'yaml';
import { Command } from 'commander';
import { registerBacktestCommand } from './backtest-cmd';
import { shardOf } from './backtest-sweep';

const ROOT = path.resolve(__dirname, '../../..');
const K8S = path.join(ROOT, 'k8s');
const SIX = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting'];
/** Every Bulwark process of the base (the gateway comes with its component). */
const BASE = [...SIX, 'alerter'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

const kubectl = (() => {
  const found = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
})();

/** The major version of kubectl's built-in kustomize (kubectl >= 1.24 prints it), or null. */
const kustomizeMajor = (() => {
  if (!kubectl) return null;
  const out = spawnSync(kubectl, ['version', '--client'], { encoding: 'utf8' }).stdout ?? '';
  const m = /^Kustomize Version: v(\d+)/m.exec(out);
  return m ? Number(m[1]) : null;
})();

/** `kubectl kustomize <dir>`, parsed. @throws Error when kubectl is missing or too old, or kustomize fails */
function render(dir: string): Obj[] {
  if (!kubectl) throw new Error('kubectl is not installed: run `bash scripts/setup.sh` (it installs Debian package kubernetes-client)');
  if (kustomizeMajor === null || kustomizeMajor < 4) {
    throw new Error(`kubectl's kustomize is ${kustomizeMajor === null ? 'unknown (kubectl < 1.24)' : `v${kustomizeMajor}`}; k8s/ needs v4+ (components, patches): install kubectl >= 1.24`);
  }
  const out = execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8', stdio: 'pipe', maxBuffer: 32 * 1024 * 1024 });
  return YAML.parseAllDocuments(out)
    .map((d) => d.toJSON())
    .filter((d) => d);
}

/**
 * Render an overlay with the gateway component enabled, as its README says to: a copy of the
 * overlay's kustomization in a temporary folder (relative paths: kustomize refuses absolute
 * ones) with `components: [gateway]`.
 */
function renderWithGateway(overlay: 'dev' | 'prod'): Obj[] {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-kustomize-'));
  try {
    const kust = YAML.parse(fs.readFileSync(path.join(K8S, 'overlays', overlay, 'kustomization.yaml'), 'utf8'));
    const rel = path.relative(tmp, K8S);
    kust.resources = [`${rel}/base`];
    kust.components = [`${rel}/components/gateway`];
    fs.writeFileSync(path.join(tmp, 'kustomization.yaml'), YAML.stringify(kust));
    return render(tmp);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The model class of each apiVersion/kind Bulwark renders. */
const MODELS: Record<string, { prototype: { validate(): void } }> = {
  'v1/Namespace': coreV1.Namespace,
  'v1/ConfigMap': coreV1.ConfigMap,
  'v1/Service': coreV1.Service,
  'v1/Secret': coreV1.Secret,
  'v1/PersistentVolumeClaim': coreV1.PersistentVolumeClaim,
  'apps/v1/Deployment': appsV1.Deployment,
  'apps/v1/StatefulSet': appsV1.StatefulSet,
  'batch/v1/Job': batchV1.Job,
  'batch/v1/CronJob': batchV1.CronJob,
  'networking.k8s.io/v1/NetworkPolicy': networkingV1.NetworkPolicy,
  'policy/v1/PodDisruptionBudget': policyV1.PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': monitoringV1.ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': monitoringV1.PrometheusRule,
};

/**
 * Validate one object with its kubernetes-models class, rejecting unknown fields.
 *
 * The classes' validate() (ajv code compiled from the OpenAPI schema) accepts fields the schema
 * does not declare. But the compiled code reads every property its schema declares
 * (`data.replicas`, …) and enumerates the keys of maps (`additionalProperties`, e.g. labels).
 * So validate() runs on a Proxy that records what it reads: a key of an object whose
 * properties were read, that was itself never read nor enumerated, is a field the schema does
 * not know. An object none of whose properties were read is free-form in the schema
 * (x-kubernetes-preserve-unknown-fields), and is left alone.
 * @returns schema errors (validate() threw) and unknown fields as JSON paths; both empty when valid
 */
function validateStrict(obj: Obj): { errors: string[]; unknown: string[] } {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const model = MODELS[key];
  if (!model) return { errors: [`no kubernetes-models class for ${key}`], unknown: [] };
  const reads = new WeakMap<object, Set<string>>();
  const proxies = new WeakMap<object, object>();
  const note = (t: object, k: string | symbol) => {
    if (typeof k === 'string') reads.get(t)!.add(k);
  };
  const wrap = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    const cached = proxies.get(v);
    if (cached) return cached;
    reads.set(v, new Set());
    const p = new Proxy(v, {
      get: (t, k, r) => (note(t, k), wrap(Reflect.get(t, k, r))),
      has: (t, k) => (note(t, k), Reflect.has(t, k)),
      getOwnPropertyDescriptor: (t, k) => (note(t, k), Reflect.getOwnPropertyDescriptor(t, k)),
      ownKeys: (t) => (reads.get(t)!.add('*'), Reflect.ownKeys(t)),
    });
    proxies.set(v, p);
    return p;
  };
  const errors: string[] = [];
  try {
    model.prototype.validate.call(wrap(obj));
  } catch (e) {
    errors.push(e instanceof Error ? e.message : String(e));
  }
  const unknown: string[] = [];
  const walk = (v: unknown, at: string) => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${at}[${i}]`));
    const r = reads.get(v);
    if (!r || r.size === 0) return; // never reached, or free-form
    for (const [k, child] of Object.entries(v)) {
      if (!r.has('*') && !r.has(k)) unknown.push(`${at}.${k}`);
      else walk(child, `${at}.${k}`);
    }
  };
  walk(obj, '');
  return { errors, unknown };
}

/** validateStrict's findings for each object, as `<kind>/<name>: <problem>` lines (empty: all valid). */
const problemsOf = (objs: Obj[]): string[] =>
  objs.flatMap((o: Obj) => {
    const { errors, unknown } = validateStrict(o);
    return [...errors, ...unknown.map((u) => `unknown field ${u}`)].map((p) => `${o.kind}/${o.metadata?.name}: ${p}`);
  });

const named = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const deployment = (objs: Obj[], name: string) => named(objs, 'Deployment', name);

const OVERLAYS = { dev: render(path.join(K8S, 'overlays/dev')), prod: render(path.join(K8S, 'overlays/prod')) };
const WITH_GATEWAY = { dev: renderWithGateway('dev'), prod: renderWithGateway('prod') };
const ALL = [
  ['dev', OVERLAYS.dev],
  ['prod', OVERLAYS.prod],
  ['dev + gateway', WITH_GATEWAY.dev],
  ['prod + gateway', WITH_GATEWAY.prod],
] as const;

describe('kustomize overlays render', () => {
  it.each(ALL)('%s: every object validates against kubernetes-models, with no unknown field', (_name, objs) => {
    expect(objs.length).toBeGreaterThan(20);
    expect(problemsOf(objs)).toEqual([]);
  });

  it('the strict check catches a misspelt field that validate() alone lets through', () => {
    const dep = structuredClone(deployment(OVERLAYS.prod, 'risk'));
    dep.spec.replicsa = 2;
    dep.spec.template.spec.containers[0].livenesProbe = { httpGet: { path: '/healthz', port: 'metrics' } };
    expect(() => new appsV1.Deployment(dep).validate()).not.toThrow(); // why the strict check exists
    const strict = validateStrict(dep);
    expect(strict.errors).toEqual([]);
    expect(strict.unknown.sort()).toEqual(['.spec.replicsa', '.spec.template.spec.containers[0].livenesProbe']);
    const sm = structuredClone(named(OVERLAYS.prod, 'ServiceMonitor', 'bulwark'));
    sm.spec.endpoints[0].honourLabels = true;
    expect(validateStrict(sm).unknown).toEqual(['.spec.endpoints[0].honourLabels']);
    // …and a wrong type still fails the schema itself; labels (a map) take any key.
    dep.spec.replicas = 'two';
    delete dep.spec.replicsa;
    dep.metadata.labels['example.com/any-key'] = 'x';
    const bad = validateStrict(dep);
    expect(bad.errors.join()).toMatch(/replicas/);
    expect(bad.unknown).toEqual(['.spec.template.spec.containers[0].livenesProbe']);
  });

  it.each([
    ['StatefulSet', 'nats', (o: Obj): void => void (o.spec.volumeClaimTemplates[0].spec.storageClasName = 'fast'), '.spec.volumeClaimTemplates[0].spec.storageClasName'],
    ['Deployment', 'execution', (o: Obj): void => void (o.spec.template.spec.containers[0].resources.limitz = {}), '.spec.template.spec.containers[0].resources.limitz'],
    ['NetworkPolicy', 'nats', (o: Obj): void => void (o.spec.ingress[0].fromm = []), '.spec.ingress[0].fromm'],
    ['PrometheusRule', 'bulwark', (o: Obj): void => void (o.spec.groups[0].rules[0].expresion = 'up'), '.spec.groups[0].rules[0].expresion'],
    ['Job', 'nats-setup', (o: Obj): void => void (o.spec.backofLimit = 3), '.spec.backofLimit'],
    ['PodDisruptionBudget', 'nats', (o: Obj): void => void (o.metadata.lables = {}), '.metadata.lables'],
  ] as const)('the strict check finds a misspelt field deep in a %s', (kind, name, spoil, where) => {
    const o = structuredClone(named(OVERLAYS.prod, kind, name));
    expect(validateStrict(o)).toEqual({ errors: [], unknown: [] });
    spoil(o);
    expect(validateStrict(o).unknown).toEqual([where]);
  });

  it('each overlay has its namespace on every namespaced object, and kustomize fails on a broken overlay', () => {
    for (const [overlay, ns] of [
      ['dev', 'bulwark-dev'],
      ['prod', 'bulwark'],
    ] as const) {
      const objs = OVERLAYS[overlay];
      expect(named(objs, 'Namespace', ns)).toBeDefined();
      for (const o of objs.filter((x: Obj) => x.kind !== 'Namespace')) expect([o.kind, o.metadata.namespace]).toEqual([o.kind, ns]);
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-kustomize-'));
    try {
      fs.writeFileSync(path.join(tmp, 'kustomization.yaml'), `resources:\n  - ${path.relative(tmp, K8S)}/base\npatches:\n  - target: {kind: Deployment, name: nobody}\n    patch: "- {op: replace, path: /spec/x, value: 1}"\n`);
      expect(render(tmp).length).toBeGreaterThan(0); // a patch without target matches nothing: fine
      fs.writeFileSync(path.join(tmp, 'kustomization.yaml'), `resources:\n  - ${path.relative(tmp, K8S)}/bsae\n`);
      expect(() => render(tmp)).toThrow();
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it.each(ALL)('%s: every image has a pinned tag (no latest), the Bulwark image the one the overlay names', (_name, objs) => {
    const images = objs.flatMap((o: Obj) => (o.spec?.template?.spec?.containers ?? []).map((c: Obj) => c.image));
    expect(images.length).toBeGreaterThan(6);
    for (const image of images) expect(image).toMatch(/^[\w./-]+:(?!latest$)[\w.-]+$/);
    expect(new Set(images.filter((i: string) => i.startsWith('bulwark:')))).toEqual(new Set(['bulwark:0.1.0']));
  });
});

describe('the services (k8s/base/services.yaml)', () => {
  it.each(BASE)('%s: probes on the declared metrics port, resources, its own NATS seed', (name) => {
    for (const objs of [OVERLAYS.dev, OVERLAYS.prod]) {
      const dep = deployment(objs, name);
      const c = dep.spec.template.spec.containers[0];
      expect(c.command).toEqual(['node', `services/${name}/dist/main.js`]);
      expect(c.ports).toEqual([{ name: 'metrics', containerPort: 9100 }]);
      expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
      expect(c.resources.requests.cpu).toBeDefined();
      expect(c.resources.limits.memory).toBeDefined();
      const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
      expect(env.OTEL_SERVICE_NAME).toBe(name);
      expect(env.NATS_NKEY_SEED_FILE).toBe(`/var/run/secrets/bulwark/nats/${name}.nk`);
      expect(c.volumeMounts).toContainEqual({ name: 'nats-creds', mountPath: '/var/run/secrets/bulwark/nats', readOnly: true });
      const vol = dep.spec.template.spec.volumes.find((v: Obj) => v.name === 'nats-creds');
      expect(vol.secret).toEqual({ secretName: 'bulwark-nats-creds', defaultMode: 288, items: [{ key: `${name}.nk`, path: `${name}.nk` }] });
      const config = named(objs, 'ConfigMap', 'bulwark-config').data;
      expect(config.BULWARK_METRICS_PORT).toBe('9100');
      expect(config.NATS_URL).toBe('nats://nats:4222');
      expect(Object.keys(config)).toEqual(expect.arrayContaining(['BULWARK_EVENT_STORE', 'KURRENTDB_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT']));
    }
  });

  it.each(SIX)('%s: 2 replicas (one active, one standby), rolled over without a gap, spread over nodes', (name) => {
    for (const [overlay, objs] of [
      ['dev', OVERLAYS.dev],
      ['prod', OVERLAYS.prod],
    ] as const) {
      const dep = deployment(objs, name);
      // Both hold the service's lease in turn (k8s/README.md "Replicas"): one acts, one waits.
      // An overlay's `replicas:` count overrides the base's: it must say 2 as well.
      expect([overlay, dep.spec.replicas]).toEqual([overlay, 2]);
      // A new pod is Ready (as a standby) before an old one stops.
      expect(dep.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
      const pod = dep.spec.template.spec;
      // The graceful stop finishes the handler in flight, then releases the lease.
      expect(pod.terminationGracePeriodSeconds).toBe(30);
      const own = { 'app.kubernetes.io/name': name };
      expect(dep.spec.selector.matchLabels).toEqual(own);
      expect(dep.spec.template.metadata.labels).toMatchObject(own);
      // Preferred, not required: a one-node cluster still runs both copies.
      expect(pod.affinity).toEqual({
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: own } } }],
        },
      });
    }
  });

  it.each(ALL)('%s: one budget per service (minAvailable 1) selecting exactly its pods, and every budget lets a drain move a pod', (_name, objs) => {
    const pdbs = objs.filter((o: Obj) => o.kind === 'PodDisruptionBudget');
    const selects = (pdb: Obj, labels: Record<string, string>) => Object.entries(pdb.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => labels?.[k] === v);
    const workloads = objs.filter((o: Obj) => ['Deployment', 'StatefulSet'].includes(o.kind));
    const pods = objs.filter((o: Obj) => o.spec?.template?.metadata?.labels || o.spec?.jobTemplate?.spec?.template?.metadata?.labels);
    const podLabels = (o: Obj) => o.spec.template?.metadata.labels ?? o.spec.jobTemplate.spec.template.metadata.labels;
    for (const name of SIX) {
      const pdb = named(objs, 'PodDisruptionBudget', name);
      expect([name, pdb?.spec.minAvailable, pdb?.spec.maxUnavailable]).toEqual([name, 1, undefined]);
      expect(pdb.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': name } });
      // Exactly the service's own pods: its Deployment's template, no other workload's.
      expect(pods.filter((o: Obj) => selects(pdb, podLabels(o))).map((o: Obj) => `${o.kind}/${o.metadata.name}`)).toEqual([`Deployment/${name}`]);
    }
    // No pod falls under two budgets (the eviction API refuses to evict such a pod).
    for (const o of pods) expect([o.metadata.name, pdbs.filter((p: Obj) => selects(p, podLabels(o))).length <= 1]).toEqual([o.metadata.name, true]);
    // minAvailable 1 on a single replica would block every drain: each budget must leave one pod to move.
    for (const pdb of pdbs) {
      const selected = workloads.filter((w: Obj) => selects(pdb, w.spec.template.metadata.labels));
      expect(selected.length).toBeGreaterThan(0);
      const replicas = selected.reduce((n: number, w: Obj) => n + (w.spec.replicas ?? 1), 0);
      const movable = pdb.spec.minAvailable !== undefined ? replicas - pdb.spec.minAvailable : pdb.spec.maxUnavailable;
      expect([pdb.metadata.name, movable >= 1]).toEqual([pdb.metadata.name, true]);
    }
    expect(named(objs, 'PodDisruptionBudget', 'bulwark-services')).toBeUndefined();
  });

  it('the alerter: still one replica with Recreate, and a budget that lets a drain move it', () => {
    for (const objs of [OVERLAYS.dev, OVERLAYS.prod]) {
      const dep = deployment(objs, 'alerter');
      expect(dep.spec.replicas).toBe(1);
      expect(dep.spec.strategy.type).toBe('Recreate');
      expect(named(objs, 'PodDisruptionBudget', 'alerter').spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'alerter' } } });
    }
  });

  it('the alerter: its channels off until configured, the token and webhook key as files from an optional Secret', () => {
    for (const objs of [OVERLAYS.dev, OVERLAYS.prod]) {
      const dep = deployment(objs, 'alerter');
      const c = dep.spec.template.spec.containers[0];
      expect(c.envFrom).toEqual([{ configMapRef: { name: 'bulwark-config' } }, { configMapRef: { name: 'bulwark-alerter' } }]);
      // Empty = not configured (services/alerter/src/config.ts): the alerter starts and logs the alerts.
      expect(named(objs, 'ConfigMap', 'bulwark-alerter').data).toEqual({
        BULWARK_TELEGRAM_CHAT_ID: '',
        BULWARK_TELEGRAM_TOKEN_FILE: '',
        BULWARK_TELEGRAM_API_ROOT: '',
        BULWARK_WEBHOOK_URL: '',
        BULWARK_WEBHOOK_SECRET_FILE: '',
      });
      expect(c.volumeMounts).toContainEqual({ name: 'alerter-secrets', mountPath: '/var/run/secrets/bulwark/alerter', readOnly: true });
      const vol = dep.spec.template.spec.volumes.find((v: Obj) => v.name === 'alerter-secrets');
      expect(vol.secret).toMatchObject({ secretName: 'bulwark-alerter', optional: true, defaultMode: 288 });
      expect(vol.secret.items.map((i: Obj) => i.key).sort()).toEqual(['telegram-token', 'webhook-secret']);
      // No market data: the alerter reads only the log.
      expect(dep.spec.template.spec.volumes.map((v: Obj) => v.name)).not.toContain('market-data');
    }
  });

  it('prod gives the services more room than dev', () => {
    const mem = (objs: Obj[]) => deployment(objs, 'risk').spec.template.spec.containers[0].resources.limits.memory;
    expect([mem(OVERLAYS.dev), mem(OVERLAYS.prod)]).toEqual(['512Mi', '1Gi']);
    expect(named(OVERLAYS.prod, 'ConfigMap', 'bulwark-config').data.NODE_OPTIONS).toBe('--max-old-space-size=768 --max-semi-space-size=4');
    expect(named(OVERLAYS.dev, 'ConfigMap', 'bulwark-config').data.LOG_LEVEL).toBe('debug');
  });

  it.each(ALL)('%s: the ServiceMonitor scrapes a Service for every Bulwark process, on a port its pods declare', (name, objs) => {
    const sm = named(objs, 'ServiceMonitor', 'bulwark');
    const selected = objs.filter((o: Obj) => o.kind === 'Service' && Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v));
    const processes = name.includes('gateway') ? [...BASE, 'gateway'] : BASE;
    expect(selected.map((s: Obj) => s.metadata.name).sort()).toEqual([...processes].sort());
    for (const svc of selected) {
      expect(svc.metadata.labels[sm.spec.jobLabel]).toBe('bulwark'); // up{job="bulwark"} in the alert rules
      const port = svc.spec.ports.find((p: Obj) => p.name === sm.spec.endpoints[0].port);
      const dep = deployment(objs, svc.metadata.name);
      expect(dep.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
      expect(dep.spec.template.spec.containers[0].ports).toContainEqual({ name: port.targetPort, containerPort: 9100 });
    }
  });

  it('the set-up Job creates the streams as admin, with only the admin seed mounted', () => {
    const job = named(OVERLAYS.prod, 'Job', 'nats-setup');
    const c = job.spec.template.spec.containers[0];
    expect(c.command).toEqual(['node', 'scripts/nats-streams.js']);
    expect(c.env).toContainEqual({ name: 'NATS_NKEY_SEED_FILE', value: '/var/run/secrets/bulwark/nats/admin.nk' });
    expect(job.spec.template.spec.volumes[0].secret.items).toEqual([{ key: 'admin.nk', path: 'admin.nk' }]);
    expect(fs.readFileSync(path.join(ROOT, 'deploy/Dockerfile'), 'utf8')).toMatch(/tar -cf - .* scripts\/nats-streams\.js/);
  });
});

describe('the gateway (k8s/components/gateway)', () => {
  it.each([
    ['dev + gateway', WITH_GATEWAY.dev],
    ['prod + gateway', WITH_GATEWAY.prod],
  ] as const)('%s: HTTPS on 0.0.0.0 only, its JWT key and TLS files from Secret bulwark-gateway mounted read-only, one replica', (_name, objs) => {
    const dep = deployment(objs, 'gateway');
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
    expect(c.command).toEqual(['node', 'services/gateway/dist/main.js']);
    // services/gateway/src/config.ts refuses plain HTTP off loopback; a pod's loopback is unreachable.
    expect(env.BULWARK_GATEWAY_HOST).toBe('0.0.0.0');
    expect(env.BULWARK_GATEWAY_PORT).toBe('8080');
    for (const key of ['BULWARK_JWT_SECRET_FILE', 'BULWARK_TLS_CERT_FILE', 'BULWARK_TLS_KEY_FILE']) {
      const file: string = env[key];
      const mount = c.volumeMounts.find((m: Obj) => file?.startsWith(`${m.mountPath}/`));
      expect([key, mount?.readOnly]).toEqual([key, true]);
      const vol = pod.volumes.find((v: Obj) => v.name === mount.name);
      expect([key, vol.secret.secretName, vol.secret.optional]).toEqual([key, 'bulwark-gateway', undefined]);
      expect(vol.secret.items).toContainEqual({ key: path.posix.basename(file), path: path.posix.basename(file) });
    }
    expect(c.ports).toEqual([
      { name: 'https', containerPort: 8080 },
      { name: 'metrics', containerPort: 9100 },
    ]);
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'bulwark-config' } }]);
    expect(c.volumeMounts).toContainEqual({ name: 'market-data', mountPath: '/data/market', readOnly: true });
    expect(named(objs, 'Service', 'gateway').spec.ports).toContainEqual({ name: 'https', port: 8080, targetPort: 'https', appProtocol: 'https' });
    // One replica (stream tickets and login-failure counts live in the process); a drain may move it.
    expect(dep.spec.replicas).toBe(1);
    expect(named(objs, 'PodDisruptionBudget', 'gateway').spec).toMatchObject({ maxUnavailable: 1 });
  });
});

describe('NATS cluster (k8s/base/nats.yaml)', () => {
  const objs = OVERLAYS.prod;
  const sts = named(objs, 'StatefulSet', 'nats');
  const conf: string = named(objs, 'ConfigMap', 'nats-config').data['nats.conf'];

  it('is a 3-node JetStream cluster whose routes name every pod of the StatefulSet', () => {
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    const routes = [...conf.matchAll(/nats:\/\/(nats-\d+)\.nats-headless:6222/g)].map((m) => m[1]);
    expect(routes).toEqual(['nats-0', 'nats-1', 'nats-2']);
    expect(named(objs, 'Service', 'nats-headless').spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(conf).toMatch(/server_name: \$POD_NAME/);
    expect(sts.spec.template.spec.containers[0].env[0]).toEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(conf).toMatch(/jetstream \{\s+store_dir: \/data\/jetstream/);
    expect(named(objs, 'PodDisruptionBudget', 'nats').spec.maxUnavailable).toBe(1);
    expect(named(OVERLAYS.prod, 'StatefulSet', 'nats').spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('20Gi');
    expect(named(OVERLAYS.dev, 'StatefulSet', 'nats').spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('1Gi');
  });

  it('includes the authorization file of Secret bulwark-nats-auth, mounted where the include points', () => {
    const include = /^\s*include \.\/auth\/([\w.-]+)$/m.exec(conf);
    expect(include?.[1]).toBe('nats-server.conf');
    const c = sts.spec.template.spec.containers[0];
    expect(c.args).toEqual(['-c', '/etc/nats/nats.conf']);
    expect(c.volumeMounts).toContainEqual({ name: 'auth', mountPath: '/etc/nats/auth', readOnly: true });
    expect(sts.spec.template.spec.volumes.find((v: Obj) => v.name === 'auth').secret.secretName).toBe('bulwark-nats-auth');
    // The lame-duck pre-stop hook signals the pid file the config writes.
    expect(conf).toMatch(/pid_file: \/var\/run\/nats\/nats\.pid/);
    expect(c.lifecycle.preStop.exec.command.join(' ')).toContain('ldm=/var/run/nats/nats.pid');
  });
});

describe('network policies', () => {
  it.each(ALL)('%s: ingress denied by default; NATS clients only from Bulwark pods; only the gateway open to all', (name, objs) => {
    const policies = objs.filter((o: Obj) => o.kind === 'NetworkPolicy');
    const deny = named(objs, 'NetworkPolicy', 'default-deny-ingress');
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    const nats = named(objs, 'NetworkPolicy', 'nats');
    const client = nats.spec.ingress.find((r: Obj) => r.ports.some((p: Obj) => p.port === 4222));
    expect(client.from).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'bulwark' } } }]);
    const routes = nats.spec.ingress.find((r: Obj) => r.ports.some((p: Obj) => p.port === 6222));
    expect(routes.from).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'nats' } } }]);
    // A rule without `from` admits any source: only the gateway's HTTP port may have one.
    const open = policies.flatMap((p: Obj) => (p.spec.ingress ?? []).filter((r: Obj) => !r.from).map((r: Obj) => [p.metadata.name, r.ports.map((x: Obj) => x.port)]));
    expect(open).toEqual(name.includes('gateway') ? [['gateway', [8080]]] : []);
    // Every Bulwark pod carries the label NATS admits.
    for (const o of objs.filter((x: Obj) => ['Deployment', 'StatefulSet', 'Job'].includes(x.kind))) {
      expect(o.spec.template.metadata.labels['app.kubernetes.io/part-of']).toBe('bulwark');
    }
  });
});

describe('secrets', () => {
  const examples = fs
    .readdirSync(path.join(K8S, 'examples'))
    .flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(K8S, 'examples', f), 'utf8')).map((d) => d.toJSON()));

  it.each(ALL)('%s: renders no Secret, and every Secret a pod mounts has an example with the keys it mounts', (_name, objs) => {
    expect(objs.filter((o: Obj) => o.kind === 'Secret')).toEqual([]);
    for (const o of objs.filter((x: Obj) => x.spec?.template?.spec)) {
      for (const v of o.spec.template.spec.volumes ?? []) {
        if (!v.secret) continue;
        const example = examples.find((e) => e.kind === 'Secret' && e.metadata.name === v.secret.secretName);
        expect([o.metadata.name, v.secret.secretName, Boolean(example)]).toEqual([o.metadata.name, v.secret.secretName, true]);
        for (const item of v.secret.items ?? []) expect(Object.keys(example.stringData)).toContain(item.key);
      }
    }
  });

  it('the examples hold placeholders only', () => {
    for (const e of examples) for (const v of Object.values(e.stringData as Record<string, string>)) expect(v).toMatch(/^REPLACE_WITH_/);
    const creds = examples.find((e) => e.metadata.name === 'bulwark-nats-creds');
    expect(Object.keys(creds.stringData).sort()).toEqual([...BASE, 'gateway', 'operator', 'admin'].map((u) => `${u}.nk`).sort());
  });
});

describe('the backtest sweep Job (k8s/jobs/backtest-sweep)', () => {
  const sweep = render(path.join(K8S, 'jobs/backtest-sweep'));
  const merge = render(path.join(K8S, 'jobs/backtest-sweep/merge'));
  const job = named(sweep, 'Job', 'backtest-sweep');
  const mergeJob = named(merge, 'Job', 'backtest-sweep-merge');

  it('every object validates against kubernetes-models, with no unknown field; pinned image; no Secret', () => {
    const objs = [...sweep, ...merge];
    expect(objs.map((o: Obj) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['Job/backtest-sweep', 'Job/backtest-sweep-merge', 'PersistentVolumeClaim/bulwark-backtest-results']);
    expect(problemsOf(objs)).toEqual([]);
    for (const j of [job, mergeJob]) expect(j.spec.template.spec.containers[0].image).toBe('bulwark:0.1.0');
  });

  it('is an Indexed Job whose pods each write their shard to the results volume, as non-root on a read-only root', () => {
    expect(job.spec.completionMode).toBe('Indexed');
    const pod = job.spec.template.spec;
    const c = pod.containers[0];
    const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
    // The shard count the CLI reads is the number of indexes the Job runs.
    expect(Number(env.SHARDS)).toBe(job.spec.completions);
    expect(job.spec.parallelism).toBeGreaterThanOrEqual(1);
    expect(job.spec.parallelism).toBeLessThanOrEqual(job.spec.completions);
    expect(job.spec.backoffLimit).toBeGreaterThanOrEqual(0);
    expect(pod.restartPolicy).toBe('Never');
    expect(c.command).toEqual(['node', 'apps/cli/bin/bulwark.js', 'backtest']);
    const arg = (flag: string) => c.args[c.args.indexOf(flag) + 1];
    expect(arg('--shard-count')).toBe('$(SHARDS)');
    expect(arg('--out')).toBe('/results/shard-$(JOB_COMPLETION_INDEX).json');
    expect(arg('--report')).toMatch(/^\/results\//); // the root filesystem is read-only
    expect(Number(arg('--workers'))).toBeLessThanOrEqual(Number(c.resources.limits.cpu)); // os.availableParallelism() sees the node's cores, not the limit
    expect(c.resources.requests.memory).toBeDefined();
    expect(c.resources.limits.memory).toBeDefined();
    expect(env.BULWARK_DATA_DIR).toBe('/data/market');
    for (const [j, mounts] of [
      [job, { results: '/results', 'market-data': '/data/market' }],
      [mergeJob, { results: '/results' }],
    ] as const) {
      const spec = j.spec.template.spec;
      const ctr = spec.containers[0];
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      expect(ctr.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(spec.automountServiceAccountToken).toBe(false);
      for (const [vol, at] of Object.entries(mounts)) expect(ctr.volumeMounts.find((m: Obj) => m.name === vol)?.mountPath).toBe(at);
      expect(spec.volumes.find((v: Obj) => v.name === 'results').persistentVolumeClaim.claimName).toBe('bulwark-backtest-results');
      expect(j.spec.template.metadata.labels['app.kubernetes.io/part-of']).toBe('bulwark');
    }
    expect(pod.volumes.find((v: Obj) => v.name === 'market-data').persistentVolumeClaim).toEqual({ claimName: 'bulwark-market-data', readOnly: true });
    expect(named(sweep, 'PersistentVolumeClaim', 'bulwark-backtest-results').spec.resources.requests.storage).toBeDefined();
    // The merge step reads every shard file the pods write.
    expect(mergeJob.spec.template.spec.containers[0].command.join(' ')).toContain('bulwark.js backtest merge /results/shard-*.json');
  });

  it("the real CLI parser accepts the Job's arguments: each index runs its shard, and merge takes the files", async () => {
    const c = job.spec.template.spec.containers[0];
    const env: Record<string, string> = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
    const count = job.spec.completions;
    for (let index = 0; index < count; index++) {
      // Kubernetes expands $(VAR) from the container's env; the Job controller adds JOB_COMPLETION_INDEX.
      const vars: Record<string, string> = { ...env, JOB_COMPLETION_INDEX: String(index) };
      const args = [...c.command.slice(2), ...c.args].map((a: string) => a.replace(/\$\((\w+)\)/g, (_m, v: string) => vars[v] ?? _m));
      expect(args.join(' ')).not.toContain('$(');
      const program = new Command('bulwark').exitOverride();
      registerBacktestCommand(program);
      let seen: Obj = null;
      program.commands.find((x) => x.name() === 'backtest')!.action((o: Obj) => void (seen = o)); // parse only, run nothing
      await program.parseAsync(args, { from: 'user' });
      expect(seen).not.toBeNull();
      expect(shardOf(seen, { JOB_COMPLETION_INDEX: vars.JOB_COMPLETION_INDEX })).toEqual({ index, count });
      expect(seen.out).toBe(`/results/shard-${index}.json`);
    }
    const program = new Command('bulwark').exitOverride();
    registerBacktestCommand(program);
    let files: string[] = [];
    program.commands.find((x) => x.name() === 'backtest')!.commands.find((x) => x.name() === 'merge')!.action((f: string[]) => void (files = f));
    const shards = Array.from({ length: count }, (_, i) => `/results/shard-${i}.json`);
    await program.parseAsync(['backtest', 'merge', ...shards], { from: 'user' });
    expect(files).toEqual(shards);
  }, 120_000);
});
