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

/**
 * Storage whose every failure is a CaChatError with the original as `cause`. A store that
 * declares `typedErrors` is used as it is (with its `immediate` methods, if any); any other
 * is wrapped, and the wrapper has no `immediate`.
 */
export function guardStorage(storage: Storage): Storage {
  if (storage.typedErrors === true) return storage;
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

type PluginCode = 'channel_error' | 'transport_error';

/**
 * What a plug-in call is called in its errors: `name` itself without a method, else e.g.
 * `channel bench.deliverMessage`. Built only when an error needs it.
 */
const labelOf = (code: PluginCode, name: string, method: string | null): string =>
  method === null
    ? name
    : `${code === 'channel_error' ? 'channel' : 'transport'} ${name}.${method}`;

/**
 * Calls a channel or transport: bounded by a timeout, failures become CaChatErrors
 * (`channel_error`/`transport_error`, keeping `retryable` when the plug-in set it).
 */
export function callPlugin<T>(
  ctx: RelayContext,
  code: PluginCode,
  label: string,
  fn: () => Promise<T>,
  timeoutMs: number = PLUGIN_CALL_TIMEOUT_MS,
): Promise<T> {
  let answer: Promise<T>;
  try {
    answer = fn();
  } catch (error) {
    return Promise.reject(CaChatError.wrap(error, code, `${label} failed`));
  }
  return bounded(ctx, code, label, null, answer, timeoutMs);
}

/**
 * A plug-in's pending answer, bounded by a timeout, failures typed as in `callPlugin`; the
 * call is named as by `labelOf`.
 */
function bounded<T>(
  ctx: RelayContext,
  code: PluginCode,
  name: string,
  method: string | null,
  answer: Promise<T>,
  timeoutMs: number,
): Promise<T> {
  // One promise settled by whichever comes first, rather than a race against a second
  // promise: this runs for every relayed message.
  return new Promise<T>((resolve, reject) => {
    const { clock } = ctx;
    const timer = clock.setTimeout(
      () => reject(timedOut(code, name, method, timeoutMs)),
      timeoutMs,
    );
    Promise.resolve(answer).then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(pluginFailed(code, name, method, error));
      },
    );
  });
}

/** The error of a plug-in call that took longer than `timeoutMs` (retryable). */
export function timedOut(
  code: PluginCode,
  name: string,
  method: string | null,
  timeoutMs: number,
): CaChatError {
  return new CaChatError(
    'timeout',
    `${labelOf(code, name, method)} took longer than ${timeoutMs} ms`,
    { retryable: true },
  );
}

/** A plug-in call's failure as a CaChatError (`retryable` kept when the plug-in set it). */
export function pluginFailed(
  code: PluginCode,
  name: string,
  method: string | null,
  error: unknown,
): CaChatError {
  return CaChatError.wrap(error, code, `${labelOf(code, name, method)} failed`);
}

export function channelOf(ctx: RelayContext, ca: CA): CAChannel | null {
  return ctx.channels.get(ca.channel) ?? null;
}

/** The error of a call to the channel of a CA that no channel here serves. */
export const noChannelFor = (ca: CA): CaChatError =>
  new CaChatError('channel_error', `no channel named ${ca.channel} for CA ${ca.id}`);

/** Calls the channel that serves `ca`; `channel_error` when none does. */
export function callChannel<T>(
  ctx: RelayContext,
  ca: CA,
  method: string,
  fn: (channel: CAChannel) => Promise<T>,
  timeoutMs: number = PLUGIN_CALL_TIMEOUT_MS,
): Promise<T> {
  const channel = channelOf(ctx, ca);
  if (!channel) return Promise.reject(noChannelFor(ca));
  let answer: Promise<T>;
  try {
    answer = fn(channel);
  } catch (error) {
    return Promise.reject(pluginFailed('channel_error', channel.name, method, error));
  }
  return bounded(ctx, 'channel_error', channel.name, method, answer, timeoutMs);
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
 * offline everywhere. Fails (retryable) only when every transport failed. Answers at once,
 * without a promise, when the transport did (the usual case, on every message's path).
 */
export function deliverToClient(
  ctx: RelayContext,
  clientId: string,
  event: ClientEvent,
): boolean | Promise<boolean> {
  if (ctx.transports.length === 0) return false;
  if (ctx.transports.length === 1) {
    const t = ctx.transports[0]!;
    let answer: boolean | Promise<boolean>;
    try {
      answer = t.deliver(clientId, event);
    } catch (error) {
      return Promise.reject(
        transportFailed(
          CaChatError.wrap(error, 'transport_error', labelOf('transport_error', t.name, 'deliver')),
        ),
      );
    }
    if (!isThenable(answer)) return answer === true;
    return bounded(ctx, 'transport_error', t.name, 'deliver', answer, PLUGIN_CALL_TIMEOUT_MS).then(
      (took) => took === true,
      (error: unknown) => {
        throw transportFailed(error as CaChatError);
      },
    );
  }
  return deliverToAll(ctx, clientId, event);
}

async function deliverToAll(
  ctx: RelayContext,
  clientId: string,
  event: ClientEvent,
): Promise<boolean> {
  const results = await Promise.allSettled(
    ctx.transports.map((t) =>
      callPlugin(ctx, 'transport_error', `transport ${t.name}.deliver`, async () =>
        t.deliver(clientId, event),
      ),
    ),
  );
  if (results.some((r) => r.status === 'fulfilled' && r.value === true)) return true;
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length === results.length) throw transportFailed(failures[0]!.reason as CaChatError);
  return false;
}

const transportFailed = (first: CaChatError): CaChatError =>
  new CaChatError('transport_error', first.message, { cause: first, retryable: true });

const isThenable = (value: unknown): value is Promise<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

/**
 * Best-effort client notification (status, queue position, ended…): failures are reported.
 * Returns a promise only when the transport answered with one.
 */
export function tellClient(
  ctx: RelayContext,
  clientId: string,
  event: ClientEvent,
): Promise<void> | undefined {
  let told: boolean | Promise<boolean>;
  try {
    told = deliverToClient(ctx, clientId, event);
  } catch (error) {
    reportTold(ctx, clientId, event, error);
    return undefined;
  }
  return typeof told === 'boolean'
    ? undefined
    : told.then(
        () => undefined,
        (error: unknown) => reportTold(ctx, clientId, event, error),
      );
}

function reportTold(ctx: RelayContext, clientId: string, event: ClientEvent, error: unknown): void {
  ctx.reportError(error, { op: `client ${event.type}`, clientId });
}
