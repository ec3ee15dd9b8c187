import type { EventEmitter } from 'eventemitter3';
import type { CAChannel } from '../ca-channel.js';
import { CaChatError } from '../errors.js';
import type { RelayApi, RelayEvents } from '../relay-api.js';
import type { CreateRelayOptions, Relay } from '../relay-options.js';
import { createAdmin } from './admin.js';
import { createChatLifecycle } from './chat-lifecycle.js';
import { RELAY_DEFAULTS, resolveConfig, settingsOf } from './config.js';
import {
  createKeyedLock,
  createTasks,
  createTimers,
  type RelayContext,
  type RelayModules,
} from './context.js';
import { createFiles } from './files.js';
import { createIdentities } from './identities.js';
import { createMatching } from './matching.js';
import { createMessages } from './messages.js';
import { createOffers } from './offers.js';
import { createOutbox } from './outbox.js';
import { callPlugin, checkPlugins, guardBlobs, guardStorage } from './plugins.js';
import { createQueue } from './queue.js';
import { createRegistration } from './registration.js';
import { createRetention } from './retention.js';
import { createSafeEmitter } from './safe-emitter.js';

type RelayOps = Omit<RelayApi, keyof EventEmitter<RelayEvents> | 'settings' | 'storage'>;
type LifecycleState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * Creates the relay: matching, the chat state machine and delivery, wired to a Storage, a
 * BlobStore, client transports and CA channels. Plug-ins are checked now (`config_invalid`);
 * nothing runs until `start()`.
 */
