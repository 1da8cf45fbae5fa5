import {
  type EventData,
  Identifier,
  MarginAccountAnswer,
  MarginAccountQuery,
  MarginCloseRequest,
  MarginEntryRequest,
  MarginLoanRequest,
  MarginTransferRequest,
  PositiveDecimalString,
  type RecordedEvent,
  Streams,
  Subjects,
} from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import { formatSkipped, marginAssets, MarginProjection, type MarginPairView, type MarginPositionView, type MarginReadModels, type SkippedEvent } from '@bulwark/projections';
import { type Command, InvalidArgumentError } from 'commander';
import type { ZodType } from 'zod';
import { accountId, askRunningSystem, type OperatorBus, symbol } from './account-commands';
import { columns, type OpenedStore, rows, withStore } from './audit';
import { DemoError } from './demo';
import { InputError } from './input-checks';

/*
 * `bulwark margin …`: the operator CLI for Binance spot isolated margin.
 * - transfer, borrow, repay, close and account are requests to the running execution service
 *   (`Subjects.margin(...)`), entries (`open`) go to risk (`Subjects.marginEntry`), over NATS the
 *   way `bulwark account …` talks to risk (askRunningSystem: refusals are CommandRefusedError, exit 1).
 * - positions and interest read the event log alone (no service needed) through the margin read
 *   model of @bulwark/projections (MarginProjection), the one the services and the gateway use:
 *   nothing here computes a PnL, a loan or an interest figure.
 * Every flag is checked before anything is sent: a malformed flag is commander's
 * InvalidArgumentError, a combination that cannot work an InputError (both exit 2).
 */

// ---------------------------------------------------------------------------------------
// Flag parsers (InvalidArgumentError → commander prints it, exit code 2)
// ---------------------------------------------------------------------------------------

const ASSET = /^[A-Z0-9]{2,20}$/;

/** An asset such as USDT or BTC (lower case is raised, as `--symbol` does). */
export function asset(v: string): string {
  const a = v.toUpperCase();
  if (!ASSET.test(a)) throw new InvalidArgumentError(`--asset must be an asset such as USDT or BTC (2..20 letters and digits), got "${v}"`);
  return a;
}

/** A plain decimal string > 0 (no sign, exponent, grouping or leading zeros), as `PositiveDecimalString` takes it. Kept a string: never a JS number. */
function positiveDecimal(flag: string, example: string) {
  return (v: string): string => {
    if (!PositiveDecimalString.safeParse(v).success) throw new InvalidArgumentError(`${flag} must be a decimal number > 0 such as ${example}, got "${v}"`);
    return v;
  };
}

/** `repay --amount`: a positive decimal, or `all` (any case) → 'ALL' (interest first, then the whole principal). */
function repayAmount(v: string): string {
  if (v.toLowerCase() === 'all') return 'ALL';
  if (!PositiveDecimalString.safeParse(v).success) throw new InvalidArgumentError(`--amount must be a decimal number > 0 such as 429.346511, or "all", got "${v}"`);
  return v;
}

/** `--to margin|spot` → the transfer's direction. */
function direction(v: string): 'TO_MARGIN' | 'TO_SPOT' {
  const t = v.toLowerCase();
  if (t === 'margin') return 'TO_MARGIN';
  if (t === 'spot') return 'TO_SPOT';
  throw new InvalidArgumentError(`--to must be margin (spot wallet → the pair's isolated account) or spot (back), got "${v}"`);
}

/** `--side long|short` → PositionSide. */
function side(v: string): 'LONG' | 'SHORT' {
  const t = v.toUpperCase();
  if (t !== 'LONG' && t !== 'SHORT') throw new InvalidArgumentError(`--side must be long or short, got "${v}"`);
  return t;
}

/** Free text of 1..max characters (what the request schemas allow), not only blanks. */
function text(flag: string, max: number) {
  return (v: string): string => {
    if (v.trim() === '' || v.length > max) throw new InvalidArgumentError(`${flag} must be 1..${max} characters, got ${v.length > max ? `${v.length} characters` : `"${v}"`}`);
    return v;
  };
}

