import 'reflect-metadata';
import type { RecordedEvent } from '@bulwark/contracts';
import { accountOfStreamId, openEventStore } from '@bulwark/event-store';
import { busConfigFromEnv, connectNats, stopOnSignals, watchNats } from '@bulwark/messaging';
import { initProcessMetrics, logContextFields, Readiness, startTelemetryServer, startTracing, telemetryAddressFromEnv } from '@bulwark/telemetry';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger, LoggerModule } from 'nestjs-pino';
import { AlerterMetrics } from './alerter';
import { AlerterModule } from './alerter.module';
import type { AlertChannel, ChannelName } from './channel';
import { AlerterConfigError, alerterConfigFromEnv } from './config';
import { SentLedger } from './sent-ledger';
import { TelegramChannel } from './telegram';
import { WebhookChannel } from './webhook';

/**
 * The alerter process (docs/observability.md "Alerts"): configuration (a bad one stops it at
 * once with the variable and the reason), its metrics and probes server (BULWARK_METRICS_PORT,
 * default 9108), NATS as user `alerter`, the alerts-sent bucket, and the durable consumer.
 */
async function main(): Promise<void> {
  const config = alerterConfigFromEnv();
  const stopTracing = await startTracing('alerter');
  const metrics = initProcessMetrics('alerter');
  const readiness = new Readiness();
  const setNats = readiness.flag('nats', 'not connected to NATS yet');
  const setConsuming = readiness.flag('consumer', 'the durable consumer is not started yet');
  const telemetry = await startTelemetryServer({ registry: metrics.registry, readiness, address: telemetryAddressFromEnv('alerter') });
  const bus = busConfigFromEnv();
  const nc = await connectNats({ user: 'alerter', servers: bus.natsUrl, name: 'bulwark-alerter' });
  watchNats(nc, setNats);
  const store = await openEventStore(process.env, nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  const ledger = await SentLedger.open(nc, config.bucket);
  const channels: AlertChannel[] = [];
  const unconfigured: ChannelName[] = [];
  if (config.telegram) channels.push(new TelegramChannel(config.telegram));
  else unconfigured.push('telegram');
  if (config.webhook) channels.push(new WebhookChannel(config.webhook));
  else unconfigured.push('webhook');
  // Order streams name no account: their first event (OrderInitialized) does.
  const accountOf = async (e: RecordedEvent): Promise<string | null> => {
    if (!e.streamId.startsWith('order-')) return accountOfStreamId(e.streamId);
    const first = (await store.readStream(e.streamId))[0];
    return first?.type === 'OrderInitialized' ? (first.data as { accountId: string }).accountId : null;
  };

  @Module({
    imports: [
      LoggerModule.forRoot({ pinoHttp: { level: process.env.LOG_LEVEL || 'info', base: { service: 'alerter' }, mixin: logContextFields } }),
      AlerterModule.forOptions({ nc, bus, channels, unconfigured, ledger, accountOf, metrics: new AlerterMetrics(metrics.registry) }),
    ],
  })
  class AlerterAppModule {}

  const app = await NestFactory.createApplicationContext(AlerterAppModule, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  const logger = app.get(Logger);
  await app.init();
  setConsuming(true);
  logger.log(`alerter telemetry on http://${telemetry.host}:${telemetry.port} (/metrics /healthz /readyz)`);
  stopOnSignals('alerter', logger, [() => app.close(), () => store.close?.(), () => nc.drain(), () => telemetry.close(), () => stopTracing?.()]);
}

main().catch((e: unknown) => {
  // Before the logger exists: one line on stderr naming what is wrong (never a secret).
  const message = e instanceof AlerterConfigError ? `alerter configuration: ${e.message}` : `alerter failed to start: ${e instanceof Error ? e.message : String(e)}`;
  process.stderr.write(`${JSON.stringify({ level: 60, time: Date.now(), service: 'alerter', msg: message })}\n`);
  process.exit(1);
});
