import * as ccxt from 'ccxt';

import { classifyVenueError, parseBinanceError, redact, retryAfterMs, toVenueFailure } from './errors';

const KEY = 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A';
const SECRET = 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j';
const ex = new ccxt.binanceusdm({ apiKey: KEY, secret: SECRET });

/** What ccxt 4.5.84 itself throws for a Binance answer (its own handleErrors / status handling). */
function thrown(status: number, body: string, url = 'https://fapi.binance.com/fapi/v1/order'): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  try {
    const skip = ex.handleErrors(status, 'reason', url, 'POST', {}, body, parsed, {}, '');
    if (skip === undefined) ex.handleHttpStatusCode(status, status === 503 ? 'Service Unavailable' : 'reason', url, 'POST', body);
  } catch (e) {
    return e;
  }
  throw new Error('ccxt did not throw');
}

describe('classifyVenueError (Binance codes → domain reasons)', () => {
  it.each([
    ['-2019', 'INSUFFICIENT_MARGIN', false, false],
    ['-4164', 'MIN_NOTIONAL', false, false],
    ['-1021', 'TIMESTAMP', true, false],
    ['-2022', 'REDUCE_ONLY_REJECTED', false, false],
    ['-2027', 'MAX_POSITION_AT_LEVERAGE', false, false],
    ['-4061', 'POSITION_SIDE', false, false],
    ['HTTP_429', 'RATE_LIMITED', true, false],
    ['HTTP_418', 'IP_BANNED', false, false],
    ['HTTP_503', 'OUTCOME_UNKNOWN', true, true],
    ['TIMEOUT', 'OUTCOME_UNKNOWN', true, true],
    ['-1007', 'OUTCOME_UNKNOWN', true, true],
    ['-2013', 'UNKNOWN_ORDER', false, false],
    ['-2011', 'UNKNOWN_ORDER', false, false],
    ['-4116', 'DUPLICATE_ORDER', false, false],
    ['-1111', 'INVALID', false, false],
    ['-2015', 'AUTH', false, false],
    ['-9999', 'OTHER', false, false],
    // spot isolated margin
    ['-3006', 'BORROW_LIMIT', false, false],
    ['-11008', 'BORROW_LIMIT', false, false],
    ['-3045', 'BORROW_UNAVAILABLE', false, false],
    ['-3015', 'REPAY_OVER_LOAN', false, false],
    ['-3020', 'TRANSFER_OUT_LIMIT', false, false],
    ['-3041', 'INSUFFICIENT_BALANCE', false, false],
    ['-3003', 'NO_MARGIN_ACCOUNT', false, false],
    ['-3027', 'INVALID', false, false],
    ['-3044', 'OTHER', true, false],
    ['-2010', 'INVALID', false, false],
    ['-1013', 'INVALID', false, false],
  ])('%s → %s (retryable %s, outcome unknown %s)', (code, reason, retryable, outcomeUnknown) => {
    expect(classifyVenueError(code)).toEqual({ reason, retryable, outcomeUnknown });
  });
});

