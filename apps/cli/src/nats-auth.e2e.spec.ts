/**
 * The secured bus (docs/security.md), on a private nats-server started with the deployed
 * authorization (var/nats/nats-server.conf from deploy/nats/permissions.js) and the local
 * credentials, with the real execution service as its own process (user `execution`, paper venue):
 *
 * - an anonymous connection, and one with an unknown nkey, are refused;
 * - a forged EntryApproved (a real approval altered: quantity 0.5, leverage 20, a far stop; valid
 *   headers, the account stream's next revision) published with every user's credentials but
 *   risk's is refused by the server, and no order results; the same event from risk opens one
 *   (so the check can fail);
 * - a forged clock step on bulwark.clock.execution from every user but market-data is refused and
 *   fills nothing; market-data's step fills the order;
 * - a stored message a user aims at the clock with a push consumer's deliver subject (the server
 *   does not check it against the user's publish permissions) is refused by the transport;
 * - services (market-data aside, which carries out a replay's operator schedule) and the driver
 *   cannot send operator commands; operator and gateway can;
 * - no user but admin can create, update, purge or delete a stream.
 * Needs `npm run setup` (credentials, rendered config, built services) and nats-server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DomainEvent, type EventData, type MarketTick, parseEvent, Streams, Subjects } from '@bulwark/contracts';
import { accountDecider, accountEvolve, accountInitialState, fold } from '@bulwark/domain';
import { EventLogMissingError, JetStreamEventStore } from '@bulwark/event-store';
import { projectRoot } from '@bulwark/market-data';
import { type Causation, connectNats, EventAppender, NATS_USERS, type NatsUser } from '@bulwark/messaging';
import { btcusdtRules, DATA_DIR, until } from '@bulwark/testing';
import { AckPolicy, connect, DeliverPolicy, JSONCodec, type NatsConnection, nkeys, nkeyAuthenticator, RetentionPolicy, StorageType } from 'nats';
import { type PrivateNats, startPrivateNats } from './demo-faults';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { stopChild } from './processes';

const json = JSONCodec();
const ROOT = projectRoot(__dirname);
const RULES = btcusdtRules();
const NOV10 = Date.parse('2025-11-10T00:00:59.999Z');
const PERMISSIONS_VIOLATION = 'PERMISSIONS_VIOLATION';

let nats: PrivateNats;
let bus: ReturnType<typeof isolatedBus>;
let admin: NatsConnection;
let log: JetStreamEventStore;
let execution: ChildProcess | null = null;
let executionLog = '';
const conns = new Map<NatsUser, NatsConnection>();
const accountId = `auth-${Date.now().toString(36)}`;
const accountStream = Streams.account(accountId);
const c: Causation = { tsEvent: NOV10, correlationId: 'nats-auth-e2e', causationId: 'nats-auth-e2e' };

/** Everyone but admin, the services first. */
const USERS = NATS_USERS.filter((u) => u !== 'admin');
const conn = (u: NatsUser) => conns.get(u)!;

/** The waits' detail: execution's log, once it runs. */
const waits = { detail: () => (execution ? `execution log:\n${executionLog.slice(-3000)}` : '') };

/** The error code a promise is rejected with (null when it resolves). */
async function codeOf(p: Promise<unknown>): Promise<string | null> {
  return p.then(
    () => null,
    (e: unknown) => (e as { code?: string }).code ?? String(e),
  );
}

