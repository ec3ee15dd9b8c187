export { createManualClock, type ManualClock } from './manual-clock.js';
export * from './recording-doubles.js';
export { runStorageConformance, type StorageConformanceOptions } from './storage-conformance.js';