describe('toVenueFailure on what ccxt really throws', () => {
  it('reads the code from the JSON body ccxt embeds (-2019 → InsufficientFunds)', () => {
    const body = '{"code":-2019,"msg":"Margin is insufficient."}';
    const e = thrown(400, body);
    expect(e).toBeInstanceOf(ccxt.InsufficientFunds);
    const f = toVenueFailure(e, { status: 400, body }, [KEY, SECRET]);
    expect(f.rejection).toEqual({ code: '-2019', message: 'Margin is insufficient.' });
    expect(f.class.reason).toBe('INSUFFICIENT_MARGIN');
  });

  it('reads the code from the body when ccxt matched the message only (no JSON in its message)', () => {
    const body = '{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}';
    const e = thrown(400, body);
    const f = toVenueFailure(e, { status: 400, body }, [KEY, SECRET]);
    expect(f.rejection.code).toBe('-1021');
    expect(f.class.reason).toBe('TIMESTAMP');
  });

  it('maps 429 and 418 to transport codes with Retry-After in ms', () => {
    const body = '{"code":-1003,"msg":"Too many requests."}';
    const e429 = thrown(429, body);
    expect(e429).toBeInstanceOf(ccxt.DDoSProtection);
    const f = toVenueFailure(e429, { status: 429, body, headers: { 'Retry-After': '7' } }, []);
    expect(f.rejection.code).toBe('HTTP_429');
    expect(f.retryAfterMs).toBe(7000);
    const f418 = toVenueFailure(thrown(418, body), {}, []); // status read from ccxt's message when not captured
    expect(f418.rejection.code).toBe('HTTP_418');
    expect(f418.class.reason).toBe('IP_BANNED');
  });

  it('maps 503 to an unknown outcome whatever the body says', () => {
    const body = '{"code":-1007,"msg":"Timeout waiting for response from backend server. Send status unknown; execution status unknown."}';
    const f = toVenueFailure(thrown(503, body), { status: 503, body }, []);
    expect(f.rejection.code).toBe('HTTP_503');
    expect(f.class).toEqual({ reason: 'OUTCOME_UNKNOWN', retryable: true, outcomeUnknown: true });
  });

  it('maps ccxt RequestTimeout to TIMEOUT and other network errors to NETWORK', () => {
    const t = toVenueFailure(new ccxt.RequestTimeout('binanceusdm POST https://fapi.binance.com/fapi/v1/order request timed out (10000 ms)'), {}, []);
    expect(t.rejection.code).toBe('TIMEOUT');
    expect(t.class.outcomeUnknown).toBe(true);
    const n = toVenueFailure(new ccxt.NetworkError('binanceusdm GET https://x fetch failed: ECONNRESET'), {}, []);
    expect(n.rejection.code).toBe('NETWORK');
  });

  it('never lets the key, the secret or a signature into a message', () => {
    const url = `https://fapi.binance.com/fapi/v1/order?symbol=BTCUSDT&timestamp=1&signature=0f3a9c${'ab'.repeat(29)}`;
    const e = new ccxt.ExchangeError(`binanceusdm POST ${url} 400 Bad Request {"code":-1022,"msg":"Signature for this request is not valid."} X-MBX-APIKEY: ${KEY} secret=${SECRET}`);
    const f = toVenueFailure(e, {}, [KEY, SECRET]);
    expect(f.rejection.code).toBe('-1022');
    const g = toVenueFailure(new ccxt.NetworkError(`binanceusdm POST ${url} X-MBX-APIKEY: ${KEY} ${SECRET}`), {}, [KEY, SECRET]);
    for (const m of [f.rejection.message, g.rejection.message]) {
      expect(m).not.toContain(KEY);
      expect(m).not.toContain(SECRET);
      expect(m).not.toMatch(/signature=[0-9a-f]/);
    }
    expect(g.rejection.message).toContain('signature=<redacted>');
    expect(redact(`{"X-MBX-APIKEY":"${KEY.slice(0, 10)}"}`, [])).toBe('{"X-MBX-APIKEY":"<redacted>"}');
  });

  it('parses Binance error JSON and Retry-After', () => {
    expect(parseBinanceError('binanceusdm {"code":-4164,"msg":"Order\'s notional must be no smaller than 100 (unless you choose reduce only)."}')).toEqual({
      code: '-4164',
      msg: "Order's notional must be no smaller than 100 (unless you choose reduce only).",
    });
    expect(parseBinanceError('no json')).toBeNull();
    expect(retryAfterMs({ 'retry-after': '2' })).toBe(2000);
    expect(retryAfterMs({})).toBeNull();
  });
});

