/**
 * The domain stays pure: ESLint (the Nx module-boundary rule and a name ban) refuses I/O,
 * framework, bus, venue and store-client imports in `type:domain` projects. Lints probe
 * sources as if they lived in libs/domain.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const probe = path.join(root, 'libs/domain/src/boundary-probe.ts');

/** Lint source text as ESLint's CLI would (its flat config is an ES module, so it runs in its own process). */
async function lintDomain(code: string): Promise<string[]> {
  const bin = path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js');
  const r = spawnSync(process.execPath, [bin, '--stdin', '--stdin-filename', probe, '--format', 'json'], { cwd: root, input: code, encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`eslint failed: ${r.stderr}`);
  const [result] = JSON.parse(r.stdout) as Array<{ messages: Array<{ ruleId: string; message: string }> }>;
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('module boundaries of type:domain', () => {
  it.each(['nats', '@nestjs/common', 'ccxt', '@kurrent/kurrentdb-client', 'node:fs'])('refuses an import of %s', async (mod) => {
    const messages = await lintDomain(`import * as m from '${mod}';\nexport const x = m;\n`);
    expect(messages.some((m) => m.startsWith('@nx/enforce-module-boundaries') || m.startsWith('no-restricted-imports'))).toBe(true);
  }, 60_000);

  it('allows decimal.js and the contracts', async () => {
    const messages = await lintDomain(`import Decimal from 'decimal.js';\nimport { Streams } from '@bulwark/contracts';\nexport const x = [Decimal, Streams];\n`);
    expect(messages.filter((m) => m.startsWith('@nx/enforce-module-boundaries') || m.startsWith('no-restricted-imports'))).toEqual([]);
  }, 60_000);
});
