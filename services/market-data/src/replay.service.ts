import { existsSync } from 'node:fs';
import { type MarketTick, type ReplayProgress, type ReplayStartRequest, type ServiceName, Subjects } from '@bulwark/contracts';
import { pathSteps } from '@bulwark/domain';
import { countCandles, type FundingRate, readCandles, readFundingRates } from '@bulwark/market-data';
import { NATS, ReplayClock } from '@bulwark/messaging';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { JSONCodec, type NatsConnection } from 'nats';

const json = JSONCodec();
const DOWNSTREAM: ServiceName[] = ['signals', 'risk', 'execution', 'stop-monitor', 'accounting'];

async function countInWindow(req: ReplayStartRequest): Promise<number> {
  let n = 0;
  for await (const c of readCandles(req.candlesFile)) {
    if ((req.from === null || c.openTime >= req.from) && (req.to === null || c.openTime < req.to)) n++;
  }
  return n;
}

/**
 * Replays a recorded candle file as market time: each candle becomes four path steps
 * (the explicit intra-bar path) driven through the services by the replay clock, with the
 * funding settlement on the step at its time. Candles and marks are also published on
 * `md.*` for any observer. One replay at a time.
 */
@Injectable()
export class ReplayService {
  private readonly log = new Logger('market-data');
  private running: string | null = null;

  constructor(@Inject(NATS) private readonly nc: NatsConnection) {}

  async start(req: ReplayStartRequest) {
    if (this.running) throw new RpcException({ code: 'REPLAY_RUNNING', message: `replay ${this.running} is still running` });
    if (!existsSync(req.candlesFile)) throw new RpcException({ code: 'FILE_NOT_FOUND', message: `candle file not found: ${req.candlesFile}` });
    if (req.fundingFile && !existsSync(req.fundingFile)) throw new RpcException({ code: 'FILE_NOT_FOUND', message: `funding file not found: ${req.fundingFile}` });
    let total: number;
    let funding: FundingRate[];
    try {
      total = req.from === null && req.to === null ? await countCandles(req.candlesFile) : await countInWindow(req);
      funding = req.fundingFile ? await readFundingRates(req.fundingFile) : [];
    } catch (e) {
      throw new RpcException({ code: 'BAD_MARKET_DATA', message: (e as Error).message });
    }
    this.running = req.runId;
    void this.run(req, total, funding)
      .catch((e) => {
        this.log.error(`replay ${req.runId} failed: ${String(e)}`);
        this.progress({ runId: req.runId, candles: 0, total, ticks: 0, marketTime: 0, done: true, error: String(e) });
      })
      .finally(() => (this.running = null));
    return { runId: req.runId, accepted: true, total };
  }

  private progress(p: ReplayProgress): void {
    this.nc.publish(Subjects.replayProgress(p.runId), json.encode(p));
  }

  private async run(req: ReplayStartRequest, total: number, funding: FundingRate[]): Promise<void> {
    const clock = new ReplayClock(this.nc, DOWNSTREAM);
    await clock.prime();
    const fundingAt = new Map(funding.map((f) => [f.fundingTime, f.rate]));
    const schedule = [...req.schedule].sort((a, b) => a.at - b.at);
    let prevClose: string | null = null;
    let candles = 0;
    let seq = 0;
    let lastReport = 0;
    const wallStart = Date.now();
    let marketStart: number | null = null;
    for await (const candle of readCandles(req.candlesFile)) {
      if ((req.from !== null && candle.openTime < req.from) || (req.to !== null && candle.openTime >= req.to)) {
        prevClose = candle.close;
        continue;
      }
      if (marketStart === null) marketStart = candle.openTime;
      if (req.speed > 0) {
        const due = wallStart + (candle.openTime - marketStart) / req.speed;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const rate = fundingAt.get(candle.openTime);
      for (const step of pathSteps(candle, prevClose)) {
        while (schedule.length && schedule[0].at <= step.ts) {
          const cmd = schedule.shift()!;
          // Operator commands run in market time: they carry the step's time unless they say otherwise.
          const payload = cmd.payload && typeof cmd.payload === 'object' && !('at' in cmd.payload) ? { ...cmd.payload, at: step.ts } : cmd.payload;
          // A refused command (e.g. resume when nothing is paused) is the operator's answer, not a replay failure.
          await clock.command(cmd.subject, payload).then(
            () => this.log.log(`replay ${req.runId}: ${cmd.subject} at ${new Date(step.ts).toISOString()} accepted`),
            (e) => this.log.warn(`replay ${req.runId}: ${cmd.subject} at ${new Date(step.ts).toISOString()} refused: ${(e as Error).message}`),
          );
        }
        const tick: MarketTick = {
          runId: req.runId, venue: req.venue, symbol: req.symbol, seq: seq++, ts: step.ts, candleOpenTime: candle.openTime,
          pathIndex: step.pathIndex, from: step.from, to: step.to, gap: step.gap,
          candle: step.pathIndex === 3 ? candle : null,
          funding: step.pathIndex === 0 && rate !== undefined ? { fundingTime: candle.openTime, rate } : null,
        };
        await clock.step(tick);
        this.nc.publish(Subjects.mark(req.venue, req.symbol), json.encode({ ts: tick.ts, price: tick.to }));
      }
      this.nc.publish(Subjects.candle(req.venue, req.symbol), json.encode(candle));
      prevClose = candle.close;
      candles++;
      if (Date.now() - lastReport > 200) {
        lastReport = Date.now();
        this.progress({ runId: req.runId, candles, total, ticks: seq, marketTime: candle.openTime, done: false, error: null });
      }
    }
    await clock.quiesce();
    this.log.log(`replay ${req.runId}: ${candles} candles, ${seq} steps, ${clock.phasesDelivered} phases delivered, ${clock.phasesSkipped} skipped, ${clock.quiesceRounds} quiesce rounds in ${Date.now() - wallStart} ms`);
    this.progress({ runId: req.runId, candles, total, ticks: seq, marketTime: 0, done: true, error: null });
  }
}
