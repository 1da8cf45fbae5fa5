import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BulwarkMetrics, METRICS_PORTS } from './metrics';
import { Readiness, type TelemetryServer, startTelemetryServer, telemetryAddressFromEnv } from './server';

describe('telemetry server (fastify on a free port)', () => {
  const metrics = new BulwarkMetrics('risk');
  const readiness = new Readiness();
  const setNats = readiness.flag('nats', 'not connected to NATS yet');
  const setRebuilt = readiness.flag('rebuilt', 'the working state is being rebuilt from the log');
  let server: TelemetryServer;
  let base: string;

  beforeAll(async () => {
    server = await startTelemetryServer({ registry: metrics.registry, readiness, address: { host: '127.0.0.1', port: 0 } });
    base = `http://127.0.0.1:${server.port}`;
  }, 60_000);
  afterAll(() => server.close());

  it('binds a free port when asked for 0', () => {
    expect(server.port).toBeGreaterThan(0);
  });

  it('/healthz answers 200 while the process runs, ready or not', async () => {
    const r = await fetch(`${base}/healthz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ok' });
  }, 60_000);

  it('/readyz is 503 naming each check that is down, then 200 once all are up, and 503 again when NATS goes', async () => {
    let r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(503);
    let body = (await r.json()) as { status: string; error: Record<string, { status: string; reason?: string }>; info: Record<string, unknown> };
    expect(body.status).toBe('error');
    expect(body.error).toEqual({ nats: { status: 'down', reason: 'not connected to NATS yet' }, rebuilt: { status: 'down', reason: 'the working state is being rebuilt from the log' } });

    setNats(true, { server: '127.0.0.1:4222' });
    r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(503);
    body = (await r.json()) as typeof body;
    expect(Object.keys(body.error)).toEqual(['rebuilt']);
    expect(body.info).toEqual({ nats: { status: 'up', server: '127.0.0.1:4222' } });

    setRebuilt(true);
    r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ok', error: {} });

    setNats(false, { reason: 'disconnected from 127.0.0.1:4222' });
    r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(503);
    expect(((await r.json()) as typeof body).error.nats.reason).toBe('disconnected from 127.0.0.1:4222');
  }, 60_000);

  it('a check that throws is down with the reason, not a crash', async () => {
    const rd = new Readiness();
    rd.define('backlog', () => {
      throw new Error('consumer info failed');
    });
    expect(rd.evaluate()).toMatchObject({ status: 'error', error: { backlog: { status: 'down', reason: 'check failed: Error: consumer info failed' } } });
  });

  it('/metrics serves the registry in Prometheus text format with the service label and Node process metrics', async () => {
    metrics.riskDecisions.inc({ decision: 'denied', reason: 'NO_EQUITY' });
    const r = await fetch(`${base}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    const text = await r.text();
    expect(text).toContain('# TYPE bulwark_risk_decisions_total counter');
    expect(text).toContain('bulwark_risk_decisions_total{decision="denied",reason="NO_EQUITY",service="risk"} 1');
    expect(text).toMatch(/process_resident_memory_bytes\{service="risk"\} \d+/);
    expect(text).toContain('# TYPE bulwark_event_append_seconds histogram');
  }, 60_000);
});

describe('telemetryAddressFromEnv', () => {
  it('uses the local default port of the process, 127.0.0.1, 0 for a free port, and refuses a bad port', () => {
    expect(telemetryAddressFromEnv('execution', {})).toEqual({ host: '127.0.0.1', port: METRICS_PORTS.execution });
    expect(METRICS_PORTS).toEqual({ 'market-data': 9101, signals: 9102, risk: 9103, execution: 9104, 'stop-monitor': 9105, accounting: 9106, gateway: 9107, alerter: 9108 });
    expect(telemetryAddressFromEnv('risk', { BULWARK_METRICS_PORT: '0', BULWARK_METRICS_HOST: '0.0.0.0' })).toEqual({ host: '0.0.0.0', port: 0 });
    expect(() => telemetryAddressFromEnv('risk', { BULWARK_METRICS_PORT: '70000' })).toThrow('BULWARK_METRICS_PORT must be an integer in 0..65535, got "70000"');
    expect(() => telemetryAddressFromEnv('risk', { BULWARK_METRICS_PORT: 'abc' })).toThrow('BULWARK_METRICS_PORT');
  });
});
