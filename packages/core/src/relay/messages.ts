import type { Chat } from '../domain.js';
import type { ClientChatSummary } from '../client-transport.js';
import { CaChatError } from '../errors.js';
import type { RelayApi } from '../relay-api.js';
import {
  checkClientChat,
  clientChat,
  requireCA,
  storeMessage,
  writableCAChat,
  writableClientChat,
} from './access.js';
import type { RelayContext } from './context.js';
import { callChannel } from './plugins.js';
import { optionalKey, validateText } from './validation.js';

export type Messages = Pick<
  RelayApi,
  | 'sendClientMessage'
  | 'sendCAMessage'
  | 'getClientMessages'
  | 'listClientChats'
  | 'clientTyping'
  | 'listCAChats'
>;

const DEFAULT_PAGE = 500;
const MAX_PAGE = 1000;
/** Ended chats listed for a client, newest last. */
const MAX_ENDED_LISTED = 50;

/** Text messages both ways, and what a client may read back. */
export function createMessages(ctx: RelayContext): Messages {
  const { storage } = ctx;

  return {
    // Not async: this runs for every client message, and the relay's operation wrapper
    // already turns a synchronous throw into a rejection.
    sendClientMessage(clientId, input) {
      if (typeof input !== 'object' || input === null)
        throw new CaChatError('invalid_input', 'expected a message');
      const text = validateText(input.text, ctx.config.maxTextLength);
      const key = optionalKey(input.clientMsgId, 'clientMsgId');
      if (typeof input.chatId !== 'string') throw new CaChatError('unknown_chat', 'no such chat');
      // The chat is read once, under its lock: ownership is checked there (the same codes
      // as `writableClientChat`; `chat_ended` is storeMessage's own check).
      return storeMessage(ctx, {
        chatId: input.chatId,
        from: 'client',
        text,
        file: null,
        idempotencyKey: key,
        allowWaiting: true,
        check: (chat) => checkClientChat(chat, clientId),
      });
    },

    async sendCAMessage(caId, input) {
      if (typeof input !== 'object' || input === null)
        throw new CaChatError('invalid_input', 'expected a message');
      const text = validateText(input.text, ctx.config.maxTextLength);
      const key = optionalKey(input.idempotencyKey, 'idempotencyKey');
      await writableCAChat(ctx, caId, input.chatId);
      const { message, duplicate } = await storeMessage(ctx, {
        chatId: input.chatId,
        from: 'ca',
        text,
        file: null,
        idempotencyKey: key,
        allowWaiting: false,
      });
      return { message, duplicate };
    },

    async getClientMessages(clientId, chatId, options = {}) {
      await clientChat(ctx, clientId, chatId);
      const afterSeq = options.afterSeq ?? 0;
      const limit = options.limit ?? DEFAULT_PAGE;
      if (!Number.isInteger(afterSeq) || afterSeq < 0)
        throw new CaChatError('invalid_input', 'afterSeq must be a whole number >= 0');
      if (!Number.isInteger(limit) || limit < 1)
        throw new CaChatError('invalid_input', 'limit must be a whole number >= 1');
      return storage.listMessages(chatId, { afterSeq, limit: Math.min(limit, MAX_PAGE) });
    },

    async listClientChats(clientId, options = {}) {
      const open = await storage.listChats({ clientId, state: ['waiting', 'active'] });
      const ended = options.includeEnded
        ? (await storage.listChats({ clientId, state: 'ended' })).slice(-MAX_ENDED_LISTED)
        : [];
      const chats = [...open, ...ended].sort((a, b) => a.createdAt - b.createdAt);
      return Promise.all(chats.map((chat) => summarise(chat)));
    },

    async clientTyping(clientId, chatId) {
      const chat = await writableClientChat(ctx, clientId, chatId);
      if (chat.state !== 'active' || chat.caId === null) return;
      const ca = await storage.getCA(chat.caId);
      if (!ca) return;
      try {
        await callChannel(ctx, ca, 'clientTyping', async (channel) =>
          channel.clientTyping?.(ca, chat),
        );
      } catch (error) {
        // Typing is a nicety: its failures are not worth an `error` event.
        ctx.logger.debug({ err: error, chatId }, 'clientTyping failed');
      }
    },

    async listCAChats(caId) {
      await requireCA(ctx, caId);
      return storage.listChats({ caId, state: 'active' });
    },
  };

  async function summarise(chat: Chat): Promise<ClientChatSummary> {
    const [ca, lastSeq, position] = await Promise.all([
      chat.caId ? storage.getCA(chat.caId) : null,
      storage.lastSeq(chat.id),
      chat.state === 'waiting' ? ctx.modules.queue.positionOf(chat) : null,
    ]);
    return {
      chatId: chat.id,
      state: chat.state,
      language: chat.language,
      topic: chat.topic,
      ca: ca ? { name: ca.name, languages: [...ca.languages] } : null,
      lastSeq,
      position,
    };
  }
}
