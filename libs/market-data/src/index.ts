export * from './data-dir';
export * from './csv';
export * from './rules-file';
export * from './file-check';
export * from './margin-rules-file';
export * from './bitget-rules-file';
export * from './recorded-rules';
