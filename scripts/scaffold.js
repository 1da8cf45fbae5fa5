// One-off generator for project boilerplate (package.json, tsconfig, jest config).
const fs = require('fs');
const path = require('path');
const projects = [
  ['libs/contracts', '@bulwark/contracts', 'type:domain', []],
  ['libs/domain', '@bulwark/domain', 'type:domain', ['libs/contracts']],
  ['libs/strategies', '@bulwark/strategies', 'type:domain', ['libs/contracts', 'libs/domain']],
  ['libs/event-store', '@bulwark/event-store', 'type:adapter', ['libs/contracts']],
  ['libs/market-data', '@bulwark/market-data', 'type:adapter', ['libs/contracts', 'libs/domain']],
  ['libs/messaging', '@bulwark/messaging', 'type:adapter', ['libs/contracts', 'libs/event-store']],
  ['libs/venues', '@bulwark/venues', 'type:adapter', ['libs/contracts', 'libs/domain']],
  ['libs/testing', '@bulwark/testing', 'type:testing', ['libs/contracts']],
];
const services = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting'];
for (const s of services) {
  projects.push([`services/${s}`, `@bulwark/${s}-service`, 'type:service',
    ['libs/contracts', 'libs/domain', 'libs/event-store', 'libs/messaging', 'libs/market-data', 'libs/strategies', 'libs/venues']]);
}
projects.push(['apps/cli', '@bulwark/cli', 'type:app', ['libs/contracts', 'libs/domain', 'libs/event-store', 'libs/messaging', 'libs/market-data']]);
const pkgName = Object.fromEntries(projects.map(([d, n]) => [d, n]));
for (const [dir, name, tag, deps] of projects) {
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  const up = path.relative(dir, '.') || '.';
  const pj = path.join(dir, 'package.json');
  const existing = fs.existsSync(pj) ? JSON.parse(fs.readFileSync(pj, 'utf8')) : {};
  const pkg = {
    name, version: '0.1.0', private: true,
    main: dir.startsWith('libs/') ? 'dist/index.js' : 'dist/main.js',
    types: dir.startsWith('libs/') ? 'dist/index.d.ts' : undefined,
    ...existing,
    scripts: { build: 'tsc -b tsconfig.lib.json', test: 'jest --passWithNoTests', lint: 'eslint src', ...(existing.scripts || {}) },
    dependencies: { ...Object.fromEntries(deps.map((d) => [pkgName[d], '*'])), ...(existing.dependencies || {}) },
    nx: { tags: [tag], ...(existing.nx || {}) },
  };
  fs.writeFileSync(pj, JSON.stringify(pkg, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'tsconfig.lib.json'), JSON.stringify({
    extends: `${up}/tsconfig.base.json`,
    compilerOptions: { composite: true, rootDir: 'src', outDir: 'dist', tsBuildInfoFile: 'dist/tsconfig.lib.tsbuildinfo' },
    include: ['src/**/*.ts'],
    exclude: ['src/**/*.spec.ts', 'src/**/*.int.spec.ts', 'src/**/*.e2e.spec.ts'],
    references: deps.map((d) => ({ path: `${path.relative(dir, d)}/tsconfig.lib.json` })),
  }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    extends: `${up}/tsconfig.base.json`,
    compilerOptions: { noEmit: true, types: ['node', 'jest'] },
    include: ['src/**/*.ts'],
  }, null, 2) + '\n');
  if (!fs.existsSync(path.join(dir, 'jest.config.js'))) {
    fs.writeFileSync(path.join(dir, 'jest.config.js'),
      `module.exports = { ...require('${up}/jest.preset.js'), displayName: '${name}', rootDir: __dirname };\n`);
  }
}
fs.writeFileSync('tsconfig.json', JSON.stringify({ files: [], references: projects.map(([d]) => ({ path: `${d}/tsconfig.lib.json` })) }, null, 2) + '\n');
