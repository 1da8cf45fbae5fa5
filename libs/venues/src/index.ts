export * from './port';
export * from './paper';
