import { ClientOrderId, Identifier, type RiskAssessment, Streams } from '@bulwark/contracts';
import type { EventStore } from '@bulwark/event-store';
import {
  auditDay,
  type AuditedEvent,
  auditOrder,
  breakerDetail,
  type DayAudit,
  formatSkipped,
  GUARD_EVENT_TYPES,
  type OrderAudit,
  type PositionAudit,
  type SkippedEvent,
  utcDayRange,
} from '@bulwark/projections';
import { type Command, InvalidArgumentError } from 'commander';
import { InputError } from './input-checks';

/*
 * `bulwark audit order <clientOrderId>` and `bulwark audit day <YYYY-MM-DD>`: argument parsing,
 * the text for people and printing. The audits themselves (the causal chain of one order,
 * every decision of one UTC day, read from the event log alone) are `auditOrder` and
 * `auditDay` of @bulwark/projections, which the gateway serves too.
 */

/** The errors main.ts maps to exit codes. */
export { AuditArgumentError, AuditNotFoundError } from '@bulwark/projections';

// ---------------------------------------------------------------------------------------
// Text for people
// ---------------------------------------------------------------------------------------

type Row = [label: string, value: string];

/** Label/value rows, labels padded to one width. */
export function rows(list: Row[], indent = '  '): string[] {
  const w = Math.max(0, ...list.map(([k]) => k.length));
  return list.map(([k, v]) => `${indent}${k.padEnd(w)}  ${v}`);
}

/** A table with a header row, every column padded to its widest cell. */
export function columns(header: string[], body: string[][], indent = '  '): string[] {
  const w = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `${indent}${r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(w[i]))).join('  ')}`.trimEnd();
  return [line(header), ...body.map(line)];
}

const orDash = (v: string | number | null | undefined) => (v === null || v === undefined || v === '' ? '—' : String(v));

function assessmentRows(x: RiskAssessment): Row[] {
  return [
    ['side', x.side],
    ['entry price (reference)', x.entryPrice],
    ['stop price', x.stopPrice],
    ['take-profit price', orDash(x.takeProfitPrice)],
    ['equity', x.equity],
    ['available margin', x.availableMargin],
    ['risk fraction', x.riskFraction],
    ['risk amount', x.riskAmount],
    ['stop distance', x.stopDistance],
    ['fee per unit', `${x.feePerUnit} (taker ${x.takerFeeRate})`],
    ['loss per unit', x.lossPerUnit],
    ['raw quantity', x.rawQuantity],
    ['margin-capped quantity', x.marginCappedQuantity],
    ['quantity (rounded)', x.quantity],
    ['notional', x.notional],
    ['leverage', `${x.leverage}x (requested ${x.requestedLeverage}, cap ${x.leverageCap}, bracket max ${x.bracketMaxLeverage})`],
    ['bracket', `${x.bracket} (MMR ${x.maintMarginRatio}, maintenance amount ${x.maintAmount})`],
    ['initial margin', `${x.initialMargin} (max ${x.maxMargin})`],
    ['liquidation price', orDash(x.liquidationPrice)],
    ['liquidation distance', orDash(x.liquidationDistance)],
    ['stop to liquidation', orDash(x.stopToLiquidation)],
    ['required buffer', orDash(x.requiredBuffer)],
    ['loss at stop', x.lossAtStop],
  ];
}

