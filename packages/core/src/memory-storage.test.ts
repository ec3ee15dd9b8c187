import { runStorageConformance } from './testing/storage-conformance.js';
import { createMemoryStorage } from './memory-storage.js';

runStorageConformance({ name: 'memory', create: async () => createMemoryStorage() });
