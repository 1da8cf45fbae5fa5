import { type EntryType, type OpenAccountRequest, Streams, Subjects } from '@bulwark/contracts';
import { ACCOUNT_DEFAULTS, validateAccountConfig } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import { Body, Controller, Headers, HttpCode, Inject, Param, Patch, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { type AuthUser, CurrentUser, Roles } from '../auth/roles';
import { HttpRefusal } from '../security/http-errors';
import { GATEWAY_STORE } from '../tokens';
import { API_OPTIONS, type ApiOptions } from './api-options';
import { BusService } from './bus.service';
import { IdempotencyService } from './idempotency.service';
import { ReadModelService } from './read-model.service';
import { eventAnswer } from './reads.controller';
import { AccountIdParam, AttachBody, ClientOrderIdParam, ManualEntryBody, OpenAccountBody, ReasonBody, ReconfigureBody, SymbolParam, TradingStateBody } from './schemas';
import { ZodBody } from './zod-body';

/** A last mark older than this (vs the wall clock) means the account runs in a replay's market time. */
const REPLAY_LAG_MS = 5 * 60_000;

/** A command's answer: the events it recorded (eventId, type, streamId, revision, data). */
export type CommandAnswer = { events: ReturnType<typeof eventAnswer>[] };

/**
 * Send a command and read back what it recorded on `streamId`: the stream's events after its
 * revision before the send, read once the service has answered (services append, then answer).
 * @returns the service's answer and those events
 * @throws HttpRefusal as `send` does (nothing is read then)
 */
export async function sendRecorded(store: EventStore, streamId: string, send: () => Promise<unknown>): Promise<{ answer: unknown } & CommandAnswer> {
  const before = await store.streamRevision(streamId);
  const answer = await send();
  const events = await store.readStream(streamId, { fromRevision: (before ?? -1) + 1 });
  return { answer, events: events.map(eventAnswer) };
}

/** The gateway's request id (a UUID, app.ts) as a command's `requestId`, when it is one a message may carry. */
export function requestIdOf(req: { id?: unknown }): { requestId?: string } {
  return typeof req.id === 'string' && /^[A-Za-z0-9_-]{1,40}$/.test(req.id) ? { requestId: req.id } : {};
}

export const IDEMPOTENCY = { name: 'Idempotency-Key', required: false, description: 'a repeat (same user, same key, within 24 h) returns the first answer and records nothing new' };
/** The entry fields of a request body, only those given (a market request keeps its earlier shape). */
const entryOf = (b: { entryType?: EntryType; expiresAfterBars?: number }) => ({
  ...(b.entryType !== undefined ? { entryType: b.entryType } : {}),
  ...(b.expiresAfterBars !== undefined ? { expiresAfterBars: b.expiresAfterBars } : {}),
});

const EVENTS = { description: '{ events: [{ eventId, type, streamId, revision, data }] }: what the command recorded' };

/** The OpenAccountRequest of a body (venue balance defaults to the capital), or the domain's refusal naming the field. */
export function openRequest(body: OpenAccountBody): OpenAccountRequest {
  const req: OpenAccountRequest = { ...body, venueBalance: body.venueBalance ?? body.capital };
  const checked = validateAccountConfig(req);
  if (!checked.ok) throw new HttpRefusal(checked.error.code === 'CONFIRMATION_REQUIRED' ? 422 : 400, checked.error.code, checked.error.message, checked.error.field, checked.error.allowed === undefined ? undefined : `allowed ${checked.error.allowed}`);
  return req;
}

type Verdict = { rule: string; ok: boolean; detail: string };
/** The fields `validateAccountConfig` checks, in its order. */
const RULES = ['leverage', 'leverageCap', 'maxTradesPerDay', 'losingStreakPause', 'riskFraction', 'dailyLossLimitFraction', 'dailyProfitTargetFraction', 'maxMonthlyDrawdownFraction', 'maxFeeRiskFraction', 'maxLifetimeDrawdownFraction', 'maxMarginUtilisationFraction', 'highLeverageConfirmed', 'capital'];

/**
 * Every rule's verdict on a configuration: the domain's validation is run, each refused optional
 * field is dropped (its default applies) and the rest checked again, so one answer names every problem.
 */
export function verdictsOf(req: OpenAccountRequest): Verdict[] {
  const failed: Verdict[] = [];
  let probe: Record<string, unknown> = { ...req };
  for (let i = 0; i < RULES.length + 2; i++) {
    const r = validateAccountConfig(probe as OpenAccountRequest);
    if (r.ok) break;
    const field = r.error.field ?? r.error.code;
    failed.push({ rule: field, ok: false, detail: r.error.message });
    if (field === 'highLeverageConfirmed') probe = { ...probe, highLeverageConfirmed: true };
    else if (field === 'capital' || field === 'leverage') probe = { ...probe, [field]: field === 'leverage' ? 1 : probe['venueBalance'] };
    else if (field in probe && !['accountId', 'venue', 'symbol', 'venueBalance'].includes(field)) {
      const { [field]: _dropped, ...rest } = probe;
      probe = rest;
    } else break;
  }
  const refused = new Set(failed.map((f) => f.rule));
  const passed = RULES.filter((r) => !refused.has(r)).map((rule) => ({ rule, ok: true, detail: rule === 'highLeverageConfirmed' ? (req.leverage > ACCOUNT_DEFAULTS.confirmLeverageAbove ? `leverage ${req.leverage}x above ${ACCOUNT_DEFAULTS.confirmLeverageAbove}x is confirmed` : `leverage ${req.leverage}x needs no confirmation`) : 'within the allowed range' }));
  return [...failed, ...passed];
}

/** Trading commands (role trader; validate: viewer). Each carries the authenticated user as `by`. */
@ApiTags('commands')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('api/accounts')
export class CommandsController {
  constructor(
    private readonly bus: BusService,
    private readonly reads: ReadModelService,
    private readonly idem: IdempotencyService,
    @Inject(GATEWAY_STORE) private readonly store: EventStore,
    @Inject(API_OPTIONS) private readonly opts: ApiOptions,
  ) {}

  /** Send a command and answer with the events it recorded on `streamId` (read back from the log after the service's answer). */
  private async recorded(streamId: string, send: () => Promise<unknown>): Promise<CommandAnswer> {
    const { events } = await sendRecorded(this.store, streamId, send);
    return { events };
  }

  private accountVenue(id: string): { venue: string; symbol: string | null } {
    const a = this.reads.projection.account(id);
    if (!a) throw new HttpRefusal(404, 'UNKNOWN_ACCOUNT', `no account ${id} in the event log`, 'id', 'unknown account');
    return { venue: a.venue ?? 'binance-usdm', symbol: a.symbol };
  }

  @Post('validate')
  @Roles('viewer')
  @HttpCode(200)
  @ApiOperation({ summary: "Each rule's verdict on an account configuration; records nothing" })
  @ApiBody({ description: 'OpenAccountRequest without `by` (the authenticated user) and `at`' })
  @ApiOkResponse({ description: '{ ok, verdicts: [{ rule, ok, detail }] }' })
  validate(@Body(new ZodBody(OpenAccountBody)) body: OpenAccountBody) {
    const verdicts = verdictsOf({ ...body, venueBalance: body.venueBalance ?? body.capital });
    return { ok: verdicts.every((v) => v.ok), verdicts };
  }

  @Post()
  @Roles('trader')
  @ApiOperation({ summary: 'Open an account (above 5x needs highLeverageConfirmed: true)' })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ description: 'OpenAccountRequest without `by` and `at`' })
  @ApiOkResponse(EVENTS)
  open(@Body(new ZodBody(OpenAccountBody)) body: OpenAccountBody, @CurrentUser() user: AuthUser, @Headers('idempotency-key') key?: string) {
    const req = { ...openRequest(body), by: user.username };
    return this.idem.run(user.username, key, `POST /api/accounts`, () => this.recorded(Streams.account(req.accountId), () => this.bus.request(Subjects.openAccount, req, 'risk')));
  }

  @Patch(':id')
  @Roles('trader')
  @ApiOperation({ summary: 'Reconfigure an account (same fields as open)' })
  @ApiHeader(IDEMPOTENCY)
  @ApiOkResponse(EVENTS)
  reconfigure(@Param('id', new ZodBody(AccountIdParam)) id: string, @Body(new ZodBody(ReconfigureBody)) body: Omit<OpenAccountBody, 'accountId'>, @CurrentUser() user: AuthUser, @Headers('idempotency-key') key?: string) {
    this.accountVenue(id);
    const req = { ...openRequest({ ...body, accountId: id }), by: user.username };
    return this.idem.run(user.username, key, `PATCH /api/accounts/${id}`, () => this.recorded(Streams.account(id), () => this.bus.request(Subjects.reconfigureAccount, req, 'risk')));
  }

  @Post(':id/strategy')
  @Roles('trader')
  @ApiOperation({ summary: 'Attach a strategy (donchian-atr) to an account' })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ description: '{ strategy, params?, symbol? }' })
  @ApiOkResponse(EVENTS)
  attach(@Param('id', new ZodBody(AccountIdParam)) id: string, @Body(new ZodBody(AttachBody)) body: { strategy: string; symbol?: string; params: Record<string, number | string>; entryType?: EntryType; expiresAfterBars?: number }, @CurrentUser() user: AuthUser, @Headers('idempotency-key') key?: string) {
    const a = this.accountVenue(id);
    const symbol = body.symbol ?? a.symbol;
    if (!symbol) throw new HttpRefusal(400, 'INVALID_INPUT', 'symbol: the account names none; give one', 'symbol', 'required');
    const req = { accountId: id, venue: a.venue, symbol, strategy: body.strategy, params: body.params, ...entryOf(body) };
    return this.idem.run(user.username, key, `POST /api/accounts/${id}/strategy`, () => this.recorded(Streams.signal(id), () => this.bus.request(Subjects.attachStrategy, req, 'signals')));
  }

  @Post(':id/trading-state')
  @Roles('trader')
  @HttpCode(200)
  @ApiOperation({ summary: 'Set the trading state (kill switch: HALTED)' })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ description: '{ state: ACTIVE | REDUCING | HALTED, reason }' })
  @ApiOkResponse(EVENTS)
  tradingState(@Param('id', new ZodBody(AccountIdParam)) id: string, @Body(new ZodBody(TradingStateBody)) body: { state: string; reason: string }, @CurrentUser() user: AuthUser, @Headers('idempotency-key') key?: string) {
    return this.accountCommand(id, Subjects.setTradingState, { accountId: id, state: body.state, reason: body.reason, by: user.username }, user, key, 'trading-state');
  }

  @Post(':id/resume')
  @Roles('trader')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume trading after a breaker paused it' })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ description: '{ reason }' })
  @ApiOkResponse(EVENTS)
  resume(@Param('id', new ZodBody(AccountIdParam)) id: string, @Body(new ZodBody(ReasonBody)) body: { reason: string }, @CurrentUser() user: AuthUser, @Headers('idempotency-key') key?: string) {
    return this.accountCommand(id, Subjects.resumeTrading, { accountId: id, reason: body.reason, by: user.username }, user, key, 'resume');
  }

  @Post(':id/flatten')
  @Roles('trader')
  @HttpCode(200)
  @ApiOperation({ summary: 'Flatten: HALTED, every order cancelled, every position closed reduce-only' })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ description: '{ reason }' })
  @ApiOkResponse(EVENTS)
  flatten(@Param('id', new ZodBody(AccountIdParam)) id: string, @Body(new ZodBody(ReasonBody)) body: { reason: string }, @CurrentUser() user: AuthUser, @Headers('idempotency-key') key?: string) {
    return this.accountCommand(id, Subjects.flatten, { accountId: id, reason: body.reason, by: user.username }, user, key, 'flatten');
  }

  @Post(':id/positions/:symbol/close')
  @Roles('trader')
  @HttpCode(200)
  @ApiOperation({ summary: 'Close one position reduce-only at market' })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ description: '{ reason }' })
  @ApiOkResponse(EVENTS)
  close(@Param('id', new ZodBody(AccountIdParam)) id: string, @Param('symbol', new ZodBody(SymbolParam)) symbol: string, @Body(new ZodBody(ReasonBody)) body: { reason: string }, @CurrentUser() user: AuthUser, @Headers('idempotency-key') key?: string) {
    return this.accountCommand(id, Subjects.closePosition, { accountId: id, symbol, reason: body.reason, by: user.username }, user, key, `positions/${symbol}/close`);
  }

  @Post(':id/orders/:clientOrderId/cancel')
  @Roles('trader')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel one resting order' })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ description: '{ reason }' })
  @ApiOkResponse(EVENTS)
  cancel(@Param('id', new ZodBody(AccountIdParam)) id: string, @Param('clientOrderId', new ZodBody(ClientOrderIdParam)) clientOrderId: string, @Body(new ZodBody(ReasonBody)) body: { reason: string }, @CurrentUser() user: AuthUser, @Headers('idempotency-key') key?: string) {
    return this.accountCommand(id, Subjects.cancelOrder, { accountId: id, clientOrderId, reason: body.reason, by: user.username }, user, key, `orders/${clientOrderId}/cancel`);
  }

  @Post(':id/entries')
  @Roles('trader')
  @ApiOperation({ summary: 'Manual entry: side, stop, optional take-profit; risk sizes and protects it like a strategy intent' })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ description: '{ symbol, side: long | short, stopPrice, takeProfitPrice?, entryType?: market | limit | post-only | ioc | fok, expiresAfterBars? (limit, post-only) }' })
  @ApiOkResponse({ description: '{ events }: the IntentEmitted and, when it arrives within a few seconds, EntryApproved or EntryDenied' })
  entry(@Param('id', new ZodBody(AccountIdParam)) id: string, @Body(new ZodBody(ManualEntryBody)) body: { symbol: string; side: 'LONG' | 'SHORT'; stopPrice: string; takeProfitPrice?: string | null; entryType?: EntryType; expiresAfterBars?: number }, @CurrentUser() user: AuthUser, @Req() req: { id?: string }, @Headers('idempotency-key') key?: string) {
    const a = this.accountVenue(id);
    const request = {
      accountId: id,
      venue: a.venue,
      symbol: body.symbol,
      side: body.side === 'LONG' ? 'BUY' : 'SELL',
      stopPrice: body.stopPrice,
      takeProfitPrice: body.takeProfitPrice ?? null,
      ...entryOf(body),
      by: user.username,
      ...requestIdOf(req),
    };
    return this.idem.run(user.username, key, `POST /api/accounts/${id}/entries`, async () => {
      const accountStream = Streams.account(id);
      const before = await this.store.streamRevision(accountStream);
      const answer = (await this.bus.request(Subjects.manualEntry, request, 'signals')) as CommandAnswer;
      const intentId = (answer.events[0]?.data as { intentId?: string } | undefined)?.intentId;
      const decision = intentId === undefined ? null : await this.decisionOn(accountStream, (before ?? -1) + 1, intentId);
      return { events: decision ? [...answer.events, decision] : answer.events };
    });
  }

  /** Risk's EntryApproved / EntryDenied of an intent, read from the account stream for at most `entryDecisionWaitMs`. */
  private async decisionOn(streamId: string, fromRevision: number, intentId: string) {
    const until = Date.now() + this.opts.entryDecisionWaitMs;
    for (;;) {
      const events = await this.store.readStream(streamId, { fromRevision });
      const d = events.find((e) => (e.type === 'EntryApproved' || e.type === 'EntryDenied') && (e.data as { intentId?: string }).intentId === intentId);
      if (d) return eventAnswer(d);
      if (Date.now() >= until) return null;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private accountCommand(id: string, subject: string, payload: Record<string, unknown>, user: AuthUser, key: string | undefined, route: string) {
    const a = this.accountVenue(id);
    const at = this.marketTime(a.venue, a.symbol);
    const request = at === undefined ? payload : { ...payload, at };
    return this.idem.run(user.username, key, `POST /api/accounts/${id}/${route}`, () => this.recorded(Streams.account(id), () => this.bus.request(subject, request, 'risk')));
  }

  /**
   * When an operator command happens in the account's time: during a replay the account lives in
   * market time (the last mark price's time, hours or years behind the wall clock), so a kill
   * switch pressed now belongs to that moment of the replayed day — stamped with the wall clock it
   * would open a new trading day years later. On a live venue the last mark is seconds old: the
   * services stamp the command with their own clock (no `at`).
   */
  private marketTime(venue: string, symbol: string | null): number | undefined {
    const mark = symbol ? this.reads.lastMark(venue, symbol) : null;
    return mark && Date.now() - mark.ts > REPLAY_LAG_MS ? mark.ts : undefined;
  }
}
