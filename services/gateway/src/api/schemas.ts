import { ClientOrderId, EntryType, Identifier, OpenAccountRequest, Symbol as SymbolId } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { z } from 'zod';

/*
 * Request schemas of the API (zod): a failure is a 400 naming the field and the reason.
 * Decimals are accepted as strings or numbers and carried on as plain decimal strings
 * (a number is taken by its shortest decimal text, e.g. 0.1 → "0.1").
 */

const DECIMAL_TEXT = /^(\d+(\.\d*)?|\.\d+)$/;

/** A non-negative decimal as a string or a number → its plain decimal text. */
export const DecimalInput = z
  .union([z.string(), z.number().finite()])
  .transform((v) => (typeof v === 'number' ? String(v) : v.trim()))
  .refine((v) => !v.startsWith('-'), 'must not be negative')
  .refine((v) => DECIMAL_TEXT.test(v), 'expected a decimal number such as 60000 or 0.01')
  .transform((v) => dec(v).toFixed());
export const PositiveDecimalInput = DecimalInput.refine((v) => dec(v).gt(0), 'must be greater than 0');
export const Leverage = z.number().int('expected an integer').min(1).max(125);
/** long | short, also buy | sell (case-insensitive), as the CLI's `--side`. */
export const PositionSideInput = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .refine((v) => ['long', 'short', 'buy', 'sell'].includes(v), 'expected long or short (or buy / sell)')
  .transform((v) => (v === 'long' || v === 'buy' ? ('LONG' as const) : ('SHORT' as const)));
export const Reason = z.string().trim().min(1, 'a reason is required (it is recorded)').max(500);

export const AccountIdParam = Identifier;
export const SymbolParam = z.string().transform((s) => s.toUpperCase()).pipe(SymbolId);
export const ClientOrderIdParam = ClientOrderId;

/** `POST /api/accounts` and `/api/accounts/validate`: OpenAccountRequest without `at`; venue defaults to binance-usdm, the venue balance to the capital. */
export const OpenAccountBody = OpenAccountRequest.omit({ at: true, venue: true, venueBalance: true, leverage: true, capital: true }).extend({
  venue: OpenAccountRequest.shape.venue.default('binance-usdm'),
  symbol: SymbolParam,
  capital: PositiveDecimalInput,
  venueBalance: DecimalInput.optional(),
  leverage: Leverage,
});
export type OpenAccountBody = z.infer<typeof OpenAccountBody>;
/** `PATCH /api/accounts/:id`: the same fields; the account id comes from the path. */
export const ReconfigureBody = OpenAccountBody.omit({ accountId: true });

/** How an entry goes to the venue (absent: market) and a resting one's life in bars; signals refuses an incomplete pair (INVALID_ENTRY_TYPE). */
const EntryFields = {
  entryType: z.string().transform((s) => s.toUpperCase().replace('-', '_')).pipe(EntryType).optional(),
  expiresAfterBars: z.number().int().min(1).max(1000).optional(),
};

export const AttachBody = z.object({
  strategy: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'expected a strategy name such as donchian-atr'),
  symbol: SymbolParam.optional(),
  params: z.record(z.string(), z.union([z.number().finite(), z.string()])).default({}),
  ...EntryFields,
});
export const TradingStateBody = z.object({ state: z.string().transform((s) => s.toUpperCase()).pipe(z.enum(['ACTIVE', 'REDUCING', 'HALTED'])), reason: Reason });
export const ReasonBody = z.object({ reason: Reason });
export const ManualEntryBody = z.object({
  symbol: SymbolParam,
  side: PositionSideInput,
  stopPrice: PositiveDecimalInput,
  takeProfitPrice: PositiveDecimalInput.nullable().optional(),
  ...EntryFields,
});

export const LiquidationBody = z.object({
  symbol: SymbolParam.default('BTCUSDT'),
  side: PositionSideInput,
  entry: PositiveDecimalInput,
  qty: PositiveDecimalInput,
  leverage: Leverage,
  walletBalance: DecimalInput.optional(),
});
export const SizeBody = z.object({
  symbol: SymbolParam.default('BTCUSDT'),
  side: PositionSideInput,
  entry: PositiveDecimalInput,
  stop: PositiveDecimalInput,
  takeProfit: PositiveDecimalInput.optional(),
  equity: DecimalInput,
  /** % of equity (1 = 1 %), 0 < riskPct <= 100; default the policy's. */
  riskPct: PositiveDecimalInput.refine((v) => dec(v).lte(100), 'at most 100').optional(),
  leverage: Leverage,
  leverageCap: Leverage.optional(),
  availableMargin: DecimalInput.optional(),
  /** Taker fee rate as a fraction (0.0005), below 1; default the rules'. */
  takerFee: DecimalInput.refine((v) => dec(v).lt(1), 'must be below 1').optional(),
  maxMarginPct: PositiveDecimalInput.refine((v) => dec(v).lte(100), 'at most 100').optional(),
  liquidationBufferPct: DecimalInput.refine((v) => dec(v).lt(100), 'must be below 100').optional(),
  /** The cost guard in % of the risk amount (1..100), or "off". */
  maxFeeRiskPct: z.union([z.literal('off'), PositiveDecimalInput.refine((v) => dec(v).gte(1) && dec(v).lte(100), 'a percentage in 1..100 or "off"')]).optional(),
});

const DateInput = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  // A query string carries epoch ms as digits.
  if (/^\d{1,15}$/.test(v)) return Number(v);
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  if (Number.isNaN(t)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected a UTC date (2025-11-21), an ISO time or epoch ms' });
    return z.NEVER;
  }
  return t;
});

export const CandlesQuery = z.object({
  from: DateInput.optional(),
  to: DateInput.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

/**
 * `POST /api/backtest`: a data set (an id of `GET /api/datasets`, or its file path relative to
 * the data directory) and a UTC window, then the account as `POST /api/accounts` names it:
 * capital, leverage, `highLeverageConfirmed`, the policy fields as fractions
 * (`dailyLossLimitFraction: "0.03"` = 3 %), except the risk per trade, which is `riskPct`
 * in percent like `bulwark backtest --risk-pct` and `POST /api/calc/size`.
 * The account rules (e.g. above 5x needs `highLeverageConfirmed: true`) are checked by the
 * domain's `validateAccountConfig`, as for an account opened.
 */
export const BacktestBody = z
  .object({
    dataset: z.string().max(200).optional(),
    dataFile: z.string().max(500).optional(),
    from: DateInput.nullable().optional(),
    to: DateInput.nullable().optional(),
    capital: PositiveDecimalInput.default('10000'),
    leverage: Leverage.default(5),
    riskPct: PositiveDecimalInput.refine((v) => dec(v).lte(10), 'at most 10').default('1'),
    highLeverageConfirmed: z.boolean().default(false),
    funding: z.boolean().default(true),
  })
  .extend(
    OpenAccountRequest.pick({
      leverageCap: true, maxTradesPerDay: true, dailyLossLimitFraction: true, dailyProfitTargetFraction: true, maxMonthlyDrawdownFraction: true,
      maxFeeRiskFraction: true, maxLifetimeDrawdownFraction: true, losingStreakPause: true,
    }).shape,
  )
  .strict()
  .refine((b) => b.dataset !== undefined || b.dataFile !== undefined, { message: 'name a data set (GET /api/datasets) or a data file', path: ['dataset'] })
  .refine((b) => b.from === undefined || b.from === null || b.to === undefined || b.to === null || b.from < b.to, { message: 'from must be before to', path: ['from'] });
export type BacktestBody = z.infer<typeof BacktestBody>;
