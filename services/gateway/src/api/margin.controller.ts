import { MarginAccountAnswer, type MarginAccountQuery, type MarginCloseRequest, type MarginEntryRequest, type MarginLoanRequest, type MarginTransferRequest, Streams, Subjects } from '@bulwark/contracts';
import type { EventStore } from '@bulwark/event-store';
import type { MarginPositionView } from '@bulwark/projections';
import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { type AuthUser, CurrentUser, Roles } from '../auth/roles';
import { HttpRefusal } from '../security/http-errors';
import { GATEWAY_STORE } from '../tokens';
import { BusService } from './bus.service';
import { type CommandAnswer, IDEMPOTENCY, requestIdOf, sendRecorded } from './commands.controller';
import { IdempotencyService } from './idempotency.service';
import {
  MarginAccountQueryInput, MarginAmountBody, MarginCloseBody, MarginEntryDecision, MarginOrderBody, MarginPairQuery, MarginPositionIdParam, MarginPositionsQuery, MarginRepayBody,
} from './margin-schemas';
import { ReadModelService } from './read-model.service';
import { ClientOrderIdParam, SymbolParam } from './schemas';
import { ZodBody } from './zod-body';

/** A margin command's answer: execution's result (as it answered) and the events it recorded on the pair's stream `margin-<accountId>-<symbol>`. */
export type MarginCommandAnswer = { result: unknown } & CommandAnswer;

const RECORDED = (result: string) => ({ description: `{ result: ${result}, events: [{ eventId, type, streamId, revision, data }] }: execution's answer and what it recorded on the pair's stream` });
const AMOUNT_BODY = { description: '{ accountId, symbol, asset, amount }: amount > 0 of asset (decimal string or number)' };
const POSITION_ID = { name: 'positionId', description: 'margin-<accountId>-<symbol>-<n>, e.g. margin-spot-m1-BTCUSDT-1' };

/**
 * Binance spot isolated margin (role trader for commands, viewer for reads). Every route answers
 * with and without the trailing slash (app.ts). Commands carry the authenticated user as `by`
 * and the request id as `requestId`, and take an Idempotency-Key; transfers, loans and closes are
 * answered by execution (`Subjects.margin(...)`), an entry is decided by risk
 * (`Subjects.marginEntry`), which execution then opens. Reads answer from the gateway's margin
 * read model (`MarginProjection`) and, for the venue's account, from execution. A service's
 * refusal keeps its code (status by `statusForCode`: UNKNOWN_* 404, other business refusals 422).
 */
@ApiTags('margin')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Roles('viewer')
@Controller('api/margin')
export class MarginController {
  constructor(
    private readonly bus: BusService,
    private readonly reads: ReadModelService,
    private readonly idem: IdempotencyService,
    @Inject(GATEWAY_STORE) private readonly store: EventStore,
  ) {}

  /**
   * Send a command to execution once per Idempotency-Key; `precondition` runs inside, so a repeat
   * gets the first answer even when the state it checked has changed since (a closed position).
   * @param route the command's method and path without the trailing slash: both forms are one command
   */
  private command(subject: Parameters<typeof Subjects.margin>[0], request: { accountId: string; symbol: string }, user: AuthUser, key: string | undefined, route: string, precondition: () => void = () => undefined): Promise<MarginCommandAnswer> {
    return this.idem.run(user.username, key, route, async () => {
      precondition();
      const { answer, events } = await sendRecorded(this.store, Streams.margin(request.accountId, request.symbol), () => this.bus.request(Subjects.margin(subject), request, 'execution'));
      return { result: answer, events };
    });
  }

  private transfer(direction: MarginTransferRequest['direction'], body: MarginAmountBody, user: AuthUser, req: { id?: unknown }, key: string | undefined, route: string) {
    const request: MarginTransferRequest = { ...body, direction, by: user.username, ...requestIdOf(req) };
    return this.command('transfer', request, user, key, route);
  }

  @Post('transfer/to-margin')
  @Roles('trader')
  @HttpCode(200)
  @ApiOperation({ summary: "Move an asset from the spot wallet into the pair's isolated margin account" })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody(AMOUNT_BODY)
  @ApiOkResponse(RECORDED('{ tranId }'))
  toMargin(@Body(new ZodBody(MarginAmountBody)) body: MarginAmountBody, @CurrentUser() user: AuthUser, @Req() req: { id?: unknown }, @Headers('idempotency-key') key?: string) {
    return this.transfer('TO_MARGIN', body, user, req, key, 'POST /api/margin/transfer/to-margin');
  }

  @Post('transfer/to-spot')
  @Roles('trader')
  @HttpCode(200)
  @ApiOperation({ summary: "Move an asset from the pair's isolated margin account back to the spot wallet (refused while it would leave the margin level at or below the safe level)" })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody(AMOUNT_BODY)
  @ApiOkResponse(RECORDED('{ tranId }'))
  toSpot(@Body(new ZodBody(MarginAmountBody)) body: MarginAmountBody, @CurrentUser() user: AuthUser, @Req() req: { id?: unknown }, @Headers('idempotency-key') key?: string) {
    return this.transfer('TO_SPOT', body, user, req, key, 'POST /api/margin/transfer/to-spot');
  }

