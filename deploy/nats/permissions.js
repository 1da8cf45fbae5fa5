// Who may publish and subscribe to what on Bulwark's NATS server: the one source of the
// server's authorization block (rendered by scripts/nats-auth.js into var/nats/nats-server.conf,
// or for another server with `node scripts/nats-auth.js render --public-keys <file>`).
// The reasons are in docs/security.md; the table there is generated from this file's users.
//
// Subjects named here (libs/contracts/src/messages.ts `Subjects`, libs/messaging):
//   bulwark.clock.<service>, bulwark.sync.<service>, bulwark.health.<service>   replay clock and health
//   bulwark.risk.*, bulwark.signals.attach, bulwark.accounting.*, bulwark.market-data.*   requests
//   md.candle.<venue>.<symbol>, md.mark.<venue>.<symbol>                         market data
//   <esPrefix>.<category>.<id>   the event log (stream BULWARK_ES_STREAM, prefix BULWARK_ES_PREFIX)
//   <dlqPrefix>.<service>        dead letters (stream BULWARK_DLQ_STREAM, prefix BULWARK_DLQ_PREFIX)
// Stream names and subject prefixes are configurable (tests use random ones), so the first
// token of an event subject is `*` and the category (second token) is what is enforced.
'use strict';

/** The six services (ServiceName in libs/contracts). */
const SERVICES = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting'];

/**
 * Event-log categories each service writes (single writer; docs/architecture.md "Services").
 * Every service also writes its own `quarantine-<service>` stream (poison events).
 */
const OWNED_CATEGORIES = {
  'market-data': ['replay', 'candles'],
  signals: ['signal'],
  risk: ['account'],
  execution: ['order', 'venue', 'rules', 'margin'],
  'stop-monitor': ['stop', 'monitor'],
  accounting: ['position', 'ledger'],
};

/** Requests a service sends to another service (core NATS request/reply). */
const REQUESTS = {
  'market-data': [
    'bulwark.clock.*', // it drives the replay clock
    'bulwark.sync.*',
    'bulwark.health.*',
    // A replay's operator schedule (ReplayStartRequest.schedule, sent by the driver) is carried
    // out in market time by the clock: kill switch, resume and flatten reach risk from market-data.
    'bulwark.risk.trading-state',
    'bulwark.risk.resume',
    'bulwark.risk.flatten',
    'bulwark.risk.close-position',
    'bulwark.risk.cancel-order',
  ],
  signals: ['bulwark.market-data.candles'], // a restarted strategy's warm-up
  risk: ['bulwark.accounting.equity'],
  execution: [],
  'stop-monitor': [],
  accounting: [],
};

/** Other core subjects a service publishes (not requests). */
const PUBLISHES = {
  'market-data': ['md.>', 'bulwark.market-data.replay.progress.>'],
  signals: [],
  risk: [],
  execution: [],
  'stop-monitor': [],
  accounting: [],
};

/** Request subjects a service answers, beyond its clock, sync and health subjects. */
const SERVES = {
  'market-data': ['bulwark.market-data.>'],
  signals: ['bulwark.signals.>'],
  risk: ['bulwark.risk.>'],
  execution: ['bulwark.execution.>'], // spot-margin transfers, loans, closes and account reads
  'stop-monitor': [],
  accounting: ['bulwark.accounting.>'],
};

/** Core subjects a service listens to without answering. */
const LISTENS = {
  'market-data': [],
  signals: [],
  risk: [],
  execution: [],
  'stop-monitor': ['md.mark.>'], // mark-price stops on live venues
  accounting: [],
};

/** Operator commands (the kill switch among them): only `operator`, `gateway` and `admin` send them. */
const OPERATOR_COMMANDS = [
  'bulwark.risk.open-account',
  'bulwark.risk.reconfigure-account',
  'bulwark.risk.trading-state',
  'bulwark.risk.resume',
  'bulwark.risk.flatten',
  'bulwark.risk.close-position',
  'bulwark.risk.cancel-order',
  'bulwark.risk.margin-entry',
  'bulwark.execution.margin.transfer',
  'bulwark.execution.margin.loan',
  'bulwark.execution.margin.close',
  'bulwark.execution.margin.account',
];