export function createRelay(input: CreateRelayOptions): Relay {
  checkPlugins(input);
  const config = resolveConfig(input.options);
  const { clock, logger } = config;
  const channels = new Map<string, CAChannel>((input.channels ?? []).map((c) => [c.name, c]));
  const transports = [...(input.transports ?? [])];

  const emitter = createSafeEmitter<RelayEvents>((event, error) =>
    logger.error({ err: error, event: String(event) }, 'a relay event listener threw'),
  );
  const emit: RelayContext['emit'] = (event, ...args) => {
    (emitter.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
  };
  const listens: RelayContext['listens'] = (event) => emitter.listenerCount(event) > 0;
  const reportError: RelayContext['reportError'] = (error, context) => {
    const err = CaChatError.wrap(error, 'internal', 'unexpected failure');
    logger.error({ ...context, code: err.code, err }, err.message);
    emit('error', err);
    return err;
  };
  const tasks = createTasks((label, error) => reportError(error, { op: label }));
  const ctx: RelayContext = {
    config,
    clock,
    logger,
    storage: guardStorage(input.storage),
    blobs: guardBlobs(input.blobs),
    transports,
    channels,
    emit,
    listens,
    timers: createTimers(clock, tasks),
    locks: createKeyedLock(),
    chatLocks: createKeyedLock(),
    tasks,
    reportError,
    modules: undefined as unknown as RelayModules,
  };

  const identities = createIdentities(ctx);
  const modules: RelayModules = {
    queue: createQueue(ctx),
    offers: createOffers(ctx),
    matching: createMatching(ctx, identities),
    lifecycle: createChatLifecycle(ctx),
    outbox: createOutbox(ctx),
  };
  ctx.modules = modules;
  const registration = createRegistration(ctx);
  const messages = createMessages(ctx);
  const files = createFiles(ctx);
  const admin = createAdmin(ctx);
  const retention = createRetention(ctx);
  const { matching, lifecycle } = modules;

  const ops: RelayOps = {
    createClient: identities.createClient,
    authenticateClient: identities.authenticateClient,
    ensureClient: identities.ensureClient,
    clientConnected: lifecycle.clientConnected,
    clientDisconnected: lifecycle.clientDisconnected,
    listClientChats: messages.listClientChats,
    requestChat: matching.requestChat,
    sendClientMessage: messages.sendClientMessage,
    sendClientFile: files.sendClientFile,
    clientTyping: messages.clientTyping,
    endChatByClient: lifecycle.endByClient,
    getClientMessages: messages.getClientMessages,
    getClientFile: files.getClientFile,
    registerCA: registration.registerCA,
    updateCAProfile: registration.updateCAProfile,
    getCAByExternalId: registration.getCAByExternalId,
    setCAStatus: registration.setCAStatus,
    acceptOffer: matching.acceptOffer,
    declineOffer: matching.declineOffer,
    sendCAMessage: messages.sendCAMessage,
    sendCAFile: files.sendCAFile,
    endChatByCA: lifecycle.endByCA,
    listCAChats: messages.listCAChats,
    openFile: files.openFile,
    ...admin,
  };

  let state: LifecycleState = 'idle';
  let stopping: Promise<void> | null = null;
  const accepting = (): boolean => state === 'starting' || state === 'running';
  const refuse = (): CaChatError =>
    state === 'idle'
      ? new CaChatError('not_started', 'the relay is not started')
      : new CaChatError('shutting_down', 'the relay is shutting down');

  // Every operation refuses to run unless the relay is up; connection signals are dropped.
  const guarded: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(ops) as [string, (...args: unknown[]) => unknown][]) {
    guarded[name] =
      name === 'clientConnected' || name === 'clientDisconnected'
        ? (...args: unknown[]) => {
            if (accepting()) fn(...args);
          }
        : // Not async: returning the operation's own promise saves microtask turns per call.
          (...args: unknown[]): Promise<unknown> => {
            if (!accepting()) return Promise.reject(refuse());
            try {
              return Promise.resolve(fn(...args));
            } catch (error) {
              return Promise.reject(error);
            }
          };
  }

  const relay = emitter as unknown as Relay;

  type Plugin = { name: string; stop(): Promise<void> };
  const isChannel = (p: Plugin): boolean => (channels as Map<string, Plugin>).get(p.name) === p;
  const stopPlugins = async (plugins: Plugin[]): Promise<void> => {
    await Promise.all(
      plugins.map((p) => {
        const kind = isChannel(p) ? 'channel' : 'transport';
        return callPlugin(ctx, `${kind}_error`, `${kind} ${p.name}.stop`, () => p.stop()).catch(
          (error) => reportError(error, { op: 'stop', plugin: p.name }),
        );
      }),
    );
  };

  const start = async (): Promise<void> => {
    if (state === 'running' || state === 'starting') return;
    if (state !== 'idle')
      throw new CaChatError(
        'shutting_down',
        'a stopped relay cannot be started again; create a new one',
      );
    state = 'starting';
    const started: Plugin[] = [];
    try {
      await ctx.storage.init();
      for (const transport of transports) {
        await callPlugin(ctx, 'transport_error', `transport ${transport.name}.start`, () =>
          transport.start(relay),
        );
        started.push(transport);
      }
      for (const channel of channels.values()) {
        await callPlugin(ctx, 'channel_error', `channel ${channel.name}.start`, () =>
          channel.start(relay),
        );
        started.push(channel);
      }
    } catch (error) {
      state = 'stopped';
      await stopPlugins(started);
      await ctx.storage.close().catch((e) => reportError(e, { op: 'storage.close' }));
      throw error;
    }
    modules.outbox.start();
    await matching.resume();
    await modules.lifecycle.resume();
    retention.start();
    state = 'running';
    logger.info(
      {
        channels: [...channels.keys()],
        transports: transports.map((t) => t.name),
        routing: config.routing.name,
      },
      'relay started',
    );
  };

  const stop = async (options: { drainTimeoutMs?: number } = {}): Promise<void> => {
    if (stopping) return stopping;
    if (state === 'idle') {
      state = 'stopped';
      return;
    }
    state = 'stopping';
    stopping = (async () => {
      ctx.timers.close();
      const drainTimeoutMs = options.drainTimeoutMs ?? RELAY_DEFAULTS.drainTimeoutMs;
      let timer: ReturnType<typeof clock.setTimeout> | undefined;
      const drained = await Promise.race([
        Promise.all([modules.outbox.stop(), tasks.idle()]).then(() => true),
        new Promise<boolean>(
          (resolve) => (timer = clock.setTimeout(() => resolve(false), drainTimeoutMs)),
        ),
      ]);
      if (timer !== undefined) clock.clearTimeout(timer);
      if (!drained)
        logger.warn(
          { drainTimeoutMs, inFlight: tasks.size },
          'relay stopped before in-flight work finished',
        );
      await stopPlugins([...channels.values(), ...transports]);
      await ctx.storage.close().catch((error) => reportError(error, { op: 'storage.close' }));
      state = 'stopped';
      logger.info({}, 'relay stopped');
    })();
    return stopping;
  };

  Object.assign(relay, guarded, {
    settings: settingsOf(config),
    storage: ctx.storage,
    start,
    stop,
    async flushOutbox() {
      if (!accepting()) throw refuse();
      await modules.outbox.flush();
    },
    async sweepRetention() {
      if (!accepting()) throw refuse();
      return retention.sweep();
    },
  });
  return relay;
}
