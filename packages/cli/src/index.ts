export { buildProgram, loadConfig, type CliIo } from './cli.js';
export { startServer, type RunningServer } from './serve.js';
export { resolveConfig, OPTION_SPECS, LANGUAGE_NAMES, type ServeConfig } from './options.js';
export { createLogger } from './logger.js';
export { createMetrics } from './metrics.js';
export type { AdminBackend } from './admin-backend.js';
