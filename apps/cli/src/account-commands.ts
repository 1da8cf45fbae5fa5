import { Identifier, type OpenAccountRequest, ProtectionMode, Subjects, Symbol as SymbolId } from '@bulwark/contracts';
import { ACCOUNT_DEFAULTS, dec } from '@bulwark/domain';
import { busConfigFromEnv, connectNats, type NatsUser, requestDelivered } from '@bulwark/messaging';
import { Command, InvalidArgumentError } from 'commander';
import { ErrorCode, JSONCodec, type Msg, type NatsConnection, type NatsError } from 'nats';
import { DemoError } from './demo';
import { InputError, integerIn, policyFlags, withPolicyOptions } from './input-checks';

const json = JSONCodec();

/**
 * Where operator commands go. Production uses the defaults (NATS_URL, the subjects of
 * `Subjects`); tests give a subject prefix so their requests never reach a running system.
 */
export interface OperatorBus {
  /** Default: NATS_URL (busConfigFromEnv). */
  natsUrl?: string;
  /** Prepended to every subject (default ''). */
  subjectPrefix?: string;
  /** How long to wait for the answer (default 10 s). */
  timeoutMs?: number;
  /** Whose NATS credentials (default `operator`; tests on prefixed subjects use `admin`). */
  user?: NatsUser;
}

/** A typed refusal as a service answers it: `{error:{code,message,field?,value?,allowed?}}`. */
export interface Refusal {
  code: string;
  message: string;
  field?: string;
  value?: unknown;
  allowed?: string;
}

/** Flag that sets a request field, so a refusal can name what to change on the command line. */
const FLAG_OF: Record<string, string> = {
  accountId: '--account',
  symbol: '--symbol',
  capital: '--capital',
  leverage: '--leverage',
  highLeverageConfirmed: '--confirm-high-leverage',
  riskFraction: '--risk-pct, a percentage: 1 = 0.01',
  protection: '--protection',
  venueBalance: '--venue-balance',
  dailyLossLimitFraction: '--daily-loss-limit-pct, a percentage: 3 = 0.03',
  maxTradesPerDay: '--max-trades-per-day',
  strategy: '--strategy',
  params: '--params',
};

/**
 * A running service refused an operator command. The message lists the code, the field (with
 * the flag that sets it), the value and what is allowed. main() prints it; exit code 1.
 */
export class CommandRefusedError extends DemoError {
  constructor(readonly subject: string, readonly refusal: Refusal) {
    super(formatRefusal(subject, refusal));
    this.name = 'CommandRefusedError';
  }
}

/**
 * The refusal as lines for a person. Services that answer only `{code,message}` still name the
 * field in the message (`<field> = <value> is refused: allowed <range>`); it is read from there.
 */