function positionLines(p: PositionAudit): string[] {
  const lines = [
    `  ${p.streamId}  ${p.status} ${orDash(p.side)}  entry ${p.entryPrice}  ${p.leverage}x${p.status === 'OPEN' ? `  open ${p.quantity}` : ''}`,
    ...rows(
      [
        ['opened by', p.openedBy ? `${p.openedBy.clientOrderId} (trade ${p.openedBy.tradeId})` : '—'],
        ['ended by', p.endedBy ? `${p.endedBy.type} ${p.endedBy.clientOrderId} (${p.endedBy.purpose}, trade ${p.endedBy.tradeId})` : '—'],
        ['realised PnL', `${p.pnl.realised} USDT`],
        ['fees', `${p.pnl.fees} USDT`],
        ['funding', `${p.pnl.funding} USDT`],
        ['liquidation fee', `${p.pnl.liquidationFee} USDT`],
        ['net PnL', `${p.pnl.net} USDT`],
      ],
      '    ',
    ),
    ...columns(
      ['rev', 'market time', 'event', 'detail'],
      p.events.map((e) => [String(e.revision), e.time, e.type, positionEventDetail(e)]),
      '    ',
    ),
  ];
  if (p.stop) {
    lines.push(`    stop stream ${p.stop.streamId}`);
    lines.push(...columns(['rev', 'market time', 'event', 'detail'], p.stop.events.map((e) => [String(e.revision), e.time, e.type, stopEventDetail(e)]), '      '));
  }
  return lines;
}

function positionEventDetail(e: AuditedEvent): string {
  const d = e.data as Record<string, string>;
  switch (e.type) {
    case 'PositionOpened':
      return `${d.side} ${d.quantity} @ ${d.entryPrice}, fee ${d.fee} (${d.clientOrderId} trade ${d.tradeId})`;
    case 'PositionIncreased':
      return `+${d.quantity} @ ${d.price} → ${d.newQuantity} @ ${d.newEntryPrice}, fee ${d.fee}`;
    case 'PositionReduced':
      return `−${d.quantity} @ ${d.price} → ${d.newQuantity}, realised ${d.realisedPnl}, fee ${d.fee}`;
    case 'PositionClosed':
    case 'PositionLiquidated':
      return `${d.quantity} @ ${d.price}, realised ${d.realisedPnl}, fee ${d.fee}; totals ${d.totalRealisedPnl} / ${d.totalFees} / ${d.totalFunding}, net ${d.netPnl}${d.liquidationFee ? `, liquidation fee ${d.liquidationFee}` : ''}`;
    case 'FundingApplied':
      return `rate ${d.rate} at mark ${d.markPrice} on ${d.positionQuantity}: ${d.amount}`;
    default:
      return '';
  }
}

function stopEventDetail(e: AuditedEvent): string {
  const d = e.data as Record<string, unknown>;
  if (e.type === 'StopPlaced') {
    const g = d.guards as Record<string, string | null>;
    return `${d.positionSide} ${d.quantity}: stop ${d.stopPrice}, target ${orDash(d.takeProfitPrice as string | null)}, liquidation ${orDash(g.liquidationPrice)}, forced close ${orDash(g.liquidationDistanceClosePrice)}`;
  }
  if (e.type === 'StopCancelled') return String(d.reason);
  return breakerDetail(e.type, d);
}

/** The "Skipped" section: one line per stored message left out (nothing when there is none). */
function skippedLines(skipped: readonly SkippedEvent[]): string[] {
  if (skipped.length === 0) return [];
  return ['', `Skipped: ${skipped.length} stored message(s) that are not valid events, left out of the audit`, ...skipped.map((x) => `  ! ${formatSkipped(x)}`)];
}

