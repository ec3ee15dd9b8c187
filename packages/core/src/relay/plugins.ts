import type { BlobStore } from '../blob-store.js';
import type { CAChannel } from '../ca-channel.js';
import type { ClientEvent, ClientTransport } from '../client-transport.js';
import type { CA } from '../domain.js';
import { CaChatError, type CaChatErrorCode } from '../errors.js';
import type { CreateRelayOptions } from '../relay-options.js';
import type { Storage } from '../storage.js';
import { PLUGIN_CALL_TIMEOUT_MS } from './config.js';
import type { RelayContext } from './context.js';

const STORAGE_METHODS = [
  'init',
  'close',
  'createCA',
  'getCA',
  'getCAByExternalId',
  'updateCA',
  'listCAs',
  'createInvite',
  'useInvite',
  'createClient',
  'getClient',
  'updateClient',
  'createChat',
  'getChat',
  'listChats',
  'countChats',
  'claimChat',
  'endChat',
  'deleteChat',
  'appendMessage',
  'getMessage',
  'listMessages',
  'lastSeq',
  'updateDelivery',
  'listPendingDeliveries',
  'putOffer',
  'getOffer',
  'listOffers',
  'createFile',
  'getFile',
  'kvGet',
  'kvSet',
  'kvSetIfAbsent',
  'kvDelete',
] as const satisfies readonly (keyof Storage)[];
const BLOB_METHODS = [
  'put',
  'get',
  'stat',
  'delete',
] as const satisfies readonly (keyof BlobStore)[];
const CHANNEL_METHODS = [
  'start',
  'stop',
  'sendOffer',
  'closeOffer',
  'chatMatched',
  'deliverMessage',
  'chatEnded',
  'notify',
] as const satisfies readonly (keyof CAChannel)[];
const TRANSPORT_METHODS = [
  'start',
  'stop',
  'deliver',
] as const satisfies readonly (keyof ClientTransport)[];

/** Fails with `config_invalid` when a plug-in lacks a method the relay calls. */
export function checkPlugins(options: CreateRelayOptions): void {
  if (typeof options !== 'object' || options === null)
    invalid('createRelay needs an options object');
  requireMethods('storage', options.storage, STORAGE_METHODS);
  requireMethods('blobs', options.blobs, BLOB_METHODS);
  const names = new Set<string>();
  for (const [i, channel] of (options.channels ?? []).entries()) {
    requireMethods(`channels[${i}]`, channel, CHANNEL_METHODS);
    if (typeof channel.name !== 'string' || channel.name === '')
      invalid(`channels[${i}] has no name`);
    if (names.has(channel.name)) invalid(`two channels are named ${channel.name}`);
    names.add(channel.name);
  }
  for (const [i, transport] of (options.transports ?? []).entries()) {
    requireMethods(`transports[${i}]`, transport, TRANSPORT_METHODS);
  }
}

function requireMethods(what: string, value: unknown, methods: readonly string[]): void {
  if (typeof value !== 'object' || value === null) invalid(`${what} is missing`);
  const missing = methods.filter(
    (m) => typeof (value as Record<string, unknown>)[m] !== 'function',
  );
  if (missing.length > 0) invalid(`${what} lacks ${missing.join(', ')}`);
}

function invalid(message: string): never {
  throw new CaChatError('config_invalid', message);
}

/** Storage whose every failure is a CaChatError with the original as `cause`. */
export function guardStorage(storage: Storage): Storage {
  return guardMethods(storage, STORAGE_METHODS, 'storage_error', 'storage') as Storage;
}

export function guardBlobs(blobs: BlobStore): BlobStore {
  return guardMethods(blobs, BLOB_METHODS, 'storage_error', 'blob store') as BlobStore;
}

function guardMethods(
  target: object,
  methods: readonly string[],
  code: CaChatErrorCode,
  what: string,
): object {
  const guarded: Record<string, unknown> = {};
  for (const method of methods) {
    const label = `${what}.${method} failed`;
    const fail = (error: unknown): never => {
      throw CaChatError.wrap(error, code, label);
    };
    // Not an async function: on the hot path every storage call goes through here, and one
    // `.then` costs fewer microtask turns than an async wrapper awaiting the inner promise.
    guarded[method] = (...args: unknown[]): Promise<unknown> => {
      let result: unknown;
      try {
        // Looked up per call, so a store that swaps its methods (spies, proxies) is honoured.
        result = (target as Record<string, (...a: unknown[]) => unknown>)[method]!.apply(
          target,
          args,
        );
      } catch (error) {
        return Promise.reject(CaChatError.wrap(error, code, label));
      }
      return Promise.resolve(result).then(undefined, fail);
    };
  }
  return guarded;
}

