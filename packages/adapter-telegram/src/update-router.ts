import type { CA } from '@ca-chat/core';
import type { CallbackQuery, Message, Update } from 'telegraf/types';
import type { AdminApproval } from './admin-approval.js';
import { CHANNEL_NAME, relayOf, type ChannelContext } from './channel-context.js';
import type { ChatRelay } from './chat-relay.js';
import type { Conversations } from './conversation.js';
import { decodeCallback, maxChatsKeyboard, NO_KEYBOARD, profileKeyboard } from './keyboards.js';
import type { Offers } from './offers.js';
import { ask, HELP, profileText, registration, state, status } from './texts.js';

export interface UpdateRouter {
  /** Handles one update; never throws (failures are logged and the user is told). */
  route(update: Update): Promise<void>;
}

interface Parts {
  conversations: Conversations;
  chatRelay: ChatRelay;
  offers: Offers;
  admin: AdminApproval;
}

/** `/cmd@bot args` → `{ name: 'cmd', args: 'args', bot: 'bot' }`. */
function parseCommand(text: string): { name: string; args: string; bot: string | null } | null {
  const match = /^\/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+([\s\S]*))?$/.exec(
    text.trim(),
  );
  if (!match) return null;
  return { name: match[1]!.toLowerCase(), bot: match[2] ?? null, args: (match[3] ?? '').trim() };
}

/** What a CA who can't chat is told, or null for an approved CA. */
function blockedText(ca: CA | null): string | null {
  if (!ca) return state.unregistered;
  switch (ca.approval) {
    case 'approved':
      return null;
    case 'pending':
      return state.pending;
    case 'rejected':
      return state.rejected;
    case 'removed':
      return state.removed;
  }
}