const STATUSES = ['OPEN', 'CLOSED', 'STOPPED_OUT', 'LIQUIDATED'] as const;

function status(v: string): MarginPositionView['status'] {
  const s = v.toUpperCase();
  if (!(STATUSES as readonly string[]).includes(s)) throw new InvalidArgumentError(`--status must be one of ${STATUSES.join(', ')}, got "${v}"`);
  return s as MarginPositionView['status'];
}

/** Who asks when `--by` is not given: the shell's user, as the other operator commands do (an empty USER would be refused by the schema). */
const DEFAULT_BY = process.env.USER || 'operator';

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/** The flag that sets each request field, for an InputError naming it. */
const FLAG_OF: Record<string, string> = {
  accountId: '--account', symbol: '--symbol', asset: '--asset', amount: '--amount', direction: '--to', side: '--side',
  stopPrice: '--stop', takeProfitPrice: '--take-profit', reason: '--reason', by: '--by', requestId: '--request-id',
};

/**
 * The request as its schema takes it, checked the way the service will check it (so nothing the
 * service refuses as malformed is sent). The flag parsers catch almost everything; this covers
 * the defaults they never see (`--by` from $USER).
 * @throws InputError (exit 2) naming the flag of each failing field
 */
function checked<T>(schema: ZodType<T>, request: T): T {
  const r = schema.safeParse(request);
  if (r.success) return request;
  const why = r.error.issues.map((i) => {
    const field = String(i.path[0] ?? '');
    return `${FLAG_OF[field] ?? field}: ${i.message}`;
  });
  throw new InputError(`the request cannot be sent: ${why.join('; ')}`);
}

/**
 * The asset must be one of the pair's two (BTCUSDT: BTC or USDT), by the read model's
 * quote-suffix rule; a symbol the rule cannot split is left to the service (UNKNOWN_ASSET).
 * @throws InputError (exit 2)
 */
function requirePairAsset(sym: string, a: string): void {
  const assets = marginAssets(sym);
  if (assets && a !== assets.base && a !== assets.quote) throw new InputError(`--asset ${a} is not an asset of ${sym}: it holds ${assets.base} and ${assets.quote}`);
}

/**
 * Long: stop < entry < take-profit; short: the reverse. Without a price the entry is unknown,
 * but a take-profit on the stop's side of it can never be right.
 * @throws InputError (exit 2)
 */
function requireTargetBeyondStop(s: 'LONG' | 'SHORT', stop: string, takeProfit: string | undefined): void {
  if (takeProfit === undefined) return;
  const ok = s === 'LONG' ? dec(takeProfit).gt(dec(stop)) : dec(takeProfit).lt(dec(stop));
  if (!ok) throw new InputError(`--take-profit ${takeProfit} must be ${s === 'LONG' ? 'above' : 'below'} --stop ${stop} for a ${s.toLowerCase()} (the entry lies between them)`);
}

const printJson = (v: unknown) => console.log(JSON.stringify(v, null, 2));

/** Ask a running service; with `--json` a refusal's raw `{error}` is printed on stdout too (as `account open` does). */
function ask(subject: string, payload: unknown, service: string, bus: OperatorBus, json: boolean): Promise<unknown> {
  return askRunningSystem(subject, payload, service, bus, json ? printJson : undefined);
}

const field = (answer: unknown, name: string): string => {
  const v = (answer as Record<string, unknown> | null)?.[name];
  return v === undefined || v === null ? '—' : String(v);
};

// ---------------------------------------------------------------------------------------
// Risk's answer to an entry
// ---------------------------------------------------------------------------------------

/** Risk's answer on `Subjects.marginEntry` (RiskService.marginEntry). */
export interface MarginEntryAnswer {
  requestId: string;
  decision: 'APPROVED' | 'DENIED' | 'ALREADY_DECIDED';
  approved?: EventData<'MarginEntryApproved'>;
  denied?: EventData<'MarginEntryDenied'>;
}

