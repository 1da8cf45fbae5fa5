// Static checks of docker-compose.yml, deploy/Dockerfile and k8s/ (no Docker engine or
// cluster needed). The checks live in scripts/validate-deploy.js so they also run from the
// command line: `node scripts/validate-deploy.js`.
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
}

const ROOT = path.resolve(__dirname, '../../..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const deploy = require(path.join(ROOT, 'scripts/validate-deploy.js')) as ValidateDeployModule;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const YAML = require('yaml') as { stringify(value: unknown): string };

const SIX = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting'];

describe('deployment files', () => {
  it('knows the six services, and services/ holds no others', () => {
    expect([...deploy.SERVICES].sort()).toEqual([...SIX].sort());
    const onDisk = fs
      .readdirSync(path.join(ROOT, 'services'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    for (const name of onDisk) expect(SIX).toContain(name);
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

  describe('k8s/', () => {
    const files = deploy.readK8s(ROOT);
    const objects = files.filter((f) => f.file !== 'kustomization.yaml').flatMap((f) => f.docs);

    it('kustomization.yaml lists every other YAML file in k8s/', () => {
      const kust = files.find((f) => f.file === 'kustomization.yaml')!.docs[0];
      const others = files.map((f) => f.file).filter((f) => f !== 'kustomization.yaml');
      expect([...kust.resources].sort()).toEqual(others.sort());
      expect(kust.namespace).toBe('bulwark');
    });

    it.each(SIX)('has a Deployment for %s on the shared ConfigMap', (name) => {
      const dep = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
      expect(dep).toBeDefined();
      expect(dep.spec.replicas).toBe(1);
      const c = dep.spec.template.spec.containers[0];
      expect(c.command).toEqual(['node', `services/${name}/dist/main.js`]);
      expect(c.envFrom).toEqual([{ configMapRef: { name: 'bulwark-config' } }]);
      expect(c.resources.requests).toBeDefined();
      expect(c.resources.limits).toBeDefined();
      expect(c.livenessProbe).toBeUndefined(); // nothing to probe until services serve HTTP
    });

    it('runs NATS as a StatefulSet with JetStream on a PVC', () => {
      const sts = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats');
      expect(sts.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['-js', '-sd', '/data']));
      expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'bulwark-config');
      expect(cm.data.NATS_URL).toBe('nats://nats:4222');
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
      for (const f of fs.readdirSync(path.join(ROOT, 'k8s'))) {
        fs.copyFileSync(path.join(ROOT, 'k8s', f), path.join(dir, 'k8s', f));
      }
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
      fs.writeFileSync(path.join(dir, 'k8s/extra.yaml'), 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n');
      expect(problems()).toEqual(['k8s/kustomization.yaml does not list extra.yaml']);
    });

    it('a missing Deployment and a probe on a port nobody opens', () => {
      const f = path.join(dir, 'k8s/services.yaml');
      const text = fs
        .readFileSync(f, 'utf8')
        .replace('name: accounting\n  labels', 'name: accounting-renamed\n  labels')
        .replace(
          '          envFrom:',
          '          livenessProbe:\n            httpGet:\n              path: /health\n              port: 3000\n          envFrom:',
        );
      fs.writeFileSync(f, text);
      expect(problems()).toEqual([
        'k8s: Deployment accounting is missing',
        'k8s/services.yaml: market-data livenessProbe targets port 3000, which market-data does not declare',
      ]);
    });
  });
});
