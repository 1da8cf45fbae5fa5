export * from './port';
export * from './paper';
export * from './binance';
