import { CandlesPage, type RecordedEvent, Subjects } from '@bulwark/contracts';
import type { EventStore } from '@bulwark/event-store';
import { auditDay, auditOrder } from '@bulwark/projections';
import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/roles';
import { HttpRefusal } from '../security/http-errors';
import { GATEWAY_STORE } from '../tokens';
import { BusService } from './bus.service';
import { ReadModelService } from './read-model.service';
import { AccountIdParam, CandlesQuery, ClientOrderIdParam, SymbolParam } from './schemas';
import { ZodBody } from './zod-body';

const unknownAccount = (id: string) => new HttpRefusal(404, 'UNKNOWN_ACCOUNT', `no account ${id} in the event log`, 'id', 'unknown account');

/** A list answer of the projection, or 404 for an account it does not know. */
function known<T>(id: string, v: T | null): T {
  if (v === null) throw unknownAccount(id);
  return v;
}

/** The audit functions' argument and not-found errors as typed refusals (matched by name: they live in @bulwark/projections). */
function auditRefusal(e: unknown): never {
  const err = e as { name?: string; argument?: string; message?: string };
  if (err?.name === 'AuditArgumentError') throw new HttpRefusal(400, 'INVALID_INPUT', String(err.message), err.argument, String(err.message));
  if (err?.name === 'AuditNotFoundError') throw new HttpRefusal(404, 'NOT_FOUND', String(err.message));
  throw e;
}

/** Reads (role viewer): the projection's views, the audits of `bulwark audit`, and candles for the chart. */
@ApiTags('reads')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Roles('viewer')
@Controller('api')
export class ReadsController {
  constructor(
    private readonly reads: ReadModelService,
    private readonly bus: BusService,
    @Inject(GATEWAY_STORE) private readonly store: EventStore,
  ) {}

  @Get('accounts')
  @ApiOperation({ summary: 'Every account in the event log (AccountListItem[])' })
  @ApiOkResponse({ description: 'AccountListItem[]: accountId, venue, symbol, leverage, tradingState, equity (USDT), openPositions' })
  accounts() {
    return this.reads.projection.accounts();
  }

  @Get('accounts/:id')
  @ApiOperation({ summary: 'One account: config, trading state, equity, drawdown, breakers (AccountView)' })
  @ApiParam({ name: 'id', description: 'account id' })
  @ApiOkResponse({ description: 'AccountView' })
  account(@Param('id', new ZodBody(AccountIdParam)) id: string) {
    return known(id, this.reads.projection.account(id));
  }

  @Get('accounts/:id/positions')
  @ApiOperation({ summary: 'Open positions with mark, liquidation price and distance, margin ratio, unrealised PnL, stop and take-profit (PositionView[])' })
  @ApiParam({ name: 'id', description: 'account id' })
  @ApiOkResponse({ description: 'PositionView[]' })
  positions(@Param('id', new ZodBody(AccountIdParam)) id: string) {
    return known(id, this.reads.projection.positions(id));
  }

  @Get('accounts/:id/orders')
  @ApiOperation({ summary: "The account's orders (OrderView[])" })
  @ApiParam({ name: 'id', description: 'account id' })
  @ApiOkResponse({ description: 'OrderView[]' })
  orders(@Param('id', new ZodBody(AccountIdParam)) id: string) {
    return known(id, this.reads.projection.orders(id));
  }

  @Get('accounts/:id/fills')
  @ApiOperation({ summary: "The account's fills (FillView[])" })
  @ApiParam({ name: 'id', description: 'account id' })
  @ApiOkResponse({ description: 'FillView[]' })
  fills(@Param('id', new ZodBody(AccountIdParam)) id: string) {
    return known(id, this.reads.projection.fills(id));
  }

  @Get('accounts/:id/equity')
  @ApiOperation({ summary: 'Equity curve with drawdown from the running peak (EquityPoint[])' })
  @ApiParam({ name: 'id', description: 'account id' })
  @ApiOkResponse({ description: 'EquityPoint[]: ts (epoch ms), equity and drawdown (USDT)' })
  equity(@Param('id', new ZodBody(AccountIdParam)) id: string) {
    return known(id, this.reads.projection.equityCurve(id));
  }

  @Get('audit/orders/:clientOrderId')
  @ApiOperation({ summary: 'Why this order and this size: candle → intent → assessment → order → fills → position (`bulwark audit order --json`)' })
  @ApiParam({ name: 'clientOrderId', description: 'client order id' })
  @ApiOkResponse({ description: 'OrderAudit' })
  auditOrder(@Param('clientOrderId', new ZodBody(ClientOrderIdParam)) clientOrderId: string) {
    return auditOrder(this.store, clientOrderId).catch(auditRefusal);
  }

  @Get('audit/days/:date')
  @ApiOperation({ summary: 'Every decision of a UTC day (`bulwark audit day --json`)' })
  @ApiParam({ name: 'date', description: 'UTC date YYYY-MM-DD' })
  @ApiQuery({ name: 'account', required: false, description: 'only this account' })
  @ApiOkResponse({ description: 'DayAudit' })
  auditDay(@Param('date') date: string, @Query('account') account?: string) {
    return auditDay(this.store, date, account === undefined ? {} : { accountId: account }).catch(auditRefusal);
  }

  @Get('market/:venue/:symbol/mark')
  @ApiOperation({ summary: 'The current price: the newest mark price market-data published (market time: a replay\'s, not the wall clock\'s)' })
  @ApiOkResponse({ description: '{ venue, symbol, price (USDT, decimal string), ts (epoch ms, market time) }' })
  mark(@Param('venue', new ZodBody(AccountIdParam)) venue: string, @Param('symbol', new ZodBody(SymbolParam)) symbol: string) {
    const m = this.reads.lastMark(venue, symbol);
    if (!m) throw new HttpRefusal(404, 'NO_MARK', `no mark price of ${venue} ${symbol} since the gateway started (no replay or live feed running)`);
    return m;
  }

  @Get('market/:venue/:symbol/candles')
  @ApiOperation({ summary: 'Closed candles market-data serves, one page ({candles, next}); from/to: epoch ms, ISO time or UTC date' })
  @ApiQuery({ name: 'from', required: false })
  @ApiQuery({ name: 'to', required: false })
  @ApiQuery({ name: 'limit', required: false, description: '1..1000 (default 500)' })
  @ApiOkResponse({ description: '{ candles: Candle[], next: epoch ms | null }' })
  async candles(@Param('venue', new ZodBody(AccountIdParam)) venue: string, @Param('symbol', new ZodBody(SymbolParam)) symbol: string, @Query(new ZodBody(CandlesQuery)) q: { from?: number; to?: number; limit: number }) {
    const to = q.to ?? Date.now() + 60_000;
    const from = q.from ?? 0;
    if (from >= to) throw new HttpRefusal(400, 'INVALID_INPUT', 'from must be before to', 'from', 'must be before to');
    return this.bus.requestChecked(Subjects.candles, { venue, symbol, from, to, limit: q.limit }, 'market-data', CandlesPage, 'candles', 30_000).catch((e: unknown) => {
      if (e instanceof HttpRefusal && e.code === 'NO_HISTORY') throw new HttpRefusal(404, 'NO_HISTORY', e.message);
      throw e;
    });
  }
}

/** A recorded event as a command answers it. */
export function eventAnswer(e: RecordedEvent) {
  return { eventId: e.metadata.eventId, type: e.type, streamId: e.streamId, revision: e.revision, data: e.data };
}
