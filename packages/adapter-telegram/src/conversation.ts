import { CaChatError, type CA } from '@ca-chat/core';
import type { CallbackQuery, Message } from 'telegraf/types';
import {
  CHANNEL_NAME,
  describeError,
  relayOf,
  storageOf,
  type ChannelContext,
} from './channel-context.js';
import {
  confirmKeyboard,
  languagesKeyboard,
  NO_KEYBOARD,
  topicsKeyboard,
  type CallbackAction,
} from './keyboards.js';
import { ask, languageList, profileText, registration, state, topicList } from './texts.js';

export const CONV_NAMESPACE = 'tg.conv';
/** A conversation left alone this long is forgotten (the next message starts afresh). */
const CONVERSATION_TTL_MS = 7 * 24 * 60 * 60_000;

type FormField = 'languages' | 'topics';

/**
 * Where a user is in a multi-step exchange. Kept in `relay.storage` (kv `tg.conv`, key =
 * Telegram user id), so a restart in the middle of registration continues where it was.
 */
export type Conversation =
  | {
      kind: 'register';
      step: 'name' | 'membership' | FormField | 'confirm';
      name: string | null;
      membershipNo: string | null;
      languages: string[];
      topics: string[];
      inviteCode: string | null;
      /** The message whose buttons belong to this step; older buttons are stale. */
      formMessageId: number | null;
      updatedAt: number;
    }
  | {
      kind: 'edit';
      field: 'name' | FormField;
      languages: string[];
      topics: string[];
      formMessageId: number | null;
      updatedAt: number;
    };

type FormAction = Extract<CallbackAction, { kind: `form.${string}` }>;

const MEMBERSHIP_NO = /^\d{6}$/;

export interface Conversations {
  get(userId: number): Promise<Conversation | null>;
  clear(userId: number): Promise<void>;
  beginRegistration(message: Message, inviteCode: string | null): Promise<void>;
  beginEdit(ca: CA, field: 'name' | FormField, chatId: number): Promise<void>;
  /** A text while a conversation is open. */
  onText(conversation: Conversation, message: Message.TextMessage): Promise<void>;
  onFormButton(conversation: Conversation, action: FormAction, query: CallbackQuery): Promise<void>;
}