export function createUpdateRouter(
  ctx: ChannelContext,
  parts: Parts,
  botUsername: () => string | null,
): UpdateRouter {
  const { conversations, chatRelay, offers, admin } = parts;
  const findCA = (userId: number): Promise<CA | null> =>
    relayOf(ctx).getCAByExternalId(CHANNEL_NAME, String(userId));

  const showProfile = async (chatId: number, ca: CA): Promise<void> => {
    await ctx.calls.send(chatId, profileText(ca, ctx.languages, ctx.topics), {
      keyboard: profileKeyboard(ctx.topics.length > 0),
    });
  };

  const onCommand = async (
    message: Message.TextMessage,
    command: { name: string; args: string },
  ): Promise<void> => {
    const chatId = message.chat.id;
    const userId = message.from?.id ?? chatId;
    if (command.name === 'help') return void (await ctx.calls.send(chatId, HELP));
    const conv = await conversations.get(userId);
    if (command.name === 'start') {
      const ca = await findCA(userId);
      if (ca) {
        await conversations.clear(userId);
        const blocked = blockedText(ca);
        if (blocked) return void (await ctx.calls.send(chatId, blocked));
        await ctx.calls.send(chatId, registration.already);
        return;
      }
      await conversations.beginRegistration(message, command.args || null);
      return;
    }
    if (conv?.kind === 'register') return void (await ctx.calls.send(chatId, ask.finishFirst));
    // Any other command abandons a profile edit in progress.
    if (conv?.kind === 'edit') await conversations.clear(userId);
    const known = ['profile', 'available', 'away', 'end'];
    if (!known.includes(command.name))
      return void (await ctx.calls.send(chatId, state.unknownCommand(`/${command.name}`)));
    const ca = await findCA(userId);
    const blocked = blockedText(ca);
    if (blocked && !(command.name === 'profile' && ca?.approval === 'pending'))
      return void (await ctx.calls.send(chatId, blocked));
    switch (command.name) {
      case 'profile':
        return showProfile(chatId, ca!);
      case 'available':
      case 'away': {
        await relayOf(ctx).setCAStatus(ca!.id, command.name);
        return void (await ctx.calls.send(chatId, status[command.name]));
      }
      case 'end':
        return chatRelay.endCommand(ca!, chatId);
    }
  };

  const onMessage = async (message: Message): Promise<void> => {
    const chatId = message.chat.id;
    if (!message.from) return;
    if (message.chat.type !== 'private') {
      await ctx.calls.send(chatId, 'Please write to me in a private chat.');
      return;
    }
    if ('text' in message) {
      const command = message.text.startsWith('/') ? parseCommand(message.text) : null;
      if (command) {
        const me = botUsername();
        if (command.bot && me && command.bot.toLowerCase() !== me.toLowerCase()) return;
        return onCommand(message, command);
      }
      const conv = await conversations.get(message.from.id);
      if (conv) return conversations.onText(conv, message);
    } else if (await conversations.get(message.from.id)) {
      return void (await ctx.calls.send(chatId, ask.finishFirst));
    }
    const ca = await findCA(message.from.id);
    const blocked = blockedText(ca);
    if (blocked) return void (await ctx.calls.send(chatId, blocked));
    if ('text' in message || 'document' in message || 'photo' in message) {
      return chatRelay.fromCA(
        ca!,
        message as Message.TextMessage | Message.DocumentMessage | Message.PhotoMessage,
      );
    }
    await ctx.calls.send(chatId, state.unsupported);
  };

  const onCallback = async (query: CallbackQuery): Promise<void> => {
    const action = decodeCallback('data' in query ? query.data : undefined);
    if (!action) return void (await ctx.calls.answer(query.id, ask.staleForm));
    const userId = query.from.id;
    switch (action.kind) {
      case 'accept':
        return offers.onAccept(await findCA(userId), action.chatId, query);
      case 'decline':
        return offers.onDecline(await findCA(userId), action.chatId, query);
      case 'approve':
      case 'reject':
        return admin.onButton(action.kind, action.caId, query);
      case 'form.language':
      case 'form.topic':
      case 'form.done':
      case 'form.skip':
      case 'form.confirm':
      case 'form.restart': {
        const conv = await conversations.get(userId);
        if (!conv) return void (await ctx.calls.answer(query.id, ask.staleForm));
        return conversations.onFormButton(conv, action, query);
      }
    }
    const ca = await findCA(userId);
    const blocked = blockedText(ca);
    if (blocked && !(ca?.approval === 'pending' && action.kind !== 'end'))
      return void (await ctx.calls.answer(query.id, blocked, true));
    const chatId = query.message?.chat.id ?? userId;
    switch (action.kind) {
      case 'end':
        return chatRelay.endButton(ca!, action.chatId, query);
      case 'profile.edit':
        await ctx.calls.answer(query.id);
        if (action.field === 'maxChats') {
          return void (await ctx.calls.send(chatId, ask.maxChats, {
            keyboard: maxChatsKeyboard(ctx.options.maxChatsLimit, ca!.maxChats),
          }));
        }
        return conversations.beginEdit(ca!, action.field, chatId);
      case 'profile.maxChats': {
        if (action.value < 1 || action.value > ctx.options.maxChatsLimit)
          return void (await ctx.calls.answer(query.id, ask.staleForm));
        const updated = await relayOf(ctx).updateCAProfile(ca!.id, { maxChats: action.value });
        await ctx.calls.answer(query.id, 'Saved');
        if (query.message) {
          await ctx.calls.edit(
            chatId,
            query.message.message_id,
            `Chats at once: ${updated.maxChats} ✓`,
            NO_KEYBOARD,
          );
        }
        return;
      }
    }
  };

  const tellFailure = async (update: Update): Promise<void> => {
    if ('callback_query' in update)
      return ctx.calls.answer(update.callback_query.id, state.failed, true);
    const message =
      'message' in update
        ? update.message
        : 'edited_message' in update
          ? update.edited_message
          : null;
    if (message) await ctx.calls.send(message.chat.id, state.failed);
  };

  return {
    async route(update) {
      try {
        if ('message' in update) await onMessage(update.message);
        else if ('edited_message' in update)
          await ctx.calls.send(update.edited_message.chat.id, state.noEdits);
        else if ('callback_query' in update) await onCallback(update.callback_query);
      } catch (error) {
        ctx.logger.error(
          { err: error, updateId: update.update_id },
          'handling a Telegram update failed',
        );
        await tellFailure(update).catch((e) =>
          ctx.logger.warn({ err: e }, 'could not tell the user about a failure'),
        );
      }
    },
  };
}
