import fc from 'fast-check';
import { parseEvent, type OrderFilled, type OrderSide } from '@bulwark/contracts';
import { orderFilled } from '@bulwark/testing';
import { D, dec, max, min, str, ZERO } from './money';
import { decideFunding, decidePositionFill, positionEvolve, positionInitialState, type PositionEvent, type PositionState } from './position';

/*
 * Money invariants of the position aggregate, over random fill sequences that end flat
 * (flips through overflow included, funding interleaved, optionally ending in a liquidation):
 * - Σ netPnl of the lifecycles = Σ sell proceeds − Σ buy cost − Σ fees (+ clearance fees) + Σ funding, exactly;
 * - the quantity never goes negative;
 * - the entry price stays within [min, max] of the lifecycle's opening-side fill prices;
 * - every event satisfies its zod schema in @bulwark/contracts.
 * Quantities are multiples of BTCUSDT's step 0.001, prices of its tick 0.1, mark prices
 * carry 8 decimals (as in the mark-price klines), funding rates 8 decimals.
 */

type Step =
  | { kind: 'fill'; side: OrderSide; steps: number; ticks: number; feeRate: string }
  | { kind: 'funding'; rate: number; mark: number }
  | { kind: 'replay' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('fill' as const),
      side: fc.constantFrom<OrderSide>('BUY', 'SELL'),
      steps: fc.integer({ min: 1, max: 3000 }),
      ticks: fc.integer({ min: 200_000, max: 1_200_000 }),
      feeRate: fc.constantFrom('0', '0.0002', '0.0005'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('funding' as const),
      rate: fc.integer({ min: -300_000, max: 300_000 }),
      mark: fc.integer({ min: 2_000_000_000_000, max: 12_000_000_000_000 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'replay' as const }) },
);

const scenarioArb = fc.record({
  steps: fc.array(stepArb, { minLength: 1, maxLength: 40 }),
  closeTicks: fc.integer({ min: 200_000, max: 1_200_000 }),
  liquidate: fc.boolean(),
  clearanceFee: fc.integer({ min: 0, max: 1_000_000_000 }),
});

let tradeSeq = 0;
function makeFill(side: OrderSide, quantity: D, price: D, feeRate: string, over: Partial<OrderFilled> = {}): OrderFilled {
  tradeSeq += 1;
  return orderFilled({ clientOrderId: `bw-p-${tradeSeq}`, venueOrderId: `${tradeSeq}`, tradeId: `t${tradeSeq}`, side, quantity: str(quantity), price: str(price), feeRate, ...over });
}

describe('position money invariants (fast-check)', () => {
  it('a flat sequence: Σ netPnl = Σ cash flow − fees + funding exactly; quantity ≥ 0; entry within the opening prices', () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        let state: PositionState = positionInitialState();
        let sequence = 1;
        let openingPrices: D[] = [];
        let lastFill: OrderFilled | null = null;
        let fundingTime = 1762732800000;
        // Independent bookkeeping of the cash flows.
        let cash = ZERO;
        let fees = ZERO;
        let funding = ZERO;
        let netPnl = ZERO;
        let lifecycles = 0;

        const check = (s: PositionState) => {
          expect(s.quantity.gte(0)).toBe(true);
          if (s.status === 'OPEN') {
            expect(s.quantity.gt(0)).toBe(true);
            const lo = openingPrices.reduce(min);
            const hi = openingPrices.reduce(max);
            expect(s.entryPrice.gte(lo) && s.entryPrice.lte(hi)).toBe(true);
          }
        };

        const applyEvents = (events: PositionEvent[]) => {
          for (const e of events) {
            // Every event the decider emits satisfies its contract schema.
            expect(parseEvent(e.type, e.data)).toMatchObject({ ok: true });
            if (e.type === 'PositionOpened') openingPrices = [dec(e.data.entryPrice)];
            if (e.type === 'PositionIncreased') openingPrices.push(dec(e.data.price));
            if (e.type === 'PositionReduced') expect(dec(e.data.newQuantity).gt(0)).toBe(true);
            if (e.type === 'PositionClosed' || e.type === 'PositionLiquidated') {
              netPnl = netPnl.plus(dec(e.data.netPnl));
              lifecycles += 1;
            }
            state = positionEvolve(state, e);
            check(state);
          }
          if (state.status === 'CLOSED' || state.status === 'LIQUIDATED') {
            state = positionInitialState();
            sequence += 1;
          }
        };

        const applyFill = (f: OrderFilled) => {
          const q = dec(f.quantity).mul(dec(f.price));
          cash = f.side === 'SELL' ? cash.plus(q) : cash.minus(q);
          fees = fees.plus(dec(f.fee)).plus(dec(f.liquidationFee));
          let pending: OrderFilled | null = f;
          while (pending) {
            const r = decidePositionFill(state, pending, { sequence });
            if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
            applyEvents(r.value.events);
            expect(r.value.overflowQuantity.gte(0)).toBe(true);
            pending = r.value.overflowFill;
          }
          lastFill = f;
        };

        for (const step of sc.steps) {
          if (step.kind === 'fill') {
            applyFill(makeFill(step.side, new D(step.steps).div(1000), new D(step.ticks).div(10), step.feeRate));
          } else if (step.kind === 'funding') {
            fundingTime += 8 * 3600 * 1000;
            const r = decideFunding(state, { fundingTime, rate: new D(step.rate).div(1e8), markPrice: new D(step.mark).div(1e8) });
            if (state.status !== 'OPEN') {
              expect(r.ok).toBe(false);
              continue;
            }
            if (!r.ok) throw new Error(r.error.message);
            for (const e of r.value) if (e.type === 'FundingApplied') funding = funding.plus(dec(e.data.amount));
            applyEvents(r.value);
          } else {
            // At-least-once delivery: a replayed fill changes nothing.
            const replay = lastFill as OrderFilled | null;
            if (replay === null || !state.tradeIds.includes(replay.tradeId)) continue;
            const r = decidePositionFill(state, replay, { sequence });
            expect(r.ok && r.value.events.length === 0).toBe(true);
          }
        }

        // End flat: close whatever is open, by a close order or a liquidation.
        if (state.status === 'OPEN') {
          const side: OrderSide = state.side === 'LONG' ? 'SELL' : 'BUY';
          const price = new D(sc.closeTicks).div(10);
          const over: Partial<OrderFilled> = sc.liquidate
            ? { purpose: 'LIQUIDATION', liquidationFee: str(new D(sc.clearanceFee).div(1e8)) }
            : { purpose: 'CLOSE' };
          applyFill(makeFill(side, state.quantity, price, sc.liquidate ? '0' : '0.0005', over));
        }

        expect(state.status).toBe('NONE');
        // Exact equality of decimals (not approximate).
        expect(str(netPnl)).toBe(str(cash.minus(fees).plus(funding)));
        if (lifecycles === 0) expect(netPnl.isZero()).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
