import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Streams } from '@bulwark/contracts';
import { nkeys } from 'nats';
import { DEFAULT_NATS_URL, deliveredByJetStream, natsConnectionOptions, NatsCredentialsError, natsCredentials, NATS_USERS } from './nats-connect';

const dir = mkdtempSync(path.join(os.tmpdir(), 'bulwark-nats-connect-'));
const seed = Buffer.from(nkeys.createUser().getSeed()).toString();
const seedFile = path.join(dir, 'risk.nk');
writeFileSync(seedFile, seed + '\n', { mode: 0o600 });
const bad = path.join(dir, 'bad.nk');
writeFileSync(bad, 'SUsecret-but-not-a-seed\n');
chmodSync(bad, 0o600);
const pw = path.join(dir, 'password');
writeFileSync(pw, 'hunter2\n', { mode: 0o600 });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Does NATS subject pattern `p` (with `*` and `>`) match `subject`? */
function matches(p: string, subject: string): boolean {
  const a = p.split('.');
  const b = subject.split('.');
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '>') return b.length > i;
    if (i >= b.length || (a[i] !== '*' && a[i] !== b[i])) return false;
  }
  return a.length === b.length;
}

describe('natsCredentials: files only, first match wins, never the secret in a message', () => {
  it('NATS_NKEY_SEED_FILE wins over a creds dir and names the file, not the seed', () => {
    const c = natsCredentials('execution', { NATS_NKEY_SEED_FILE: seedFile, BULWARK_NATS_CREDS_DIR: dir });
    expect(c.authenticator).toBeDefined();
    expect(c.source).toBe(`nkey seed ${seedFile} (NATS_NKEY_SEED_FILE)`);
    expect(c.source).not.toContain(seed);
  });

  it('NATS_USER with NATS_PASSWORD_FILE; one without the other is a typed error', () => {
    expect(natsCredentials('risk', { NATS_USER: 'bob', NATS_PASSWORD_FILE: pw }).source).toBe(`user bob, password ${pw}`);
    expect(() => natsCredentials('risk', { NATS_USER: 'bob' })).toThrow(new NatsCredentialsError('NATS_USER and NATS_PASSWORD_FILE go together: set both (the password is read from the file)'));
  });

  it("the user's seed in BULWARK_NATS_CREDS_DIR; none there means no credentials, saying where it looked", () => {
    expect(natsCredentials('risk', { BULWARK_NATS_CREDS_DIR: dir }).source).toBe(`nkey seed ${seedFile}`);
    const none = natsCredentials('signals', { BULWARK_NATS_CREDS_DIR: dir });
    expect(none.authenticator).toBeUndefined();
    expect(none.source).toContain(path.join(dir, 'signals.nk'));
  });

  it('a missing or malformed file is a NatsCredentialsError naming the file and never its content', () => {
    const missing = path.join(dir, 'nope.nk');
    expect(() => natsCredentials('risk', { NATS_NKEY_SEED_FILE: missing })).toThrow(NatsCredentialsError);
    expect(() => natsCredentials('risk', { NATS_NKEY_SEED_FILE: missing })).toThrow(`cannot read nkey seed file ${missing}`);
    let message = '';
    try {
      natsCredentials('risk', { NATS_NKEY_SEED_FILE: bad });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(`${bad} does not hold an nkey user seed (one line starting with SU)`);
    expect(message).not.toContain('secret');
  });
});

describe('natsConnectionOptions', () => {
  it('servers from NATS_URL (comma-separated), else 127.0.0.1:4223; the name; reconnect for ever by default', () => {
    const o = natsConnectionOptions({ user: 'risk', env: { NATS_URL: 'nats://a:1, nats://b:2', BULWARK_NATS_CREDS_DIR: dir } });
    expect(o).toMatchObject({ servers: ['nats://a:1', 'nats://b:2'], name: 'bulwark-risk', maxReconnectAttempts: -1, reconnectTimeWait: 500, credentialSource: `nkey seed ${seedFile}` });
    expect(natsConnectionOptions({ user: 'risk', env: { BULWARK_NATS_CREDS_DIR: dir } }).servers).toEqual([DEFAULT_NATS_URL]);
    expect(DEFAULT_NATS_URL).toBe('nats://127.0.0.1:4223');
  });

  it("'never' fails at once; a timeout is passed on", () => {
    expect(natsConnectionOptions({ user: 'operator', reconnect: 'never', timeoutMs: 3000, env: { BULWARK_NATS_CREDS_DIR: dir } })).toMatchObject({ reconnect: false, maxReconnectAttempts: 0, timeout: 3000 });
  });
});

describe('deliveredByJetStream', () => {
  it('a $JS.ACK reply, or another subject on a literal subscription, is a JetStream delivery; a request is not', () => {
    expect(deliveredByJetStream({ subject: 'bulwark.clock.execution', reply: '_INBOX.abc.1' }, 'bulwark.clock.execution')).toBe(false);
    expect(deliveredByJetStream({ subject: 'md.mark.binance-usdm.BTCUSDT' }, 'md.mark.binance-usdm.BTCUSDT')).toBe(false);
    expect(deliveredByJetStream({ subject: 'es.account.a1', reply: '$JS.ACK.ES.relay.1.7.1.1796579908062663771.0' }, 'bulwark.clock.execution')).toBe(true);
    expect(deliveredByJetStream({ subject: 'es.account.a1' }, 'bulwark.clock.execution')).toBe(true);
    expect(deliveredByJetStream({ subject: 'bulwark.risk.flatten', reply: '_INBOX.x' }, 'bulwark.risk.>')).toBe(false);
  });
});

describe('deploy/nats/permissions.js', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const perms = require(path.join(__dirname, '..', '..', '..', 'deploy', 'nats', 'permissions.js')) as {
    SERVICES: string[];
    OWNED_CATEGORIES: Record<string, string[]>;
    OPERATOR_COMMANDS: string[];
    LEASE_BUCKET: string;
    USERS: Record<string, null | { publish: { allow: string[]; deny?: string[] }; subscribe: { allow: string[] } }>;
  };
  const mayPublish = (user: string, subject: string) => {
    const p = perms.USERS[user];
    if (p === null) return true;
    return p.publish.allow.some((a) => matches(a, subject)) && !(p.publish.deny ?? []).some((d) => matches(d, subject));
  };

  it('has exactly the users of NATS_USERS', () => {
    expect(Object.keys(perms.USERS).sort()).toEqual([...NATS_USERS].sort());
  });

  it('every written event category has exactly one writer, and only it may publish there (any prefix)', () => {
    // quarantine-<service> and lease-<service> are per service (below); the CLI's
    // `audit checkpoint` (operator) writes chain-<account>; user-<name> is admin's alone (`bulwark user`, a set-up act: below).
    const notServices: Record<string, string[]> = { chain: ['operator'] };
    const categories = Object.values(Streams).map((f) => (f as (...a: string[]) => string)('x', 'y', 'z', '1').split('-')[0]).filter((c) => c !== 'quarantine' && c !== 'lease' && c !== 'user');
    expect(Object.keys(perms.USERS).filter((u) => u !== 'admin' && mayPublish(u, 'tes1a2b.user.ada'))).toEqual([]);
    for (const c of categories) {
      const owners = notServices[c] ?? perms.SERVICES.filter((s) => perms.OWNED_CATEGORIES[s].includes(c));
      expect([c, owners.length]).toEqual([c, 1]);
      const writers = Object.keys(perms.USERS).filter((u) => u !== 'admin' && mayPublish(u, `tes1a2b.${c}.acc-1`));
      expect([c, writers]).toEqual([c, owners]);
    }
    for (const s of perms.SERVICES) {
      expect(Object.keys(perms.USERS).filter((u) => u !== 'admin' && mayPublish(u, `es.quarantine.${s}`))).toEqual([s]);
      expect(Object.keys(perms.USERS).filter((u) => u !== 'admin' && mayPublish(u, `es.lease.${s}`))).toEqual([s]);
    }
  });

  it('a service writes only its own leases (bulwark-leases keys `<service>.…`)', () => {
    for (const s of perms.SERVICES) {
      expect([s, Object.keys(perms.USERS).filter((u) => u !== 'admin' && mayPublish(u, `$KV.${perms.LEASE_BUCKET}.${s}.ES`))]).toEqual([s, [s]]);
    }
  });

  it('only operator and gateway send operator commands (market-data: a replay\'s schedule); only market-data sends clock steps', () => {
    for (const cmd of perms.OPERATOR_COMMANDS) {
      const senders = Object.keys(perms.USERS).filter((u) => u !== 'admin' && mayPublish(u, cmd));
      // Spot-margin commands come from people only (the replay schedule never sends them).
      // The demo's driver moves a spot-margin run's capital into the isolated account.
      const expected = cmd === 'bulwark.risk.open-account' || cmd === 'bulwark.execution.margin.transfer' ? ['gateway', 'operator', 'driver'] : cmd === 'bulwark.risk.reconfigure-account' || cmd.includes('margin') ? ['gateway', 'operator'] : ['market-data', 'gateway', 'operator'];
      expect([cmd, senders.sort()]).toEqual([cmd, expected.sort()]);
    }
    for (const s of perms.SERVICES) expect(Object.keys(perms.USERS).filter((u) => u !== 'admin' && mayPublish(u, `bulwark.clock.${s}`))).toEqual(['market-data']);
  });

  it('nobody but admin may create, update, delete or purge a stream or delete a message', () => {
    for (const api of ['STREAM.CREATE.ES', 'STREAM.UPDATE.ES', 'STREAM.DELETE.ES', 'STREAM.PURGE.ES', 'STREAM.MSG.DELETE.ES']) {
      expect([api, Object.keys(perms.USERS).filter((u) => mayPublish(u, `$JS.API.${api}`))]).toEqual([api, ['admin']]);
    }
  });

  it('with the default durable names, no user may pull or ack for another service\'s consumer', () => {
    for (const s of perms.SERVICES) {
      const d = `bulwark-${s}`;
      expect(Object.keys(perms.USERS).filter((u) => mayPublish(u, `$JS.API.CONSUMER.MSG.NEXT.ES.${d}`)).sort()).toEqual(['admin', s].sort());
      expect(Object.keys(perms.USERS).filter((u) => mayPublish(u, `$JS.ACK.ES.${d}.1.2.3.4.0`)).sort()).toEqual(['admin', s].sort());
    }
  });
});