/** The order audit as aligned text. */
export function formatOrderAudit(a: OrderAudit, indent = ''): string {
  const o = a.order;
  const lines: string[] = [];
  lines.push(`Order ${a.clientOrderId}${o ? `  ${o.purpose} ${o.side} ${o.type} ${o.quantity} ${o.symbol} on ${o.venue}${o.reduceOnly ? ' (reduce-only)' : ''}` : ''}`);
  lines.push(
    ...rows([
      ['account', orDash(a.accountId)],
      ['stream', a.streamId],
      ['status', a.status],
      ['filled', `${a.filledQuantity}${a.averageFillPrice ? ` at an average ${a.averageFillPrice}` : ''}`],
      ['fees', `${a.fees} USDT`],
    ]),
  );
  lines.push('', 'Transitions (market time, UTC)');
  lines.push(...columns(['rev', 'market time', 'event', 'status', 'caused by', 'detail'], a.transitions.map((t) => [String(t.revision), t.time, t.type, t.status, t.causationId, t.detail])));
  lines.push('', 'Source');
  const s = a.source;
  if (s.kind === 'ENTRY') {
    lines.push(
      ...rows([
        ['approval', s.approval ? `EntryApproved ${s.sourceStreamId}#${s.approval.revision} at ${s.approval.time} (event ${s.sourceEventId})` : `missing: ${s.sourceStreamId} / ${s.sourceEventId}`],
        ['decided with', s.decidedWith.length ? s.decidedWith.map((e) => `${e.type} (${breakerDetail(e.type, e.data as Record<string, unknown>)})`).join('; ') : '—'],
        ['intent', s.intent ? `${s.intent.data.intentId} on ${s.intent.streamId}#${s.intent.revision} at ${s.intent.time}` : 'missing'],
        ['strategy', s.intent ? `${s.intent.data.strategy}: ${s.intent.data.reason}` : '—'],
        ['intent levels', s.intent ? `${s.intent.data.side} at ${s.intent.data.entryPrice}, stop ${s.intent.data.stopPrice}, target ${orDash(s.intent.data.takeProfitPrice)}` : '—'],
        ['candle', s.candle ? `${s.candle.correlationId} (opened ${s.candle.openTimeUtc} UTC)` : '—'],
      ]),
    );
    if (s.assessment) {
      lines.push('', 'Risk assessment (why this size)');
      lines.push(...rows(assessmentRows(s.assessment)));
    }
  } else if (s.kind === 'PROTECTIVE') {
    lines.push(
      ...rows([
        ['trigger', s.trigger ? `StopTriggered ${s.trigger.data.kind} on ${s.sourceStreamId}#${s.trigger.revision} at ${s.trigger.time}: crossed ${s.trigger.data.triggerPrice} (level ${s.trigger.data.level}), attempt ${s.trigger.data.attempt}` : `missing: ${s.sourceStreamId} / ${s.sourceEventId}`],
        ['stop placed', s.stopPlaced ? `at ${s.stopPlaced.time}: ${s.stopPlaced.data.positionSide} ${s.stopPlaced.data.quantity} from ${s.stopPlaced.data.entryPrice}, stop ${s.stopPlaced.data.stopPrice}, target ${orDash(s.stopPlaced.data.takeProfitPrice)}` : 'missing'],
        ['guards', s.stopPlaced ? `liquidation ${orDash(s.stopPlaced.data.guards.liquidationPrice)}, margin-ratio close ${orDash(s.stopPlaced.data.guards.marginRatioClosePrice)}, distance close ${orDash(s.stopPlaced.data.guards.liquidationDistanceClosePrice)}` : '—'],
        ['warnings', s.warnings.length ? s.warnings.map((w) => breakerDetail(w.type, w.data as Record<string, unknown>)).join('; ') : 'none'],
        ['position', orDash(s.positionStreamId)],
        ['entry order', s.stopPlaced ? s.stopPlaced.data.entryClientOrderId : '—'],
      ]),
    );
  } else {
    lines.push(...rows([['kind', s.kind], ['source', `${orDash(s.sourceStreamId)} / ${orDash(s.sourceEventId)}`]]));
  }
  lines.push('', 'Fills');
  if (a.fills.length === 0) lines.push('  none');
  else
    lines.push(
      ...columns(
        ['trade', 'market time', 'quantity', 'price', 'fee', 'liquidity', 'candle', 'position'],
        a.fills.map((f) => [f.tradeId, f.time, f.quantity, f.price, f.fee, f.liquidity, f.candle ? f.candle.openTimeUtc : '—', f.positionStreamIds.join(', ') || 'NONE']),
      ),
    );
  lines.push('', 'Positions');
  if (a.positions.length === 0) lines.push('  none');
  for (const p of a.positions) lines.push(...positionLines(p));
  if (s.kind === 'PROTECTIVE' && s.entry) {
    lines.push('', `Entry order of the position`, formatOrderAudit(s.entry, '  '));
  }
  lines.push('', `Problems: ${a.problems.length === 0 ? 'none (every link of the chain was found)' : ''}`);
  for (const p of a.problems) lines.push(`  ✗ ${p}`);
  lines.push(...skippedLines(a.skipped));
  return lines.map((l) => (l ? indent + l : l)).join('\n');
}

