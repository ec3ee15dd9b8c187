export {
  createSqliteStorage,
  type SqliteStorage,
  type SqliteStorageOptions,
  type SqliteStorageStats,
} from './sqlite-storage.js';
export { SCHEMA_VERSION } from './schema.js';
