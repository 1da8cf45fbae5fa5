import { existsSync } from 'node:fs';
import { type ReplayProgress, type ReplayStartRequest, type ServiceName, Subjects } from '@bulwark/contracts';
import { countCandles, type FundingRate, readCandles, readFundingRates } from '@bulwark/market-data';
import { NATS, NatsClockPort, ReplayClock } from '@bulwark/messaging';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { JSONCodec, type NatsConnection } from 'nats';
import { replayCandles } from './replay';

const json = JSONCodec();
export const DOWNSTREAM: ServiceName[] = ['signals', 'risk', 'execution', 'stop-monitor', 'accounting'];

/** Candles of a file inside a window [from, to). */
export async function countInWindow(file: string, from: number | null, to: number | null): Promise<number> {
  if (from === null && to === null) return countCandles(file);
  let n = 0;
  for await (const c of readCandles(file)) if ((from === null || c.openTime >= from) && (to === null || c.openTime < to)) n++;
  return n;
}

/**
 * Market-data's replay: a recorded candle file driven as market time through the six
 * services over NATS (`replayCandles` with the NATS clock), with progress published on
 * `bulwark.market-data.replay.progress.<runId>` and candles and marks on `md.*` for any
 * observer. One replay at a time.
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
      total = await countInWindow(req.candlesFile, req.from, req.to);
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
    const clock = new ReplayClock(new NatsClockPort(this.nc), DOWNSTREAM);
    const wallStart = Date.now();
    let marketStart: number | null = null;
    let lastReport = 0;
    const counters = await replayCandles(clock, req, funding, {
      onStep: (tick) => {
        this.nc.publish(Subjects.mark(req.venue, req.symbol), json.encode({ ts: tick.ts, price: tick.to }));
      },
      onCandle: async (candle, c) => {
        this.nc.publish(Subjects.candle(req.venue, req.symbol), json.encode(candle));
        if (req.speed > 0) {
          marketStart ??= candle.openTime;
          const wait = wallStart + (candle.openTime - marketStart) / req.speed - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        if (Date.now() - lastReport > 200) {
          lastReport = Date.now();
          this.progress({ runId: req.runId, candles: c.candles, total, ticks: c.steps, marketTime: candle.openTime, done: false, error: null });
        }
      },
      onCommand: (subject, at, e) =>
        e ? this.log.warn(`replay ${req.runId}: ${subject} at ${new Date(at).toISOString()} refused: ${e.message}`) : this.log.log(`replay ${req.runId}: ${subject} at ${new Date(at).toISOString()} accepted`),
    });
    this.log.log(`replay ${req.runId}: ${counters.candles} candles, ${counters.steps} steps, ${clock.phasesDelivered} phases delivered, ${clock.phasesSkipped} skipped, ${clock.quiesceRounds} quiesce rounds in ${Date.now() - wallStart} ms`);
    this.progress({ runId: req.runId, candles: counters.candles, total, ticks: counters.steps, marketTime: counters.marketTime, done: true, error: null });
  }
}