/** The day audit as aligned text. */
export function formatDayAudit(a: DayAudit): string {
  const c = a.counts;
  const kv = (r: Record<string, number>) => (Object.keys(r).length ? Object.entries(r).sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => `${k} ${v}`).join(', ') : '—');
  const lines = [
    `Audit of ${a.day} (UTC, market time) — ${a.accountId ? `account ${a.accountId}` : 'all accounts'}`,
    ...rows([
      ['events', String(a.totals.events)],
      ['approvals', String(a.approvals.length)],
      ['denials', `${a.denials.length}${a.denials.length ? ` (${kv(c.denialsByReason)})` : ''}`],
      ['breakers and guards', `${a.guards.length}${a.guards.length ? ` (${kv(Object.fromEntries(Object.entries(c.byType).filter(([k]) => GUARD_EVENT_TYPES.has(k))))})` : ''}`],
      ['pauses', kv(c.pausesByReason)],
      ['stops triggered', kv(c.triggersByKind)],
      ['orders submitted', String(a.orders.submitted.length)],
      ['orders rejected', `${a.orders.rejected.length}${a.orders.rejected.length ? ` (${kv(c.ordersRejectedByCode)})` : ''}`],
      ['fills', String(a.orders.filled.length)],
      ['positions opened', String(a.positions.opened.length)],
      ['positions closed', `${a.positions.closed.length}${a.positions.closed.length ? ` (${kv(c.closesByPurpose)})` : ''}`],
      ['closed net PnL', `${a.totals.closedNetPnl} USDT (realised ${a.totals.closedRealisedPnl}, fees ${a.totals.closedFees}, funding ${a.totals.closedFunding})`],
    ]),
  ];
  if (a.approvals.length) {
    lines.push('', 'Approvals (sizes)');
    lines.push(
      ...columns(
        ['market time', 'account', 'order', 'side', 'quantity', 'notional', 'lev', 'equity', 'risk', 'loss at stop', 'stop', 'target', 'liquidation'],
        a.approvals.map((x) => [x.time, orDash(x.accountId), x.clientOrderId, x.side, x.quantity, x.notional, `${x.leverage}x`, x.equity, x.riskAmount, x.lossAtStop, x.stopPrice, orDash(x.takeProfitPrice), orDash(x.liquidationPrice)]),
      ),
    );
  }
  if (a.denials.length) {
    lines.push('', 'Denials (reasons)');
    lines.push(...columns(['market time', 'account', 'intent', 'reason', 'quantity', 'detail'], a.denials.map((x) => [x.time, orDash(x.accountId), x.intentId, x.reason, orDash(x.quantity), x.detail])));
  }
  if (a.positions.closed.length) {
    lines.push('', 'Positions closed');
    lines.push(
      ...columns(
        ['market time', 'position', 'side', 'by', 'price', 'realised', 'fees', 'funding', 'net'],
        a.positions.closed.map((x) => [x.time, x.streamId, orDash(x.side), orDash(x.purpose), x.price, orDash(x.totalRealisedPnl), orDash(x.totalFees), orDash(x.totalFunding), orDash(x.netPnl)]),
      ),
    );
  }
  lines.push('', 'Timeline');
  if (a.timeline.length === 0) lines.push('  no decisions on this day');
  else lines.push(...columns(['market time', 'account', 'event', 'detail'], a.timeline.map((x) => [x.time, orDash(x.accountId), x.type, x.detail])));
  lines.push('', 'Events by type');
  lines.push(...columns(['type', 'count'], Object.entries(c.byType).sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => [k, String(v)])));
  lines.push(...skippedLines(a.skipped));
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

