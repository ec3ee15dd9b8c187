import type { CA, Chat } from '../domain.js';
import type { RelayContext } from './context.js';

/**
 * Whether the CA's profile fits the chat: language, and topic when the chat has one.
 * A CA who listed no topics is a generalist and covers every topic.
 */
export function fitsChat(ca: CA, chat: Pick<Chat, 'language' | 'topic'>): boolean {
  if (!ca.languages.includes(chat.language)) return false;
  if (chat.topic !== null && ca.topics.length > 0 && !ca.topics.includes(chat.topic)) return false;
  return true;
}

export async function activeChatCount(ctx: RelayContext, caId: string): Promise<number> {
  return ctx.storage.countChats({ caId, state: 'active' });
}

/** Below `maxChats`: the seed's rule is that a CA at capacity is never notified. */
export async function hasCapacity(ctx: RelayContext, ca: CA): Promise<boolean> {
  return (await activeChatCount(ctx, ca.id)) < ca.maxChats;
}

/** Approved, available, reachable and below capacity: may be offered chats at all. */
export async function canTakeChats(ctx: RelayContext, ca: CA): Promise<boolean> {
  return (
    ca.approval === 'approved' &&
    ca.status === 'available' &&
    ctx.channels.has(ca.channel) &&
    hasCapacity(ctx, ca)
  );
}

export async function isEligible(ctx: RelayContext, ca: CA, chat: Chat): Promise<boolean> {
  return fitsChat(ca, chat) && (await canTakeChats(ctx, ca));
}

/** Every CA that may be offered `chat` now, in registration order. */
export async function eligibleCAs(ctx: RelayContext, chat: Chat): Promise<CA[]> {
  const cas = await ctx.storage.listCAs({
    approval: 'approved',
    status: 'available',
    language: chat.language,
  });
  const out: CA[] = [];
  for (const ca of cas) if (await isEligible(ctx, ca, chat)) out.push(ca);
  return out;
}
