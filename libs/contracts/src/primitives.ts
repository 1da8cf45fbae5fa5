import { z } from 'zod';

/**
 * A decimal number serialised as a string ("-123.45", "0.001", "1E-8" is refused).
 * Prices, quantities, balances and rates travel as strings and are parsed with decimal.js;
 * a JS number never carries money.
 */
export const DecimalString = z
  .string()
  .regex(/^-?(0|[1-9]\d*)(\.\d+)?$/, 'expected a plain decimal string such as "104587.7"');
export type DecimalString = z.infer<typeof DecimalString>;

/** A strictly positive decimal string. */
export const PositiveDecimalString = DecimalString.refine((s) => !s.startsWith('-') && /[1-9]/.test(s), {
  message: 'expected a decimal string > 0',
});

/**
 * An identifier usable inside a stream id and a NATS subject token: letters, digits,
 * '_' and '-' only (no '.', '*', '>' or spaces), 1..64 characters.
 */
export const Identifier = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected [A-Za-z0-9_-]{1,64}');
export type Identifier = z.infer<typeof Identifier>;

/** Binance client order id rule (`^[.A-Z:/a-z0-9_-]{1,36}$`), narrowed to subject-safe characters. */
export const ClientOrderId = z.string().regex(/^[A-Za-z0-9_-]{1,36}$/, 'expected [A-Za-z0-9_-]{1,36}');
export type ClientOrderId = z.infer<typeof ClientOrderId>;

/** Unix epoch milliseconds, UTC. */
export const EpochMs = z.number().int().nonnegative();
export type EpochMs = z.infer<typeof EpochMs>;

/** Venues Bulwark knows. The paper venue simulates `binance-usdm`. */
export const VenueId = z.enum(['binance-usdm', 'binance-margin', 'bitget-usdtm']);
export type VenueId = z.infer<typeof VenueId>;

/** Order side. A long is opened with BUY, a short with SELL (one-way mode). */
export const OrderSide = z.enum(['BUY', 'SELL']);
export type OrderSide = z.infer<typeof OrderSide>;

export const PositionSide = z.enum(['LONG', 'SHORT']);
export type PositionSide = z.infer<typeof PositionSide>;

export const OrderType = z.enum(['MARKET', 'LIMIT']);
export type OrderType = z.infer<typeof OrderType>;

/**
 * Conditional (algo) order types: Binance USDⓈ-M places them through `POST /fapi/v1/algoOrder`
 * (algoType CONDITIONAL) since December 2025; they rest at the venue until the price reaches
 * their trigger, then become a market order.
 */
export const ConditionalOrderType = z.enum(['STOP_MARKET', 'TAKE_PROFIT_MARKET']);
export type ConditionalOrderType = z.infer<typeof ConditionalOrderType>;

/** Where protective stops live: internal = the stop-monitor (default), exchange = algo orders at the venue, both = internal first with the exchange stop as the backstop. */
export const ProtectionMode = z.enum(['INTERNAL', 'EXCHANGE', 'BOTH']);
export type ProtectionMode = z.infer<typeof ProtectionMode>;

export const TimeInForce = z.enum(['GTC', 'IOC', 'FOK', 'GTX']);
export type TimeInForce = z.infer<typeof TimeInForce>;

/**
 * How an entry goes to the venue (docs/risk.md "Entry order types"): MARKET; LIMIT (GTC, rests
 * until filled or its expiry); POST_ONLY (LIMIT GTX on Binance, `post_only` on Bitget: refused
 * rather than take liquidity, so it always pays the maker fee); IOC (LIMIT, what cannot fill at
 * once expires); FOK (LIMIT, fills whole at once or not at all).
 */
export const EntryType = z.enum(['MARKET', 'LIMIT', 'POST_ONLY', 'IOC', 'FOK']);
export type EntryType = z.infer<typeof EntryType>;

/**
 * Smart order splitting (docs/risk.md "Order splitting"): a parent entry larger than one child
 * may hold is sent as children. A child holds at most the venue's maximum quantity for its
 * order type, `maxOrderNotional` USDT and `maxVolumeShare` of the signal bar's base volume
 * (those given). SLICES sends them one after another every `intervalBars` bars (0: on
 * consecutive market steps), each of the entry's type; ICEBERG sends LIMIT children at the
 * entry price, the next when the one before has filled whole (a LIMIT or POST_ONLY entry only).
 */
export const OrderSplit = z.object({
  style: z.enum(['SLICES', 'ICEBERG']),
  maxOrderNotional: PositiveDecimalString.optional(),
  maxVolumeShare: PositiveDecimalString.refine((s) => Number(s) <= 1, { message: 'a share in (0, 1]' }).optional(),
  intervalBars: z.number().int().min(0).max(100).default(1),
});
export type OrderSplit = z.infer<typeof OrderSplit>;

/** Why an order exists: entries come from risk approvals, the rest protect or liquidate. */
export const OrderPurpose = z.enum(['ENTRY', 'STOP_LOSS', 'TAKE_PROFIT', 'CLOSE', 'LIQUIDATION']);
export type OrderPurpose = z.infer<typeof OrderPurpose>;

export const Symbol = z.string().regex(/^[A-Z0-9]{2,20}$/, 'expected an upper-case symbol such as BTCUSDT');
export type Symbol = z.infer<typeof Symbol>;

/** A UTC calendar day, YYYY-MM-DD. */
export const TradingDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
export type TradingDay = z.infer<typeof TradingDay>;
