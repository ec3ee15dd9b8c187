import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CaChatError } from '../errors.js';
import type { Storage } from '../storage.js';
import { chatCases } from './storage-conformance/chat-cases.js';
import { type ConformanceContext, makeMessage } from './storage-conformance/fixtures.js';
import { isolationCases } from './storage-conformance/isolation-cases.js';
import { messageCases } from './storage-conformance/message-cases.js';
import { peopleCases } from './storage-conformance/people-cases.js';
import { recordCases } from './storage-conformance/record-cases.js';

export interface StorageConformanceOptions {
  /** Shown in the test names: `Storage conformance: <name>`. */
  name: string;
  /** A fresh, empty storage for one test. The suite calls `init()` on it. */
  create: () => Promise<Storage>;
  /** Cleans up after a test (temp folders…). Gets the storage in use, possibly already closed. Default: `close()`. */
  destroy?: (storage: Storage) => Promise<void>;
  /**
   * For durable storages: closes `storage` and opens the same data again. The suite calls
   * `init()` on the result and checks that everything written before is still there.
   * Without it the durability cases are skipped.
   */
  reopen?: (storage: Storage) => Promise<Storage>;
}

/**
 * The shared Storage test suite (in the spirit of Auth.js's `runBasicTests`): every Storage
 * runs it with one call from a vitest test file. It reads back what was stored rather than
 * trusting return values, and races the conditional operations (`claimChat`,
 * `appendMessage`, `useInvite`, `kvSetIfAbsent`, `endChat`) against themselves.
 *
 * ```ts
 * runStorageConformance({ name: 'memory', create: async () => createMemoryStorage() });
 * ```
 */
export function runStorageConformance(options: StorageConformanceOptions): void {
  const { create, reopen } = options;
  const destroy = options.destroy ?? ((storage: Storage) => storage.close());
  const ctx: ConformanceContext = {
    storage: undefined as unknown as Storage,
    reopen:
      reopen === undefined
        ? undefined
        : async () => {
            const next = await reopen(ctx.storage);
            ctx.storage = next;
            await next.init();
          },
  };

  describe(`Storage conformance: ${options.name}`, () => {
    beforeEach(async () => {
      ctx.storage = await create();
      await ctx.storage.init();
    });

    afterEach(async () => {
      await destroy(ctx.storage);
    });

    peopleCases(ctx);
    chatCases(ctx);
    messageCases(ctx);
    recordCases(ctx);
    isolationCases(ctx);
  });

  // A store with `immediate` message calls: the message cases again, through them.
  describe(`Storage conformance: ${options.name}, message calls through \`immediate\``, () => {
    let hasImmediate = false;
    beforeAll(async () => {
      const probe = await create();
      await probe.init();
      hasImmediate = probe.immediate !== undefined;
      await destroy(probe);
    });

    beforeEach(async (test) => {
      if (!hasImmediate) return test.skip('the store has no immediate calls');
      ctx.storage = await create();
      await ctx.storage.init();
      ctx.storage = throughImmediate(ctx.storage);
    });

    afterEach(async () => {
      if (hasImmediate) await destroy(ctx.storage);
    });

    messageCases(ctx);

    it('immediate calls throw CaChatErrors synchronously: an unknown message, a closed store', async () => {
      const immediate = ctx.storage.immediate!;
      const outcome = (call: () => unknown): string => {
        try {
          return `answered ${String(call())}`;
        } catch (error) {
          return error instanceof CaChatError ? error.code : `threw ${String(error)}`;
        }
      };
      const delivery = makeMessage('x').delivery;
      expect(outcome(() => immediate.updateDelivery('no-such-chat', 1, delivery))).toBe(
        'not_found',
      );
      await ctx.storage.close();
      expect(outcome(() => immediate.appendMessage(makeMessage('chat-1')))).toBe('storage_error');
      expect(outcome(() => immediate.updateDelivery('chat-1', 1, delivery))).toBe('storage_error');
    });
  });
}

/** What an `immediate` call answered, which must not be a promise. */
function atOnce<T>(value: T): T {
  if (typeof (value as { then?: unknown } | null)?.then === 'function')
    throw new Error('Storage.immediate answered with a promise: it must answer at once');
  return value;
}

/**
 * `storage` with `appendMessage` and `updateDelivery` answered by its `immediate` forms (a
 * synchronous throw becomes a rejection, as the relay sees it; a promise fails the case).
 */
function throughImmediate(storage: Storage): Storage {
  const immediate = storage.immediate!;
  return new Proxy(storage, {
    get(target, key) {
      if (key === 'appendMessage')
        return async (...args: Parameters<Storage['appendMessage']>) =>
          atOnce(immediate.appendMessage(...args));
      if (key === 'updateDelivery')
        return async (...args: Parameters<Storage['updateDelivery']>) =>
          atOnce(immediate.updateDelivery(...args));
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