export function formatRefusal(subject: string, r: Refusal): string {
  let { field, value, allowed } = r;
  const m = /^(\S+) = (.*?) is refused: (.*)$/.exec(r.message);
  if (m && field === undefined) {
    field = m[1];
    value = m[2];
    if (allowed === undefined && m[3].startsWith('allowed ')) allowed = m[3].slice('allowed '.length);
  }
  const lines = [`refused by ${subject}: ${r.code}`];
  if (field !== undefined) lines.push(`  field    ${field}${FLAG_OF[field] ? ` (${FLAG_OF[field]})` : ''}`);
  if (value !== undefined) lines.push(`  value    ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  if (allowed !== undefined) lines.push(`  allowed  ${allowed}`);
  lines.push(`  reason   ${r.message}`);
  return lines.join('\n');
}

function asRefusal(raw: unknown): Refusal | null {
  const e = (raw as { error?: unknown } | null)?.error as Record<string, unknown> | undefined;
  if (!e || typeof e !== 'object' || typeof e['code'] !== 'string') return null;
  const r: Refusal = { code: e['code'], message: typeof e['message'] === 'string' ? e['message'] : '' };
  if (typeof e['field'] === 'string') r.field = e['field'];
  if ('value' in e) r.value = e['value'];
  if (typeof e['allowed'] === 'string') r.allowed = e['allowed'];
  return r;
}

/**
 * Send one request to a running Bulwark service and return its JSON answer.
 * @param service the service that answers `subject` (named in the error when nobody does)
 * @param onRefusal called with the raw `{error}` answer before the refusal is thrown (--json prints it)
 * @throws DemoError when NATS is unreachable, nobody answers, or the answer is not JSON;
 *   CommandRefusedError for a typed refusal
 */
export async function askRunningSystem(subject: string, payload: unknown, service: string, bus: OperatorBus = {}, onRefusal?: (raw: unknown) => void): Promise<unknown> {
  const url = bus.natsUrl ?? busConfigFromEnv().natsUrl;
  const full = `${bus.subjectPrefix ?? ''}${subject}`;
  const timeoutMs = bus.timeoutMs ?? 10_000;
  let nc: NatsConnection;
  try {
    nc = await connectNats({ user: bus.user ?? 'operator', servers: url, name: 'bulwark-cli', timeoutMs: 3000, reconnect: 'never' });
  } catch (e) {
    throw new DemoError(`${(e as Error).message}: start the system first (npm run setup, docker compose up -d, or NATS_URL=… with credentials for another server)`);
  }
  let m: Msg;
  try {
    // Sent again while nobody receives it (a takeover between two instances), never after it was received.
    m = await requestDelivered(nc, full, json.encode(payload), { timeout: timeoutMs });
  } catch (e) {
    await nc.close();
    const code = (e as NatsError).code;
    if (code === ErrorCode.NoResponders) throw new DemoError(`nobody answers on ${full}: is the ${service} service running and connected to ${url}?`);
    if (code === ErrorCode.PermissionsViolation) throw new DemoError(`NATS does not let user ${bus.user ?? 'operator'} publish to ${full} (permissions violation; docs/security.md)`);
    if (code === ErrorCode.Timeout) {
      throw new DemoError(`no answer on ${full} within ${timeoutMs / 1000} s from the ${service} service; the outcome is unknown (sending the command again is safe: a repeat is refused, not applied twice)`);
    }
    throw new DemoError(`request on ${full} failed: ${(e as Error).message}`);
  }
  await nc.close();
  let raw: unknown;
  try {
    raw = json.decode(m.data);
  } catch {
    throw new DemoError(`the ${service} service answered ${full} with something that is not JSON`);
  }
  const refusal = asRefusal(raw);
  if (refusal) {
    onRefusal?.(raw);
    throw new CommandRefusedError(full, refusal);
  }
  return raw;
}

// ---------------------------------------------------------------------------------------
// Flag parsers (InvalidArgumentError → commander prints it, exit code 2)
// ---------------------------------------------------------------------------------------

const DECIMAL = /^(0|[1-9]\d*)(\.\d+)?$/;

/** An account id: letters, digits, '_' and '-' (1..64), as stream ids and subjects need. */
export function accountId(v: string): string {
  if (!Identifier.safeParse(v).success) throw new InvalidArgumentError(`--account must be 1..64 letters, digits, '_' or '-', got "${v}"`);
  return v;
}

/** An upper-case instrument symbol (lower case is accepted and raised). */
export function symbol(v: string): string {
  const s = v.toUpperCase();
  if (!SymbolId.safeParse(s).success) throw new InvalidArgumentError(`--symbol must be an instrument such as BTCUSDT (2..20 letters and digits), got "${v}"`);
  return s;
}

/** A plain decimal (no sign, exponent or leading zeros), > 0 unless `zeroOk`. */
function decimal(name: string, zeroOk = false) {
  return (v: string): string => {
    if (!DECIMAL.test(v) || (!zeroOk && dec(v).isZero())) {
      throw new InvalidArgumentError(`${name} must be a decimal number ${zeroOk ? '>= 0' : '> 0'} such as 1000 or 250.5, got "${v}"`);
    }
    return v;
  };
}

function protection(v: string): ProtectionMode {
  const p = ProtectionMode.safeParse(v.toUpperCase());
  if (!p.success) throw new InvalidArgumentError(`--protection must be one of ${ProtectionMode.options.join(', ')}, got "${v}"`);
  return p.data;
}

/** Flags of `account open` / `account reconfigure` as commander parses them. */
export interface AccountConfigFlags {
  account: string;
  /** Who asks (recorded in AccountOpened / AccountReconfigured). */
  by?: string;
  symbol: string;
  capital: string;
  leverage: number;
  confirmHighLeverage: boolean;
  riskPct?: string;
  protection?: ProtectionMode;
  venueBalance?: string;
  dailyLossLimitPct?: string;
  maxTradesPerDay?: number;
  /** `--max-fee-risk-pct`, `--max-lifetime-drawdown-pct`, `--losing-streak-pause` as parsed ({@link policyFlags}). */
  maxFeeRiskPct?: string;
  maxLifetimeDrawdownPct?: string;
  losingStreakPause?: string;
  json: boolean;
}

/**
 * The OpenAccountRequest the flags describe (venue binance-usdm, wall-clock time). Percentages
 * become fractions (--risk-pct 1 → riskFraction "0.01"); the venue balance defaults to the capital;
 * omitted options are left out, so the risk service fills in the policy defaults.
 */
export function openAccountRequest(f: AccountConfigFlags): OpenAccountRequest {
  return {
    accountId: f.account,
    venue: 'binance-usdm',
    symbol: f.symbol,
    capital: f.capital,
    leverage: f.leverage,
    highLeverageConfirmed: f.confirmHighLeverage,
    venueBalance: f.venueBalance ?? f.capital,
    ...(f.riskPct !== undefined ? { riskFraction: dec(f.riskPct).div(100).toFixed() } : {}),
    ...(f.protection !== undefined ? { protection: f.protection } : {}),
    ...(f.dailyLossLimitPct !== undefined ? { dailyLossLimitFraction: dec(f.dailyLossLimitPct).div(100).toFixed() } : {}),
    ...(f.maxTradesPerDay !== undefined ? { maxTradesPerDay: f.maxTradesPerDay } : {}),
    ...policyFlags(f),
    ...(f.by ? { by: f.by } : {}),
  };
}

const pct = (fraction: unknown) => (typeof fraction === 'string' && DECIMAL.test(fraction) ? `${dec(fraction).times(100).toFixed()} %` : 'none');

/** The recorded configuration (`{accountId, config}`, AccountOpened's fields) for a person. */
export function formatAccountConfig(verb: string, answer: unknown): string {
  const config = (answer as { config?: Record<string, unknown> } | null)?.config;
  if (!config || typeof config !== 'object') return JSON.stringify(answer, null, 2);
  const c = config;
  const rows: [string, string][] = [
    ['capital', `${String(c['capital'])} USDT (venue balance ${String(c['venueBalance'])} USDT)`],
    ['leverage', `${String(c['leverage'])}x (cap ${String(c['leverageCap'])}x${c['highLeverageConfirmed'] ? ', above 5x confirmed' : ''})`],
    ['risk per trade', `${pct(c['riskFraction'])} of equity`],
    ['protection', String(c['protection'])],
    ['margin mode', String(c['marginMode'])],
    ['max trades per day', String(c['maxTradesPerDay'])],
    ['daily loss limit', pct(c['dailyLossLimitFraction'])],
    ['daily profit target', pct(c['dailyProfitTargetFraction'])],
    ['monthly drawdown limit', pct(c['maxMonthlyDrawdownFraction'])],
    ['cost guard', c['maxFeeRiskFraction'] === null ? 'off' : `fees at most ${pct(c['maxFeeRiskFraction'])} of the risk amount`],
    ['lifetime kill switch', c['maxLifetimeDrawdownFraction'] === null ? 'off' : `${pct(c['maxLifetimeDrawdownFraction'])} below the equity peak`],
    ['losing-streak pause', c['losingStreakPause'] === null ? 'off' : `after ${String(c['losingStreakPause'])} losses in a row`],
    ['margin use stop', `entries stop at ${pct(c['maxMarginUtilisationFraction'])} of equity in use`],
  ];
  return [`account ${String(c['accountId'])} ${verb}: ${String(c['venue'])} ${String(c['symbol'])}`, ...rows.map(([k, v]) => `  ${k.padEnd(23)}${v}`)].join('\n');
}

/** The options shared by `account open` and `account reconfigure`. */
function configOptions(cmd: Command): Command {
  return withPolicyOptions(cmd)
    .requiredOption('--account <id>', 'account id (the BULWARK_ACCOUNT_ID of the execution service that trades it)', accountId)
    .requiredOption('--symbol <SYMBOL>', 'instrument, e.g. BTCUSDT', symbol)
    .requiredOption('--capital <usdt>', 'trading capital in USDT (at most the venue balance)', decimal('--capital'))
    .requiredOption('--leverage <n>', `leverage 1..125 (the policy caps it at ${ACCOUNT_DEFAULTS.leverageCap}; above ${ACCOUNT_DEFAULTS.confirmLeverageAbove} needs --confirm-high-leverage)`, integerIn('--leverage', 1, 125))
    .option('--confirm-high-leverage', `confirm leverage above ${ACCOUNT_DEFAULTS.confirmLeverageAbove}x (recorded in the account)`, false)
    .option('--risk-pct <n>', `risk per trade, % of equity (0.5..10; default ${dec(ACCOUNT_DEFAULTS.riskFraction).times(100).toFixed()})`, decimal('--risk-pct'))
    .option('--protection <mode>', 'where stops live: INTERNAL (stop-monitor, default), EXCHANGE (algo orders at the venue) or BOTH', protection)
    .option('--venue-balance <usdt>', 'the venue wallet balance in USDT (default: the capital; give the real balance of a funded account)', decimal('--venue-balance', true))
    .option('--daily-loss-limit-pct <n>', 'daily loss limit, % of capital (default: none)', decimal('--daily-loss-limit-pct'))
    .option('--max-trades-per-day <n>', `entries per day (default ${ACCOUNT_DEFAULTS.maxTradesPerDay})`, integerIn('--max-trades-per-day', 1, 10_000))
    .option('--by <who>', 'who (recorded)', process.env.USER ?? 'operator')
    .option('--json', 'print the answer (or the refusal) as JSON', false);
}

async function configure(mode: 'open' | 'reconfigure', f: AccountConfigFlags, cmd: Command, bus: OperatorBus): Promise<void> {
  if (f.leverage > ACCOUNT_DEFAULTS.confirmLeverageAbove && !f.confirmHighLeverage) {
    cmd.error(`error: --leverage ${f.leverage} is above ${ACCOUNT_DEFAULTS.confirmLeverageAbove}x: add --confirm-high-leverage to confirm it (the confirmation is recorded)`, { code: 'commander.invalidArgument', exitCode: 2 });
  }
  const subject = mode === 'open' ? Subjects.openAccount : Subjects.reconfigureAccount;
  const printJson = (v: unknown) => console.log(JSON.stringify(v, null, 2));
  const answer = await askRunningSystem(subject, openAccountRequest(f), 'risk', bus, f.json ? printJson : undefined).catch(unknownAccount(f.account));
  if (f.json) printJson(answer);
  else console.log(formatAccountConfig(mode === 'open' ? 'opened' : 'reconfigured', answer));
}

/**
 * The risk service's UNKNOWN_ACCOUNT refusal (trading-state and reconfigure: "account is not
 * open"; resume: accounting has no such account) as an InputError (exit 2, one line): the
 * command named an account that does not exist. Any other error passes through.
 */
function unknownAccount(accountId: string) {
  return (e: unknown): never => {
    if (e instanceof CommandRefusedError && e.refusal.code === 'UNKNOWN_ACCOUNT') {
      throw new InputError(`account ${accountId} does not exist: ${e.subject} answered UNKNOWN_ACCOUNT (${e.refusal.message}); open it first with \`bulwark account open --account ${accountId} …\``);
    }
    throw e;
  };
}

