import { systemClock, type Clock } from '../clock.js';
import type { LanguageTag, RegistrationMode } from '../domain.js';
import { CaChatError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { RelayOptions } from '../relay-options.js';
import type { RelaySettings } from '../relay-api.js';
import { broadcastStrategy, roundRobinStrategy, type RoutingStrategy } from './routing.js';
import { LANGUAGE_TAG, TOPIC } from './validation.js';

/** `RelayOptions` with every default filled in. */
export interface RelayConfig {
  registrationMode: RegistrationMode;
  languages: LanguageTag[];
  /** null = any well-formed topic. */
  topics: string[] | null;
  routing: RoutingStrategy;
  matchTimeoutMs: number;
  clientGraceMs: number;
  /** 0 = off. */
  idleChatTimeoutMs: number;
  retentionDays: number;
  retentionSweepIntervalMs: number;
  maxTextLength: number;
  maxFileBytes: number;
  maxOpenChatsPerClient: number;
  defaultMaxChats: number;
  deliveryRetry: { initialDelayMs: number; maxDelayMs: number; maxAttempts: number };
  clock: Clock;
  logger: Logger;
}

export const RELAY_DEFAULTS = {
  registrationMode: 'approval',
  offerTimeoutMs: 60_000,
  matchTimeoutMs: 5 * 60_000,
  clientGraceMs: 2 * 60_000,
  idleChatTimeoutMs: 0,
  retentionDays: 0,
  retentionSweepIntervalMs: 60 * 60_000,
  maxTextLength: 8000,
  maxFileBytes: 50 * 1024 * 1024,
  maxOpenChatsPerClient: 3,
  defaultMaxChats: 1,
  deliveryRetry: { initialDelayMs: 500, maxDelayMs: 60_000, maxAttempts: 20 },
  drainTimeoutMs: 5000,
} as const;

/** A CA may hold at most this many chats at once, whatever they ask for. */
export const MAX_CHATS_PER_CA = 50;

/** How long one channel or transport call may take before the relay gives up on it. */
export const PLUGIN_CALL_TIMEOUT_MS = 30_000;
/**
 * Channel calls that carry a file (a 50 MB upload on a slow link) get longer: timing out
 * while the upload still completes would make the outbox send the file twice.
 */
export const FILE_CALL_TIMEOUT_MS = 15 * 60_000;

export function resolveConfig(options: RelayOptions = {}): RelayConfig {
  const mode = options.registrationMode ?? RELAY_DEFAULTS.registrationMode;
  if (!['approval', 'invite', 'open'].includes(mode))
    invalid(`registrationMode must be approval, invite or open`);
  const languages = [...new Set((options.languages ?? []).map((l) => String(l).toLowerCase()))];
  for (const l of languages)
    if (!LANGUAGE_TAG.test(l))
      invalid(`languages: ${JSON.stringify(l)} is not a BCP-47 primary tag`);
  let topics: string[] | null = null;
  if (options.topics !== undefined) {
    topics = [...new Set(options.topics.map((t) => String(t).toLowerCase()))];
    for (const t of topics)
      if (!TOPIC.test(t)) invalid(`topics: ${JSON.stringify(t)} is not a valid topic`);
  }
  const offerTimeoutMs = duration(
    'offerTimeoutMs',
    options.offerTimeoutMs,
    RELAY_DEFAULTS.offerTimeoutMs,
    1,
  );
  const retry = options.deliveryRetry ?? {};
  const deliveryRetry = {
    initialDelayMs: duration(
      'deliveryRetry.initialDelayMs',
      retry.initialDelayMs,
      RELAY_DEFAULTS.deliveryRetry.initialDelayMs,
      1,
    ),
    maxDelayMs: duration(
      'deliveryRetry.maxDelayMs',
      retry.maxDelayMs,
      RELAY_DEFAULTS.deliveryRetry.maxDelayMs,
      1,
    ),
    maxAttempts: duration(
      'deliveryRetry.maxAttempts',
      retry.maxAttempts,
      RELAY_DEFAULTS.deliveryRetry.maxAttempts,
      1,
    ),
  };
  if (deliveryRetry.maxDelayMs < deliveryRetry.initialDelayMs)
    invalid('deliveryRetry.maxDelayMs is below initialDelayMs');
  return {
    registrationMode: mode,
    languages,
    topics,
    routing: resolveRouting(options.routing, offerTimeoutMs),
    matchTimeoutMs: duration(
      'matchTimeoutMs',
      options.matchTimeoutMs,
      RELAY_DEFAULTS.matchTimeoutMs,
      1,
    ),
    clientGraceMs: duration(
      'clientGraceMs',
      options.clientGraceMs,
      RELAY_DEFAULTS.clientGraceMs,
      0,
    ),
    idleChatTimeoutMs: duration(
      'idleChatTimeoutMs',
      options.idleChatTimeoutMs,
      RELAY_DEFAULTS.idleChatTimeoutMs,
      0,
    ),
    retentionDays: duration(
      'retentionDays',
      options.retentionDays,
      RELAY_DEFAULTS.retentionDays,
      0,
    ),
    retentionSweepIntervalMs: duration(
      'retentionSweepIntervalMs',
      options.retentionSweepIntervalMs,
      RELAY_DEFAULTS.retentionSweepIntervalMs,
      1000,
    ),
    maxTextLength: duration(
      'maxTextLength',
      options.maxTextLength,
      RELAY_DEFAULTS.maxTextLength,
      1,
    ),
    maxFileBytes: duration('maxFileBytes', options.maxFileBytes, RELAY_DEFAULTS.maxFileBytes, 1),
    maxOpenChatsPerClient: duration(
      'maxOpenChatsPerClient',
      options.maxOpenChatsPerClient,
      RELAY_DEFAULTS.maxOpenChatsPerClient,
      1,
    ),
    defaultMaxChats: Math.min(
      MAX_CHATS_PER_CA,
      duration('defaultMaxChats', options.defaultMaxChats, RELAY_DEFAULTS.defaultMaxChats, 1),
    ),
    deliveryRetry,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
  };
}

export function settingsOf(config: RelayConfig): RelaySettings {
  return Object.freeze({
    registrationMode: config.registrationMode,
    languages: Object.freeze([...config.languages]) as LanguageTag[],
    topics: Object.freeze([...(config.topics ?? [])]) as string[],
    maxTextLength: config.maxTextLength,
    maxFileBytes: config.maxFileBytes,
  });
}

function resolveRouting(routing: RelayOptions['routing'], offerTimeoutMs: number): RoutingStrategy {
  if (routing === undefined || routing === 'broadcast') return broadcastStrategy;
  if (routing === 'round-robin') return roundRobinStrategy(offerTimeoutMs);
  if (typeof routing === 'object' && routing !== null && typeof routing.select === 'function') {
    const timeout = routing.offerTimeoutMs;
    if (timeout !== null && !(Number.isFinite(timeout) && timeout > 0))
      invalid('routing.offerTimeoutMs must be null or positive');
    return routing;
  }
  return invalid(`routing must be broadcast, round-robin or a RoutingStrategy`);
}

function duration(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    invalid(`${name} must be a number >= ${min} (got ${String(value)})`);
  }
  return value;
}

function invalid(message: string): never {
  throw new CaChatError('config_invalid', message);
}
