export { createTelegramEmulator } from './server.js';
export type * from './types.js';
export type * from './bot-api-types.js';
export { BotApiError, EmulatorError, type EmulatorErrorCode } from './errors.js';
export { DEFAULT_LIMITS, DEFAULT_RATE_LIMITS } from './limits.js';
export { SUPPORTED_METHODS } from './methods.js';
