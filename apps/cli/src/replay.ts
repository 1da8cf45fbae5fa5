import { AccountSummary, Subjects } from '@bulwark/contracts';
import { InMemoryEventStore, JetStreamEventStore } from '@bulwark/event-store';
import { type BusConfig, connectNats, requestJson } from '@bulwark/messaging';
import { compareWithServices, COMPARED_COUNTS, COMPARED_DECIMALS, NOT_COMPARED, type ReadModels, rebuildReadModels, type SummaryDifference } from '@bulwark/projections';
import { type Command, InvalidArgumentError } from 'commander';
import { accountArg, columns, type OpenedStore, requireAccount, rows, withStore, writeOut } from './audit';
import { InputError } from './input-checks';
import { collectSet, rerunCommand } from './rerun-cmd';

/*
 * `bulwark replay`: argument parsing, the text for people and printing. The read models (every
 * account's policy, positions, ledger, orders and stops rebuilt from the event log alone), the
 * consistency checks and the comparison with the accounting service are `rebuildReadModels`
 * and `compareWithServices` of @bulwark/projections.
 */

// ---------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------

export interface ServiceComparison {
  accountId: string;
  /** False when the accounting service did not answer for the account (not running, or it does not know it). */
  answered: boolean;
  differences: SummaryDifference[];
}

