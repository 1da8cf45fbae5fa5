/**
 * @bulwark/binance-local — a local Binance USDⓈ-M compatible venue (HTTP + WebSocket) on the
 * paper venue's engine, so ccxt itself (`binanceusdm`, urls pointed at it) trades against
 * recorded market data in tests and demos. See server.ts for the endpoints.
 */
export * from './server';
export * from './auth';
export * from './errors';
export * from './faults';
export * from './limits';
export * from './market';
export * from './format';
export * from './ws-hub';
export * from './ccxt-urls';
export * from './admin';
export * from './data';

export * from './http-core';
export * from './margin-server';

// The local Bitget USDT-M futures venue (Bitget's rules, Binance's recorded prices).
export * from './bitget-server';
export * from './bitget-auth';
export * from './bitget-errors';
export * from './bitget-format';
export * from './bitget-limits';
export * from './bitget-ws';
export * from './bitget-ccxt-urls';
export * from './bitget-admin';