/** A store the command opens for its run and closes after. */
export interface OpenedStore {
  store: EventStore;
  close(): Promise<void>;
}

function clientOrderIdArg(v: string): string {
  if (!ClientOrderId.safeParse(v).success) throw new InvalidArgumentError(`clientOrderId must be a client order id ([A-Za-z0-9_-], 1..36 characters), got "${v}"`);
  return v;
}

function dayArg(v: string): string {
  if (!utcDayRange(v)) throw new InvalidArgumentError(`day must be a UTC calendar date YYYY-MM-DD, got "${v}"`);
  return v;
}

export function accountArg(v: string): string {
  if (!Identifier.safeParse(v).success) throw new InvalidArgumentError(`--account must be an account id ([A-Za-z0-9_-], 1..64 characters), got "${v}"`);
  return v;
}

export function writeOut(cmd: Command, text: string): void {
  const out = cmd.configureOutput().writeOut ?? ((t: string) => process.stdout.write(t));
  out(text.endsWith('\n') ? text : `${text}\n`);
}

/**
 * An account named on the command line must exist in the log: its stream `account-<id>`
 * (where risk records AccountOpened) holds something.
 * @throws InputError (exit 2) naming the account and the stream
 */
export async function requireAccount(store: EventStore, accountId: string): Promise<void> {
  if ((await store.streamRevision(Streams.account(accountId))) === null) {
    throw new InputError(`account ${accountId} is not in the event log (no stream ${Streams.account(accountId)}): check the id (bulwark replay lists the accounts)`);
  }
}

export async function withStore<T>(openStore: () => Promise<OpenedStore>, run: (store: EventStore) => Promise<T>): Promise<T> {
  const opened = await openStore();
  try {
    return await run(opened.store);
  } finally {
    await opened.close();
  }
}

/**
 * `audit order <clientOrderId> [--json]` and `audit day <YYYY-MM-DD> [--account ID] [--json]`.
 * A malformed argument is commander's InvalidArgumentError (exit 2 through main), an
 * `--account` that is not in the log an InputError (exit 2); an unknown order is
 * {@link AuditNotFoundError} (exit 1). Stored messages that are not valid events are listed
 * under "Skipped" and the audit answers for the rest (exit 0).
 */
export function registerAuditCommands(program: Command, openStore: () => Promise<OpenedStore>): void {
  const audit = program.command('audit').description('Audit the event log: the causal chain of an order, or every decision of a day (reading never changes the log).');
  audit
    .command('order')
    .description('The causal chain of one order: its transitions, the approval with the risk assessment, the intent and candle (or the stop trigger and the entry), fills, positions and PnL.')
    .argument('<clientOrderId>', 'client order id, e.g. bw23d9pqkduhw-1E', clientOrderIdArg)
    .option('--json', 'print JSON instead of text', false)
    .action(async (clientOrderId: string, o: { json: boolean }, cmd: Command) => {
      const a = await withStore(openStore, (store) => auditOrder(store, clientOrderId));
      writeOut(cmd, o.json ? JSON.stringify(a, null, 2) : formatOrderAudit(a));
    });
  audit
    .command('day')
    .description('Every decision of one UTC day (market time): approvals and denials, breakers and guards, orders, fills, positions with PnL, counts.')
    .argument('<day>', 'UTC day, YYYY-MM-DD', dayArg)
    .option('--account <id>', 'only this account', accountArg)
    .option('--json', 'print JSON instead of text', false)
    .action(async (day: string, o: { account?: string; json: boolean }, cmd: Command) => {
      const a = await withStore(openStore, async (store) => {
        if (o.account !== undefined) await requireAccount(store, o.account);
        return auditDay(store, day, { accountId: o.account });
      });
      writeOut(cmd, o.json ? JSON.stringify(a, null, 2) : formatDayAudit(a));
    });
}