/** The events risk decides for a real account and a real intent: AccountOpened, then [MonthOpened, EntryApproved]. */
function realDecisions(): { opened: DomainEvent[]; approved: EventData<'EntryApproved'> } {
  const config = {
    accountId, venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 10, leverageCap: 20, riskFraction: '0.01',
    highLeverageConfirmed: true, venueBalance: '10000', protection: 'INTERNAL', marginMode: 'ISOLATED',
  } as const;
  const open = accountDecider.decide({ kind: 'OpenAccount', config }, accountInitialState());
  if (!open.ok) throw new Error(`OpenAccount refused: ${open.error.code} ${open.error.message}`);
  const state = fold(accountEvolve, accountInitialState(), open.value);
  const intent = {
    intentId: `${accountId}-i1`, accountId, venue: 'binance-usdm', symbol: 'BTCUSDT', side: 'BUY', entryPrice: '104587.7', stopPrice: '103500',
    takeProfitPrice: '106763.1', strategy: 'donchian-atr', reason: 'nats-auth-e2e', candleOpenTime: Date.parse('2025-11-10T00:00:00Z'),
  } as const;
  const equity = { accountId, known: true, walletBalance: '10000', unrealisedPnl: '0', equity: '10000', usedMargin: '0', availableMargin: '10000', openPositions: 0, asOf: NOV10 };
  const assess = accountDecider.decide({ kind: 'AssessEntry', intent, signalStreamId: Streams.signal(accountId), equity, rules: RULES, ts: NOV10 }, state);
  if (!assess.ok) throw new Error(`AssessEntry refused: ${assess.error.code}`);
  const approved = assess.value.find((e) => e.type === 'EntryApproved');
  if (!approved) throw new Error(`no approval: ${assess.value.map((e) => e.type).join(', ')}`);
  return { opened: open.value, approved: approved.data as EventData<'EntryApproved'> };
}

/** The attacker's copy of a real approval: 0.5 BTC at 20x with a stop far below (what risk would never approve). */
function forgedApproval(real: EventData<'EntryApproved'>): DomainEvent {
  const data = { ...real, quantity: '0.5', leverage: 20, stopPrice: '60000', takeProfitPrice: null };
  const parsed = parseEvent('EntryApproved', data);
  if (!parsed.ok) throw new Error(`the forged approval must pass the schema (it is "valid"): ${JSON.stringify(parsed)}`);
  return { type: 'EntryApproved', data } as DomainEvent;
}

/** The replay clock's step counter (one run): steps of a run come in seq order. */
let clockSeq = 0;
const tick = (seq: number, price: string): MarketTick => ({
  runId: 'nats-auth-e2e', venue: 'binance-usdm', symbol: 'BTCUSDT', seq, ts: Date.parse('2025-11-10T00:01:00Z') + seq * 15_000, candleOpenTime: Date.parse('2025-11-10T00:01:00Z'),
  pathIndex: 0, from: price, to: price, gap: false, candle: null, funding: null,
});

/** The log's events of one category (read as admin). */
async function eventsOf(category: string) {
  const out = [];
  for await (const e of log.readAll({ categories: [category] })) out.push(e);
  return out;
}

