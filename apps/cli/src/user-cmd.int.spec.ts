import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Streams } from '@bulwark/contracts';
import { JetStreamEventStore } from '@bulwark/event-store';
import { createCredentialsBucket, CredentialsStore, dropCredentialsBucket, verifyPassword } from '@bulwark/messaging';
import { Command } from 'commander';
import type { NatsConnection } from 'nats';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { exitOf } from './main';
import { InputError } from './input-checks';
import { registerUserCommands, type UserAdminRuntime } from './user-cmd';

jest.setTimeout(120_000);

describe('bulwark user (JetStream log and credentials bucket of an isolated bus)', () => {
  const bus = isolatedBus('usercmd');
  const bucket = `test-cli-creds-${bus.tag}`;
  let nc: NatsConnection;
  let tmp: string;
  let out: string[];
  let logSpy: jest.SpyInstance;

  const open = async (): Promise<UserAdminRuntime> => {
    const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
    return { store, creds: await CredentialsStore.open(nc, bucket), close: () => store.close() };
  };
  const run = async (...args: string[]) => {
    const program = new Command('bulwark').exitOverride();
    registerUserCommands(program, open);
    await program.parseAsync(args, { from: 'user' });
  };

  beforeAll(async () => {
    nc = await openIsolatedBus(bus);
    await createCredentialsBucket(nc, bucket);
    tmp = mkdtempSync(path.join(tmpdir(), 'bulwark-usercmd-'));
  });
  beforeEach(() => {
    out = [];
    logSpy = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  });
  afterEach(() => logSpy.mockRestore());
  afterAll(async () => {
    await dropCredentialsBucket(nc, bucket);
    await dropIsolatedBus(nc, bus);
    await nc.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('user add --password-file records UserCreated and stores an Argon2id hash, never the password', async () => {
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    const file = path.join(tmp, 'ada.pw');
    writeFileSync(file, `${password}\n`);
    await run('user', 'add', '--username', 'ada', '--role', 'admin', '--password-file', file);
    expect(out.join('\n')).toBe('user ada created (admin)');
    expect(out.join('\n')).not.toContain(password);

    const rt = await open();
    try {
      const events = await rt.store.readStream(Streams.user('ada'));
      expect(events.map((e) => e.type)).toEqual(['UserCreated']);
      expect(events[0].data).toMatchObject({ username: 'ada', role: 'admin' });
      expect(JSON.stringify(events)).not.toContain(password);
      const phc = await rt.creds.passwordHash('ada');
      expect(phc).toMatch(/^\$argon2id\$/);
      expect(phc).not.toContain(password);
      expect(await verifyPassword(phc!, password)).toBe(true);
    } finally {
      await rt.close();
    }
  });

  it('refuses a second user of the same name, a short password and a missing file, with the reason', async () => {
    const file = path.join(tmp, 'again.pw');
    writeFileSync(file, 'long-enough-password\n');
    const dup = await run('user', 'add', '--username', 'ada', '--role', 'viewer', '--password-file', file).catch((e: unknown) => e);
    expect(exitOf(dup)).toEqual({ code: 1, line: 'bulwark: user ada already exists' });
    writeFileSync(file, 'short\n');
    await expect(run('user', 'add', '--username', 'bob', '--role', 'viewer', '--password-file', file)).rejects.toThrow(InputError);
    await expect(run('user', 'add', '--username', 'bob', '--role', 'viewer', '--password-file', path.join(tmp, 'none'))).rejects.toThrow(/ENOENT/);
    await expect(run('user', 'add', '--username', 'bad name', '--role', 'viewer', '--password-file', file)).rejects.toThrow(/--username/);
  });

  it('user role, user disable and user list record and show the changes', async () => {
    await run('user', 'role', '--username', 'ada', '--role', 'trader');
    await run('user', 'disable', '--username', 'ada', '--reason', 'left the desk');
    out = [];
    await run('user', 'list', '--json');
    expect(JSON.parse(out.join('\n'))).toEqual([expect.objectContaining({ username: 'ada', role: 'trader', disabled: true })]);
    const rt = await open();
    try {
      expect((await rt.store.readStream(Streams.user('ada'))).map((e) => e.type)).toEqual(['UserCreated', 'UserRoleChanged', 'UserDisabled']);
    } finally {
      await rt.close();
    }
    const unknown = await run('user', 'role', '--username', 'nobody', '--role', 'viewer').catch((e: unknown) => e);
    expect(exitOf(unknown)).toEqual({ code: 1, line: 'bulwark: no user nobody' });
  });
});
