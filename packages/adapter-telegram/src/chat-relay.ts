import {
  CaChatError,
  type CA,
  type Chat,
  type DeliveryReceipt,
  type EndReason,
  type Message,
} from '@ca-chat/core';
import type { CallbackQuery, Message as TgMessage } from 'telegraf/types';
import { describeError, relayOf, storageOf, type ChannelContext } from './channel-context.js';
import { forwardCAFile, MAX_CAPTION_CHARS, sendFileToCA } from './file-transfer.js';
import { endChoiceKeyboard, NO_KEYBOARD } from './keyboards.js';
import { createMessageMap } from './message-map.js';
import { MAX_MESSAGE_CHARS, type TextExtension } from './outbox-queue.js';
import { splitText } from './split-text.js';
import { chat as texts, chatLabel, state } from './texts.js';

/** Texts of one chat merged ahead of the relay's own calls, awaiting them (bounded). */
const MAX_COVERED = 10_000;

/**
 * Messages both ways while a CA is in a chat: client → CA deliveries (with coalescing of
 * backed-up texts), CA → client texts and files, routing by reply when a CA has several
 * chats, and the chat's start and end notices.
 */
export interface ChatRelay {
  chatMatched(ca: CA, chat: Chat, history: Message[]): Promise<void>;
  deliverMessage(ca: CA, chat: Chat, message: Message): Promise<DeliveryReceipt>;
  chatEnded(ca: CA, chat: Chat, reason: EndReason): Promise<void>;
  clientTyping(ca: CA, chat: Chat): Promise<void>;
  /** Text, document or photo from an approved CA. */
  fromCA(
    ca: CA,
    message: TgMessage.TextMessage | TgMessage.DocumentMessage | TgMessage.PhotoMessage,
  ): Promise<void>;
  endCommand(ca: CA, tgChatId: number): Promise<void>;
  endButton(ca: CA, chatId: string, query: CallbackQuery): Promise<void>;
}

interface Covered {
  promise: Promise<number>;
  resolve(messageId: number): void;
  reject(error: unknown): void;
}

