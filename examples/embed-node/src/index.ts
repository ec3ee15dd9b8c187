export { createApp, type EmbedApp, type EmbedAppOptions } from './app.js';
export { createSessions, type Sessions } from './session.js';
