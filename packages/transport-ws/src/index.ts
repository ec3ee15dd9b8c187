export { createWsTransport, type WsTransport } from './ws-transport.js';
export type {
  WsTransportOptions,
  ExternalIdentity,
  IpLimits,
  WsTransportMetrics,
} from './options.js';
export type { RateLimit } from './token-bucket.js';
export { SUBPROTOCOL } from './protocol.js';
export type * from './protocol.js';
export { CloseCode } from './ws/connection.js';
export { sanitizeFilename, contentDisposition } from './http/filename.js';
