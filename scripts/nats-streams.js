#!/usr/bin/env node
// Create the event log and dead-letter streams of the configured bus when missing, as NATS user
// `admin` (services may not create streams: docs/security.md). Run by scripts/setup.sh after
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
  } finally {
    await nc.close();
  }
}

main().catch((e) => {
  console.error(`nats-streams: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
