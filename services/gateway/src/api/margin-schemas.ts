import { Identifier, MarginEntryApproved, MarginEntryDenied, MarginTransferRequest } from '@bulwark/contracts';
import { parseMarginPositionId } from '@bulwark/projections';
import { z } from 'zod';
import { AccountIdParam, PositionSideInput, PositiveDecimalInput, Reason, SymbolParam } from './schemas';

/*
 * Request schemas of the spot isolated-margin routes (`/api/margin`), on the API's own inputs
 * (schemas.ts): a failure is a 400 naming the field and the reason; decimals are accepted as
 * strings or numbers and sent on as plain decimal strings. Command bodies are strict: a
 * misspelt field (`takeProfit` for `takeProfitPrice`) is refused by name, never dropped.
 */

/** An asset name, case-insensitive (usdt → USDT), as the margin messages take it. */
export const AssetInput = z.string().transform((s) => s.trim().toUpperCase()).pipe(MarginTransferRequest.shape.asset);

const PairAsset = { accountId: AccountIdParam, symbol: SymbolParam, asset: AssetInput };

/** `POST /api/margin/transfer/to-margin|to-spot` and `/api/margin/borrow`: `amount` > 0 of `asset`. */
export const MarginAmountBody = z.object({ ...PairAsset, amount: PositiveDecimalInput }).strict();
export type MarginAmountBody = z.infer<typeof MarginAmountBody>;

/** A repayment's amount: a decimal > 0, or ALL (case-insensitive: the principal and interest owed). */
export const RepayAmountInput = z.union([z.string(), z.number()]).transform((v, ctx) => {
  if (typeof v === 'string' && v.trim().toUpperCase() === 'ALL') return 'ALL' as const;
  const amount = PositiveDecimalInput.safeParse(v);
  if (amount.success) return amount.data;
  ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${amount.error.issues[0]?.message ?? 'invalid'}, or ALL` });
  return z.NEVER;
});

/** `POST /api/margin/repay`. */
export const MarginRepayBody = z.object({ ...PairAsset, amount: RepayAmountInput }).strict();
export type MarginRepayBody = z.infer<typeof MarginRepayBody>;

/** `POST /api/margin/order`: side LONG | SHORT (also BUY → LONG, SELL → SHORT, any case), the stop and an optional take-profit (quote per base). */
export const MarginOrderBody = z
  .object({
    accountId: AccountIdParam,
    symbol: SymbolParam,
    side: PositionSideInput,
    stopPrice: PositiveDecimalInput,
    takeProfitPrice: PositiveDecimalInput.nullable().optional(),
  })
  .strict();
export type MarginOrderBody = z.infer<typeof MarginOrderBody>;

/** `POST /api/margin/positions/:positionId/close`: the reason is recorded (MarginCloseRequest takes at most 200 characters). */
export const MarginCloseBody = z.object({ reason: Reason.max(200, 'at most 200 characters') }).strict();

/** `?accountId=` of `GET /api/margin/account/:symbol`. */
export const MarginAccountQueryInput = z.object({ accountId: AccountIdParam });

/** `?accountId=&symbol=` of `GET /api/margin/interest`. */
export const MarginPairQuery = z.object({ accountId: AccountIdParam, symbol: SymbolParam });

/** `GET /api/margin/positions` filters, each optional; status case-insensitive. */
export const MarginPositionsQuery = z.object({
  accountId: AccountIdParam.optional(),
  symbol: SymbolParam.optional(),
  status: z.string().transform((s) => s.toUpperCase()).pipe(z.enum(['OPEN', 'CLOSED', 'STOPPED_OUT', 'LIQUIDATED'])).optional(),
});

/** A position id `margin-<accountId>-<symbol>-<n>` (read by `parseMarginPositionId` only) → the id and its parts. */
export const MarginPositionIdParam = z.string().transform((positionId, ctx) => {
  const parts = parseMarginPositionId(positionId);
  if (parts) return { positionId, ...parts };
  ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected margin-<accountId>-<symbol>-<n>, e.g. margin-spot-m1-BTCUSDT-1' });
  return z.NEVER;
});
export type MarginPositionIdParam = z.infer<typeof MarginPositionIdParam>;

/** Risk's answer to a MarginEntryRequest (`RiskService.marginEntry`): the decision as recorded on the account stream. */
export const MarginEntryDecision = z.discriminatedUnion('decision', [
  z.object({ requestId: Identifier, decision: z.literal('APPROVED'), approved: MarginEntryApproved }),
  z.object({ requestId: Identifier, decision: z.literal('DENIED'), denied: MarginEntryDenied }),
  z.object({ requestId: Identifier, decision: z.literal('ALREADY_DECIDED') }),
]);
export type MarginEntryDecision = z.infer<typeof MarginEntryDecision>;
