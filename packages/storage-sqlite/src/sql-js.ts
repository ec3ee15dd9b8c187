import { createRequire } from 'node:module';
import initSqlJs, { type SqlJsStatic } from 'sql.js';

const require = createRequire(import.meta.url);

/** The sql.js WebAssembly binary, found through the package itself so bundlers and hoisting don't matter. */
export const SQL_WASM_PATH: string = require.resolve('sql.js/dist/sql-wasm.wasm');

let loading: Promise<SqlJsStatic> | undefined;

/**
 * Loads sql.js once per process. Every database of the process then lives in one WASM
 * instance (sql.js caches its module), so `maxDatabaseBytes` is per storage but the heap
 * is shared.
 */
export function loadSqlJs(): Promise<SqlJsStatic> {
  loading ??= initSqlJs({ locateFile: () => SQL_WASM_PATH });
  return loading;
}