/**
 * Reading the event log and running a durable consumer: account info, stream info, direct and
 * message gets, consumer create/info/next/delete (the store's short-lived ordered consumers and
 * the service's durable), acks and flow control. No stream create, update, delete or purge, and
 * no message delete: those API subjects are simply not allowed. Stream and consumer names are
 * configurable, so they are `*` here (see DURABLE_GUARD for the durables' names).
 */
const JS_READ = [
  '$JS.API.INFO',
  '$JS.API.STREAM.INFO.*',
  '$JS.API.STREAM.MSG.GET.*',
  '$JS.API.DIRECT.GET.*',
  '$JS.API.DIRECT.GET.*.>',
  '$JS.API.CONSUMER.CREATE.*',
  '$JS.API.CONSUMER.CREATE.*.>',
  '$JS.API.CONSUMER.DURABLE.CREATE.*.*',
  '$JS.API.CONSUMER.INFO.*.*',
  '$JS.API.CONSUMER.MSG.NEXT.*.*',
  '$JS.API.CONSUMER.DELETE.*.*',
  '$JS.ACK.>',
  '$JS.FC.>',
];

/**
 * With the default consumer names (no BULWARK_CONSUMER_SUFFIX: production) a user may not
 * create, pull from, ack for or delete another service's durable `bulwark-<service>`. NATS
 * subjects have no partial-token wildcards, so suffixed names (tests) are not covered.
 */
function durableGuard(self) {
  // Also: nobody but the gateway (and admin) reads or writes the credentials bucket (password,
  // API-key and refresh-token hashes; libs/messaging credentials.ts), which JS_READ would allow.
  const out = self === 'gateway' ? [] : [...CREDENTIALS_GUARD];
  for (const s of [...SERVICES, 'alerter']) {
    if (s === self) continue;
    const d = `bulwark-${s}`;
    out.push(`$JS.API.CONSUMER.CREATE.*.${d}`, `$JS.API.CONSUMER.CREATE.*.${d}.>`, `$JS.API.CONSUMER.DURABLE.CREATE.*.${d}`,
      `$JS.API.CONSUMER.MSG.NEXT.*.${d}`, `$JS.API.CONSUMER.DELETE.*.${d}`, `$JS.ACK.*.${d}.>`);
  }
  return out;
}

/** The alerter's key-value bucket of alerts sent (services/alerter ALERTS_SENT_BUCKET). */
const ALERTS_BUCKET = 'bulwark-alerts-sent';

/** The services' lease bucket (libs/messaging LEASE_BUCKET; set-up creates it): a service writes only keys `<service>.…`. */
const LEASE_BUCKET = 'bulwark-leases';

/** The gateway's key-value bucket of Idempotency-Key answers (services/gateway idempotency-bucket.ts; set-up creates it). */
const IDEMPOTENCY_BUCKET = 'bulwark-idempotency';

/** The gateway's key-value bucket of credential hashes (libs/messaging CREDENTIALS_BUCKET; set-up creates it). */
const CREDENTIALS_BUCKET = 'bulwark-credentials';
const CREDENTIALS_GUARD = [
  `$KV.${CREDENTIALS_BUCKET}.>`,
  `$JS.API.DIRECT.GET.KV_${CREDENTIALS_BUCKET}`,
  `$JS.API.DIRECT.GET.KV_${CREDENTIALS_BUCKET}.>`,
  `$JS.API.STREAM.MSG.GET.KV_${CREDENTIALS_BUCKET}`,
  `$JS.API.CONSUMER.CREATE.KV_${CREDENTIALS_BUCKET}`,
  `$JS.API.CONSUMER.CREATE.KV_${CREDENTIALS_BUCKET}.>`,
  `$JS.API.CONSUMER.DURABLE.CREATE.KV_${CREDENTIALS_BUCKET}.*`,
];

/** Replies (to `_INBOX.…` of a request received) are allowed once per request via allow_responses. */
const INBOX = ['_INBOX.>'];

