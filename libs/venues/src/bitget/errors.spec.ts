import { VenueErrors } from '@bulwark/domain';
import { classifyVenueError } from '../binance/errors';
import { BITGET_ERROR_TABLE, bitgetErrorEntry, bitgetRejection, classifyBitgetError, parseBitgetError } from './errors';

describe('classifyBitgetError (Bitget codes → the Binance adapter’s reasons)', () => {
  it.each([
    // insufficient balance / margin
    ['40762', 'INSUFFICIENT_MARGIN', false, false],
    ['43012', 'INSUFFICIENT_MARGIN', false, false],
    // size / price limits
    ['45110', 'MIN_NOTIONAL', false, false],
    ['45111', 'INVALID', false, false],
    ['45112', 'INVALID', false, false],
    ['40808', 'INVALID', false, false],
    // position TP/SL refusals (the codes the local venue answers)
    ['40917', 'INVALID', false, false],
    ['45122', 'INVALID', false, false],
    ['43023', 'REDUCE_ONLY_REJECTED', false, false],
    // order not found
    ['40109', 'UNKNOWN_ORDER', false, false],
    ['43001', 'UNKNOWN_ORDER', false, false],
    ['22001', 'UNKNOWN_ORDER', false, false],
    // rate limit, venue trouble
    ['429', 'RATE_LIMITED', true, false],
    ['40015', 'OUTCOME_UNKNOWN', true, true],
    ['40010', 'OUTCOME_UNKNOWN', true, true],
    ['40200', 'OTHER', true, false],
    // signature / timestamp / passphrase / apikey
    ['40006', 'AUTH', false, false],
    ['40009', 'AUTH', false, false],
    ['40012', 'AUTH', false, false],
    ['40037', 'AUTH', false, false],
    ['40008', 'TIMESTAMP', true, false],
    ['40005', 'TIMESTAMP', true, false],
    // leverage, reduce-only, position side, duplicates
    ['45045', 'INVALID', false, false],
    ['40893', 'INSUFFICIENT_MARGIN', false, false],
    ['40939', 'REDUCE_ONLY_REJECTED', false, false],
    ['22002', 'REDUCE_ONLY_REJECTED', false, false],
    ['40774', 'POSITION_SIDE', false, false],
    ['40763', 'MAX_POSITION_AT_LEVERAGE', false, false],
    ['45034', 'DUPLICATE_ORDER', false, false],
    // account mode
    ['40128', 'INVALID', false, false],
    ['25245', 'INVALID', false, false],
    // seed 002's "mix v1" codes: documented only as P2P codes, terminal
    ['60001', 'OTHER', false, false],
    ['60006', 'OTHER', false, false],
    // unmapped
    ['99999', 'OTHER', false, false],
  ])('%s → %s (retryable %s, outcome unknown %s)', (code, reason, retryable, outcomeUnknown) => {
    expect(classifyBitgetError(code)).toEqual({ reason, retryable, outcomeUnknown });
  });

  it('classifies transport codes exactly as the Binance adapter does', () => {
    for (const c of ['HTTP_503', 'HTTP_502', 'HTTP_504', 'HTTP_429', 'HTTP_418', 'TIMEOUT', 'NETWORK']) {
      expect(classifyBitgetError(c)).toEqual(classifyVenueError(c));
    }
  });

  it('has one row per code, a meaning and a source for each, and only existing domain rejections', () => {
    const codes = BITGET_ERROR_TABLE.map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const e of BITGET_ERROR_TABLE) {
      expect(e.code).toMatch(/^\d+$/);
      expect(e.meaning.length).toBeGreaterThan(0);
      expect(['T', 'W', 'C', 'T+C', 'O']).toContain(e.source);
      if (e.domain !== null) expect(VenueErrors[e.domain]).toBeDefined();
      // A write whose outcome is unknown must be retryable only after a check: never terminal-and-unknown.
      if (e.outcomeUnknown) expect(e.retryable).toBe(true);
    }
  });

  it('records 60001–60006 as P2P codes with no domain meaning', () => {
    for (const c of ['60001', '60002', '60003', '60004', '60005', '60006']) {
      expect(bitgetErrorEntry(c)).toMatchObject({ domain: null, reason: 'OTHER', source: 'T' });
      expect(bitgetErrorEntry(c)?.meaning).toMatch(/P2P/);
    }
  });
});

describe('bitgetRejection', () => {
  it('uses the domain code of the same idea, keeping Bitget’s code and text in the message', () => {
    expect(bitgetRejection('40762', 'The order amount exceeds the balance')).toEqual({
      code: VenueErrors.MARGIN_INSUFFICIENT.code,
      message: `${VenueErrors.MARGIN_INSUFFICIENT.message} (Bitget 40762: The order amount exceeds the balance)`,
    });
    expect(bitgetRejection('45110', 'less than the minimum amount 5 USDT').code).toBe(VenueErrors.MIN_NOTIONAL.code);
    expect(bitgetRejection('45111', 'less than the minimum order quantity').code).toBe(VenueErrors.QTY_TOO_SMALL.code);
    expect(bitgetRejection('43001', 'The order does not exist').code).toBe(VenueErrors.UNKNOWN_ORDER.code);
    expect(bitgetRejection('40774', 'x').code).toBe(VenueErrors.POSITION_SIDE_MISMATCH.code);
    expect(bitgetRejection('45034', 'clientOid duplicate').code).toBe(VenueErrors.DUPLICATE_ORDER.code);
  });

  it('falls back to BITGET_<code> when the domain has no such rejection', () => {
    expect(bitgetRejection('429', 'Too many requests')).toEqual({ code: 'BITGET_429', message: 'Bitget 429: Too many requests' });
    expect(bitgetRejection('12345', 'new')).toEqual({ code: 'BITGET_12345', message: 'Bitget 12345: new' });
  });
});

describe('parseBitgetError', () => {
  it('reads the code and message from a body or ccxt’s message', () => {
    expect(parseBitgetError('{"code":"40762","msg":"The order amount exceeds the balance","requestTime":1716572156622,"data":null}')).toEqual({
      code: '40762',
      msg: 'The order amount exceeds the balance',
    });
    expect(parseBitgetError('bitget {"code":"45110","msg":"less than the minimum amount 5 USDT","requestTime":1,"data":null}')).toEqual({
      code: '45110',
      msg: 'less than the minimum amount 5 USDT',
    });
    expect(parseBitgetError('{"code":"40808","msg":"a \\"quoted\\" value"}')).toEqual({ code: '40808', msg: 'a "quoted" value' });
  });

  it('ignores success and text without a Bitget error', () => {
    expect(parseBitgetError('{"code":"00000","msg":"success","data":[]}')).toBeNull();
    expect(parseBitgetError('socket hang up')).toBeNull();
    expect(parseBitgetError(undefined)).toBeNull();
  });
});

describe('position TP/SL refusals map to the domain codes of the Binance equivalents', () => {
  it('a trigger already reached at the mark is "would immediately trigger"; no position is a reduce-only refusal', () => {
    expect(bitgetRejection('40917', 'Stop price for long positions please < mark price 85000').code).toBe(VenueErrors.WOULD_IMMEDIATELY_TRIGGER.code);
    expect(bitgetRejection('45122', 'Short position stop loss price please > mark price 85000').code).toBe(VenueErrors.WOULD_IMMEDIATELY_TRIGGER.code);
    expect(bitgetRejection('43023', 'Insufficient position, can not set profit or stop loss').code).toBe(VenueErrors.REDUCE_ONLY_REJECTED.code);
  });
});