export function createChatRelay(ctx: ChannelContext): ChatRelay {
  const map = createMessageMap(() => storageOf(ctx));
  /** `chatId:seq` of client texts already sent inside an earlier (coalesced) message. */
  const covered = new Map<string, Covered>();
  /** `chatId:seq` the relay has handed us and we have not finished. */
  const inFlight = new Set<string>();
  const seqKey = (chatId: string, seq: number): string => `${chatId}:${seq}`;

  const tgChat = (ca: CA): number | string =>
    /^-?\d+$/.test(ca.address) ? Number(ca.address) : ca.address;
  const multi = (ca: CA): boolean => ca.maxChats > 1;
  const label = (chat: Chat): string => chatLabel(chat, ctx.languages, ctx.topics);
  const prefixOf = (ca: CA, chat: Chat): string => (multi(ca) ? `💬 ${label(chat)}\n` : '');

  const remember = async (ca: CA, chat: Chat, messageIds: number[]): Promise<void> => {
    if (multi(ca) && messageIds.length > 0) await map.record(tgChat(ca), messageIds, chat.id);
  };

  /** The relay delivers one message at a time: when a text is backed up, take the next pending ones along. */
  const lookahead =
    (ca: CA, chat: Chat, afterSeq: number) =>
    async (room: number): Promise<TextExtension<TgMessage.TextMessage> | null> => {
      const later = await relayOf(ctx).getClientMessages(chat.clientId, chat.id, {
        afterSeq,
        limit: 100,
      });
      const taken: string[] = [];
      const keys: string[] = [];
      let used = 0;
      for (const m of later) {
        if (m.from !== 'client') continue;
        const key = seqKey(chat.id, m.seq);
        if (
          m.text === null ||
          m.file !== null ||
          m.delivery.state !== 'pending' ||
          covered.has(key) ||
          inFlight.has(key)
        )
          break;
        const cost = (taken.length > 0 ? 2 : 0) + m.text.length;
        if (used + cost > room || covered.size >= MAX_COVERED) break;
        used += cost;
        taken.push(m.text);
        keys.push(key);
      }
      if (taken.length === 0) return null;
      for (const key of keys) {
        let resolve!: (id: number) => void;
        let reject!: (error: unknown) => void;
        const promise = new Promise<number>((res, rej) => ((resolve = res), (reject = rej)));
        promise.catch(() => undefined);
        covered.set(key, { promise, resolve, reject });
      }
      return {
        texts: taken,
        settle(outcome) {
          for (const key of keys) {
            const entry = covered.get(key);
            if (!entry) continue;
            if (outcome.ok) entry.resolve(outcome.value.message_id);
            else {
              // Not sent: the relay's own call for it sends it normally.
              covered.delete(key);
              entry.reject(outcome.error);
            }
          }
        },
      };
    };

  const deliverText = async (
    ca: CA,
    chat: Chat,
    message: Message,
    text: string,
  ): Promise<number> => {
    const prefix = prefixOf(ca, chat);
    const parts = splitText(text, MAX_MESSAGE_CHARS - prefix.length);
    const sent = await Promise.all(
      parts.map((part, i) =>
        ctx.queue.text<TgMessage.TextMessage>({
          chatId: tgChat(ca),
          coalesceKey: chat.id,
          prefix,
          text: part,
          orderKey: chat.id,
          send: (t, signal) =>
            ctx.api.call(
              'sendMessage',
              { chat_id: tgChat(ca), text: t, link_preview_options: { is_disabled: true } },
              { signal },
            ),
          ...(i === parts.length - 1 ? { extend: lookahead(ca, chat, message.seq) } : {}),
        }),
      ),
    );
    await remember(
      ca,
      chat,
      sent.map((m) => m.message_id),
    );
    return sent[0]!.message_id;
  };

  const deliverFile = async (ca: CA, chat: Chat, message: Message): Promise<number> => {
    const prefix = prefixOf(ca, chat);
    const caption = prefix + (message.text ?? '');
    const fits = caption.length <= MAX_CAPTION_CHARS;
    const sent = sendFileToCA(
      ctx,
      tgChat(ca),
      message.file!,
      fits ? caption : prefix.trim(),
      chat.id,
    );
    // A caption too long for Telegram follows as its own message, queued right behind.
    const extra = fits ? null : ctx.calls.send(tgChat(ca), caption, { orderKey: chat.id });
    const [document, text] = await Promise.all([sent, extra]);
    await remember(ca, chat, [document.message_id, ...(text ? [text.message_id] : [])]);
    return document.message_id;
  };

  /** Which of the CA's active chats a message is for, or null after telling the CA why not. */
  const targetChat = async (ca: CA, message: TgMessage): Promise<Chat | null> => {
    const active = await relayOf(ctx).listCAChats(ca.id);
    const tgChatId = message.chat.id;
    if (active.length === 0) {
      await ctx.calls.send(tgChatId, state.idle(ca.status));
      return null;
    }
    const replyTo = (message as { reply_to_message?: { message_id: number } }).reply_to_message
      ?.message_id;
    if (replyTo !== undefined) {
      const chatId = await map.lookup(tgChatId, replyTo);
      if (chatId !== null) {
        const chat = active.find((c) => c.id === chatId);
        if (!chat) await ctx.calls.send(tgChatId, texts.replyTargetEnded);
        return chat ?? null;
      }
    }
    if (active.length === 1) return active[0]!;
    await ctx.calls.send(tgChatId, texts.whichChat(active.length));
    return null;
  };

  return {
    async chatMatched(ca, chat, history) {
      const pending = history.filter((m) => m.from === 'client' && m.delivery.state === 'pending');
      const files = pending.filter((m) => m.file !== null);
      const tooLarge = files.some((m) => m.file!.size > ctx.options.maxUploadBytes);
      const earlier = pending.filter((m) => m.file === null && m.text !== null).map((m) => m.text!);
      let notice = texts.matched(label(chat), multi(ca));
      if (earlier.length > 0 && !tooLarge)
        notice += `\n\n${texts.history}\n\n${earlier.join('\n\n')}`;
      const sent = await ctx.calls.send(tgChat(ca), notice, { orderKey: chat.id });
      await remember(ca, chat, [sent.message_id]);
      if (tooLarge) {
        // The relay marks the whole history delivered when this returns; a file Telegram
        // won't take must fail on its own, so hand the history back to the outbox instead.
        throw new CaChatError(
          'file_too_large',
          'the history holds a file over the upload limit; delivering it message by message',
        );
      }
      for (const m of files) await deliverFile(ca, chat, m);
    },

    async deliverMessage(ca, chat, message) {
      const key = seqKey(chat.id, message.seq);
      const already = covered.get(key);
      if (already) {
        covered.delete(key);
        try {
          return { peerMessageId: String(await already.promise) };
        } catch {
          // The merged send failed: send this one on its own below.
        }
      }
      inFlight.add(key);
      try {
        const id = message.file
          ? await deliverFile(ca, chat, message)
          : await deliverText(ca, chat, message, message.text ?? '');
        return { peerMessageId: String(id) };
      } finally {
        inFlight.delete(key);
      }
    },

    async chatEnded(ca, chat, reason) {
      for (const key of [...covered.keys()]) if (key.startsWith(`${chat.id}:`)) covered.delete(key);
      const ended = texts.ended(reason);
      await ctx.calls.send(tgChat(ca), multi(ca) ? `${ended} (${label(chat)})` : ended, {
        orderKey: chat.id,
      });
    },

    async clientTyping(ca) {
      await ctx.calls.typing(tgChat(ca));
    },

    async fromCA(ca, message) {
      const chat = await targetChat(ca, message);
      if (!chat) return;
      if ('text' in message) {
        try {
          await relayOf(ctx).sendCAMessage(ca.id, {
            chatId: chat.id,
            text: message.text,
            idempotencyKey: String(message.message_id),
          });
        } catch (error) {
          if (
            !CaChatError.isInstance(error) ||
            error.code === 'internal' ||
            error.code === 'storage_error'
          )
            throw error;
          await ctx.calls.send(message.chat.id, texts.sendFailed(describeError(error)));
        }
        return;
      }
      await forwardCAFile(ctx, ca, chat.id, message);
    },

    async endCommand(ca, tgChatId) {
      const active = await relayOf(ctx).listCAChats(ca.id);
      if (active.length === 0) return void (await ctx.calls.send(tgChatId, texts.noActive));
      if (active.length === 1) {
        await relayOf(ctx).endChatByCA(ca.id, active[0]!.id);
        return;
      }
      await ctx.calls.send(tgChatId, texts.whichToEnd, {
        keyboard: endChoiceKeyboard(active.map((c) => ({ chatId: c.id, label: label(c) }))),
      });
    },

    async endButton(ca, chatId, query) {
      try {
        await relayOf(ctx).endChatByCA(ca.id, chatId);
        await ctx.calls.answer(query.id, 'Chat ended');
      } catch (error) {
        if (!CaChatError.isInstance(error) || error.retryable) throw error;
        await ctx.calls.answer(query.id, 'That chat has already ended.');
      }
      if (query.message)
        await ctx.calls.editKeyboard(query.message.chat.id, query.message.message_id, NO_KEYBOARD);
    },
  };
}