/** Send one command about an account to the running risk service and print its answer as JSON. */
async function send(subject: string, payload: { accountId: string; [field: string]: unknown }, bus: OperatorBus): Promise<void> {
  const answer = await askRunningSystem(subject, payload, 'risk', bus).catch(unknownAccount(payload.accountId));
  console.log(JSON.stringify(answer, null, 2));
}

function state(v: string): 'ACTIVE' | 'REDUCING' | 'HALTED' {
  const s = v.toUpperCase();
  if (s !== 'ACTIVE' && s !== 'REDUCING' && s !== 'HALTED') throw new InvalidArgumentError(`state must be ACTIVE, REDUCING or HALTED, got "${v}"`);
  return s;
}

/**
 * `bulwark account open | reconfigure | trading-state | resume | flatten`, `bulwark position close`,
 * `bulwark order cancel`: operator commands to a running
 * risk service over NATS. open/reconfigure send an OpenAccountRequest (Subjects.openAccount /
 * reconfigureAccount) and print the recorded configuration; trading-state and resume are recorded
 * as TradingStateChanged / TradingResumed with the reason. A refusal exits 1 (CommandRefusedError),
 * except UNKNOWN_ACCOUNT: an account that does not exist is an input error (InputError, exit 2).
 */
export function registerAccountCommands(program: Command, bus: OperatorBus = {}): void {
  const account = program.command('account').description('Operator commands to a running Bulwark (open or reconfigure an account, kill switch, resume after a pause).');
  configOptions(
    account
      .command('open')
      .description('Open an account on the running risk service: capital, leverage and risk policy (omitted options take the policy defaults, docs/risk.md).'),
  ).action(async (f: AccountConfigFlags, cmd: Command) => configure('open', f, cmd, bus));
  configOptions(
    account
      .command('reconfigure')
      .description('Replace an open account\'s configuration. Give the whole configuration: omitted options take the policy defaults, not the current values.'),
  ).action(async (f: AccountConfigFlags, cmd: Command) => configure('reconfigure', f, cmd, bus));
  account
    .command('trading-state')
    .description('Set the kill switch: ACTIVE, REDUCING (reduce-only orders only) or HALTED (no new orders).')
    .argument('<state>', 'ACTIVE | REDUCING | HALTED', state)
    .requiredOption('--account <id>', 'account id', accountId)
    .requiredOption('--reason <text>', 'why (recorded)')
    .option('--by <who>', 'who (recorded)', process.env.USER ?? 'operator')
    .action(async (s: string, o: { account: string; reason: string; by: string }) => send(Subjects.setTradingState, { accountId: o.account, state: s, reason: o.reason, by: o.by }, bus));
  account
    .command('resume')
    .description('Resume entries after a drawdown or daily pause (re-bases the month on the current equity).')
    .requiredOption('--account <id>', 'account id', accountId)
    .requiredOption('--reason <text>', 'why (recorded)')
    .option('--by <who>', 'who (recorded)', process.env.USER ?? 'operator')
    .action(async (o: { account: string; reason: string; by: string }) => send(Subjects.resumeTrading, { accountId: o.account, reason: o.reason, by: o.by }, bus));
  account
    .command('flatten')
    .description('Close everything: set HALTED (nothing re-enters), cancel every resting order, close every position reduce-only at market.')
    .requiredOption('--account <id>', 'account id', accountId)
    .requiredOption('--reason <text>', 'why (recorded)')
    .option('--by <who>', 'who (recorded)', process.env.USER ?? 'operator')
    .action(async (o: { account: string; reason: string; by: string }) => send(Subjects.flatten, { accountId: o.account, reason: o.reason, by: o.by }, bus));
  program
    .command('position')
    .description('Operator commands on one position of a running Bulwark.')
    .command('close')
    .description('Close one position reduce-only at market (its stop stays until it is flat).')
    .requiredOption('--account <id>', 'account id', accountId)
    .requiredOption('--symbol <symbol>', 'symbol, e.g. BTCUSDT', symbol)
    .requiredOption('--reason <text>', 'why (recorded)')
    .option('--by <who>', 'who (recorded)', process.env.USER ?? 'operator')
    .action(async (o: { account: string; symbol: string; reason: string; by: string }) => send(Subjects.closePosition, { accountId: o.account, symbol: o.symbol, reason: o.reason, by: o.by }, bus));
  program
    .command('order')
    .description('Operator commands on one order of a running Bulwark.')
    .command('cancel')
    .description('Cancel one resting order by its client order id.')
    .requiredOption('--account <id>', 'account id', accountId)
    .requiredOption('--client-order-id <id>', 'the client order id (e.g. from `bulwark audit day`)')
    .requiredOption('--reason <text>', 'why (recorded)')
    .option('--by <who>', 'who (recorded)', process.env.USER ?? 'operator')
    .action(async (o: { account: string; clientOrderId: string; reason: string; by: string }) =>
      send(Subjects.cancelOrder, { accountId: o.account, clientOrderId: o.clientOrderId, reason: o.reason, by: o.by }, bus),
    );
}
