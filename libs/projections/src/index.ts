export * from './views';
export * from './screen';
export * from './folds';
export * from './position-risk';
export * from './account-projection';
export * from './read-models';
export * from './audit';
export * from './margin';
