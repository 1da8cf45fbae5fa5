#!/usr/bin/env node
// Static checks of the deployment files, runnable without Docker or a cluster:
//   node scripts/validate-deploy.js      -> prints "ok" or the problems; exit 0 / 1
// Also used by apps/cli/src/deploy-files.spec.ts.
//
// Checks: every service appears in docker-compose.yml (built from deploy/Dockerfile with its
// SERVICE build arg, NATS_URL and BULWARK_DATA_DIR in its environment, waiting for a healthy
// nats) and in k8s/base/ (a Deployment running services/<name>/dist/main.js with the
// bulwark-config ConfigMap: the six leased services with 2 replicas, rolled out RollingUpdate
// with maxUnavailable 0, the alerter and the gateway with 1); deploy/Dockerfile declares ARG
// SERVICE; k8s/base/kustomization.yaml lists exactly the other YAML files in k8s/base/; every
// YAML file parses; no k8s probe targets a port its container does not declare; the gateway
// (compose service and the Deployment of k8s/components/gateway) gets its JWT key and TLS
// certificate and key as files from mounted secrets, and never listens beyond loopback without
// TLS. The overlays' rendering and schemas are checked by apps/cli/src/deploy-k8s.int.spec.ts
// (kubectl kustomize + kubernetes-models).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');

/** The six services, in pipeline order. services/ on disk is checked against this list too. */
const SERVICES = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting'];

/**
 * Replicas of the six services' Deployments: one active (holds the service's lease in bucket
 * bulwark-leases and acts) and one standby (waits for the lease). Every other process (the
 * alerter, the gateway) takes no lease and runs exactly one.
 */
const LEASED_REPLICAS = 2;
/** Why a process that takes no lease runs exactly one replica, by name (others: the generic reason). */
const SINGLE_REPLICA_REASONS = {
  alerter: 'it takes no lease: two copies would split its durable consumer and send alerts out of log order',
  gateway: 'its SSE tickets and login-failure counts live in the process',
};

const ROOT = path.resolve(__dirname, '..');

/**
 * Parse every YAML document in a file (merge keys allowed), dropping empty documents.
 * @param {string} file absolute path
 * @returns {unknown[]} plain JS values, one per non-empty document
 * @throws Error naming the file and the first parse error
 */
function loadYamlDocuments(file) {
  const text = fs.readFileSync(file, 'utf8');
  const docs = YAML.parseAllDocuments(text, { merge: true });
  const out = [];
  for (const doc of docs) {
    if (doc.errors && doc.errors.length > 0) {
      throw new Error(`${path.basename(file)}: ${doc.errors[0].message}`);
    }
    const value = doc.toJSON();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** Compose `environment` as a map, whether written as a map or as KEY=VALUE lines. */
function envMap(environment) {
  if (!environment) return {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((line) => {
        const i = String(line).indexOf('=');
        return i < 0 ? [String(line), ''] : [String(line).slice(0, i), String(line).slice(i + 1)];
      }),
    );
  }
  return environment;
}

/** Service folders on disk: services/<name>/package.json. */
function servicesOnDisk(root) {
  const dir = path.join(root, 'services');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'package.json')))
    .map((d) => d.name)
    .sort();
}

/** The parsed docker-compose.yml (one document). */
function readCompose(root = ROOT) {
  const [compose] = loadYamlDocuments(path.join(root, 'docker-compose.yml'));
  return compose;
}

/**
 * Every YAML file in k8s/base/ (the manifests the overlays build on) with its parsed documents.
 * @returns {{ file: string, docs: any[] }[]} file = name inside k8s/base/, sorted by name
 */
function readK8s(root = ROOT) {
  const dir = path.join(root, 'k8s', 'base');
  return fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((file) => ({ file, docs: loadYamlDocuments(path.join(dir, file)) }));
}

function checkCompose(root, services, problems) {
  const compose = readCompose(root);
  const defined = (compose && compose.services) || {};
  if (!defined.nats) problems.push('docker-compose.yml: no nats service');
  else if (!defined.nats.healthcheck) problems.push('docker-compose.yml: nats has no healthcheck');
  for (const name of services) {
    const svc = defined[name];
    const where = `docker-compose.yml: service ${name}`;
    if (!svc) {
      problems.push(`${where} is missing`);
      continue;
    }
    const env = envMap(svc.environment);
    for (const key of ['NATS_URL', 'BULWARK_DATA_DIR']) {
      if (!env[key]) problems.push(`${where} has no ${key} in its environment`);
    }
    const build = svc.build || {};
    if (build.dockerfile !== 'deploy/Dockerfile') {
      problems.push(`${where} is not built from deploy/Dockerfile`);
    }
    if (!build.args || envMap(build.args).SERVICE !== name) {
      problems.push(`${where} does not pass build arg SERVICE=${name}`);
    }
    const dep = svc.depends_on;
    const natsDep = Array.isArray(dep) ? (dep.includes('nats') ? {} : undefined) : dep && dep.nats;
    if (!natsDep || natsDep.condition !== 'service_healthy') {
      problems.push(`${where} does not wait for nats to be healthy (depends_on.nats.condition)`);
    }
  }
}