describe('spot isolated margin errors (ccxt binance, sapi)', () => {
  const spot = new ccxt.binance({ apiKey: KEY, secret: SECRET });
  /** What ccxt 4.5.84 `binance` throws for a /sapi answer from api.binance.com (its URL-specific "spot" table applies). */
  function thrownSpot(status: number, body: string, url = 'https://api.binance.com/sapi/v1/margin/order'): unknown {
    try {
      const skip = spot.handleErrors(status, 'Bad Request', url, 'POST', {}, body, JSON.parse(body), {}, '');
      if (skip === undefined) spot.handleHttpStatusCode(status, 'Bad Request', url, 'POST', body);
    } catch (e) {
      return e;
    }
    throw new Error('ccxt did not throw');
  }

  it.each([
    [-3006, 'Your borrow amount has exceed maximum borrow amount.', 'BORROW_LIMIT', ccxt.BadRequest],
    [-11008, "Exceeding the account's maximum borrowable limit.", 'BORROW_LIMIT', ccxt.OperationRejected],
    [-3045, "The system doesn't have enough asset now.", 'BORROW_UNAVAILABLE', ccxt.OperationRejected],
    [-3015, 'Repay amount exceeds borrow amount.', 'REPAY_OVER_LOAN', ccxt.BadRequest],
    [-3020, 'Transfer out amount exceeds max amount.', 'TRANSFER_OUT_LIMIT', ccxt.BadRequest],
    [-3041, 'Balance is not enough', 'INSUFFICIENT_BALANCE', ccxt.InsufficientFunds],
    [-3003, 'Margin account does not exist.', 'NO_MARGIN_ACCOUNT', ccxt.BadRequest],
    [-3027, 'Not a valid margin asset.', 'INVALID', ccxt.BadSymbol],
    [-3044, 'System busy.', 'OTHER', ccxt.OperationFailed],
    [-1013, 'Filter failure: LOT_SIZE', 'INVALID', ccxt.InvalidOrder],
    [-2011, 'Unknown order sent.', 'UNKNOWN_ORDER', ccxt.OrderNotFound],
    [-2013, 'Order does not exist.', 'UNKNOWN_ORDER', ccxt.OrderNotFound],
  ])('%s %s → %s', (code, msg, reason, cls) => {
    const body = JSON.stringify({ code, msg });
    const e = thrownSpot(400, body);
    expect(e).toBeInstanceOf(cls);
    const f = toVenueFailure(e, { status: 400, body }, [KEY, SECRET]);
    expect(f.rejection).toEqual({ code: String(code), message: msg });
    expect(f.class.reason).toBe(reason);
  });

  it('refines -2010 by its message: insufficient balance, duplicate order, anything else INVALID', () => {
    const cases: Array<[string, string]> = [
      ['Account has insufficient balance for requested action.', 'INSUFFICIENT_BALANCE'],
      ['Duplicate order sent.', 'DUPLICATE_ORDER'],
      ['Order would immediately match and take.', 'INVALID'],
    ];
    for (const [msg, reason] of cases) {
      const body = JSON.stringify({ code: -2010, msg });
      const f = toVenueFailure(thrownSpot(400, body), { status: 400, body }, []);
      expect(f.rejection).toEqual({ code: '-2010', message: msg });
      expect(f.class).toEqual({ reason, retryable: false, outcomeUnknown: false });
    }
    expect(classifyVenueError('-2010', 'Account has insufficient balance for requested action.').reason).toBe('INSUFFICIENT_BALANCE');
    expect(classifyVenueError('-2019', 'Account has insufficient balance for requested action.').reason).toBe('INSUFFICIENT_MARGIN');
  });

  it('reads the code the same way from a local URL, where ccxt throws a plain ExchangeError', () => {
    const body = '{"code":-3020,"msg":"Transfer out amount exceeds max amount."}';
    const e = thrownSpot(400, body, 'http://127.0.0.1:1/sapi/v1/asset/transfer');
    expect(e).toBeInstanceOf(ccxt.ExchangeError);
    const f = toVenueFailure(e, {}, []);
    expect(f.rejection).toEqual({ code: '-3020', message: 'Transfer out amount exceeds max amount.' });
    expect(f.class.reason).toBe('TRANSFER_OUT_LIMIT');
  });

  it('strips the "binance " prefix and keeps a 503 an unknown outcome', () => {
    const f = toVenueFailure(new ccxt.ExchangeNotAvailable('binance POST https://api.binance.com/sapi/v1/margin/order 503 Service Unavailable '), {}, []);
    expect(f.rejection.code).toBe('HTTP_503');
    expect(f.class.outcomeUnknown).toBe(true);
    const g = toVenueFailure(new ccxt.RequestTimeout('binance POST https://api.binance.com/sapi/v1/margin/order request timed out (10000 ms)'), {}, []);
    expect(g.rejection.message).toBe('request timed out: POST https://api.binance.com/sapi/v1/margin/order request timed out (10000 ms)');
  });
});
