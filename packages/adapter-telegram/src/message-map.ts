import type { Storage } from '@ca-chat/core';

export const MSGMAP_NAMESPACE = 'tg.msgmap';
/** chatId → the msgmap keys recorded for it; `*` → the chats that have entries, oldest first. */
const INDEX_NAMESPACE = 'tg.msgmap.index';
const CHATS_KEY = '*';
/** Messages remembered per chat; the oldest are forgotten first. */
const MAX_PER_CHAT = 500;
/**
 * Chats remembered. Entries outlive the chat on purpose: a CA replying to a message of a
 * chat that has ended must be told so, not have the text routed to another client.
 */
const MAX_CHATS = 200;

/**
 * Which ca-chat chat a Telegram message belongs to (`tgChatId:messageId` → chatId), so a CA
 * with several chats can answer one by replying to its message.
 */
export interface MessageMap {
  record(tgChatId: number | string, messageIds: number[], chatId: string): Promise<void>;
  lookup(tgChatId: number | string, messageId: number): Promise<string | null>;
}

export function createMessageMap(storage: () => Storage): MessageMap {
  /** One writer at a time, so an index never loses an entry to a race. */
  let chain: Promise<void> = Promise.resolve();
  const serial = (fn: () => Promise<void>): Promise<void> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };
  const keyOf = (tgChatId: number | string, messageId: number): string =>
    `${tgChatId}:${messageId}`;

  const forgetChat = async (kv: Storage, chatId: string): Promise<void> => {
    for (const key of (await kv.kvGet<string[]>(INDEX_NAMESPACE, chatId)) ?? [])
      await kv.kvDelete(MSGMAP_NAMESPACE, key);
    await kv.kvDelete(INDEX_NAMESPACE, chatId);
  };

  return {
    record(tgChatId, messageIds, chatId) {
      return serial(async () => {
        const kv = storage();
        const index = await kv.kvGet<string[]>(INDEX_NAMESPACE, chatId);
        if (index === null) {
          const chats = ((await kv.kvGet<string[]>(INDEX_NAMESPACE, CHATS_KEY)) ?? []).filter(
            (c) => c !== chatId,
          );
          chats.push(chatId);
          for (const old of chats.splice(0, Math.max(0, chats.length - MAX_CHATS)))
            await forgetChat(kv, old);
          await kv.kvSet(INDEX_NAMESPACE, CHATS_KEY, chats);
        }
        const known = index ?? [];
        const fresh = [...new Set(messageIds.map((id) => keyOf(tgChatId, id)))].filter(
          (k) => !known.includes(k),
        );
        if (fresh.length === 0) return;
        for (const key of fresh) await kv.kvSet(MSGMAP_NAMESPACE, key, chatId);
        const all = [...known, ...fresh];
        for (const key of all.splice(0, Math.max(0, all.length - MAX_PER_CHAT)))
          await kv.kvDelete(MSGMAP_NAMESPACE, key);
        await kv.kvSet(INDEX_NAMESPACE, chatId, all);
      });
    },

    async lookup(tgChatId, messageId) {
      const chatId = await storage().kvGet<string>(MSGMAP_NAMESPACE, keyOf(tgChatId, messageId));
      return typeof chatId === 'string' ? chatId : null;
    },
  };
}
