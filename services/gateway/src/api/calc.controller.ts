import { existsSync } from 'node:fs';
import { ACCOUNT_DEFAULTS, calcLiquidation, calcSize, dec, RulesParseError, rulesFromContract, type Rules, str } from '@bulwark/domain';
import { instrumentFiles, loadRulesFromFiles, resolveDataDir } from '@bulwark/market-data';
import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import { Roles } from '../auth/roles';
import { HttpRefusal } from '../security/http-errors';
import { API_OPTIONS, type ApiOptions } from './api-options';
import { LiquidationBody, SizeBody } from './schemas';
import { ZodBody } from './zod-body';

/**
 * The CLI's calculators over HTTP (role viewer): the domain's `calcLiquidation` / `calcSize` on
 * the instrument's recorded rules (the data directory's exchange-info.json and
 * leverage-brackets.json, as `bulwark calc` uses by default); the answer is `bulwark calc … --json`
 * without the file paths.
 */
@ApiTags('calculators')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Roles('viewer')
@Controller('api/calc')
export class CalcController {
  private readonly rules = new Map<string, Rules>();

  constructor(@Inject(API_OPTIONS) private readonly opts: ApiOptions) {}

  /** The instrument's rules (cached per symbol and taker fee). @throws HttpRefusal 404 UNKNOWN_SYMBOL when the data directory has no rules for it */
  private rulesOf(symbol: string, takerFee?: string): Rules {
    const id = `${symbol}|${takerFee ?? ''}`;
    const cached = this.rules.get(id);
    if (cached) return cached;
    const files = instrumentFiles(this.opts.dataDir ?? resolveDataDir(), 'binance-usdm', symbol);
    if (!existsSync(files.exchangeInfo) || !existsSync(files.leverageBrackets)) throw new HttpRefusal(404, 'UNKNOWN_SYMBOL', `no recorded rules for ${symbol}`, 'symbol', 'no recorded instrument rules');
    try {
      const rules = rulesFromContract(loadRulesFromFiles({ venue: 'binance-usdm', exchangeInfoFile: files.exchangeInfo, leverageBracketsFile: files.leverageBrackets, takerFeeRate: takerFee }));
      this.rules.set(id, rules);
      return rules;
    } catch (e) {
      if (e instanceof RulesParseError) throw new HttpRefusal(502, 'INTERNAL', `the recorded rules of ${symbol} cannot be read`);
      throw e;
    }
  }

  @Post('liquidation')
  @HttpCode(200)
  @ApiOperation({ summary: 'Binance USDⓈ-M isolated liquidation price (`bulwark calc liquidation --json`)' })
  @ApiBody({ description: '{ symbol?, side: long | short, entry, qty, leverage, walletBalance? } (decimals as strings or numbers)' })
  @ApiOkResponse({ description: 'LiquidationCalcResult' })
  liquidation(@Body(new ZodBody(LiquidationBody)) b: z.infer<typeof LiquidationBody>) {
    return calcLiquidation(this.rulesOf(b.symbol), { side: b.side, entry: b.entry, qty: b.qty, leverage: b.leverage, ...(b.walletBalance === undefined ? {} : { walletBalance: b.walletBalance }) });
  }

  @Post('size')
  @HttpCode(200)
  @ApiOperation({ summary: 'Position size for a stop with the risk engine\'s sizeEntry (`bulwark calc size --json`)' })
  @ApiBody({ description: '{ symbol?, side, entry, stop, takeProfit?, equity, riskPct?, leverage, leverageCap?, availableMargin?, takerFee?, maxMarginPct?, liquidationBufferPct?, maxFeeRiskPct? }' })
  @ApiOkResponse({ description: 'SizeCalcResult: decision APPROVED | DENIED with the assessment' })
  size(@Body(new ZodBody(SizeBody)) b: z.infer<typeof SizeBody>) {
    const pct = (fraction: string) => str(dec(fraction).mul(100));
    const feeGuard = b.maxFeeRiskPct ?? (ACCOUNT_DEFAULTS.maxFeeRiskFraction === null ? 'off' : pct(ACCOUNT_DEFAULTS.maxFeeRiskFraction));
    return calcSize(this.rulesOf(b.symbol, b.takerFee), {
      side: b.side,
      entry: b.entry,
      stop: b.stop,
      ...(b.takeProfit === undefined ? {} : { takeProfit: b.takeProfit }),
      equity: b.equity,
      riskPct: b.riskPct ?? pct(ACCOUNT_DEFAULTS.riskFraction),
      leverage: b.leverage,
      leverageCap: b.leverageCap ?? ACCOUNT_DEFAULTS.leverageCap,
      ...(b.availableMargin === undefined ? {} : { availableMargin: b.availableMargin }),
      maxMarginPct: b.maxMarginPct ?? pct(ACCOUNT_DEFAULTS.maxMarginFraction),
      liquidationBufferPct: b.liquidationBufferPct ?? pct(ACCOUNT_DEFAULTS.liquidationBufferFraction),
      maxFeeRiskFraction: feeGuard === 'off' ? null : str(dec(feeGuard).div(100)),
    });
  }
}
