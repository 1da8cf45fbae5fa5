import { Subjects } from '@bulwark/contracts';
import { NoAnswerError, busConfigFromEnv, requestJson } from '@bulwark/messaging';
import { Command, InvalidArgumentError } from 'commander';
import { connect } from 'nats';
import { DemoError } from './demo';


/** Send one command to the running risk service and print its answer. */
async function send(subject: string, payload: unknown): Promise<void> {
  const bus = busConfigFromEnv();
  const nc = await connect({ servers: bus.natsUrl, name: 'bulwark-cli', timeout: 3000 }).catch((e) => {
    throw new DemoError(`cannot reach NATS at ${bus.natsUrl}: ${String(e)}`);
  });
  try {
    const raw = await requestJson(nc, subject, payload, 10_000).catch((e) => {
      throw new DemoError(e instanceof NoAnswerError ? `${e.message} (is the risk service running?)` : (e as Error).message);
    });
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
