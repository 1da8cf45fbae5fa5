import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type UserRole, UserRole as UserRoleSchema, Username } from '@bulwark/contracts';
import { type EventStore, openEventStore } from '@bulwark/event-store';
import {
  type BusConfig,
  busConfigFromEnv,
  changeUserRole,
  connectNats,
  createUser,
  credentialsBucketFromEnv,
  CredentialsStore,
  disableUser,
  listUsers,
  type UserRecord,
} from '@bulwark/messaging';
import { type Command, InvalidArgumentError } from 'commander';
import type { NatsConnection } from 'nats';
import { InputError } from './input-checks';
import { EventStoreUnavailableError } from './replay';

/** Shortest password `bulwark user add` takes. */
export const MIN_PASSWORD_LENGTH = 12;

/** What the user commands run on: the event log and the credentials bucket, as NATS user `admin`. */
export interface UserAdminRuntime {
  store: EventStore;
  creds: CredentialsStore;
  close(): Promise<void>;
}

/**
 * Open the log and the credentials bucket as NATS user `admin`: creating users is a set-up act
 * (docs/security.md "Gateway users"), and only admin (and the gateway) may touch the bucket.
 */
export async function openUserAdmin(bus: BusConfig = busConfigFromEnv(), env: NodeJS.ProcessEnv = process.env): Promise<UserAdminRuntime> {
  const nc: NatsConnection = await connectNats({ user: 'admin', servers: bus.natsUrl, name: 'bulwark-cli-user', timeoutMs: 3_000, reconnect: 'never' }).catch((e: Error) => {
    throw new EventStoreUnavailableError(`${e.message} (user administration connects as NATS user admin: run it where set-up ran)`);
  });
  try {
    const store = await openEventStore(env, nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
    const creds = await CredentialsStore.open(nc, credentialsBucketFromEnv(env));
    return {
      store,
      creds,
      close: async () => {
        await store.close();
        await nc.drain();
      },
    };
  } catch (e) {
    await nc.close();
    throw e;
  }
}

function username(v: string): string {
  const r = Username.safeParse(v);
  if (!r.success) throw new InvalidArgumentError(`--username must match [A-Za-z0-9_-]{1,64}, got "${v}"`);
  return v;
}

function role(v: string): UserRole {
  const r = UserRoleSchema.safeParse(v);
  if (!r.success) throw new InvalidArgumentError(`--role must be one of ${UserRoleSchema.options.join(', ')}, got "${v}"`);
  return r.data;
}

/**
 * A password from a file: its first line (a trailing newline is not part of it).
 * @throws InputError when the file cannot be read or the password is shorter than {@link MIN_PASSWORD_LENGTH}
 */
export function passwordFromFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(path.resolve(file), 'utf8');
  } catch (e) {
    throw new InputError(`--password-file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return checkPassword(text.split(/\r?\n/)[0] ?? '', `--password-file ${file}`);
}

function checkPassword(p: string, where: string): string {
  if (p.length < MIN_PASSWORD_LENGTH) throw new InputError(`${where}: the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  return p;
}

/**
 * Read a line from the terminal without echoing it.
 * @throws InputError when stdin is not a terminal (use --password-file in scripts)
 */
export function promptHidden(question: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string> {
  if (!input.isTTY) return Promise.reject(new InputError('no terminal to type the password at: use --password-file FILE'));
  return new Promise((resolve, reject) => {
    output.write(question);
    let line = '';
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    const done = (err: Error | null) => {
      input.setRawMode(false);
      input.pause();
      input.removeListener('data', onData);
      output.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(new InputError('cancelled'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else if (ch >= ' ') line += ch;
      }
    };
    input.on('data', onData);
  });
}

/** A password typed twice at a hidden prompt. @throws InputError when they differ or it is too short */
async function typedPassword(): Promise<string> {
  const first = checkPassword(await promptHidden('password: '), 'password');
  if ((await promptHidden('again: ')) !== first) throw new InputError('the two passwords differ');
  return first;
}

function formatUser(u: UserRecord): string {
  return `${u.username.padEnd(20)}${u.role.padEnd(8)}${u.disabled ? 'disabled' : 'active'}  created ${new Date(u.createdAt).toISOString().slice(0, 19)}Z`;
}

/**
 * `bulwark user add|role|disable|list`: the gateway's users. Changes are events in
 * `user-<username>` (UserCreated, UserRoleChanged, UserDisabled); the password's Argon2id hash
 * goes to the credentials bucket, never the password. Runs as NATS user `admin` (set-up).
 * Refusals (existing or unknown user) exit 1 with the reason (UserStoreError).
 */
export function registerUserCommands(program: Command, open: () => Promise<UserAdminRuntime> = () => openUserAdmin()): void {
  const user = program.command('user').description("The gateway's users (viewer reads, trader commands, admin manages keys). Needs NATS user admin.");
  const run = async <T>(f: (rt: UserAdminRuntime) => Promise<T>): Promise<T> => {
    const rt = await open();
    try {
      return await f(rt);
    } finally {
      await rt.close();
    }
  };
  const by = () => `cli:${process.env.USER || 'unknown'}`;

  user
    .command('add')
    .description('Create a user; the password is typed at a hidden prompt, or read from --password-file (its first line).')
    .requiredOption('--username <name>', 'user name ([A-Za-z0-9_-]{1,64})', username)
    .requiredOption('--role <role>', 'viewer, trader or admin', role)
    .option('--password-file <file>', `a file whose first line is the password (at least ${MIN_PASSWORD_LENGTH} characters)`)
    .option('--json', 'print the user as JSON', false)
    .action(async (f: { username: string; role: UserRole; passwordFile?: string; json: boolean }) => {
      const password = f.passwordFile ? passwordFromFile(f.passwordFile) : await typedPassword();
      const u = await run((rt) => createUser(rt.store, rt.creds, { username: f.username, role: f.role, password, by: by() }));
      console.log(f.json ? JSON.stringify(u, null, 2) : `user ${u.username} created (${u.role})`);
    });

  user
    .command('role')
    .description("Change a user's role (takes effect on the user's next request).")
    .requiredOption('--username <name>', 'user name', username)
    .requiredOption('--role <role>', 'viewer, trader or admin', role)
    .action(async (f: { username: string; role: UserRole }) => {
      const u = await run((rt) => changeUserRole(rt.store, f.username, f.role, by()));
      console.log(`user ${u.username} is now ${u.role}`);
    });

  user
    .command('disable')
    .description('Disable a user: no more logins; its tokens and API keys stop working.')
    .requiredOption('--username <name>', 'user name', username)
    .option('--reason <text>', 'why (recorded in the event)', 'disabled by an administrator')
    .action(async (f: { username: string; reason: string }) => {
      const u = await run((rt) => disableUser(rt.store, f.username, by(), f.reason));
      console.log(`user ${u.username} disabled`);
    });

  user
    .command('list')
    .description('List the users (name, role, state).')
    .option('--json', 'print JSON', false)
    .action(async (f: { json: boolean }) => {
      const users = await run((rt) => listUsers(rt.store));
      if (f.json) console.log(JSON.stringify(users, null, 2));
      else console.log(users.length ? users.map(formatUser).join('\n') : 'no users (create one with bulwark user add --username U --role admin)');
    });
}