  @Post('borrow')
  @Roles('trader')
  @HttpCode(200)
  @ApiOperation({ summary: "Borrow an asset in the pair's isolated margin account" })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody(AMOUNT_BODY)
  @ApiOkResponse(RECORDED('{ tranId }'))
  borrow(@Body(new ZodBody(MarginAmountBody)) body: MarginAmountBody, @CurrentUser() user: AuthUser, @Req() req: { id?: unknown }, @Headers('idempotency-key') key?: string) {
    const request: MarginLoanRequest = { ...body, action: 'BORROW', by: user.username, ...requestIdOf(req) };
    return this.command('loan', request, user, key, 'POST /api/margin/borrow');
  }

  @Post('repay')
  @Roles('trader')
  @HttpCode(200)
  @ApiOperation({ summary: 'Repay a loan of the pair (the venue takes the interest first); amount ALL repays everything owed' })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ description: '{ accountId, symbol, asset, amount }: amount > 0 (decimal string or number) or "ALL"' })
  @ApiOkResponse(RECORDED('{ tranId, principal, interest }'))
  repay(@Body(new ZodBody(MarginRepayBody)) body: MarginRepayBody, @CurrentUser() user: AuthUser, @Req() req: { id?: unknown }, @Headers('idempotency-key') key?: string) {
    const request: MarginLoanRequest = { ...body, action: 'REPAY', by: user.username, ...requestIdOf(req) };
    return this.command('loan', request, user, key, 'POST /api/margin/repay');
  }

  @Get('account/:symbol')
  @ApiOperation({ summary: "The venue's view of the pair's isolated account, read by execution: balances per asset, margin level, liquidation price, equity (MarginAccountAnswer)" })
  @ApiParam({ name: 'symbol', description: 'the isolated pair, e.g. BTCUSDT' })
  @ApiQuery({ name: 'accountId', required: true })
  @ApiOkResponse({ description: 'MarginAccountAnswer: { accountId, symbol, assets: [{ asset, free, locked, borrowed, interest, netAsset }], indexPrice, marginLevel|null, marginLevelStatus, liquidationPrice, equity } (decimal strings; equity in quote)' })
  account(@Param('symbol', new ZodBody(SymbolParam)) symbol: string, @Query(new ZodBody(MarginAccountQueryInput)) q: { accountId: string }) {
    const query: MarginAccountQuery = { accountId: q.accountId, symbol };
    return this.bus.requestChecked(Subjects.margin('account'), query, 'execution', MarginAccountAnswer, 'a margin account');
  }

  /**
   * An entry goes to risk, which records its decision on the account stream. The decision is the
   * answer kept for the Idempotency-Key, a denial included: risk recorded it, so a repeat must not
   * ask again. Approved → 202 (execution opens it at market; the position appears in the read
   * model); denied → the denial reason as the code (422, or 404 UNKNOWN_ACCOUNT) with its detail;
   * a request id risk decided before → 409 ALREADY_DECIDED.
   */
  @Post('order')
  @Roles('trader')
  @HttpCode(202)
  @ApiOperation({ summary: 'Spot-margin entry at market: risk decides (kill switch, pauses, daily trade count), execution sizes and opens it; 202 when approved, the denial reason as the code when denied' })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ description: '{ accountId, symbol, side: LONG | SHORT (or BUY / SELL), stopPrice, takeProfitPrice? }: prices in quote per base' })
  @ApiAcceptedResponse({ description: '{ requestId, decision: "APPROVED", approved: MarginEntryApproved }: execution opens it asynchronously; see GET /api/margin/positions' })
  async order(@Body(new ZodBody(MarginOrderBody)) body: MarginOrderBody, @CurrentUser() user: AuthUser, @Req() req: { id?: unknown }, @Headers('idempotency-key') key?: string) {
    const request: MarginEntryRequest = { ...body, takeProfitPrice: body.takeProfitPrice ?? null, by: user.username, ...requestIdOf(req) };
    const d = await this.idem.run(user.username, key, 'POST /api/margin/order', () => this.bus.requestChecked(Subjects.marginEntry, request, 'risk', MarginEntryDecision, 'a margin entry decision'));
    if (d.decision === 'DENIED') throw HttpRefusal.from({ code: d.denied.reason, message: d.denied.detail });
    if (d.decision === 'ALREADY_DECIDED') throw new HttpRefusal(409, 'ALREADY_DECIDED', `risk decided request ${d.requestId} before; its decision is on ${Streams.account(body.accountId)}`);
    return d;
  }

  @Delete('order/:orderId')
  @Roles('trader')
  @ApiOperation({
    summary:
      'Cancel a spot-margin order: never possible, as entries and closes are MARKET orders that fill at once and none rests. The client order id of a recorded entry or close → 409 ORDER_NOT_OPEN (filled orders cannot be cancelled; close the position: POST /api/margin/positions/{positionId}/close); any other → 404 UNKNOWN_ORDER',
  })
  @ApiParam({ name: 'orderId', description: 'client order id' })
  cancel(@Param('orderId', new ZodBody(ClientOrderIdParam)) orderId: string): never {
    const o = this.reads.marginOrder(orderId);
    if (!o) throw new HttpRefusal(404, 'UNKNOWN_ORDER', `no spot-margin order ${orderId} in the event log`, 'orderId', 'unknown order');
    throw new HttpRefusal(409, 'ORDER_NOT_OPEN', `order ${orderId}, the ${o.role === 'ENTRY' ? 'entry' : 'close'} of ${o.positionId}, filled at market: filled orders cannot be cancelled; close the position`);
  }

  @Get('positions')
  @ApiOperation({ summary: 'Spot-margin positions in the order they opened, optionally of one account, pair or status (MarginPositionView[])' })
  @ApiQuery({ name: 'accountId', required: false })
  @ApiQuery({ name: 'symbol', required: false })
  @ApiQuery({ name: 'status', required: false, description: 'OPEN | CLOSED | STOPPED_OUT | LIQUIDATED' })
  @ApiOkResponse({ description: 'MarginPositionView[]: decimals as strings (prices quote per base, amounts quote), times epoch ms' })
  positions(@Query(new ZodBody(MarginPositionsQuery)) q: { accountId?: string; symbol?: string; status?: MarginPositionView['status'] }) {
    return this.reads.margin.positions(q);
  }

  @Get('positions/:positionId')
  @ApiOperation({ summary: 'One spot-margin position (MarginPositionView)' })
  @ApiParam(POSITION_ID)
  @ApiOkResponse({ description: 'MarginPositionView' })
  position(@Param('positionId', new ZodBody(MarginPositionIdParam)) id: MarginPositionIdParam) {
    return this.known(id);
  }

  /** The read model must hold this position open: execution closes whatever position of the pair is open, so it is checked to be this one. */
  @Post('positions/:positionId/close')
  @Roles('trader')
  @HttpCode(200)
  @ApiOperation({ summary: 'Close an open spot-margin position at market with AUTO_REPAY' })
  @ApiParam(POSITION_ID)
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ description: '{ reason } (recorded; at most 200 characters)' })
  @ApiOkResponse(RECORDED('{ sequence, netPnl }'))
  close(@Param('positionId', new ZodBody(MarginPositionIdParam)) id: MarginPositionIdParam, @Body(new ZodBody(MarginCloseBody)) body: { reason: string }, @CurrentUser() user: AuthUser, @Req() req: { id?: unknown }, @Headers('idempotency-key') key?: string) {
    const request: MarginCloseRequest = { accountId: id.accountId, symbol: id.symbol, sequence: id.sequence, reason: body.reason, by: user.username, ...requestIdOf(req) };
    return this.command('close', request, user, key, `POST /api/margin/positions/${id.positionId}/close`, () => {
      const p = this.known(id);
      if (p.status !== 'OPEN') throw new HttpRefusal(409, 'POSITION_NOT_OPEN', `${p.positionId} is ${p.status}: only an open position closes`);
    });
  }

  @Get('interest')
  @ApiOperation({ summary: "The pair's interest ledger: every accrual (MarginInterestCharged) in log order, what is owed and the total in quote" })
  @ApiQuery({ name: 'accountId', required: true })
  @ApiQuery({ name: 'symbol', required: true })
  @ApiOkResponse({ description: '{ accountId, symbol, quoteAsset, interestOwed: { asset: amount }, interestQuoteTotal, interest: [{ txId, asset, principal, interest, dailyRate, type, price, quoteValue, at }] }: interest in its asset, quoteValue in quote, dailyRate a fraction per day' })
  interest(@Query(new ZodBody(MarginPairQuery)) q: { accountId: string; symbol: string }) {
    const p = this.reads.margin.pair(q.accountId, q.symbol);
    if (!p) throw new HttpRefusal(404, 'UNKNOWN_PAIR', `no spot-margin pair ${q.symbol} of ${q.accountId} in the event log`, 'symbol', 'unknown pair');
    return { accountId: p.accountId, symbol: p.symbol, quoteAsset: p.quoteAsset, interestOwed: p.interestOwed, interestQuoteTotal: p.interestQuoteTotal, interest: p.interest };
  }

  /** The position in the read model. @throws HttpRefusal 404 UNKNOWN_POSITION */
  private known(id: MarginPositionIdParam): MarginPositionView {
    const p = this.reads.margin.position(id.positionId);
    if (!p) throw new HttpRefusal(404, 'UNKNOWN_POSITION', `no spot-margin position ${id.positionId} in the event log`, 'positionId', 'unknown position');
    return p;
  }
}