export function createConversations(ctx: ChannelContext): Conversations {
  const key = (userId: number): string => String(userId);
  const save = (userId: number, conversation: Conversation): Promise<void> =>
    storageOf(ctx).kvSet(CONV_NAMESPACE, key(userId), { ...conversation, updatedAt: Date.now() });
  const clear = (userId: number): Promise<void> =>
    storageOf(ctx).kvDelete(CONV_NAMESPACE, key(userId));

  const hasTopics = (): boolean => ctx.topics.length > 0;

  const sendForm = async (
    userId: number,
    chatId: number,
    conv: Conversation,
    field: FormField,
  ): Promise<void> => {
    const keyboard =
      field === 'languages'
        ? languagesKeyboard(ctx.languages, conv.languages)
        : topicsKeyboard(ctx.topics, conv.topics, true);
    const sent = await ctx.calls.send(chatId, field === 'languages' ? ask.languages : ask.topics, {
      keyboard,
    });
    await save(userId, { ...conv, formMessageId: sent.message_id });
  };

  const summary = (conv: Extract<Conversation, { kind: 'register' }>): string =>
    ask.confirm({
      name: conv.name ?? '',
      membershipNo: conv.membershipNo ?? '',
      languages: languageList(conv.languages, ctx.languages),
      topics: topicList(conv.topics, ctx.topics),
    });

  const showProfile = async (chatId: number, ca: CA): Promise<void> => {
    await ctx.calls.send(chatId, profileText(ca, ctx.languages, ctx.topics));
  };

  const register = async (
    userId: number,
    chatId: number,
    conv: Extract<Conversation, { kind: 'register' }>,
    query: CallbackQuery,
  ) => {
    const relay = relayOf(ctx);
    try {
      const ca = await relay.registerCA({
        channel: CHANNEL_NAME,
        externalId: String(userId),
        address: String(chatId),
        name: conv.name!,
        membershipNo: conv.membershipNo!,
        languages: conv.languages,
        topics: conv.topics,
        ...(conv.inviteCode ? { inviteCode: conv.inviteCode } : {}),
      });
      await clear(userId);
      await ctx.calls.answer(query.id, 'Registered');
      await ctx.calls.edit(chatId, conv.formMessageId!, summary(conv));
      await ctx.calls.send(
        chatId,
        ca.approval === 'approved' ? registration.done.approved : registration.done.pending,
      );
    } catch (error) {
      await ctx.calls.answer(query.id);
      if (CaChatError.is(error, 'invalid_invite')) {
        await clear(userId);
        await ctx.calls.send(chatId, registration.inviteInvalid);
      } else if (CaChatError.is(error, 'ca_already_registered')) {
        await clear(userId);
        await ctx.calls.send(chatId, registration.already);
      } else if (CaChatError.is(error, 'registration_closed')) {
        await clear(userId);
        await ctx.calls.send(chatId, registration.closed);
      } else if (CaChatError.is(error, 'invalid_membership_no')) {
        await save(userId, { ...conv, step: 'membership', formMessageId: null });
        await ctx.calls.send(chatId, ask.membershipAgain(conv.membershipNo ?? ''));
      } else if (
        CaChatError.isInstance(error) &&
        !error.retryable &&
        error.code !== 'internal' &&
        error.code !== 'storage_error'
      ) {
        await ctx.calls.send(
          chatId,
          `Registration failed: ${describeError(error)}. Send /start to try again.`,
        );
        await clear(userId);
      } else {
        throw error;
      }
    }
  };

  return {
    async get(userId) {
      const conv = await storageOf(ctx).kvGet<Conversation>(CONV_NAMESPACE, key(userId));
      if (!conv) return null;
      if (Date.now() - conv.updatedAt > CONVERSATION_TTL_MS) {
        await clear(userId);
        return null;
      }
      return conv;
    },

    clear,

    async beginRegistration(message, inviteCode) {
      const userId = message.from!.id;
      const mode = relayOf(ctx).settings.registrationMode;
      if (mode === 'invite' && !inviteCode) {
        await ctx.calls.send(message.chat.id, registration.inviteRequired);
        return;
      }
      const conv: Conversation = {
        kind: 'register',
        step: 'name',
        name: null,
        membershipNo: null,
        languages: [],
        topics: [],
        inviteCode: mode === 'invite' ? inviteCode : null,
        formMessageId: null,
        updatedAt: Date.now(),
      };
      await save(userId, conv);
      await ctx.calls.send(message.chat.id, ask.name);
    },

    async beginEdit(ca, field, chatId) {
      const userId = Number(ca.externalId);
      const conv: Conversation = {
        kind: 'edit',
        field,
        languages: [...ca.languages],
        topics: [...ca.topics],
        formMessageId: null,
        updatedAt: Date.now(),
      };
      if (field === 'name') {
        await save(userId, conv);
        await ctx.calls.send(chatId, ask.newName);
      } else {
        await sendForm(userId, chatId, conv, field);
      }
    },

    async onText(conv, message) {
      const userId = message.from?.id ?? message.chat.id;
      const chatId = message.chat.id;
      const text = message.text.trim();
      if (conv.kind === 'edit') {
        if (conv.field !== 'name') return void (await ctx.calls.send(chatId, ask.useButtons));
        if (!validName(text)) return void (await ctx.calls.send(chatId, ask.nameAgain));
        const relay = relayOf(ctx);
        const ca = await relay.getCAByExternalId(CHANNEL_NAME, String(userId));
        if (!ca)
          return void (await clear(userId), await ctx.calls.send(chatId, state.unregistered));
        const updated = await relay.updateCAProfile(ca.id, { name: text });
        await clear(userId);
        await ctx.calls.send(chatId, '✅ Name saved.');
        await showProfile(chatId, updated);
        return;
      }
      switch (conv.step) {
        case 'name':
          if (!validName(text)) return void (await ctx.calls.send(chatId, ask.nameAgain));
          await save(userId, { ...conv, name: text, step: 'membership' });
          await ctx.calls.send(chatId, ask.membership);
          return;
        case 'membership': {
          const digits = text.replace(/[\s-]/g, '');
          if (!MEMBERSHIP_NO.test(digits))
            return void (await ctx.calls.send(chatId, ask.membershipAgain(text)));
          await sendForm(
            userId,
            chatId,
            { ...conv, membershipNo: digits, step: 'languages' },
            'languages',
          );
          return;
        }
        case 'languages':
        case 'topics':
          // The form may have scrolled out of sight: send it again below the text.
          await ctx.calls.send(chatId, ask.useButtons);
          await sendForm(userId, chatId, conv, conv.step);
          return;
        case 'confirm': {
          await ctx.calls.send(chatId, ask.useButtons);
          const sent = await ctx.calls.send(chatId, summary(conv), { keyboard: confirmKeyboard() });
          await save(userId, { ...conv, formMessageId: sent.message_id });
          return;
        }
      }
    },

    async onFormButton(conv, action, query) {
      const userId = query.from.id;
      const messageId = query.message?.message_id;
      const chatId = query.message?.chat.id ?? userId;
      if (messageId === undefined || messageId !== conv.formMessageId)
        return void (await ctx.calls.answer(query.id, ask.staleForm));
      const field: FormField | null =
        conv.kind === 'edit'
          ? conv.field === 'name'
            ? null
            : conv.field
          : conv.step === 'languages' || conv.step === 'topics'
            ? conv.step
            : null;

      if (action.kind === 'form.language' || action.kind === 'form.topic') {
        const wanted: FormField = action.kind === 'form.language' ? 'languages' : 'topics';
        if (field !== wanted) return void (await ctx.calls.answer(query.id, ask.staleForm));
        const value = action.kind === 'form.language' ? action.tag : ctx.topics[action.index]?.id;
        const offered =
          action.kind === 'form.language'
            ? ctx.languages.some((l) => l.tag === value)
            : value !== undefined;
        if (!value || !offered) return void (await ctx.calls.answer(query.id, ask.staleForm));
        const list = conv[wanted];
        const next = list.includes(value) ? list.filter((v) => v !== value) : [...list, value];
        const updated = { ...conv, [wanted]: next } as Conversation;
        await save(userId, updated);
        await ctx.calls.answer(query.id);
        await ctx.calls.editKeyboard(
          chatId,
          messageId,
          wanted === 'languages'
            ? languagesKeyboard(ctx.languages, next)
            : topicsKeyboard(ctx.topics, next, true),
        );
        return;
      }

      if (action.kind === 'form.done' || action.kind === 'form.skip') {
        if (!field) return void (await ctx.calls.answer(query.id, ask.staleForm));
        if (field === 'languages' && action.kind === 'form.skip')
          return void (await ctx.calls.answer(query.id, ask.staleForm));
        if (field === 'languages' && conv.languages.length === 0)
          return void (await ctx.calls.answer(query.id, ask.languagesNeeded, true));
        const chosen = action.kind === 'form.skip' ? [] : conv[field];
        const done = { ...conv, [field]: chosen } as Conversation;
        await ctx.calls.answer(query.id);
        await ctx.calls.edit(
          chatId,
          messageId,
          field === 'languages'
            ? `Languages: ${languageList(chosen, ctx.languages)}`
            : `Topics: ${topicList(chosen, ctx.topics)}`,
        );
        if (done.kind === 'edit') {
          const relay = relayOf(ctx);
          const ca = await relay.getCAByExternalId(CHANNEL_NAME, String(userId));
          await clear(userId);
          if (!ca) return void (await ctx.calls.send(chatId, state.unregistered));
          const updated = await relay.updateCAProfile(
            ca.id,
            field === 'languages' ? { languages: chosen } : { topics: chosen },
          );
          await ctx.calls.send(chatId, '✅ Saved.');
          await showProfile(chatId, updated);
          return;
        }
        if (field === 'languages' && hasTopics()) {
          await sendForm(userId, chatId, { ...done, step: 'topics' }, 'topics');
          return;
        }
        const confirm = { ...done, step: 'confirm' as const };
        const sent = await ctx.calls.send(chatId, summary(confirm), {
          keyboard: confirmKeyboard(),
        });
        await save(userId, { ...confirm, formMessageId: sent.message_id });
        return;
      }

      if (conv.kind !== 'register' || conv.step !== 'confirm')
        return void (await ctx.calls.answer(query.id, ask.staleForm));
      if (action.kind === 'form.restart') {
        await save(userId, {
          ...conv,
          step: 'name',
          name: null,
          membershipNo: null,
          languages: [],
          topics: [],
          formMessageId: null,
        });
        await ctx.calls.answer(query.id);
        await ctx.calls.edit(chatId, messageId, 'Starting over.', NO_KEYBOARD);
        await ctx.calls.send(chatId, ask.name);
        return;
      }
      await register(userId, chatId, conv, query);
    },
  };
}

function validName(text: string): boolean {
  return text.length >= 2 && text.length <= 100 && !text.startsWith('/') && !/[\r\n]/.test(text);
}
