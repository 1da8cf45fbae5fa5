#!/usr/bin/env node
// Create the event log and dead-letter streams of the configured bus, and the alerter's
// alerts-sent key-value bucket (BULWARK_ALERTS_BUCKET, default bulwark-alerts-sent), when missing, as NATS user
// `admin` (services may not create streams: docs/security.md); also the gateway's credentials
// bucket (BULWARK_CREDENTIALS_BUCKET, default bulwark-credentials) and its Idempotency-Key bucket
// (BULWARK_IDEMPOTENCY_BUCKET, default bulwark-idempotency). Run by scripts/setup.sh after
// the build; the bus comes from the environment as the services read it (BULWARK_ES_STREAM,
// BULWARK_ES_PREFIX, BULWARK_DLQ_STREAM, BULWARK_DLQ_PREFIX, NATS_URL).
'use strict';

const path = require('node:path');

async function main() {
  let messaging;
  try {
    messaging = require(path.join(__dirname, '..', 'libs', 'messaging', 'dist', 'index.js'));
  } catch (e) {
    throw new Error(`libs/messaging is not built (${e.message}); run npm run build first`);
  }
  const bus = messaging.busConfigFromEnv();
  const nc = await messaging.connectNats({ user: 'admin', servers: bus.natsUrl, name: 'bulwark-setup', timeoutMs: 3_000, reconnect: 'never' });
  try {
    await messaging.createBusStreams(nc, bus);
    console.log(`nats-streams: event log ${bus.esStream} (${bus.esPrefix}.>) and dead letters ${bus.dlqStream} (${bus.dlqPrefix}.>) ready at ${bus.natsUrl}`);
    // The gateway's credentials bucket (password, API-key and refresh-token hashes; only the gateway reads it).
    const credentialsBucket = messaging.credentialsBucketFromEnv();
    await messaging.createCredentialsBucket(nc, credentialsBucket);
    console.log(`nats-streams: credentials bucket ${credentialsBucket} ready`);
    // The alerter's key-value bucket of alerts sent (user alerter may not create it; services/alerter).
    const alerts = require(path.join(__dirname, '..', 'services', 'alerter', 'dist', 'sent-ledger.js'));
    const bucket = process.env.BULWARK_ALERTS_BUCKET || 'bulwark-alerts-sent';
    await alerts.createAlertsSentBucket(nc, bucket);
    console.log(`nats-streams: alerts-sent bucket ${bucket} ready`);
    // The gateway's Idempotency-Key answers (24 h per key; services/gateway).
    const idem = require(path.join(__dirname, '..', 'services', 'gateway', 'dist', 'api', 'idempotency-bucket.js'));
    const idemBucket = idem.idempotencyBucketFromEnv();
    await idem.createIdempotencyBucket(nc, idemBucket);
    console.log(`nats-streams: idempotency bucket ${idemBucket} ready`);
  } finally {
    await nc.close();
  }
}

main().catch((e) => {
  console.error(`nats-streams: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
