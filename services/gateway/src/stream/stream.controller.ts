import { accountOfStream, type EventData, type RecordedEvent } from '@bulwark/contracts';
import type { StreamedEventView } from '@bulwark/projections';
import { Controller, Get, HttpCode, Logger, type OnModuleDestroy, type OnModuleInit, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AuthUser, CurrentUser, Public } from '../auth/roles';
import { ReadModelService } from '../api/read-model.service';
import { HttpRefusal } from '../security/http-errors';
import { STREAM_TICKET_TTL_MS, StreamTickets } from './stream-tickets';

/** Event types the stream forwards: fills, position changes, breakers, protection, alerts, decisions. */
export const STREAMED_EVENT_TYPES: ReadonlySet<string> = new Set([
  'OrderFilled', 'OrderStatusUnknown', 'OrderRejected', 'OrderCanceled',
  'PositionOpened', 'PositionIncreased', 'PositionReduced', 'PositionClosed', 'PositionLiquidated',
  'TradingPaused', 'TradingResumed', 'TradingStateChanged', 'DrawdownAlert', 'LifetimeDrawdownBreached', 'DailyTradeLimitReached', 'MarginLevelAlert',
  'ProtectionWarning', 'ProtectionFailed', 'VenueAlert', 'StopPlaced', 'StopTriggered', 'StopResized', 'StopCancelled',
  'EntryApproved', 'EntryDenied', 'FlattenRequested', 'AccountOpened', 'AccountReconfigured',
]);
/** Heartbeat comment period (ms): keeps proxies from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;
/** At most one mark price per symbol per this many ms (the latest one wins). */
export const MARK_INTERVAL_MS = 250;
/** A client this far behind (bytes not yet sent) is cut off; its EventSource reconnects and the dashboard re-reads. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;


/**
 * Live updates as Server-Sent Events. `POST /api/auth/stream-ticket` (any role) gives a one-use
 * 30 s ticket; `GET /api/stream?ticket=…` streams `event: <event type>` (see
 * {@link STREAMED_EVENT_TYPES}) and `event: mark` (`{venue, symbol, price, ts}`, throttled per
 * symbol), with a `: heartbeat` comment every 15 s. Events come from the gateway's read model
 * after it has applied them, and only once it has caught up with the log (no history replay).
 */
@ApiTags('stream')
@Controller('api')
export class StreamController implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('Stream');
  readonly tickets = new StreamTickets();
  /** Order stream → account, learnt from OrderInitialized (an order's stream id does not name its account). */
  private readonly orderAccounts = new Map<string, string>();
  private stopLearning: (() => void) | null = null;

  constructor(private readonly readModel: ReadModelService) {}

  onModuleInit(): void {
    this.stopLearning = this.readModel.onEvent((e) => {
      if (e.type === 'OrderInitialized') this.orderAccounts.set(e.streamId, (e.data as EventData<'OrderInitialized'>).accountId);
    });
  }

  onModuleDestroy(): void {
    this.stopLearning?.();
  }

  @Post('auth/stream-ticket')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'A one-use ticket (30 s) for GET /api/stream (EventSource cannot send headers).' })
  @ApiOkResponse({ schema: { type: 'object', properties: { ticket: { type: 'string' }, expiresIn: { type: 'integer', description: 'seconds' } } } })
  streamTicket(@CurrentUser() user: AuthUser) {
    return { ticket: this.tickets.issue(user), expiresIn: STREAM_TICKET_TTL_MS / 1000 };
  }

  /** The JSON of one event's `data:` line. */
  toStreamed(e: RecordedEvent): StreamedEventView {
    const data = e.data as { accountId?: unknown };
    const accountId = accountOfStream(e.streamId, this.orderAccounts) ?? (typeof data?.accountId === 'string' ? data.accountId : null);
    return { eventId: e.metadata.eventId, type: e.type, streamId: e.streamId, ts: e.metadata.tsEvent, accountId, data: e.data };
  }

  @Public() // the ticket is the credential
  @Get('stream')
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'ticket', required: true, description: 'from POST /api/auth/stream-ticket' })
  @ApiOperation({ summary: 'Server-Sent Events: `event:` is the event type or `mark`; data `{eventId, type, streamId, ts, accountId, data}` or `{venue, symbol, price, ts}`.' })
  stream(@Query('ticket') ticket: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    const user = typeof ticket === 'string' && ticket.length > 0 && ticket.length <= 100 ? this.tickets.take(ticket) : null;
    if (!user) throw new HttpRefusal(401, 'INVALID_TICKET', 'the stream ticket is missing, used or expired; get one from POST /api/auth/stream-ticket');
    const raw = reply.raw;
    reply.hijack();
    // The security headers set so far (helmet's) go out with the stream's own.
    raw.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.write(': connected\n\n');
    let closed = false;
    const send = (event: string, payload: unknown) => {
      if (closed) return;
      if (raw.writableLength > MAX_BUFFERED_BYTES) {
        this.log.warn(`stream of ${user.username} is ${raw.writableLength} bytes behind: closing it`);
        raw.end();
        return;
      }
      raw.write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`);
    };
    const lastMark = new Map<string, number>();
    const pendingMark = new Map<string, { payload: unknown; timer: NodeJS.Timeout }>();
    const stopEvents = this.readModel.onEvent((e) => {
      if (this.readModel.ready() && STREAMED_EVENT_TYPES.has(e.type)) send(e.type, this.toStreamed(e));
    });
    const stopMarks = this.readModel.onMark((m) => {
      const key = `${m.venue}.${m.symbol}`;
      const payload = { venue: m.venue, symbol: m.symbol, price: m.price, ts: m.ts };
      const wait = (lastMark.get(key) ?? 0) + MARK_INTERVAL_MS - Date.now();
      const pending = pendingMark.get(key);
      if (wait <= 0 && !pending) {
        lastMark.set(key, Date.now());
        send('mark', payload);
      } else if (pending) pending.payload = payload; // the latest price wins
      else {
        const timer = setTimeout(() => {
          const p = pendingMark.get(key);
          pendingMark.delete(key);
          lastMark.set(key, Date.now());
          if (p) send('mark', p.payload);
        }, Math.max(wait, 0));
        pendingMark.set(key, { payload, timer });
      }
    });
    const heartbeat = setInterval(() => {
      if (!closed) raw.write(': heartbeat\n\n');
    }, HEARTBEAT_MS);
    const cleanup = () => {
      if (closed) return;
      closed = true;
      stopEvents();
      stopMarks();
      clearInterval(heartbeat);
      for (const p of pendingMark.values()) clearTimeout(p.timer);
    };
    req.raw.on('close', cleanup);
    raw.on('close', cleanup);
    raw.on('error', cleanup);
  }
}
