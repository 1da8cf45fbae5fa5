import { AccountConfig } from '@bulwark/contracts';
import { rerunAccount, RerunInputError, type RerunReport } from '@bulwark/application';
import type { EventStore } from '@bulwark/event-store';
import { z } from 'zod';
import { InputError } from './input-checks';

/*
 * `bulwark replay --rerun --account ID [--set field=value ...]`: the account's recorded
 * decisions decided again by today's account decider (libs/application/src/rerun.ts).
 * Exit 0 when every decision comes out the same, 1 when any differs, 2 for bad input.
 */

/** Some re-run decisions differ from the recorded ones (exit 1). */
export class RerunDifferencesError extends Error {
  constructor(readonly count: number) {
    super(`replay --rerun: ${count} decision(s) differ from the recorded ones`);
    this.name = 'RerunDifferencesError';
  }
}

const fields = AccountConfig.shape;

/** commander collector of repeated `--set field=value`. */
export function collectSet(v: string, previous: string[] = []): string[] {
  return [...previous, v];
}

/**
 * `field=value` pairs into configuration overrides: a number for the integer fields
 * (leverage, maxTradesPerDay, losingStreakPause …), `null` to switch a nullable rule off,
 * else the decimal string as typed. The account's schema checks the values when applied.
 * @throws InputError for a pair without `=` or an unknown field
 */
export function parseOverrides(pairs: readonly string[]): Partial<AccountConfig> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new InputError(`--set expects field=value, got "${p}"`);
    const key = p.slice(0, eq);
    const raw = p.slice(eq + 1);
    if (!(key in fields) || key === 'accountId') throw new InputError(`--set: unknown configuration field "${key}" (one of ${Object.keys(fields).filter((k) => k !== 'accountId').join(', ')})`);
    let schema: z.ZodTypeAny = fields[key as keyof typeof fields];
    if (schema instanceof z.ZodNullable) schema = schema.unwrap();
    out[key] = raw === 'null' ? null : schema instanceof z.ZodNumber ? Number(raw) : schema instanceof z.ZodBoolean ? raw === 'true' : raw;
  }
  return out as Partial<AccountConfig>;
}

const brief = (events: RerunReport['decisions'][number]['rerun']) =>
  Array.isArray(events) ? events.map((e) => (e.type === 'EntryDenied' ? `EntryDenied ${(e.data as { reason: string }).reason}` : e.type)).join(', ') || '(nothing)' : `refused ${events.rejected}: ${events.message}`;

/** The report as text: one line per differing decision, then the counts. */
export function formatRerun(r: RerunReport): string {
  const lines = [`rerun of account ${r.accountId}${Object.keys(r.overrides).length ? ` with ${Object.entries(r.overrides).map(([k, v]) => `${k}=${String(v)}`).join(', ')}` : ''}`];
  for (const d of r.differences) {
    lines.push(`  ${d.streamId}@${d.revision} ${d.command} (cause ${d.cause})`);
    lines.push(`    recorded: ${brief(d.recorded)}`);
    lines.push(`    re-run:   ${brief(d.rerun)}`);
  }
  const why = new Map<string, number>();
  for (const n of r.notRerun) why.set(n.reason, (why.get(n.reason) ?? 0) + 1);
  lines.push(`${r.decisions.length} decision(s) decided again, ${r.differences.length} differ; ${r.notRerun.length} not re-run`);
  for (const [reason, n] of why) lines.push(`  not re-run ×${n}: ${reason}`);
  return lines.join('\n');
}

/**
 * Run the re-run on an open store and return the text (or JSON) to print.
 * @throws InputError (exit 2) for an unknown account or an invalid override; RerunDifferencesError (exit 1) after printing when decisions differ
 */
export async function rerunCommand(store: EventStore, accountId: string, sets: readonly string[], json: boolean, print: (text: string) => void): Promise<void> {
  const overrides = parseOverrides(sets);
  const report = await rerunAccount(store, accountId, overrides).catch((e: unknown) => {
    throw e instanceof RerunInputError ? new InputError(e.message) : e;
  });
  print(json ? JSON.stringify(report, null, 2) : formatRerun(report));
  if (report.differences.length) throw new RerunDifferencesError(report.differences.length);
}
