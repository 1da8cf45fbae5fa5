export * from './donchian-atr';