beforeAll(async () => {
  nats = await startPrivateNats();
  bus = { ...isolatedBus('auth'), natsUrl: nats.url };
  admin = await openIsolatedBus(bus, 'nats-auth-e2e-admin');
  log = await JetStreamEventStore.connect(admin, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  for (const u of USERS) conns.set(u, await connectNats({ user: u, servers: bus.natsUrl, name: `nats-auth-e2e-${u}` }));
  const main = path.join(ROOT, 'services', 'execution', 'dist', 'main.js');
  execution = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH, NATS_URL: bus.natsUrl, BULWARK_ES_STREAM: bus.esStream, BULWARK_ES_PREFIX: bus.esPrefix, BULWARK_DLQ_STREAM: bus.dlqStream,
      BULWARK_DLQ_PREFIX: bus.dlqPrefix, BULWARK_CONSUMER_SUFFIX: bus.consumerSuffix, BULWARK_DATA_DIR: DATA_DIR, BULWARK_VENUE: 'paper', LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  execution.stdout!.on('data', (d) => (executionLog += String(d)));
  execution.stderr!.on('data', (d) => (executionLog += String(d)));
  // Ready: it answers its health subject (as the supervisor asks it).
  await until('execution to answer its health subject', async () => (await admin.request(Subjects.health('execution'), json.encode({}), { timeout: 1_000 })).data.length > 0, { ...waits, timeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  if (execution) await stopChild(execution);
  for (const nc of conns.values()) await nc.close().catch(() => undefined);
  await log?.close().catch(() => undefined);
  if (admin) {
    await dropIsolatedBus(admin, bus);
    await admin.close();
  }
  await nats?.stop();
}, 60_000);

describe('the secured NATS bus', () => {
  it('refuses an anonymous connection and one signed with an unknown nkey', async () => {
    expect(await codeOf(connect({ servers: bus.natsUrl, reconnect: false, timeout: 3_000 }))).toBe('AUTHORIZATION_VIOLATION');
    const stranger = nkeys.createUser().getSeed();
    expect(await codeOf(connect({ servers: bus.natsUrl, reconnect: false, timeout: 3_000, authenticator: nkeyAuthenticator(stranger) }))).toBe('AUTHORIZATION_VIOLATION');
  }, 60_000);

  it('a service opening an event log that does not exist gets EventLogMissingError, not a stream', async () => {
    const err = await JetStreamEventStore.connect(conn('risk'), { stream: `${bus.esStream}_NONE`, subjectPrefix: `${bus.esPrefix}none` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventLogMissingError);
    // Asked to create it, the server refuses: services may not create streams.
    expect(await codeOf(JetStreamEventStore.connect(conn('risk'), { stream: `${bus.esStream}_NONE`, subjectPrefix: `${bus.esPrefix}none`, create: true }))).toBe(PERMISSIONS_VIOLATION);
  }, 60_000);

  it('refuses a forged EntryApproved from every user but risk, and no order results; from risk the same event opens the order', async () => {
    const { opened, approved } = realDecisions();
    const riskStore = await JetStreamEventStore.connect(conn('risk'), { stream: bus.esStream, subjectPrefix: bus.esPrefix });
    await new EventAppender(riskStore).append(accountStream, opened, 'no_stream', c);
    // Execution configures the paper account (its venue stream) on AccountOpened; the paper venue
    // takes market orders once it has seen a price: market-data's first step.
    await until('execution to configure the account', async () => (await log.streamRevision(Streams.venue(accountId, 'binance-usdm'))) !== null, waits);
    await conn('market-data').request(Subjects.clock('execution'), json.encode(tick(clockSeq++, '104587.7')), { timeout: 10_000 });
    const revision = (await log.streamRevision(accountStream))!;
    const forged = forgedApproval(approved);

    const refusals: Record<string, string | null> = {};
    for (const u of USERS.filter((x) => x !== 'risk')) {
      const store = await JetStreamEventStore.connect(conn(u), { stream: bus.esStream, subjectPrefix: bus.esPrefix });
      // Valid headers, the next revision: exactly what the store writes for risk.
      refusals[u] = await codeOf(new EventAppender(store).append(accountStream, [forged], revision, c));
      await store.close();
    }
    expect(refusals).toEqual(Object.fromEntries(USERS.filter((x) => x !== 'risk').map((u) => [u, PERMISSIONS_VIOLATION])));
    // Time for a consumer to act on anything that got through: nothing did.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await log.streamRevision(accountStream)).toBe(revision);
    expect(await eventsOf('order')).toEqual([]);

    // The same event from risk is stored, and execution opens the order: the refusals above are what stopped it.
    await new EventAppender(riskStore).append(accountStream, [forged], revision, c);
    const orders = await until('execution to open the order', async () => {
      const o = await eventsOf('order');
      return o.some((e) => e.type === 'OrderAccepted' || e.type === 'OrderRejected') ? o : null;
    }, waits);
    expect(orders[0]).toMatchObject({ streamId: Streams.order(approved.clientOrderId), type: 'OrderInitialized', data: { quantity: '0.5', leverage: 20 } });
    expect(orders.map((e) => e.type)).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted']);
    await riskStore.close();
  }, 120_000);

  it('refuses a forged clock step from every user but market-data, and nothing fills; market-data\'s step fills the order', async () => {
    const refusals: Record<string, string | null> = {};
    for (const u of USERS.filter((x) => x !== 'market-data')) {
      // An invented price: a fill here would be at 1 USDT.
      refusals[u] = await codeOf(conn(u).request(Subjects.clock('execution'), json.encode(tick(clockSeq++, '1')), { timeout: 5_000 }));
    }
    expect(refusals).toEqual(Object.fromEntries(USERS.filter((x) => x !== 'market-data').map((u) => [u, PERMISSIONS_VIOLATION])));
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await eventsOf('order')).filter((e) => e.type === 'OrderFilled')).toEqual([]);

    const ack = json.decode((await conn('market-data').request(Subjects.clock('execution'), json.encode(tick(clockSeq++, '104600')), { timeout: 10_000 })).data);
    expect(ack).toMatchObject({ service: 'execution' });
    const filled = await until('the fill', async () => (await eventsOf('order')).find((e) => e.type === 'OrderFilled'), waits);
    expect(filled.data).toMatchObject({ price: '104600', quantity: '0.5' });
  }, 120_000);

  it('a stored message a push consumer aims at the clock subject (server-side "publish" past the permissions) is dead-lettered by execution, not run', async () => {
    const before = (await eventsOf('order')).length;
    // Risk writes a tick into a category it owns, then has JetStream deliver it to execution's clock.
    const subject = `${bus.esPrefix}.account.${accountId}-relay`;
    await conn('risk').jetstream().publish(subject, json.encode(tick(clockSeq++ + 1000, '1')));
    const jsm = await conn('risk').jetstreamManager();
    await jsm.consumers.add(bus.esStream, { name: `relay${Date.now().toString(36)}`, deliver_subject: Subjects.clock('execution'), filter_subject: subject, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
    const adminJsm = await admin.jetstreamManager();
    const letter = await until('the dead letter', async () => {
      const info = await adminJsm.streams.info(bus.dlqStream);
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const d = json.decode((await adminJsm.streams.getMessage(bus.dlqStream, { seq })).data) as { service: string; reason: string; subject: string };
        if (d.reason.includes('JetStream delivery')) return d;
      }
      return null;
    }, waits);
    expect(letter).toMatchObject({ service: 'execution', subject, reason: `a JetStream delivery on ${Subjects.clock('execution')}, not a request: refused` });
    // A step at 1 USDT would have liquidated the position: nothing happened.
    expect((await eventsOf('order')).length).toBe(before);
  }, 60_000);

  it('lets operator and gateway send operator commands (the kill switch), and refuses them to the services and the driver', async () => {
    // A stand-in for risk, as risk: on this private server nobody else answers.
    const served: string[] = [];
    const sub = conn('risk').subscribe(Subjects.setTradingState, {
      callback: (_e, m) => {
        served.push(String((json.decode(m.data) as { by: string }).by));
        m.respond(json.encode({ ok: true }));
      },
    });
    await conn('risk').flush();
    const outcome: Record<string, string | null> = {};
    for (const u of USERS.filter((x) => x !== 'market-data')) {
      outcome[u] = await codeOf(conn(u).request(Subjects.setTradingState, json.encode({ accountId, state: 'HALTED', reason: 'nats-auth-e2e', by: u }), { timeout: 5_000 }));
    }
    sub.unsubscribe();
    const expected = Object.fromEntries(USERS.filter((x) => x !== 'market-data').map((u) => [u, u === 'operator' || u === 'gateway' ? null : PERMISSIONS_VIOLATION]));
    expect(outcome).toEqual(expected);
    expect(served.sort()).toEqual(['gateway', 'operator']);
  }, 60_000);

  it('refuses stream create, update, purge and delete to every user but admin; admin can', async () => {
    const scratch = `${bus.esStream}_SCRATCH`;
    const cfg = { name: scratch, subjects: [`${bus.esPrefix}scratch.>`], storage: StorageType.Memory, retention: RetentionPolicy.Limits };
    const adminJsm = await admin.jetstreamManager();
    await adminJsm.streams.add(cfg);
    const outcome: Record<string, Array<string | null>> = {};
    for (const [i, u] of USERS.entries()) {
      const jsm = await conn(u).jetstreamManager();
      outcome[u] = [
        await codeOf(jsm.streams.add({ ...cfg, name: `${scratch}_${i}`, subjects: [`${bus.esPrefix}x${i}.>`] })),
        await codeOf(jsm.streams.update(scratch, { max_msgs: 10 })),
        await codeOf(jsm.streams.purge(scratch)),
        await codeOf(jsm.streams.delete(scratch)),
        await codeOf(jsm.streams.delete(bus.esStream)),
      ];
    }
    expect(outcome).toEqual(Object.fromEntries(USERS.map((u) => [u, Array(5).fill(PERMISSIONS_VIOLATION)])));
    // Admin: all of it.
    expect((await adminJsm.streams.update(scratch, { max_msgs: 10 })).config.max_msgs).toBe(10);
    expect((await adminJsm.streams.purge(scratch)).success).toBe(true);
    expect(await adminJsm.streams.delete(scratch)).toBe(true);
    expect((await adminJsm.streams.info(bus.esStream)).config.name).toBe(bus.esStream);
  }, 60_000);
});
