export * from './port';
export * from './paper';
export * from './binance';
export * from './binance-margin';
export * from './bitget';
export * from './multi-account';
