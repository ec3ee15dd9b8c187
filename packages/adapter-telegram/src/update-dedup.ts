import type { Storage } from '@ca-chat/core';

export const UPDATE_NAMESPACE = 'tg.update';
const WATERMARK_KEY = 'lastUpdateId';
/** How many recent update ids are remembered; older ones are treated as already seen. */
const WINDOW = 10_000;
/** Deletions per advance of the watermark, so one big jump never stalls an update. */
const MAX_PRUNE = 1_000;

/**
 * Remembers which updates were processed (`kvSetIfAbsent` per `update_id`) so a redelivered
 * update changes nothing, even across restarts. Telegram's update ids increase, so the set is
 * bounded with a watermark: ids more than WINDOW below the highest one seen are pruned and
 * refused.
 */
export interface UpdateDedup {
  /** True when this update was not seen before (and is now marked seen). */
  claim(updateId: number): Promise<boolean>;
}

export function createUpdateDedup(storage: () => Storage): UpdateDedup {
  let watermark: number | null | undefined;
  let writes: Promise<void> = Promise.resolve();

  const load = async (): Promise<number | null> => {
    if (watermark === undefined) {
      const stored = await storage().kvGet<number>(UPDATE_NAMESPACE, WATERMARK_KEY);
      if (watermark === undefined) watermark = typeof stored === 'number' ? stored : null;
    }
    return watermark;
  };

  return {
    async claim(updateId) {
      const last = await load();
      if (last !== null && updateId <= last - WINDOW) return false;
      const kv = storage();
      if (!(await kv.kvSetIfAbsent(UPDATE_NAMESPACE, String(updateId), 1))) return false;
      if (watermark === null || watermark === undefined || updateId > watermark) {
        const previous = watermark ?? updateId;
        watermark = updateId;
        // Serialised so the stored watermark only moves forward.
        writes = writes
          .then(async () => {
            await kv.kvSet(UPDATE_NAMESPACE, WATERMARK_KEY, updateId);
            const from = Math.max(previous - WINDOW + 1, updateId - WINDOW - MAX_PRUNE + 1);
            for (let id = from; id <= updateId - WINDOW; id++)
              await kv.kvDelete(UPDATE_NAMESPACE, String(id));
          })
          .catch(() => undefined);
        await writes;
      }
      return true;
    },
  };
}