/**
 * Calls a channel or transport: bounded by a timeout, failures become CaChatErrors
 * (`channel_error`/`transport_error`, keeping `retryable` when the plug-in set it).
 */
export function callPlugin<T>(
  ctx: RelayContext,
  code: 'channel_error' | 'transport_error',
  label: string,
  fn: () => Promise<T>,
  timeoutMs: number = PLUGIN_CALL_TIMEOUT_MS,
): Promise<T> {
  // One promise settled by whichever comes first, rather than a race against a second
  // promise: this runs twice per relayed message.
  return new Promise<T>((resolve, reject) => {
    const { clock } = ctx;
    const timer = clock.setTimeout(
      () =>
        reject(
          new CaChatError('timeout', `${label} took longer than ${timeoutMs} ms`, {
            retryable: true,
          }),
        ),
      timeoutMs,
    );
    const onError = (error: unknown): void => {
      clock.clearTimeout(timer);
      reject(CaChatError.wrap(error, code, `${label} failed`));
    };
    let result: Promise<T>;
    try {
      result = fn();
    } catch (error) {
      onError(error);
      return;
    }
    Promise.resolve(result).then((value) => {
      clock.clearTimeout(timer);
      resolve(value);
    }, onError);
  });
}

export function channelOf(ctx: RelayContext, ca: CA): CAChannel | null {
  return ctx.channels.get(ca.channel) ?? null;
}

/** Calls the channel that serves `ca`; `channel_error` when none does. */
export async function callChannel<T>(
  ctx: RelayContext,
  ca: CA,
  method: string,
  fn: (channel: CAChannel) => Promise<T>,
  timeoutMs?: number,
): Promise<T> {
  const channel = channelOf(ctx, ca);
  if (!channel)
    throw new CaChatError('channel_error', `no channel named ${ca.channel} for CA ${ca.id}`);
  return callPlugin(
    ctx,
    'channel_error',
    `channel ${channel.name}.${method}`,
    () => fn(channel),
    timeoutMs,
  );
}

/** Best-effort channel call: failures are reported, never thrown. */
export async function tellCA(
  ctx: RelayContext,
  ca: CA,
  method: string,
  fn: (channel: CAChannel) => Promise<unknown>,
): Promise<void> {
  try {
    await callChannel(ctx, ca, method, fn);
  } catch (error) {
    ctx.reportError(error, { op: method, caId: ca.id });
  }
}

/**
 * Hands an event to every transport. True when any took it; false when the client is
 * offline everywhere. Throws (retryable) only when every transport failed.
 */
export async function deliverToClient(
  ctx: RelayContext,
  clientId: string,
  event: ClientEvent,
): Promise<boolean> {
  if (ctx.transports.length === 0) return false;
  if (ctx.transports.length === 1) {
    // The usual deployment, on the hot path: the same outcome without `allSettled`.
    const t = ctx.transports[0]!;
    try {
      return (
        (await callPlugin(ctx, 'transport_error', `transport ${t.name}.deliver`, () =>
          t.deliver(clientId, event),
        )) === true
      );
    } catch (error) {
      const first = error as CaChatError;
      throw new CaChatError('transport_error', first.message, { cause: first, retryable: true });
    }
  }
  const results = await Promise.allSettled(
    ctx.transports.map((t) =>
      callPlugin(ctx, 'transport_error', `transport ${t.name}.deliver`, () =>
        t.deliver(clientId, event),
      ),
    ),
  );
  if (results.some((r) => r.status === 'fulfilled' && r.value === true)) return true;
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length === results.length) {
    const first = failures[0]!.reason as CaChatError;
    throw new CaChatError('transport_error', first.message, { cause: first, retryable: true });
  }
  return false;
}

/** Best-effort client notification (status, queue position, ended…): failures are reported. */
export async function tellClient(
  ctx: RelayContext,
  clientId: string,
  event: ClientEvent,
): Promise<void> {
  try {
    await deliverToClient(ctx, clientId, event);
  } catch (error) {
    ctx.reportError(error, { op: `client ${event.type}`, clientId });
  }
}
