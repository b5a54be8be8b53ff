export * from './schema.js';
export * from './registry.js';
export * from './table.js';
export * from './bulk.js';
export * from './lifecycle.js';