function servicePermissions(s) {
  return {
    publish: {
      allow: [
        ...OWNED_CATEGORIES[s].map((c) => `*.${c}.>`),
        `*.quarantine.${s}`, // its poison events
        `*.lease.${s}`, // which of its instances acted when (ServiceActivated, ServiceLeaseReleased)
        `$KV.${LEASE_BUCKET}.${s}.>`, // its own lease, never another service's
        `*.${s}`, // its dead letters: <dlqPrefix>.<service>
        ...REQUESTS[s],
        ...PUBLISHES[s],
        ...JS_READ,
      ],
      deny: durableGuard(s),
    },
    subscribe: {
      allow: [`bulwark.clock.${s}`, `bulwark.sync.${s}`, `bulwark.health.${s}`, ...SERVES[s], ...LISTENS[s], ...INBOX],
    },
    allow_responses: true,
  };
}

/** Reads every client of the system may do: the log (read only), health, summaries, market data, replay progress. */
const OBSERVE_PUB = ['bulwark.health.*', 'bulwark.accounting.equity', 'bulwark.accounting.summary', ...JS_READ];
const OBSERVE_SUB = ['md.>', 'bulwark.market-data.replay.progress.>', ...INBOX];

/**
 * Users: one per service, the operator surfaces and set-up. Each entry: permissions in
 * nats-server's shape ({publish:{allow,deny}, subscribe:{allow,deny}, allow_responses}),
 * or null for full rights.
 */
const USERS = {
  ...Object.fromEntries(SERVICES.map((s) => [s, servicePermissions(s)])),
  // The HTTP gateway: operator commands on behalf of an authenticated person, and reads.
  gateway: {
    publish: { allow: [...OPERATOR_COMMANDS, 'bulwark.signals.attach', 'bulwark.signals.manual-entry', 'bulwark.market-data.candles', 'bulwark.market-data.replay.cancel', 'bulwark.market-data.replay.pace', `$KV.${CREDENTIALS_BUCKET}.>`, `$KV.${IDEMPOTENCY_BUCKET}.>`, ...OBSERVE_PUB], deny: durableGuard('gateway') },
    subscribe: { allow: OBSERVE_SUB },
  },
  // The operator CLI (`bulwark account …`, `strategy attach`, `audit`): commands, the kill switch, reads,
  // and the hash-chain checkpoints `audit checkpoint` records (chain-<account>, ChainCheckpointRecorded).
  operator: {
    publish: {
      allow: [...OPERATOR_COMMANDS, 'bulwark.signals.attach', 'bulwark.market-data.replay.cancel', 'bulwark.market-data.replay.pace', 'bulwark.market-data.candles', '*.chain.>', ...OBSERVE_PUB],
      deny: durableGuard(null),
    },
    subscribe: { allow: OBSERVE_SUB },
  },
  // The demo / replay starter: opens its account, attaches the strategy, starts and cancels a replay.
  driver: {
    publish: {
      allow: ['bulwark.risk.open-account', 'bulwark.signals.attach', 'bulwark.market-data.replay.start', 'bulwark.market-data.replay.cancel', 'bulwark.market-data.replay.pace', 'bulwark.execution.margin.transfer', ...OBSERVE_PUB],
      deny: durableGuard(null),
    },
    subscribe: { allow: OBSERVE_SUB },
  },
  // The alerter (services/alerter): reads the log through its own durable `bulwark-alerter` and
  // records the alerts it sent in its own key-value bucket (created by set-up as admin); it
  // publishes no event, command or request.
  alerter: {
    publish: { allow: [...JS_READ, `$KV.${ALERTS_BUCKET}.>`], deny: durableGuard('alerter') },
    subscribe: { allow: INBOX },
  },
  // Set-up and test harnesses: creates, changes and deletes streams; may do anything.
  admin: null,
};

module.exports = { SERVICES, OWNED_CATEGORIES, OPERATOR_COMMANDS, ALERTS_BUCKET, LEASE_BUCKET, CREDENTIALS_BUCKET, IDEMPOTENCY_BUCKET, USERS };