export function formatReadModels(m: ReadModels, comparisons: ServiceComparison[] = []): string {
  const lines: string[] = [
    `Replay of the event log up to position ${m.lastPosition} (${m.eventsRead} events read${m.accountFilter ? `, account ${m.accountFilter}` : ''})`,
    m.verified
      ? '  mode: verify (every event re-checked against its schema and the store\'s size limit)'
      : '  mode: trusting the log (schemas were checked at append; unknown types and events the folds cannot use are still reported; --verify re-checks every event)',
  ];
  if (m.accounts.length === 0) lines.push('  no account in the log');
  for (const a of m.accounts) {
    const p = a.policy;
    const l = a.ledger;
    lines.push('', `Account ${a.accountId}`);
    lines.push(
      ...rows([
        ['configuration', p.config ? `${p.config.venue} ${p.config.symbol}, capital ${p.config.capital}, leverage ${p.config.leverage}x (cap ${p.config.leverageCap}), risk ${p.config.riskFraction}, max ${p.config.maxTradesPerDay} trades/day, daily loss limit ${p.config.dailyLossLimitFraction ?? '—'}, monthly drawdown ${p.config.maxMonthlyDrawdownFraction}` : 'no valid AccountOpened (the schema check says why): capital counted as 0'],
        ['trading state', p.tradingState],
        ['pause', p.monthlyPause ? `monthly drawdown limit (${p.monthlyPause.month}), until resumed` : p.pausedForDay ? `${p.pausedForDay.reason} on ${p.pausedForDay.day}` : 'none'],
        ['counters', `${p.entries} entries; ${p.tradesToday} on ${p.day ?? '—'}, day PnL ${p.pnlToday}; month ${p.month ?? '—'} base ${p.monthBase ?? '—'}, alerts ${p.drawdownAlertsThisMonth.join(', ') || 'none'}`],
        ['assessed', `${p.intentsAssessed} intents, ${p.positionResultsRecorded} position results`],
        ['capital', `${l.capital} USDT`],
        ['realised PnL', `${l.realisedPnl} USDT`],
        ['fees', `${l.fees} USDT`],
        ['funding', `${l.funding} USDT`],
        ['liquidation fees', `${l.liquidationFees} USDT`],
        ['wallet balance', `${l.walletBalance} USDT`],
        ['unrealised PnL', `${l.unrealisedPnl} USDT (${l.unrealisedBasis})`],
        ['final equity', `${l.finalEquity} USDT = capital + realised − fees + funding − liquidation fees + unrealised`],
        ['positions', `${l.positionsOpened} opened, ${l.positionsClosed} ended (${Object.entries(l.closesByPurpose).map(([k, v]) => `${k} ${v}`).join(', ') || '—'}), ${l.liquidations} liquidated, ${l.openPositions} open; ${l.fills} booked fills`],
        ['orders', Object.entries(a.orders.byStatus).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'],
        ['stops', Object.entries(a.stops.byStatus).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'],
      ]),
    );
    if (a.positions.length) {
      lines.push(
        ...columns(
          ['position', 'status', 'side', 'entry', 'qty', 'realised', 'fees', 'funding', 'net', 'unrealised'],
          a.positions.map((x) => [x.streamId, x.status, x.side ?? '—', x.entryPrice, x.quantity, x.realisedPnl, x.fees, x.funding, x.netPnl, x.unrealisedPnl]),
          '    ',
        ),
      );
    }
  }
  lines.push('', 'Consistency checks');
  lines.push(...columns(['', 'check', 'checked', 'rule'], m.checks.map((c) => [c.ok ? '✓' : '✗', c.name, String(c.checked), c.rule])));
  for (const c of m.checks) for (const f of c.failures) lines.push(`  ✗ ${c.name} ${f.subject}${f.position !== undefined ? ` (position ${f.position}, ${f.eventType ?? 'type unknown'})` : ''}: ${f.detail}`);
  if (comparisons.length) {
    lines.push('', 'Against the accounting service (bulwark.accounting.summary)');
    for (const c of comparisons) {
      if (!c.answered) lines.push(`  ${c.accountId}: no answer (service not running or account unknown to it): not compared`);
      else if (c.differences.length === 0) lines.push(`  ${c.accountId}: ✓ matches (${[...COMPARED_DECIMALS, ...COMPARED_COUNTS, 'closesByPurpose'].join(', ')}; unrealised and equity when flat)`);
      else for (const d of c.differences) lines.push(`  ${c.accountId}: ✗ ${d.field} rebuilt ${d.rebuilt}, held ${d.held}`);
    }
    lines.push(`  not compared: ${NOT_COMPARED.join(', ')} (they need the marks of every step, which the log does not hold)`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------
// Command
// ---------------------------------------------------------------------------------------

export type StoreKind = 'jetstream' | 'memory';

/** Opens the event store of a run; `kind` is `--store` (jetstream when not given). */
export type OpenStore = (kind?: StoreKind) => Promise<OpenedStore>;

/** `replay` found a failed consistency check or a difference with the services (exit 1). */
export class ReplayMismatchError extends Error {
  constructor(
    readonly failedChecks: string[],
    readonly differences: SummaryDifference[],
  ) {
    super(
      `replay: ${failedChecks.length ? `consistency check(s) failed: ${failedChecks.join(', ')}` : 'consistency checks hold'}` +
        `${differences.length ? `; ${differences.length} difference(s) with the accounting service` : ''}`,
    );
    this.name = 'ReplayMismatchError';
  }
}

function storeKind(v: string): StoreKind {
  if (v !== 'jetstream' && v !== 'memory') throw new InvalidArgumentError(`--store must be jetstream or memory, got "${v}"`);
  return v;
}

/**
 * `replay [--account ID] [--store jetstream|memory] [--verify] [--json]`: prints the rebuilt models,
 * the consistency checks and, when `querySummary` answers, the comparison with the
 * accounting service. Throws {@link ReplayMismatchError} (exit 1) after printing when a
 * check fails or a difference exists — a stored message that is not a valid event fails the
 * `schema` check, so exit 1, with every account's models printed all the same. An
 * `--account` that is not in the log is an InputError (exit 2). Without `--verify` the log is
 * trusted (`rebuildReadModels`' `verify`): event schemas were checked at append and are not
 * checked again; the report says which mode ran.
 */
export function registerReplayCommand(program: Command, openStore: OpenStore, querySummary?: (accountId: string) => Promise<AccountSummary | null>): void {
  program
    .command('replay')
    .description('Rebuild every read model from the event log alone (account policy, positions, ledger, orders, stops), check its consistency and compare with the accounting service.')
    .option('--account <id>', 'only this account', accountArg)
    .option('--store <kind>', 'event store: jetstream (the NATS JetStream log) or memory (the embedding program\'s in-process store)', storeKind, 'jetstream')
    .option('--json', 'print JSON instead of text', false)
    .option('--verify', "re-check every event against its schema and the store's size limit (slower; without it the log is trusted: schemas were checked at append)", false)
    .option('--rerun', "decide the account's recorded decisions again with today's rules and report every one that differs (needs --account; exit 1 when any differs)", false)
    .option('--set <field=value>', 'with --rerun: replace a configuration field first (repeatable), e.g. --set losingStreakPause=2', collectSet, [])
    .action(async (o: { account?: string; store: StoreKind; json: boolean; verify: boolean; rerun: boolean; set: string[] }, cmd: Command) => {
      if (o.rerun || o.set.length) {
        if (!o.rerun) throw new InputError('--set is only used with --rerun');
        if (o.account === undefined) throw new InputError('--rerun needs --account ID');
        const accountId = o.account;
        return withStore(() => openStore(o.store), (store) => rerunCommand(store, accountId, o.set, o.json, (t) => writeOut(cmd, t)));
      }
      const models = await withStore(
        () => openStore(o.store),
        async (store) => {
          const m = await rebuildReadModels(store, { accountId: o.account, verify: o.verify });
          if (o.account !== undefined && m.accounts.length === 0) await requireAccount(store, o.account);
          return m;
        },
      );
      const comparisons: ServiceComparison[] = [];
      if (querySummary) {
        for (const a of models.accounts) {
          const held = await querySummary(a.accountId);
          comparisons.push({ accountId: a.accountId, answered: held !== null, differences: held ? compareWithServices(models, [held]) : [] });
        }
      }
      writeOut(cmd, o.json ? JSON.stringify({ ...models, services: comparisons }, null, 2) : formatReadModels(models, comparisons));
      const failed = models.checks.filter((c) => !c.ok).map((c) => c.name);
      const differences = comparisons.flatMap((c) => c.differences);
      if (failed.length || differences.length) throw new ReplayMismatchError(failed, differences);
    });
}

// ---------------------------------------------------------------------------------------
// Wiring for main.ts (NATS)
// ---------------------------------------------------------------------------------------

/** The event store cannot be opened (NATS unreachable, stream refused). */
export class EventStoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventStoreUnavailableError';
  }
}

/**
 * The CLI's store opener: `jetstream` connects to NATS and opens the configured event-store
 * stream (the connection is closed with the store); `memory` is an empty in-process store
 * (a fresh CLI process holds no log: it is there for programs that embed the commands).
 */
export function storeOpenerFromBus(bus: BusConfig): OpenStore {
  return async (kind = 'jetstream') => {
    if (kind === 'memory') {
      const store = new InMemoryEventStore();
      return { store, close: () => store.close() };
    }
    // Reads only: the operator's user may read the log, never write it.
    const nc = await connectNats({ user: 'operator', servers: bus.natsUrl, name: 'bulwark-cli-audit', timeoutMs: 3_000 }).catch((e) => {
      throw new EventStoreUnavailableError(`${(e as Error).message} (run npm run setup, or set NATS_URL and credentials)`);
    });
    try {
      const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
      return {
        store,
        close: async () => {
          await store.close();
          await nc.drain();
        },
      };
    } catch (e) {
      await nc.close();
      throw new EventStoreUnavailableError(`cannot open the event store ${bus.esStream} (${bus.esPrefix}.>) on ${bus.natsUrl}: ${(e as Error).message}`);
    }
  };
}

/** Ask the accounting service for an account's summary; null when nobody answers or it does not know the account. */
export function summaryQueryFromBus(bus: BusConfig, timeoutMs = 3_000): (accountId: string) => Promise<AccountSummary | null> {
  return async (accountId) => {
    const nc = await connectNats({ user: 'operator', servers: bus.natsUrl, name: 'bulwark-cli-replay', timeoutMs: 3_000, reconnect: 'never' }).catch(() => null);
    if (!nc) return null;
    try {
      // No answer or a refusal (unknown account): nothing held to compare with.
      const raw = await requestJson(nc, Subjects.summary, { accountId }, timeoutMs).catch(() => null);
      if (raw === null) return null;
      const s = AccountSummary.safeParse(raw);
      return s.success ? s.data : null;
    } finally {
      await nc.close();
    }
  };
}
