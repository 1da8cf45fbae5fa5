#!/usr/bin/env node
// The local Binance USDⓈ-M venue through ccxt: path steps per second driven by the replay
// clock's `advance` (signed POST /bulwark/v1/step + the step's order updates from the user-data
// websocket), idle and with a position and two resting algo orders, and the round trip of a
// market order (POST /fapi/v1/order through ccxt, filled on the next step, fill read from the
// websocket), and GET /fapi/v1/fundingRate?limit=1000 over the recorded settlements since 2020
// (a live market stream asks it at every settlement it sees pass). Real candles of 2025-11-21.
// Usage: node bench/local-venue.bench.js   (after `npm run setup`)
const os = require('node:os');
const { startBinanceLocal, localVenueInputs } = require('../libs/binance-local/dist/index.js');
const { LocalBinanceVenue } = require('../libs/venues/dist/index.js');
const { readCandles, resolveDataDir } = require('../libs/market-data/dist/index.js');
const { dec, pathSteps } = require('../libs/domain/dist/index.js');

const ACC = 'bench';
const KEY = 'bench-key-0123456789abcdef0123456789';
const SECRET = 'bench-secret-0123456789abcdef01234567';
const FROM = Date.parse('2025-11-21T00:00:00Z');

async function steps(n) {
  const inputs = localVenueInputs(resolveDataDir(), 'BTCUSDT');
  const out = [];
  let prev = null;
  for await (const c of readCandles(inputs.candlesFile)) {
    if (c.openTime < FROM) continue;
    out.push(...pathSteps(c, prev));
    prev = c.close;
    if (out.length >= n) break;
  }
  return out.slice(0, n);
}

(async () => {
  console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
  const inputs = localVenueInputs(resolveDataDir(), 'BTCUSDT');
  const local = await startBinanceLocal({ ...inputs, accounts: [{ accountId: ACC, apiKey: KEY, apiSecret: SECRET, balance: '0' }] });
  const v = new LocalBinanceVenue({ accountId: ACC, apiKey: KEY, apiSecret: SECRET, restBase: local.url, wsBase: local.wsUrl });
  try {
    const path = await steps(6000);
    await v.deposit(ACC, dec('100000'));
    await v.setOneWayMode(ACC);
    await v.setIsolatedMargin(ACC, 'BTCUSDT');
    await v.setLeverage(ACC, 'BTCUSDT', 5);
    let i = 0;
    const run = async (label, n) => {
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < n; k++, i++) await v.advance('BTCUSDT', path[i], null);
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(`${label}: ${Math.round(n / s)} steps/s (${n} steps, ${(s * 1000 / n).toFixed(2)} ms/step)`);
    };
    await run('advance, idle', 2000);
    const q = dec('0.010');
    const t0 = process.hrtime.bigint();
    const orders = 50;
    for (let k = 0; k < orders; k++, i++) {
      await v.placeOrder(ACC, { clientOrderId: `bench-${k}`, symbol: 'BTCUSDT', side: k % 2 === 0 ? 'BUY' : 'SELL', type: 'MARKET', quantity: q, price: null, reduceOnly: k % 2 === 1, purpose: k % 2 === 0 ? 'ENTRY' : 'CLOSE', triggerPrice: null });
      const ev = await v.advance('BTCUSDT', path[i], null);
      if (!ev.some((e) => e.kind === 'fill')) throw new Error(`order ${k} did not fill`);
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`market order round trip (place through ccxt, fill on the next step from the websocket): ${(s * 1000 / orders).toFixed(1)} ms/order (${orders} orders)`);
    await v.placeOrder(ACC, { clientOrderId: 'bench-open', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: q, price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null });
    await v.advance('BTCUSDT', path[i++], null);
    const mark = dec(path[i - 1].to);
    await v.placeProtectiveOrder(ACC, { clientAlgoId: 'bench-sl', symbol: 'BTCUSDT', side: 'SELL', kind: 'STOP_LOSS', triggerPrice: mark.mul('0.5').toDecimalPlaces(1), quantity: q });
    await v.placeProtectiveOrder(ACC, { clientAlgoId: 'bench-tp', symbol: 'BTCUSDT', side: 'SELL', kind: 'TAKE_PROFIT', triggerPrice: mark.mul('2').toDecimalPlaces(1), quantity: q });
    await run('advance, one position and two resting algo orders', 2000);
    const calls = 20;
    const f0 = process.hrtime.bigint();
    for (let k = 0; k < calls; k++) {
      const res = await fetch(`${local.url}/fapi/v1/fundingRate?symbol=BTCUSDT&limit=1000`);
      if ((await res.json()).length !== 1000) throw new Error('fundingRate did not answer 1,000 rows');
    }
    console.log(`GET /fapi/v1/fundingRate limit=1000: ${(Number(process.hrtime.bigint() - f0) / 1e6 / calls).toFixed(1)} ms/call (${calls} calls)`);
  } finally {
    await v.close();
    await local.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