/**
 * Risk denied a spot-margin entry (MarginEntryDenied, recorded on the account stream): the
 * reason (a DenialReason such as TRADING_HALTED or DAILY_TRADE_LIMIT) and risk's detail.
 * main() prints the message; exit code 1.
 */
export class MarginEntryDeniedError extends DemoError {
  constructor(readonly subject: string, readonly requestId: string, readonly reason: string, readonly detail: string) {
    super([`margin entry ${requestId} denied by ${subject}: ${reason}`, `  reason   ${reason}`, `  detail   ${detail}`].join('\n'));
    this.name = 'MarginEntryDeniedError';
  }
}

/** Risk's decision on an entry for a person (APPROVED or ALREADY_DECIDED; a denial is thrown). */
function formatEntry(a: MarginEntryAnswer, accountId: string): string {
  if (a.decision === 'ALREADY_DECIDED') {
    return `margin entry ${a.requestId} was decided before (ALREADY_DECIDED): nothing new is recorded; the decision is on stream ${Streams.account(accountId)}`;
  }
  const d = a.approved;
  if (!d) return JSON.stringify(a, null, 2);
  return [
    `margin entry ${a.requestId} APPROVED: ${d.side} ${d.symbol} on account ${d.accountId}`,
    ...rows([
      ['stop', d.stopPrice],
      ['take-profit', d.takeProfitPrice ?? 'none'],
      ['entries today', `${d.count} on trading day ${d.tradingDay}`],
      ['next', `execution sizes it from the pair's equity and opens it (bulwark margin positions --account ${d.accountId})`],
    ]),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// The venue's view of a pair
// ---------------------------------------------------------------------------------------

/** Execution's MarginAccountAnswer for a person: balances per asset, index price, margin level with its status, liquidation price, equity in quote. */
export function formatMarginAccount(answer: unknown): string {
  const p = MarginAccountAnswer.safeParse(answer);
  if (!p.success) return JSON.stringify(answer, null, 2);
  const a = p.data;
  const quote = marginAssets(a.symbol)?.quote ?? a.assets[a.assets.length - 1]?.asset ?? '';
  return [
    `margin account ${a.accountId} ${a.symbol} (isolated)`,
    ...columns(['asset', 'free', 'locked', 'borrowed', 'interest', 'net asset'], a.assets.map((x) => [x.asset, x.free, x.locked, x.borrowed, x.interest, x.netAsset])),
    ...rows([
      ['index price', a.indexPrice],
      ['margin level', a.marginLevel === null ? `none: nothing borrowed (${a.marginLevelStatus})` : `${a.marginLevel} (${a.marginLevelStatus})`],
      // Binance answers "0" when nothing can be liquidated.
      ['liquidation price', dec(a.liquidationPrice).isZero() ? 'none' : a.liquidationPrice],
      ['equity', `${a.equity} ${quote} (net assets at the index price)`],
    ]),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// The event log's view: positions and interest
// ---------------------------------------------------------------------------------------

/** What `readMarginModels` reads: one pair's stream when both are given, else the whole `margin` category. */
export interface MarginLogFilter {
  accountId?: string;
  symbol?: string;
}

/** The margin read models of the log, with the projection's last global position. */
export interface MarginLog extends MarginReadModels {
  lastPosition: number;
}

/**
 * Fold the margin streams of the log into the read model (MarginProjection, one event at a time).
 * A snapshot: events appended while reading wait for the next run. Stored messages the store
 * cannot decode are reported in `skipped` (kind UNREADABLE) beside the projection's INVALID ones.
 * Never throws for a bad event; a store error propagates.
 */
export async function readMarginModels(store: EventStore, filter: MarginLogFilter = {}): Promise<MarginLog> {
  const projection = new MarginProjection();
  const unreadable: SkippedEvent[] = [];
  const onUnreadable = (u: { streamId: string; revision: number | null; position: number; eventType: string | null; reason: string }) => {
    unreadable.push({ kind: 'UNREADABLE', streamId: u.streamId, revision: u.revision, position: u.position, type: u.eventType, tsEvent: null, reason: u.reason });
  };
  const end = await store.lastPosition();
  const events: AsyncIterable<RecordedEvent> | Iterable<RecordedEvent> =
    filter.accountId !== undefined && filter.symbol !== undefined
      ? await store.readStream(Streams.margin(filter.accountId, filter.symbol), { onUnreadable })
      : store.readAll({ categories: ['margin'], onUnreadable });
  for await (const e of events) {
    if (e.position > end) break;
    projection.apply(e);
  }
  const skipped = projection.skipped();
  return {
    pairs: projection.pairs().filter((p) => (filter.accountId === undefined || p.accountId === filter.accountId) && (filter.symbol === undefined || p.symbol === filter.symbol)),
    positions: projection.positions(filter),
    skipped: { count: skipped.count + unreadable.length, events: [...unreadable, ...skipped.events].sort((a, b) => a.position - b.position) },
    problems: projection.problems(),
    lastPosition: projection.lastPosition(),
  };
}

const utc = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString().slice(0, 19).replace('T', ' '));
const quoteOf = (sym: string) => marginAssets(sym)?.quote ?? 'quote';
const withUnit = (v: string | null, unit: string | null) => (v === null ? '—' : unit ? `${v} ${unit}` : v);

/** The "Skipped" and "Problems" sections (nothing when there is none). */
function trouble(log: Pick<MarginLog, 'skipped' | 'problems'>): string[] {
  const lines: string[] = [];
  if (log.skipped.count > 0) lines.push('', `Skipped: ${log.skipped.count} stored message(s) that are not valid margin events, left out`, ...log.skipped.events.map((s) => `  ! ${formatSkipped(s)}`));
  if (log.problems.length > 0) lines.push('', 'Problems (events the pair\'s books could not place)', ...log.problems.map((p) => `  ✗ ${p}`));
  return lines;
}

/**
 * The positions as a table: id, status (with the exit that fired while open), side, quantity
 * (base), entry/stop/target/exit (quote per base), the loan at open (or now, while open),
 * interest and net PnL (quote), open and close times (UTC, the events' `at`).
 */
export function formatMarginPositions(log: MarginLog, what: string): string {
  const lines = [`Margin positions${what}: ${log.positions.length} (event log up to position ${log.lastPosition})`];
  if (log.positions.length === 0) lines.push('  none');
  else {
    lines.push(
      ...columns(
        ['position', 'status', 'side', 'quantity', 'entry', 'stop', 'target', 'exit', 'borrowed', 'interest', 'net PnL', 'opened (UTC)', 'closed (UTC)'],
        log.positions.map((p) => [
          p.positionId,
          p.status === 'OPEN' && p.triggered ? `OPEN (${p.triggered} fired)` : p.status,
          p.side,
          p.quantity,
          p.entryPrice,
          p.stopPrice,
          p.takeProfitPrice ?? '—',
          p.exitPrice ?? '—',
          withUnit(p.borrowed, p.borrowedAsset),
          withUnit(p.interestQuote, quoteOf(p.symbol)),
          withUnit(p.netPnl, quoteOf(p.symbol)),
          utc(p.openedAt),
          utc(p.closedAt),
        ]),
      ),
    );
  }
  return [...lines, ...trouble(log)].join('\n');
}

const perAsset = (m: Record<string, string>) => (Object.keys(m).length ? Object.entries(m).map(([k, v]) => `${v} ${k}`).join(', ') : 'none');

/** One pair's interest: what is owed now, the total charged (quote) and every accrual (rate in % per day). */
export function formatMarginInterest(pair: MarginPairView, log: Pick<MarginLog, 'skipped' | 'problems'>): string {
  const quote = pair.quoteAsset ?? 'quote';
  const lines = [
    `Interest of ${pair.accountId} ${pair.symbol} (isolated margin${pair.baseAsset ? `, ${pair.baseAsset}/${pair.quoteAsset}` : ''}), up to ${utc(pair.asOf)} UTC`,
    ...rows([
      ['borrowed now', perAsset(pair.borrowed)],
      ['interest owed', perAsset(pair.interestOwed)],
      ['interest charged', `${pair.interestQuoteTotal} ${quote} in ${pair.interest.length} accrual(s), each valued at its price`],
      ['open position', pair.openPositionId ?? 'none'],
    ]),
    '',
    'Accruals',
  ];
  if (pair.interest.length === 0) lines.push('  none');
  else {
    lines.push(
      ...columns(
        ['market time (UTC)', 'type', 'asset', 'principal', 'rate %/day', 'interest', `in ${quote}`, 'price', 'tx'],
        pair.interest.map((r) => [utc(r.at), r.type, r.asset, r.principal, dec(r.dailyRate).mul(100).toFixed(), r.interest, r.quoteValue, r.price, r.txId]),
      ),
    );
  }
  return [...lines, ...trouble(log)].join('\n');
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

interface PairFlags {
  account: string;
  symbol: string;
  json: boolean;
}
interface WhoFlags extends PairFlags {
  by: string;
}

/** `--account`, `--symbol` and `--json`, shared by every command on one pair. */
function pairOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--account <id>', 'account id (the account whose execution trades spot margin)', accountId)
    .requiredOption('--symbol <SYMBOL>', 'the isolated pair, e.g. BTCUSDT', symbol)
    .option('--json', 'print the answer (or the refusal) as JSON', false);
}

const byOption = (cmd: Command) => cmd.option('--by <who>', 'who asks (recorded; default $USER)', text('--by', 100), DEFAULT_BY);

/**
 * `bulwark margin transfer | borrow | repay | account | open | close | positions | interest`.
 *
 * - transfer: MarginTransferRequest on `Subjects.margin('transfer')`; answer `{tranId}`.
 * - borrow / repay: MarginLoanRequest on `Subjects.margin('loan')`, action BORROW / REPAY
 *   (repay `--amount all` = 'ALL'); answers `{tranId}` / `{tranId, principal, interest}`.
 * - account: MarginAccountQuery on `Subjects.margin('account')`; answer MarginAccountAnswer.
 * - open: MarginEntryRequest on `Subjects.marginEntry` to risk; answer
 *   `{requestId, decision, approved?, denied?}`. DENIED throws MarginEntryDeniedError (exit 1).
 * - close: MarginCloseRequest on `Subjects.margin('close')`; answer `{sequence, netPnl}`.
 * - positions / interest: the event log through `openStore` (MarginProjection), no service.
 *
 * Amounts and prices are decimal strings end to end. Errors: a malformed flag exits 2
 * (commander), an impossible combination or an unknown pair in the log is an InputError (exit
 * 2); a refusal is CommandRefusedError (exit 1) with the service's code; NATS unreachable or no
 * answer is a DemoError (exit 1).
 * @param openStore opens the event log for positions/interest (closed after each command)
 * @param bus where the requests go (tests: a subject prefix)
 */
export function registerMarginCommands(program: Command, openStore: () => Promise<OpenedStore>, bus: OperatorBus = {}): void {
  const margin = program.command('margin').description('Binance spot isolated margin: transfers, loans, entries and closes on a running Bulwark; positions and interest from the event log.');

  byOption(pairOptions(margin.command('transfer').description('Move an asset between the spot wallet and the pair\'s isolated margin account.')))
    .requiredOption('--asset <ASSET>', 'the asset, e.g. USDT (one of the pair\'s two)', asset)
    .requiredOption('--amount <decimal>', 'how much, in the asset', positiveDecimal('--amount', '1000 or 0.5'))
    .requiredOption('--to <margin|spot>', 'margin: spot wallet → isolated account; spot: back', direction)
    .action(async (f: WhoFlags & { asset: string; amount: string; to: 'TO_MARGIN' | 'TO_SPOT' }) => {
      requirePairAsset(f.symbol, f.asset);
      const req = checked(MarginTransferRequest, { accountId: f.account, symbol: f.symbol, asset: f.asset, amount: f.amount, direction: f.to, by: f.by });
      const answer = await ask(Subjects.margin('transfer'), req, 'execution', bus, f.json);
      if (f.json) return printJson(answer);
      const route = f.to === 'TO_MARGIN' ? `spot wallet → ${f.symbol} isolated margin` : `${f.symbol} isolated margin → spot wallet`;
      console.log(`transferred ${f.amount} ${f.asset}, ${route} of account ${f.account} (tran ${field(answer, 'tranId')})`);
    });

  const loan = (action: 'BORROW' | 'REPAY') => async (f: WhoFlags & { asset: string; amount: string }) => {
    requirePairAsset(f.symbol, f.asset);
    const req = checked(MarginLoanRequest, { accountId: f.account, symbol: f.symbol, asset: f.asset, amount: f.amount, action, by: f.by });
    const answer = await ask(Subjects.margin('loan'), req, 'execution', bus, f.json);
    if (f.json) return printJson(answer);
    if (action === 'BORROW') console.log(`borrowed ${f.amount} ${f.asset} in ${f.symbol} isolated margin of account ${f.account} (tran ${field(answer, 'tranId')})`);
    else console.log(`repaid ${field(answer, 'interest')} interest + ${field(answer, 'principal')} principal ${f.asset} in ${f.symbol} isolated margin of account ${f.account} (tran ${field(answer, 'tranId')})`);
  };
  byOption(pairOptions(margin.command('borrow').description('Borrow an asset in the pair\'s isolated margin account (interest accrues hourly).')))
    .requiredOption('--asset <ASSET>', 'the asset, e.g. USDT (one of the pair\'s two)', asset)
    .requiredOption('--amount <decimal>', 'how much, in the asset', positiveDecimal('--amount', '429.346511'))
    .action(loan('BORROW'));
  byOption(pairOptions(margin.command('repay').description('Repay a loan of the pair\'s isolated margin account: the venue takes the interest first, then principal.')))
    .requiredOption('--asset <ASSET>', 'the asset, e.g. USDT (one of the pair\'s two)', asset)
    .requiredOption('--amount <decimal|all>', 'how much, in the asset, or all (principal and interest)', repayAmount)
    .action(loan('REPAY'));

  pairOptions(margin.command('account').description('The venue\'s view of the pair: balances per asset, index price, margin level, liquidation price, equity.'))
    .action(async (f: PairFlags) => {
      const req = checked(MarginAccountQuery, { accountId: f.account, symbol: f.symbol });
      const answer = await ask(Subjects.margin('account'), req, 'execution', bus, f.json);
      console.log(f.json ? JSON.stringify(answer, null, 2) : formatMarginAccount(answer));
    });

  byOption(pairOptions(margin.command('open').description('Ask risk for a spot-margin entry (pause, kill switch, daily trade count); execution sizes it from the pair\'s equity and opens it.')))
    .requiredOption('--side <long|short>', 'long (borrows the quote asset) or short (borrows the base asset)', side)
    .requiredOption('--stop <price>', 'the technical stop, quote per base (Bulwark\'s internal stop)', positiveDecimal('--stop', '58167.68'))
    .option('--take-profit <price>', 'take-profit, quote per base (default none)', positiveDecimal('--take-profit', '59044.58'))
    .option('--request-id <id>', 'the entry\'s id (default: risk makes one); the same id again is answered ALREADY_DECIDED, never a second entry', requestIdArg)
    .action(async (f: WhoFlags & { side: 'LONG' | 'SHORT'; stop: string; takeProfit?: string; requestId?: string }) => {
      requireTargetBeyondStop(f.side, f.stop, f.takeProfit);
      const req = checked(MarginEntryRequest, {
        accountId: f.account, symbol: f.symbol, side: f.side, stopPrice: f.stop,
        ...(f.takeProfit !== undefined ? { takeProfitPrice: f.takeProfit } : {}), by: f.by, ...(f.requestId !== undefined ? { requestId: f.requestId } : {}),
      });
      const answer = (await ask(Subjects.marginEntry, req, 'risk', bus, f.json)) as MarginEntryAnswer;
      if (f.json) printJson(answer);
      if (answer?.decision === 'DENIED') {
        throw new MarginEntryDeniedError(`${bus.subjectPrefix ?? ''}${Subjects.marginEntry}`, answer.requestId, answer.denied?.reason ?? 'unknown', answer.denied?.detail ?? '');
      }
      if (answer?.decision !== 'APPROVED' && answer?.decision !== 'ALREADY_DECIDED') throw new DemoError(`risk answered ${Subjects.marginEntry} without a decision: ${JSON.stringify(answer)}`);
      if (!f.json) console.log(formatEntry(answer, f.account));
    });

  byOption(pairOptions(margin.command('close').description('Close the pair\'s open position at market with AUTO_REPAY (the loan and its interest are repaid from the proceeds).')))
    .requiredOption('--reason <text>', 'why (recorded)', text('--reason', 200))
    .action(async (f: WhoFlags & { reason: string }) => {
      const req = checked(MarginCloseRequest, { accountId: f.account, symbol: f.symbol, reason: f.reason, by: f.by });
      const answer = await ask(Subjects.margin('close'), req, 'execution', bus, f.json);
      if (f.json) return printJson(answer);
      console.log(`closed margin position #${field(answer, 'sequence')} of ${f.symbol} on account ${f.account}: net PnL ${field(answer, 'netPnl')} ${quoteOf(f.symbol)}`);
    });

  margin
    .command('positions')
    .description('Spot-margin positions from the event log (no service needed): entry, stop, loan, interest, net PnL.')
    .option('--account <id>', 'only this account', accountId)
    .option('--symbol <SYMBOL>', 'only this pair', symbol)
    .option('--status <status>', `only this status: ${STATUSES.join(', ')}`, status)
    .option('--json', 'print JSON instead of text', false)
    .action(async (f: { account?: string; symbol?: string; status?: MarginPositionView['status']; json: boolean }) => {
      const log = await withStore(openStore, (store) => readMarginModels(store, { accountId: f.account, symbol: f.symbol }));
      // A typo in --account or --symbol reads as "no positions"; say instead that the log has no such pair.
      if ((f.account !== undefined || f.symbol !== undefined) && log.pairs.length === 0) throw noPair(f.account, f.symbol);
      const shown = { ...log, positions: f.status === undefined ? log.positions : log.positions.filter((p) => p.status === f.status) };
      if (f.json) return printJson({ positions: shown.positions, skipped: log.skipped, problems: log.problems });
      const what = [f.account && ` of account ${f.account}`, f.symbol && ` on ${f.symbol}`, f.status && `, status ${f.status}`].filter(Boolean).join('');
      console.log(formatMarginPositions(shown, what));
    });

  margin
    .command('interest')
    .description('Interest of one isolated pair from the event log (no service needed): what is owed, the total charged, every hourly accrual.')
    .requiredOption('--account <id>', 'account id', accountId)
    .requiredOption('--symbol <SYMBOL>', 'the isolated pair, e.g. BTCUSDT', symbol)
    .option('--json', 'print JSON instead of text', false)
    .action(async (f: PairFlags) => {
      const log = await withStore(openStore, (store) => readMarginModels(store, { accountId: f.account, symbol: f.symbol }));
      const pair = log.pairs[0];
      if (!pair) throw noPair(f.account, f.symbol);
      if (f.json) return printJson({ pair, skipped: log.skipped, problems: log.problems });
      console.log(formatMarginInterest(pair, log));
    });
}

/** `--request-id`: an Identifier, as the request schema takes it. */
function requestIdArg(v: string): string {
  if (!Identifier.safeParse(v).success) throw new InvalidArgumentError(`--request-id must be 1..64 letters, digits, '_' or '-', got "${v}"`);
  return v;
}

/** The log holds no margin stream for the account / pair the flags name (exit 2). */
function noPair(account: string | undefined, sym: string | undefined): InputError {
  const what = account !== undefined && sym !== undefined ? `no isolated-margin pair ${sym} of account ${account} (no stream ${Streams.margin(account, sym)})` : account !== undefined ? `no isolated-margin pair of account ${account}` : `no isolated-margin pair ${sym}`;
  return new InputError(`the event log holds ${what}: check --account and --symbol (bulwark margin positions lists every pair's positions)`);
}