/** Hosts the gateway may serve plain HTTP on (services/gateway/src/config.ts refuses others without TLS). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);
/** The gateway's default listen host (config.ts) when BULWARK_GATEWAY_HOST is unset. */
const GATEWAY_DEFAULT_HOST = '127.0.0.1';
/** The variables naming the gateway's secret files: the JWT signing key, the TLS certificate and key. */
const GATEWAY_SECRET_FILES = ['BULWARK_JWT_SECRET_FILE', 'BULWARK_TLS_CERT_FILE', 'BULWARK_TLS_KEY_FILE'];

/**
 * How a containerised gateway listens: reachable (not loopback, which no published port or
 * Service reaches) and, beyond loopback, with both TLS files (else plain HTTP, which the gateway
 * refuses at start-up), and with its JWT key file named (its default, var/gateway/jwt-secret,
 * is not in the image).
 * @param {string} where the problem's prefix, naming the file and object
 * @param {Record<string, string | undefined>} env the container's variables
 * @returns {string[]} problems
 */
function gatewayListenProblems(where, env) {
  const problems = [];
  const host = env.BULWARK_GATEWAY_HOST || GATEWAY_DEFAULT_HOST;
  if (LOOPBACK_HOSTS.has(host)) {
    problems.push(`${where} listens on ${host} (BULWARK_GATEWAY_HOST): a container's loopback is unreachable from outside it; listen on 0.0.0.0 with TLS files`);
  } else if (!env.BULWARK_TLS_CERT_FILE || !env.BULWARK_TLS_KEY_FILE) {
    problems.push(`${where} listens on ${host} without BULWARK_TLS_CERT_FILE and BULWARK_TLS_KEY_FILE: plain HTTP beyond loopback (the gateway refuses to start)`);
  }
  if (!env.BULWARK_JWT_SECRET_FILE) problems.push(`${where} has no BULWARK_JWT_SECRET_FILE (its default var/gateway/jwt-secret is not in the image)`);
  return problems;
}

/** The compose gateway: its secret files are compose secrets it is given, each defined from a host file. */
function checkComposeGateway(compose, problems) {
  const svc = compose && compose.services && compose.services.gateway;
  if (!svc) return;
  const where = 'docker-compose.yml: service gateway';
  const env = envMap(svc.environment);
  problems.push(...gatewayListenProblems(where, env));
  // Where each secret given to the service is mounted: /run/secrets/<source> unless a target says otherwise.
  const mounted = new Map();
  for (const s of svc.secrets || []) {
    const source = typeof s === 'string' ? s : s && s.source;
    if (!source) continue;
    const target = typeof s === 'object' && s.target ? s.target : source;
    mounted.set(target.startsWith('/') ? target : `/run/secrets/${target}`, source);
  }
  for (const key of GATEWAY_SECRET_FILES) {
    const file = env[key];
    if (!file) continue;
    const source = mounted.get(file);
    if (!source) problems.push(`${where}: ${key}=${file} is not a secret the service is given (secrets:)`);
    else if (!compose.secrets || !compose.secrets[source] || !compose.secrets[source].file) {
      problems.push(`${where}: secret ${source} (${key}) is not defined from a file in the top-level secrets:`);
    }
  }
}

/**
 * The k8s gateway Deployment: each secret file is inside a read-only mount of a Secret volume
 * that is not optional and (when it lists items) holds that file.
 */
function checkK8sGateway(deployment, problems) {
  const where = `k8s/${path.posix.normalize(`base/${deployment.file}`)}: Deployment gateway`;
  const pod = (deployment.doc.spec && deployment.doc.spec.template && deployment.doc.spec.template.spec) || {};
  const c = (pod.containers || [])[0];
  if (!c) return;
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value !== undefined ? String(e.value) : e.valueFrom ? '<valueFrom>' : '']));
  problems.push(...gatewayListenProblems(where, env));
  for (const key of GATEWAY_SECRET_FILES) {
    const file = env[key];
    if (!file || file === '<valueFrom>') continue;
    const mount = (c.volumeMounts || []).find((m) => file.startsWith(`${String(m.mountPath).replace(/\/$/, '')}/`));
    if (!mount) {
      problems.push(`${where}: ${key}=${file} is in no volume the container mounts`);
      continue;
    }
    const volume = (pod.volumes || []).find((v) => v.name === mount.name);
    if (!volume || !volume.secret) {
      problems.push(`${where}: ${key}=${file} is mounted from volume ${mount.name}, which is not a Secret`);
      continue;
    }
    if (mount.readOnly !== true) problems.push(`${where}: the mount of ${mount.name} (${key}) is not readOnly`);
    if (volume.secret.optional) problems.push(`${where}: Secret ${volume.secret.secretName} (${key}) is optional; the gateway cannot start without it`);
    const rel = file.slice(String(mount.mountPath).replace(/\/$/, '').length + 1);
    if (volume.secret.items && !volume.secret.items.some((i) => i.path === rel)) {
      problems.push(`${where}: ${key}=${file}: Secret ${volume.secret.secretName}'s items give no ${rel}`);
    }
  }
}

