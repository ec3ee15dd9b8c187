export * from './errors.js';
export type * from './domain.js';
export type * from './storage.js';
export type * from './blob-store.js';
export type * from './client-transport.js';
export type * from './ca-channel.js';
export type * from './relay-api.js';
export type * from './relay-options.js';
export type * from './relay/routing.js';
export type { Clock, TimerHandle } from './clock.js';
export { systemClock } from './clock.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export { createMemoryStorage } from './memory-storage.js';
export { createFsBlobStore, type FsBlobStoreOptions } from './fs-blob-store.js';
// relay: export { createRelay, ... } from './relay/index.js';  (added with the relay)
