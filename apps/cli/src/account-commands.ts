import { ErrorReply, Subjects } from '@bulwark/contracts';
import { busConfigFromEnv } from '@bulwark/messaging';
import { Command, InvalidArgumentError } from 'commander';
import { connect, JSONCodec } from 'nats';
import { DemoError } from './demo';

const json = JSONCodec();

/** Send one command to the running risk service and print its answer. */
async function send(subject: string, payload: unknown): Promise<void> {
  const bus = busConfigFromEnv();
  const nc = await connect({ servers: bus.natsUrl, name: 'bulwark-cli', timeout: 3000 }).catch((e) => {
    throw new DemoError(`cannot reach NATS at ${bus.natsUrl}: ${String(e)}`);
  });
  try {
    const m = await nc.request(subject, json.encode(payload), { timeout: 10_000 }).catch((e) => {
      throw new DemoError(`no answer on ${subject} (is the risk service running?): ${String(e)}`);
    });
    const raw = json.decode(m.data);
    const bad = ErrorReply.safeParse(raw);
    if (bad.success) throw new DemoError(`${bad.data.error.code}: ${bad.data.error.message}`);
    console.log(JSON.stringify(raw, null, 2));
  } finally {
    await nc.close();
  }
}

function state(v: string): 'ACTIVE' | 'REDUCING' | 'HALTED' {
  const s = v.toUpperCase();
  if (s !== 'ACTIVE' && s !== 'REDUCING' && s !== 'HALTED') throw new InvalidArgumentError(`state must be ACTIVE, REDUCING or HALTED, got "${v}"`);
  return s;
}

/**
 * `bulwark account trading-state` and `bulwark account resume`: operator commands to a
 * running risk service (recorded as TradingStateChanged / TradingResumed with the reason).
 */
export function registerAccountCommands(program: Command): void {
  const account = program.command('account').description('Operator commands to a running Bulwark (kill switch, resume after a pause).');
  account
    .command('trading-state')
    .description('Set the kill switch: ACTIVE, REDUCING (reduce-only orders only) or HALTED (no new orders).')
    .argument('<state>', 'ACTIVE | REDUCING | HALTED', state)
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--reason <text>', 'why (recorded)')
    .option('--by <who>', 'who (recorded)', process.env.USER ?? 'operator')
    .action(async (s: string, o: { account: string; reason: string; by: string }) => send(Subjects.setTradingState, { accountId: o.account, state: s, reason: o.reason, by: o.by }));
  account
    .command('resume')
    .description('Resume entries after a drawdown or daily pause (re-bases the month on the current equity).')
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--reason <text>', 'why (recorded)')
    .option('--by <who>', 'who (recorded)', process.env.USER ?? 'operator')
    .action(async (o: { account: string; reason: string; by: string }) => send(Subjects.resumeTrading, { accountId: o.account, reason: o.reason, by: o.by }));
}
