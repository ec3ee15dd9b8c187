import type { CA, Chat, FileRef, Message, Party } from '../domain.js';
import { CaChatError } from '../errors.js';
import type { NewMessage } from '../storage.js';
import type { RelayContext } from './context.js';

/** A chat of this client (any state): `unknown_chat` / `not_your_chat` otherwise. */
export async function clientChat(
  ctx: RelayContext,
  clientId: string,
  chatId: string,
): Promise<Chat> {
  const chat = typeof chatId === 'string' ? await ctx.storage.getChat(chatId) : null;
  if (!chat) throw new CaChatError('unknown_chat', 'no such chat');
  checkClientChat(chat, clientId);
  return chat;
}

/** Throws `not_your_chat` unless this is a chat of this client. */
export function checkClientChat(chat: Chat, clientId: string): void {
  if (chat.clientId !== clientId) throw new CaChatError('not_your_chat', 'this is not your chat');
}

/** A chat this client may write to: waiting or active (messages wait for the CA). */
export async function writableClientChat(
  ctx: RelayContext,
  clientId: string,
  chatId: string,
): Promise<Chat> {
  const chat = await clientChat(ctx, clientId, chatId);
  if (chat.state === 'ended') throw new CaChatError('chat_ended', 'this chat has ended');
  return chat;
}

export async function requireCA(ctx: RelayContext, caId: string): Promise<CA> {
  const ca = typeof caId === 'string' ? await ctx.storage.getCA(caId) : null;
  if (!ca) throw new CaChatError('ca_not_registered', 'this CA is not registered');
  return ca;
}

/** An active chat of this CA. */
export async function writableCAChat(
  ctx: RelayContext,
  caId: string,
  chatId: string,
): Promise<{ ca: CA; chat: Chat }> {
  const ca = await requireCA(ctx, caId);
  const chat = typeof chatId === 'string' ? await ctx.storage.getChat(chatId) : null;
  if (!chat) throw new CaChatError('unknown_chat', 'no such chat');
  if (chat.state === 'waiting') throw new CaChatError('chat_not_active', 'this chat has no CA yet');
  if (chat.caId !== caId) throw new CaChatError('not_your_chat', 'this is not your chat');
  if (chat.state === 'ended') throw new CaChatError('chat_ended', 'this chat has ended');
  return { ca, chat };
}

export function pendingDelivery(now: number): Message['delivery'] {
  return { state: 'pending', peerMessageId: null, attempts: 0, nextAttemptAt: now, error: null };
}

export interface StoreInput {
  chatId: string;
  from: Exclude<Party, 'system'>;
  text: string | null;
  file: FileRef | null;
  idempotencyKey: string | null;
  /** Re-checked under the chat's lock: the chat may have ended since the first check. */
  allowWaiting: boolean;
  /** Runs under the lock before the message is appended (e.g. storing a file record). */
  beforeAppend?: () => Promise<void>;
  /**
   * Checks the chat read under the lock (who may write to it) before anything else, so a
   * caller needs no read of its own. Throws to refuse.
   */
  check?: (chat: Chat) => void;
}

/**
 * Stores a message (seq assigned, idempotent on its key) under the chat's lock, so it can't
 * slip in after the chat ended; then hands it to the outbox. Resolves once it is stored.
 * Every relayed message runs through here: the lock is taken by hand rather than with a
 * callback, which saves two promises per message.
 */
export async function storeMessage(
  ctx: RelayContext,
  input: StoreInput,
): Promise<{ message: Message; duplicate: boolean }> {
  const lock = input.chatId;
  const wait = ctx.chatLocks.acquire(lock);
  if (wait) await wait;
  let chat: Chat | null;
  let appended: { message: Message; duplicate: boolean };
  try {
    // Under the lock, a chat the outbox read since the last change (claim, end) is current:
    // no storage read per message.
    chat = ctx.modules.outbox.knownChat(input.chatId) ?? (await ctx.storage.getChat(input.chatId));
    if (!chat) throw new CaChatError('unknown_chat', 'no such chat');
    input.check?.(chat);
    if (chat.state === 'ended') throw new CaChatError('chat_ended', 'this chat has ended');
    if (chat.state === 'waiting' && !input.allowWaiting)
      throw new CaChatError('chat_not_active', 'this chat has no CA yet');
    // Only awaited when there is one: `await undefined` still costs a promise and a turn.
    if (input.beforeAppend) await input.beforeAppend();
    const now = ctx.clock.now();
    const message: NewMessage = {
      // The stored chat's own id string: maps keyed by it further on compare by identity.
      chatId: chat.id,
      from: input.from,
      text: input.text,
      file: input.file,
      createdAt: now,
      idempotencyKey: input.idempotencyKey,
      delivery: pendingDelivery(now),
    };
    // A store that answers at once does so without a promise (see `Storage.immediate`).
    const { immediate } = ctx.storage;
    appended =
      immediate !== undefined
        ? immediate.appendMessage(message)
        : await ctx.storage.appendMessage(message);
    if (!appended.duplicate) ctx.modules.outbox.stored(appended.message);
  } finally {
    ctx.chatLocks.release(lock);
  }
  if (!appended.duplicate) {
    ctx.modules.lifecycle.activity(input.chatId);
    ctx.emit('message.stored', appended.message, chat);
    ctx.modules.outbox.kick(input.chatId);
  }
  return appended;
}
