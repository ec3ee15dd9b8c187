import type { RelayContext } from './context.js';

export interface Retention {
  /** Deletes ended chats past `retentionDays` with their messages, offers and blobs. */
  sweep(): Promise<number>;
  /** Starts the periodic sweep (when retention is on). */
  start(): void;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Chats deleted per storage round trip. */
const BATCH = 200;

export function createRetention(ctx: RelayContext): Retention {
  let sweeping: Promise<number> | null = null;

  const sweepOnce = async (): Promise<number> => {
    if (ctx.config.retentionDays <= 0) return 0;
    const cutoff = ctx.clock.now() - ctx.config.retentionDays * DAY_MS;
    let deleted = 0;
    for (;;) {
      const chats = await ctx.storage.listChats({
        state: 'ended',
        endedBefore: cutoff,
        limit: BATCH,
      });
      if (chats.length === 0) break;
      for (const chat of chats) {
        // deleteChat returns exactly this chat's files: blobs are per upload, never shared.
        const files = await ctx.storage.deleteChat(chat.id);
        ctx.modules.outbox.touched();
        for (const file of files) {
          await ctx.blobs
            .delete(file.id)
            .catch((error) =>
              ctx.reportError(error, { op: 'retention blob delete', fileId: file.id }),
            );
        }
        deleted++;
      }
      if (chats.length < BATCH) break;
    }
    if (deleted > 0)
      ctx.logger.info(
        { deleted, retentionDays: ctx.config.retentionDays },
        'retention sweep deleted ended chats',
      );
    return deleted;
  };

  const sweep = (): Promise<number> => {
    // One sweep at a time; a second caller shares the running one.
    sweeping ??= sweepOnce().finally(() => (sweeping = null));
    return sweeping;
  };

  const schedule = (): void => {
    ctx.timers.set('retention', ctx.config.retentionSweepIntervalMs, async () => {
      try {
        await sweep();
      } finally {
        schedule();
      }
    });
  };

  return {
    sweep,
    start() {
      if (ctx.config.retentionDays <= 0) return;
      ctx.tasks.run('retention sweep', sweep);
      schedule();
    },
  };
}