function checkDockerfile(root, problems) {
  const file = path.join(root, 'deploy', 'Dockerfile');
  if (!fs.existsSync(file)) {
    problems.push('deploy/Dockerfile is missing');
    return;
  }
  const text = fs.readFileSync(file, 'utf8');
  if (!/^\s*ARG\s+SERVICE\b/m.test(text)) problems.push('deploy/Dockerfile: no ARG SERVICE');
  if (!/^\s*CMD\b.*services\/\$\{?SERVICE/m.test(text)) {
    problems.push('deploy/Dockerfile: CMD does not start services/${SERVICE}/dist/main.js');
  }
}

/** The port names/numbers a container declares. */
function declaredPorts(container) {
  const ports = new Set();
  for (const p of container.ports || []) {
    if (p.name) ports.add(String(p.name));
    if (p.containerPort !== undefined) ports.add(String(p.containerPort));
  }
  return ports;
}

/**
 * The replicas and rollout of a Deployment: a leased service (SERVICES) runs LEASED_REPLICAS,
 * rolled out RollingUpdate with maxUnavailable 0 (a new pod is Ready, as a standby, before an
 * old one stops, so the service never lacks a copy that can take the lease over); any other
 * process runs exactly 1.
 * @param {string} where the problem's prefix, naming the Deployment
 * @param {string} name the service (the Deployment's name)
 * @param {any} spec the Deployment's spec
 * @returns {string[]} problems
 */
function replicaProblems(where, name, spec) {
  const problems = [];
  if (!SERVICES.includes(name)) {
    if (spec.replicas !== 1) {
      const reason = SINGLE_REPLICA_REASONS[name] || 'it takes no lease';
      problems.push(`${where} should run exactly 1 replica (${reason}), not ${spec.replicas}`);
    }
    return problems;
  }
  if (spec.replicas !== LEASED_REPLICAS) {
    problems.push(`${where} should run ${LEASED_REPLICAS} replicas (one active holding the lease, one standby), not ${spec.replicas}`);
  }
  const strategy = spec.strategy || {};
  if (strategy.type !== 'RollingUpdate') {
    problems.push(`${where} should roll out with strategy RollingUpdate (a new pod Ready as a standby before an old one stops), not ${strategy.type}`);
  } else {
    const maxUnavailable = strategy.rollingUpdate ? strategy.rollingUpdate.maxUnavailable : undefined;
    if (maxUnavailable !== 0 && maxUnavailable !== '0%') {
      problems.push(`${where} should roll out with maxUnavailable 0 (no pod stops before its replacement is Ready), not ${maxUnavailable === undefined ? 'the default 25%' : maxUnavailable}`);
    }
  }
  return problems;
}

function checkK8s(root, services, problems) {
  let files;
  try {
    files = readK8s(root);
  } catch (err) {
    problems.push(`k8s: ${err.message}`);
    return;
  }
  const kust = files.find((f) => f.file === 'kustomization.yaml' || f.file === 'kustomization.yml');
  if (!kust) {
    problems.push('k8s/base/kustomization.yaml is missing');
  } else {
    const listed = new Set(((kust.docs[0] || {}).resources || []).map(String));
    for (const { file } of files) {
      if (file !== kust.file && !listed.has(file)) problems.push(`k8s/base/kustomization.yaml does not list ${file}`);
    }
    for (const r of listed) {
      if (!files.some((f) => f.file === r)) problems.push(`k8s/base/kustomization.yaml lists ${r}, which does not exist`);
    }
  }

  const objects = files.flatMap(({ file, docs }) =>
    file === (kust && kust.file) ? [] : docs.map((doc) => ({ file, doc })),
  );
  // An optional service (the gateway) ships as a kustomize component, k8s/components/<name>/,
  // that overlays opt into: its Deployment is checked like the base's.
  const componentsDir = path.join(root, 'k8s', 'components');
  if (fs.existsSync(componentsDir)) {
    for (const c of fs.readdirSync(componentsDir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      for (const f of fs.readdirSync(path.join(componentsDir, c.name)).filter((n) => /\.ya?ml$/.test(n) && !/^kustomization\.ya?ml$/.test(n))) {
        for (const doc of loadYamlDocuments(path.join(componentsDir, c.name, f))) objects.push({ file: `../components/${c.name}/${f}`, doc });
      }
    }
  }
  const byKind = (kind) => objects.filter((o) => o.doc && o.doc.kind === kind);

  if (!byKind('Namespace').some((o) => o.doc.metadata && o.doc.metadata.name === 'bulwark')) {
    problems.push('k8s: no Namespace bulwark');
  }
  const config = byKind('ConfigMap').find((o) => o.doc.metadata && o.doc.metadata.name === 'bulwark-config');
  if (!config) problems.push('k8s: no ConfigMap bulwark-config');
  else if (!config.doc.data || !config.doc.data.NATS_URL) problems.push('k8s: ConfigMap bulwark-config has no NATS_URL');
  if (!byKind('StatefulSet').some((o) => o.doc.metadata && o.doc.metadata.name === 'nats')) {
    problems.push('k8s: no StatefulSet nats');
  }

  const deployments = byKind('Deployment');
  for (const name of services) {
    const where = `k8s: Deployment ${name}`;
    const dep = deployments.find((o) => o.doc.metadata && o.doc.metadata.name === name);
    if (!dep) {
      problems.push(`${where} is missing`);
      continue;
    }
    const spec = dep.doc.spec || {};
    problems.push(...replicaProblems(where, name, spec));
    const containers = (spec.template && spec.template.spec && spec.template.spec.containers) || [];
    if (containers.length === 0) {
      problems.push(`${where} has no container`);
      continue;
    }
    const c = containers[0];
    const entry = `services/${name}/dist/main.js`;
    const runs =
      [...(c.command || []), ...(c.args || [])].includes(entry) ||
      (c.env || []).some((e) => e.name === 'SERVICE' && e.value === name);
    if (!runs) problems.push(`${where} does not start ${entry}`);
    if (!(c.envFrom || []).some((e) => e.configMapRef && e.configMapRef.name === 'bulwark-config')) {
      problems.push(`${where} does not take its env from ConfigMap bulwark-config`);
    }
    if (!c.resources || !c.resources.requests || !c.resources.limits) {
      problems.push(`${where} has no resource requests and limits`);
    }
  }

  const gateway = deployments.find((o) => o.doc.metadata && o.doc.metadata.name === 'gateway');
  if (gateway) checkK8sGateway(gateway, problems);

  // A probe on a port the container does not open can never pass: it would only restart pods.
  for (const o of [...deployments, ...byKind('StatefulSet')]) {
    const containers = (o.doc.spec && o.doc.spec.template && o.doc.spec.template.spec.containers) || [];
    for (const c of containers) {
      const ports = declaredPorts(c);
      for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const probe = c[kind];
        if (!probe) continue;
        const target = (probe.httpGet || probe.tcpSocket || probe.grpc || {}).port;
        if (target !== undefined && !ports.has(String(target))) {
          problems.push(`k8s/base/${o.file}: ${o.doc.metadata.name} ${kind} targets port ${target}, which ${c.name} does not declare`);
        }
      }
    }
  }
}

/**
 * Run every check.
 * @param {string} [root] project root (default: this script's parent folder)
 * @param {{ services?: string[] }} [opts] services to require (default: SERVICES plus any
 *   other folder under services/)
 * @returns {{ problems: string[], services: string[] }} problems is empty when all is well
 */
function validateDeploy(root = ROOT, opts = {}) {
  const services = opts.services || [...new Set([...SERVICES, ...servicesOnDisk(root)])];
  const problems = [];
  try {
    checkCompose(root, services, problems);
    checkComposeGateway(readCompose(root), problems);
  } catch (err) {
    problems.push(`docker-compose.yml: ${err.message}`);
  }
  checkDockerfile(root, problems);
  checkK8s(root, services, problems);
  return { problems, services };
}

module.exports = { SERVICES, LEASED_REPLICAS, GATEWAY_SECRET_FILES, validateDeploy, readCompose, readK8s, loadYamlDocuments, envMap };

if (require.main === module) {
  const { problems, services } = validateDeploy(process.argv[2] ? path.resolve(process.argv[2]) : ROOT);
  if (problems.length === 0) {
    console.log(`validate-deploy: ok (${services.length} services in docker-compose.yml and k8s/base/)`);
  } else {
    for (const p of problems) console.log(`validate-deploy: ${p}`);
    process.exit(1);
  }
}
