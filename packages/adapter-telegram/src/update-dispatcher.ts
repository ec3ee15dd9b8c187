import type { Logger } from '@ca-chat/core';
import type { Update } from 'telegraf/types';
import type { UpdateDedup } from './update-dedup.js';
import type { UpdateRouter } from './update-router.js';

/**
 * Takes updates from polling or the webhook: skips ones already processed, and runs one
 * user's updates strictly in order (their texts must reach the client in the order they were
 * typed) while different users proceed in parallel.
 */
export interface UpdateDispatcher {
  dispatch(update: Update): Promise<void>;
  /** Resolves when every dispatched update has been handled. */
  idle(): Promise<void>;
}

function userOf(update: Update): number | null {
  if ('message' in update) return update.message.from?.id ?? update.message.chat.id;
  if ('edited_message' in update)
    return update.edited_message.from?.id ?? update.edited_message.chat.id;
  if ('callback_query' in update) return update.callback_query.from.id;
  return null;
}

export function createUpdateDispatcher(options: {
  dedup: UpdateDedup;
  router: UpdateRouter;
  logger: Logger;
}): UpdateDispatcher {
  const { dedup, router, logger } = options;
  const chains = new Map<string, Promise<void>>();
  const running = new Set<Promise<void>>();

  const handle = async (update: Update): Promise<void> => {
    let fresh: boolean;
    try {
      fresh = await dedup.claim(update.update_id);
    } catch (error) {
      logger.error(
        { err: error, updateId: update.update_id },
        'could not record a Telegram update; skipping it',
      );
      return;
    }
    if (!fresh) {
      logger.debug({ updateId: update.update_id }, 'skipping an update seen before');
      return;
    }
    await router.route(update);
  };

  return {
    dispatch(update) {
      const user = userOf(update);
      const key = user === null ? `update:${update.update_id}` : String(user);
      const previous = chains.get(key) ?? Promise.resolve();
      const next = previous.then(() => handle(update));
      chains.set(key, next);
      running.add(next);
      void next.finally(() => {
        running.delete(next);
        if (chains.get(key) === next) chains.delete(key);
      });
      return next;
    },
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
