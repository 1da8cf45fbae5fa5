import { type HealthCheckResult, type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { METRICS_PORTS, type TelemetryProcess } from './metrics';

/** One readiness check's state: up or down, with what a reader needs to know why. */
export interface CheckState {
  up: boolean;
  detail?: Record<string, string | number | boolean | null>;
}

/**
 * What `/readyz` checks, each a named function evaluated per request (terminus health
 * indicators). A process is ready when every check is up. The service bootstrap defines
 * `nats` (connected), `rebuilt` (working state folded from the log) and `backlog` (the
 * durable consumer delivered the start-up backlog).
 */
export class Readiness {
  private readonly checks = new Map<string, () => CheckState>();
  private readonly indicators = new HealthIndicatorService();

  /** Define (or replace) a check. */
  define(name: string, check: () => CheckState): void {
    this.checks.set(name, check);
  }

  /** A check that is down until `set(true)`; returns its setter. */
  flag(name: string, downReason: string): (up: boolean, detail?: CheckState['detail']) => void {
    let state: CheckState = { up: false, detail: { reason: downReason } };
    this.define(name, () => state);
    return (up, detail) => (state = { up, detail: detail ?? (up ? undefined : { reason: downReason }) });
  }

  /** Evaluate every check, in terminus's result shape (`status` ok|error, `info`, `error`, `details`). */
  evaluate(): HealthCheckResult {
    const results: HealthIndicatorResult[] = [];
    for (const [name, check] of this.checks) {
      let s: CheckState;
      try {
        s = check();
      } catch (e) {
        s = { up: false, detail: { reason: `check failed: ${String(e)}` } };
      }
      const session = this.indicators.check(name);
      results.push(s.up ? session.up(s.detail ?? {}) : session.down(s.detail ?? {}));
    }
    const details = Object.assign({}, ...results) as HealthCheckResult['details'];
    const info = Object.fromEntries(Object.entries(details).filter(([, v]) => v.status === 'up'));
    const error = Object.fromEntries(Object.entries(details).filter(([, v]) => v.status !== 'up'));
    return { status: Object.keys(error).length ? 'error' : 'ok', info, error, details };
  }
}

/** Where a process's telemetry server listens. */
export interface TelemetryAddress {
  host: string;
  port: number;
}

/**
 * `BULWARK_METRICS_HOST` (default 127.0.0.1) and `BULWARK_METRICS_PORT` (0 = any free port;
 * unset = the process's local default, {@link METRICS_PORTS}).
 * @throws Error when the port is not an integer in 0..65535
 */
export function telemetryAddressFromEnv(process: TelemetryProcess, env: NodeJS.ProcessEnv = globalThis.process.env): TelemetryAddress {
  const host = env.BULWARK_METRICS_HOST || '127.0.0.1';
  const raw = env.BULWARK_METRICS_PORT;
  if (raw === undefined || raw === '') return { host, port: METRICS_PORTS[process] };
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`BULWARK_METRICS_PORT must be an integer in 0..65535, got ${JSON.stringify(raw)}`);
  return { host, port };
}

/** A running telemetry server. */
export interface TelemetryServer {
  /** The port bound (the real one when 0 was asked). */
  port: number;
  host: string;
  close(): Promise<void>;
}

/**
 * Serve a process's telemetry over HTTP (fastify):
 * - `GET /metrics`: the registry in Prometheus text format;
 * - `GET /healthz`: 200 `{status:"ok"}` while the process runs (liveness);
 * - `GET /readyz`: 200 when every readiness check is up, else 503; the body is the terminus
 *   result naming each check (`error` holds the ones down, with their reason).
 * @throws the listen error (e.g. EADDRINUSE) — a service must not run without its probes
 */
export async function startTelemetryServer(opts: { registry: Registry; readiness: Readiness; address: TelemetryAddress }): Promise<TelemetryServer> {
  const app: FastifyInstance = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', opts.registry.contentType);
    return opts.registry.metrics();
  });
  app.get('/healthz', async () => ({ status: 'ok', info: { process: { status: 'up', uptimeSeconds: Math.round(process.uptime()) } }, error: {}, details: {} }));
  app.get('/readyz', async (_req, reply) => {
    const result = opts.readiness.evaluate();
    reply.code(result.status === 'ok' ? 200 : 503);
    return result;
  });
  await app.listen({ host: opts.address.host, port: opts.address.port });
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : opts.address.port;
  return { port, host: opts.address.host, close: () => app.close() };
}
