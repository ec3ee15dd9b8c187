import { CaChatError, type CA, type OfferCloseReason, type OfferNotice } from '@ca-chat/core';
import type { CallbackQuery } from 'telegraf/types';
import { relayOf, storageOf, type ChannelContext } from './channel-context.js';
import { NO_KEYBOARD, offerKeyboard } from './keyboards.js';
import { clip, languageList, offer as texts, state, topicList } from './texts.js';

/** The offer's text, kept until the offer closes so the edit can keep the client's words. */
const OFFER_NAMESPACE = 'tg.offer';
const MAX_FIRST_MESSAGE_CHARS = 3000;

export interface OfferRef {
  chatId: number | string;
  messageId: number;
}

export interface Offers {
  sendOffer(ca: CA, offer: OfferNotice): Promise<string | null>;
  closeOffer(ca: CA, ref: string | null, chatId: string, reason: OfferCloseReason): Promise<void>;
  onAccept(ca: CA | null, chatId: string, query: CallbackQuery): Promise<void>;
  onDecline(ca: CA | null, chatId: string, query: CallbackQuery): Promise<void>;
}

export function parseOfferRef(ref: string | null): OfferRef | null {
  if (!ref) return null;
  try {
    const parsed = JSON.parse(ref) as Partial<OfferRef>;
    if (
      (typeof parsed.chatId === 'number' || typeof parsed.chatId === 'string') &&
      typeof parsed.messageId === 'number'
    ) {
      return { chatId: parsed.chatId, messageId: parsed.messageId };
    }
  } catch {
    // not ours
  }
  return null;
}

export function createOffers(ctx: ChannelContext): Offers {
  const tgChat = (ca: CA): number | string =>
    /^-?\d+$/.test(ca.address) ? Number(ca.address) : ca.address;
  const kvKey = (ref: OfferRef): string => `${ref.chatId}:${ref.messageId}`;

  const offerText = (offer: Pick<OfferNotice, 'language' | 'topic' | 'firstMessage'>): string => {
    const lines = [texts.title, '', `Language: ${languageList([offer.language], ctx.languages)}`];
    if (offer.topic) lines.push(`Topic: ${topicList([offer.topic], ctx.topics)}`);
    if (offer.firstMessage)
      lines.push('', 'The client wrote:', clip(offer.firstMessage, MAX_FIRST_MESSAGE_CHARS));
    return lines.join('\n');
  };

  /** Marks the notification closed (buttons gone) after a press the relay rejected as stale. */
  const markStale = async (query: CallbackQuery, reason: OfferCloseReason): Promise<void> => {
    if (!query.message) return;
    const ref = { chatId: query.message.chat.id, messageId: query.message.message_id };
    const original = await storageOf(ctx).kvGet<string>(OFFER_NAMESPACE, kvKey(ref));
    await ctx.calls.edit(
      ref.chatId,
      ref.messageId,
      `${original ?? texts.title}\n\n— ${texts.closed[reason]}`,
      NO_KEYBOARD,
    );
    await storageOf(ctx).kvDelete(OFFER_NAMESPACE, kvKey(ref));
  };

  /** Answers a refused press with a clear reason; true when the error was such a refusal. */
  const explain = async (error: unknown, ca: CA, query: CallbackQuery): Promise<boolean> => {
    if (!CaChatError.isInstance(error)) return false;
    switch (error.code) {
      case 'chat_already_taken':
        await ctx.calls.answer(query.id, texts.errors.taken, true);
        await markStale(query, 'taken');
        return true;
      case 'ca_at_capacity':
        await ctx.calls.answer(query.id, texts.errors.capacity(ca.maxChats), true);
        return true;
      case 'offer_not_open':
      case 'chat_ended':
      case 'chat_not_active':
      case 'unknown_chat':
        await ctx.calls.answer(query.id, texts.errors.stale, true);
        await markStale(query, 'withdrawn');
        return true;
      case 'ca_not_approved':
        await ctx.calls.answer(query.id, texts.errors.notApproved, true);
        return true;
      default:
        return false;
    }
  };

  return {
    async sendOffer(ca, offer) {
      const text = offerText(offer);
      const sent = await ctx.calls.send(tgChat(ca), text, {
        keyboard: offerKeyboard(offer.chatId),
      });
      const ref: OfferRef = { chatId: sent.chat.id, messageId: sent.message_id };
      await storageOf(ctx).kvSet(OFFER_NAMESPACE, kvKey(ref), text);
      return JSON.stringify(ref);
    },

    async closeOffer(_ca, rawRef, _chatId, reason) {
      const ref = parseOfferRef(rawRef);
      if (!ref) return;
      const original = await storageOf(ctx).kvGet<string>(OFFER_NAMESPACE, kvKey(ref));
      await ctx.calls.edit(
        ref.chatId,
        ref.messageId,
        `${original ?? texts.title}\n\n— ${texts.closed[reason]}`,
        NO_KEYBOARD,
      );
      await storageOf(ctx).kvDelete(OFFER_NAMESPACE, kvKey(ref));
    },

    async onAccept(ca, chatId, query) {
      if (!ca) return void (await ctx.calls.answer(query.id, state.unregistered, true));
      try {
        await relayOf(ctx).acceptOffer(ca.id, chatId);
        await ctx.calls.answer(query.id, texts.accepted);
      } catch (error) {
        if (!(await explain(error, ca, query))) throw error;
      }
    },

    async onDecline(ca, chatId, query) {
      if (!ca) return void (await ctx.calls.answer(query.id, state.unregistered, true));
      try {
        await relayOf(ctx).declineOffer(ca.id, chatId);
        await ctx.calls.answer(query.id, texts.declined);
      } catch (error) {
        if (!(await explain(error, ca, query))) throw error;
      }
    },
  };
}
