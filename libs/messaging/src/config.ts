import { DEFAULT_NATS_URL } from './nats-connect';

/** Runtime settings shared by every service, from the environment. */
export interface BusConfig {
  /** NATS server URL(s), comma-separated (NATS_URL, default nats://127.0.0.1:4223: Bulwark's own secured server, scripts/ensure-nats.sh). */
  natsUrl: string;
  /** JetStream stream holding the event log (BULWARK_ES_STREAM, default ES). */
  esStream: string;
  /** Subject prefix of the event log (BULWARK_ES_PREFIX, default es): subjects are `<prefix>.<category>.<id>`. */
  esPrefix: string;
  /** JetStream stream keeping dead letters (BULWARK_DLQ_STREAM, default DLQ). */
  dlqStream: string;
  /** Subject prefix of dead letters (BULWARK_DLQ_PREFIX, default dlq): `<prefix>.<service>`. */
  dlqPrefix: string;
  /** Durable consumer name suffix, so parallel test runs on one server never share consumers (BULWARK_CONSUMER_SUFFIX). */
  consumerSuffix: string;
}

export function busConfigFromEnv(env: NodeJS.ProcessEnv = process.env): BusConfig {
  return {
    natsUrl: env.NATS_URL || DEFAULT_NATS_URL,
    esStream: env.BULWARK_ES_STREAM || 'ES',
    esPrefix: env.BULWARK_ES_PREFIX || 'es',
    dlqStream: env.BULWARK_DLQ_STREAM || 'DLQ',
    dlqPrefix: env.BULWARK_DLQ_PREFIX || 'dlq',
    consumerSuffix: env.BULWARK_CONSUMER_SUFFIX || '',
  };
}
