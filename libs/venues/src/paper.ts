import type { VenueId } from '@bulwark/contracts';
import { type D, PaperVenue, type PaperStep, type PaperVenueOptions, type Rules } from '@bulwark/domain';
import type { SimulatedVenue, VenueOrderRequest } from './port';

/**
 * The paper venue behind the VenuePort: the domain's PaperVenue engine (Binance USDⓈ-M
 * matching and isolated margin) with the port's asynchronous shape.
 */
export class PaperVenueAdapter implements SimulatedVenue {
  private readonly engine: PaperVenue;
  /**
   * @param options the engine's liquidity model and trade split (default: whole fills, one trade each)
   * @throws PaperVenueOptionsError when an option is out of range
   */
  constructor(readonly venue: VenueId, rules: ReadonlyMap<string, Rules>, options: PaperVenueOptions = {}) {
    this.engine = new PaperVenue(rules, options);
  }
  hasAccount(accountId: string) {
    return this.engine.hasAccount(accountId);
  }
  isIdle() {
    return this.engine.isIdle();
  }
  deposit(accountId: string, amount: D) {
    this.engine.fund(accountId, amount);
  }
  advance(symbol: string, step: PaperStep, funding: { rate: string } | null) {
    return this.engine.step(symbol, step, funding);
  }
  async setOneWayMode(accountId: string) {
    return this.engine.setOneWayMode(accountId);
  }
  async setIsolatedMargin(accountId: string, symbol: string) {
    return this.engine.setIsolated(accountId, symbol);
  }
  async setLeverage(accountId: string, symbol: string, leverage: number) {
    return this.engine.setLeverage(accountId, symbol, leverage);
  }
  async placeOrder(accountId: string, order: VenueOrderRequest) {
    return this.engine.placeOrder(accountId, order);
  }
  async cancelOrder(accountId: string, clientOrderId: string) {
    return this.engine.cancelOrder(accountId, clientOrderId);
  }
  async account(accountId: string) {
    return this.engine.account(accountId);
  }
}
