import 'reflect-metadata';
import { openEventStore } from '@bulwark/event-store';
import { busConfigFromEnv, connectNats, stopOnSignals } from '@bulwark/messaging';
import { initProcessMetrics, Readiness, startTelemetryServer, startTracing, telemetryAddressFromEnv } from '@bulwark/telemetry';
import { Logger, LoggerModule } from 'nestjs-pino';
import { createGatewayApp } from './app';
import { gatewayConfigFromEnv } from './config';
import { ReadModelService } from './api/read-model.service';

/**
 * Start the gateway process: settings (refusing a non-loopback host without TLS files), the
 * trace SDK, its metrics and probes server (default port 9107: /metrics, /healthz, /readyz),
 * NATS as user `gateway`, the event log as the services open it (BULWARK_EVENT_STORE), then the
 * HTTP server on BULWARK_GATEWAY_HOST:BULWARK_GATEWAY_PORT (default 127.0.0.1:8080).
 * Logs are pino; request logs are off, and headers, URLs and bodies are never logged
 * (they carry passwords, tokens, API keys and stream tickets).
 */
async function main(): Promise<void> {
  const config = gatewayConfigFromEnv();
  const bus = busConfigFromEnv();
  const stopTracing = await startTracing('gateway');
  const metrics = initProcessMetrics('gateway');
  const readiness = new Readiness();
  const setNats = readiness.flag('nats', 'not connected to NATS yet');
  const telemetry = await startTelemetryServer({ registry: metrics.registry, readiness, address: telemetryAddressFromEnv('gateway') });
  const nc = await connectNats({ user: 'gateway', servers: bus.natsUrl, name: 'bulwark-gateway' });
  setNats(true, { server: nc.getServer() });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') setNats(false, { reason: `disconnected from ${String(s.data)}` });
      else if (s.type === 'reconnect') setNats(true, { server: String(s.data) });
    }
  })();
  const store = await openEventStore(process.env, nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  const app = await createGatewayApp({
    nc,
    store,
    config,
    bufferLogs: true,
    imports: [
      LoggerModule.forRoot({
        pinoHttp: {
          level: process.env.LOG_LEVEL || 'info',
          base: { service: 'gateway' },
          autoLogging: false,
          // A log line made during a request names the request by id and method only: URLs carry
          // stream tickets, headers carry tokens and keys.
          serializers: { req: (req: { id?: unknown; method?: unknown }) => ({ id: req.id, method: req.method }) },
          // Belt and braces: should a request reach a log another way, no credential goes out.
          redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie', 'req.url', 'req.query', 'req.body'], censor: '[redacted]' },
        },
      }),
    ],
  });
  app.useLogger(app.get(Logger));
  const log = app.get(Logger);
  const readModel = app.get(ReadModelService);
  readiness.define('caught-up', () => ({ up: readModel.ready(), detail: readModel.ready() ? undefined : { reason: 'the read model is replaying the event log' } }));
  await app.listen(config.port, config.host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.log(`gateway on ${config.tls ? 'https' : 'http'}://${config.host}:${port} (dashboard /, API /api, OpenAPI /api/docs); telemetry on http://${telemetry.host}:${telemetry.port}`);
  stopOnSignals('gateway', log, [() => app.close(), () => store.close(), () => nc.drain(), () => telemetry.close(), () => stopTracing?.()]);
}

main().catch((e: unknown) => {
  // A configuration or connection error: its message names the variable or the server, never a secret.
  console.error(`gateway: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
