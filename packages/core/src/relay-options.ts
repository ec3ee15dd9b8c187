import type { BlobStore } from './blob-store.js';
import type { CAChannel } from './ca-channel.js';
import type { ClientTransport } from './client-transport.js';
import type { Clock } from './clock.js';
import type { LanguageTag, RegistrationMode } from './domain.js';
import type { Logger } from './logger.js';
import type { RelayApi } from './relay-api.js';
import type { RoutingStrategy } from './relay/routing.js';
import type { Storage } from './storage.js';

export interface CreateRelayOptions {
  storage: Storage;
  blobs: BlobStore;
  transports?: ClientTransport[];
  channels?: CAChannel[];
  options?: RelayOptions;
}

export interface RelayOptions {
  /** How CAs get approved. Default `approval`. */
  registrationMode?: RegistrationMode;
  /** Languages offered (BCP-47 primary tags). Empty/absent = any well-formed tag. */
  languages?: LanguageTag[];
  /** Topics offered; absent = any. */
  topics?: string[];
  /** `broadcast` (default), `round-robin`, or your own strategy. */
  routing?: 'broadcast' | 'round-robin' | RoutingStrategy;
  /** Round-robin: how long one CA has to accept before the next is offered. Default 60 s. */
  offerTimeoutMs?: number;
  /** A waiting chat ends with `no_ca_available` after this. Default 5 min. */
  matchTimeoutMs?: number;
  /** A client with no connection gets this long to come back. Default 2 min. */
  clientGraceMs?: number;
  /**
   * An active chat in which nobody wrote for this long ends with `timeout`, freeing the CA's
   * slot (a chat both sides forgot). 0, the default, never ends a chat for being quiet.
   */
  idleChatTimeoutMs?: number;
  /** Ended chats are deleted after this many days; 0 keeps them forever. Default 0. */
  retentionDays?: number;
  /** How often the retention sweep runs. Default 1 h. */
  retentionSweepIntervalMs?: number;
  /** Longest text message, in characters. Default 8000. */
  maxTextLength?: number;
  /** Largest file, in bytes. Default 50 MB (Telegram's upload limit). */
  maxFileBytes?: number;
  /** Open (waiting or active) chats one client may have at once. Default 3. */
  maxOpenChatsPerClient?: number;
  /** Default `maxChats` of a newly registered CA. Default 1. */
  defaultMaxChats?: number;
  /** Outbox retry backoff: first delay, cap, and attempts before a delivery fails. */
  deliveryRetry?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  clock?: Clock;
  logger?: Logger;
}

/** The relay returned by `createRelay`. */
export interface Relay extends RelayApi {
  /** Initialises storage, starts transports and channels, resumes timers and the outbox. */
  start(): Promise<void>;
  /** Stops timers, drains in-flight deliveries (bounded), stops channels and transports, closes storage. */
  stop(options?: { drainTimeoutMs?: number }): Promise<void>;
  /** Runs the outbox now; resolves when every due delivery was attempted once. */
  flushOutbox(): Promise<void>;
  /** Deletes ended chats past retention now; resolves with how many chats were deleted. */
  sweepRetention(): Promise<number>;
}
