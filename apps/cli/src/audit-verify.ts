// `bulwark audit verify [--account ID] [--json]`: recompute every hash chain of the log (docs/event-store.md "Verify").
import type { Command } from 'commander';
import { type ChainBreak, ChainCheckpointer, DEFAULT_CHECKPOINT_EVERY, type EventStore, eventStoreKind, kurrentDbUrl, openKurrentDB, verifyChains, type VerifyReport } from '@bulwark/event-store';
import { accountArg, type OpenedStore, requireAccount, withStore, writeOut } from './audit';
import { integerIn } from './input-checks';

/** The log's chains are broken: the first break in log order (exit 1). */
export class ChainBrokenError extends Error {
  constructor(readonly report: VerifyReport) {
    const b = report.firstBreak as ChainBreak;
    super(`hash chain broken at ${b.streamId} revision ${b.revision ?? '?'}${b.position !== null ? ` (position ${b.position})` : ''}: ${b.kind}, expected ${b.expected}, found ${b.found}${report.breaks.length > 1 ? ` (${report.breaks.length} broken links in all)` : ''}`);
    this.name = 'ChainBrokenError';
  }
}

/** The text report of a verify. */
export function formatVerify(r: VerifyReport, accountId?: string): string {
  const scope = accountId ? `account ${accountId}` : 'all streams';
  const lines = [
    `${r.ok ? 'ok' : 'BROKEN'}: ${r.eventsChecked} events checked in ${r.streams} streams (${scope})`,
    `  chained                  ${r.chained}`,
    `  unchained (pre-hash)     ${r.unchained}`,
    `  checkpoint heads checked ${r.checkpointHeads}`,
  ];
  for (const b of r.breaks) lines.push(`  broken: ${b.streamId} revision ${b.revision ?? '?'}${b.position !== null ? ` position ${b.position}` : ''}: ${b.kind}, expected ${b.expected}, found ${b.found}`);
  return lines.join('\n');
}

/** Verify `store`'s chains (one account's when given). @throws InputError (exit 2) for an account not in the log */
export async function auditVerify(store: EventStore, accountId?: string): Promise<VerifyReport> {
  if (accountId !== undefined) await requireAccount(store, accountId);
  return verifyChains(store, accountId !== undefined ? { accountId } : {});
}

/**
 * Register `verify` under the existing `audit` command: prints the report, exits 0 when every
 * chain holds (pre-hash events are "unchained", not broken), 1 with the first broken link
 * ({@link ChainBrokenError}), 2 for an unknown account.
 */
export function registerAuditVerifyCommand(audit: Command, openStore: () => Promise<OpenedStore>): void {
  audit
    .command('checkpoint')
    .description('Record the chain heads of every account moved since the last checkpoint (ChainCheckpointRecorded on chain-<account>): run it periodically (the Kubernetes CronJob and compose job do) so a rewrite of the log that recomputes its hashes is still caught by verify.')
    .option('--every <n>', 'also checkpoint an account after this many of its events while reading', integerIn('--every', 1, 1_000_000), DEFAULT_CHECKPOINT_EVERY)
    .action(async (o: { every: number }, cmd: Command) => {
      const written = await withStore(openStore, async (store) => {
        const c = new ChainCheckpointer(store, { every: o.every });
        await c.catchUp();
        return c.written;
      });
      writeOut(cmd, `${written} checkpoint event(s) written`);
    });
  audit
    .command('verify')
    .description('Recompute every hash chain of the event log (or of one account) and check the chain checkpoints: ok with the number of events checked, or the first broken link (exit 1).')
    .option('--account <id>', 'only this account\'s streams', accountArg)
    .option('--json', 'print JSON instead of text', false)
    .action(async (o: { account?: string; json: boolean }, cmd: Command) => {
      const r = await withStore(openStore, (store) => auditVerify(store, o.account));
      writeOut(cmd, o.json ? JSON.stringify({ ...r, heads: Object.fromEntries(r.heads) }, null, 2) : formatVerify(r, o.account));
      if (!r.ok) throw new ChainBrokenError(r);
    });
}

/**
 * The store verify reads: the one BULWARK_EVENT_STORE names (KurrentDB on KURRENTDB_URL), else
 * the CLI's JetStream opener.
 * @throws EventStoreConfigError (exit 2) for a bad BULWARK_EVENT_STORE or a missing KURRENTDB_URL
 */
export function verifyStoreOpener(openJetStream: () => Promise<OpenedStore>, env: NodeJS.ProcessEnv = process.env): () => Promise<OpenedStore> {
  return async () => {
    if (eventStoreKind(env) === 'jetstream') return openJetStream();
    const store = openKurrentDB(kurrentDbUrl(env));
    return { store, close: () => store.close() };
  };
}
