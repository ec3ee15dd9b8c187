export { CaChatClient, createCaChatClient, httpUrlOf } from './ca-chat-client.js';
export type {
  CaChatClientEvents,
  CaChatClientOptions,
  ConnectionState,
  WebSocketConstructor,
  WebSocketLike,
  WelcomeInfo,
} from './ca-chat-client.js';
export { CaChatClientError } from './client-error.js';
export { localStorageTokenStore, memoryTokenStore, type TokenStore } from './token-store.js';
export { reconnectDelayMs, type ReconnectOptions } from './backoff.js';
export type { FileInput, UploadProgress } from './upload.js';
export { SUBPROTOCOL } from '../protocol.js';
export type {
  ServerFrame,
  ClientFrame,
  WireMessage,
  WireFile,
  WireChatSummary,
  StoredMessageBody,
  HttpErrorBody,
} from '../protocol.js';
