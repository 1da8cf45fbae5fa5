import { type AttachStrategyRequest, Subjects } from '@bulwark/contracts';
import { type Command, InvalidArgumentError } from 'commander';
import { accountId, askRunningSystem, type OperatorBus, symbol } from './account-commands';
import { entryFlags, withEntryOptions } from './input-checks';

/** Flags of `bulwark strategy attach`. */
export type AttachFlags = {
  account: string;
  symbol: string;
  strategy: string;
  params: Record<string, number | string>;
  json: boolean;
} & Parameters<typeof entryFlags>[0];

function strategyName(v: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(v)) throw new InvalidArgumentError(`--strategy must be a strategy name such as donchian-atr, got "${v}"`);
  return v;
}

/**
 * `--params` as AttachStrategyRequest wants it: a JSON object whose values are numbers or strings.
 * @throws InvalidArgumentError for anything else (not JSON, an array, a nested value, a boolean)
 */
export function strategyParams(v: string): Record<string, number | string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw new InvalidArgumentError(`--params must be a JSON object such as '{"channel":120,"atrMultiple":3}', got ${v}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError(`--params must be a JSON object, got ${v}`);
  for (const [k, x] of Object.entries(parsed)) {
    if (!(typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x)))) {
      throw new InvalidArgumentError(`--params values must be numbers or strings; "${k}" is ${JSON.stringify(x)}`);
    }
  }
  return parsed as Record<string, number | string>;
}

/**
 * The AttachStrategyRequest the flags describe (venue binance-usdm, wall-clock time), with the
 * entry type and split of `--entry-type`, `--split` … (none for market entries in one order).
 * @throws InputError for entry flags that do not go together (see entryFlags)
 */
export function attachStrategyRequest(f: AttachFlags): AttachStrategyRequest {
  return { accountId: f.account, venue: 'binance-usdm', symbol: f.symbol, strategy: f.strategy, params: f.params, ...entryFlags(f) };
}

/** The signals service's answer (`{accountId, strategy, params}`) for a person. */
export function formatAttached(req: AttachStrategyRequest, answer: unknown): string {
  const a = answer as { strategy?: unknown; params?: Record<string, unknown> } | null;
  if (!a || typeof a.params !== 'object' || a.params === null) return JSON.stringify(answer, null, 2);
  const params = Object.entries(a.params).map(([k, v]) => `  ${k.padEnd(14)}${String(v)}`);
  return [`strategy ${String(a.strategy ?? req.strategy)} attached to ${req.accountId}: ${req.venue} ${req.symbol} (closed candles → entry intents; risk sizes them)`, ...params].join('\n');
}

/**
 * `bulwark strategy attach`: attach a strategy to an account on the running signals service
 * (Subjects.attachStrategy, recorded as StrategyAttached). A refusal (UNKNOWN_STRATEGY,
 * ALREADY_ATTACHED, INVALID_PARAMS, INVALID_MESSAGE) exits 1 (CommandRefusedError).
 */
export function registerStrategyCommands(program: Command, bus: OperatorBus = {}): void {
  const strategy = program.command('strategy').description('Strategies of a running Bulwark: they decide WHEN; risk decides HOW MUCH.');
  withEntryOptions(strategy.command('attach'))
    .description('Attach a strategy to an open account: its entry intents go to the risk service from the next closed candle on.')
    .requiredOption('--account <id>', 'account id', accountId)
    .requiredOption('--symbol <SYMBOL>', 'instrument, e.g. BTCUSDT', symbol)
    .requiredOption('--strategy <name>', 'strategy (donchian-atr: Donchian breakout, ATR stop, 2R target)', strategyName)
    .option('--params <json>', 'strategy parameters as a JSON object, e.g. \'{"channel":120,"atrPeriod":30,"atrMultiple":3,"rewardRisk":2}\' (default: the strategy\'s)', strategyParams, {})
    .option('--json', 'print the answer (or the refusal) as JSON', false)
    .action(async (f: AttachFlags) => {
      const req = attachStrategyRequest(f);
      const printJson = (v: unknown) => console.log(JSON.stringify(v, null, 2));
      const answer = await askRunningSystem(Subjects.attachStrategy, req, 'signals', bus, f.json ? printJson : undefined);
      console.log(f.json ? JSON.stringify(answer, null, 2) : formatAttached(req, answer));
    });
}
