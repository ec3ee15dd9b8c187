import type { Chat, LanguageTag } from '../domain.js';
import type { RelayContext } from './context.js';
import { tellClient } from './plugins.js';

/** The waiting line: FIFO per language, positions told to clients when they change. */
export interface Queue {
  /** 1 = next in line. */
  positionOf(chat: Chat): Promise<number>;
  /** True when no approved CA speaks the language at all. */
  noCaForLanguage(language: LanguageTag): Promise<boolean>;
  /** Tells a newly queued chat's client its position. */
  announce(chat: Chat, position: number, noCaForLanguage: boolean): Promise<void>;
  /** Re-sends `chat.queued` to every waiting client of the language whose position changed. */
  refresh(language: LanguageTag): Promise<void>;
  forget(chatId: string): void;
  /** Waiting chats of these languages, oldest first (bounded). */
  waitingChats(languages: readonly LanguageTag[], limit: number): Promise<Chat[]>;
}

/** Don't walk more of a language's queue than this at once. */
const MAX_QUEUE_SCAN = 1000;

export function createQueue(ctx: RelayContext): Queue {
  /** The position each waiting client was last told. */
  const told = new Map<string, number>();

  const waitingOf = (language: LanguageTag, limit = MAX_QUEUE_SCAN): Promise<Chat[]> =>
    ctx.storage.listChats({ state: 'waiting', language, limit });

  return {
    async positionOf(chat) {
      const waiting = await waitingOf(chat.language);
      const index = waiting.findIndex((c) => c.id === chat.id);
      if (index >= 0) return index + 1;
      // Beyond the scan window: everyone before it is waiting too.
      return ctx.storage.countChats({ state: 'waiting', language: chat.language });
    },

    async noCaForLanguage(language) {
      return (await ctx.storage.listCAs({ approval: 'approved', language })).length === 0;
    },

    async announce(chat, position, noCaForLanguage) {
      told.set(chat.id, position);
      ctx.emit('chat.queued', chat, position);
      await tellClient(ctx, chat.clientId, {
        type: 'chat.queued',
        chatId: chat.id,
        position,
        ...(noCaForLanguage ? { noCaForLanguage: true } : {}),
      });
    },

    async refresh(language) {
      const waiting = await waitingOf(language);
      const changed: [Chat, number][] = [];
      waiting.forEach((chat, i) => {
        if (told.get(chat.id) !== i + 1) changed.push([chat, i + 1]);
      });
      for (const [chat, position] of changed) {
        told.set(chat.id, position);
        ctx.emit('chat.queued', chat, position);
      }
      await Promise.all(
        changed.map(([chat, position]) =>
          tellClient(ctx, chat.clientId, { type: 'chat.queued', chatId: chat.id, position }),
        ),
      );
    },

    forget(chatId) {
      told.delete(chatId);
    },

    async waitingChats(languages, limit) {
      const lists = await Promise.all(languages.map((l) => waitingOf(l, limit)));
      return lists
        .flat()
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, limit);
    },
  };
}
