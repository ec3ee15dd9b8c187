import type { CA, Chat, Message } from '../domain.js';
import { CaChatError } from '../errors.js';
import type { ChatRequest, ChatRequestResult } from '../relay-api.js';
import { matchTimerKey, type RelayContext } from './context.js';
import { canTakeChats, eligibleCAs, fitsChat, hasCapacity, isEligible } from './eligibility.js';
import { newSortableId, type Identities } from './identities.js';
import { pendingDelivery, requireCA } from './access.js';
import { FILE_CALL_TIMEOUT_MS } from './config.js';
import { callChannel, tellClient } from './plugins.js';
import { normaliseLanguage, optionalKey, optionalTopic, validateText } from './validation.js';

export interface Matching {
  requestChat(clientId: string, request: ChatRequest): Promise<ChatRequestResult>;
  acceptOffer(caId: string, chatId: string): Promise<Chat>;
  declineOffer(caId: string, chatId: string): Promise<void>;
  /** Offers a waiting chat to whoever the strategy picks among eligible CAs. */
  route(chatId: string): Promise<void>;
  offerExpired(chatId: string, caId: string): Promise<void>;
  /** The CA may take chats again: offer them the waiting chats they fit, oldest first. */
  caFreed(caId: string): Promise<void>;
  /** Withdraws the CA's open offers they no longer qualify for, and lets those chats move on. */
  reconcileOffers(caId: string): Promise<void>;
  /** Re-arms match timeouts and re-offers waiting chats after a restart. */
  resume(): Promise<void>;
  /** True while a CA is being handed a chat (the outbox leaves its messages alone meanwhile). */
  isMatching(chatId: string): boolean;
}

/** How many waiting chats a freed CA is offered at once. */
const MAX_REOFFERS = 100;

export function createMatching(ctx: RelayContext, identities: Identities): Matching {
  const matchingNow = new Set<string>();
  const { storage, clock } = ctx;

  const armMatchTimeout = (chat: Chat): void => {
    ctx.timers.set(
      matchTimerKey(chat.id),
      chat.createdAt + ctx.config.matchTimeoutMs - clock.now(),
      () => ctx.modules.lifecycle.end(chat.id, 'no_ca_available', { onlyIfWaiting: true }),
    );
  };

  const firstMessageOf = async (chat: Chat): Promise<string | null> => {
    const [first] = await storage.listMessages(chat.id, { limit: 1 });
    return first?.from === 'client' ? first.text : null;
  };

  /** Caller holds the chat's lock. */
  const routeLocked = async (chatId: string): Promise<void> => {
    const chat = await storage.getChat(chatId);
    if (!chat || chat.state !== 'waiting') return;
    const offers = await storage.listOffers({ chatId });
    const taken = new Set(
      offers.filter((o) => ['open', 'declined', 'accepted'].includes(o.state)).map((o) => o.caId),
    );
    let candidates = (await eligibleCAs(ctx, chat)).filter((ca) => !taken.has(ca.id));
    const firstMessage = await firstMessageOf(chat);
    // A strategy that picks CAs whose notification fails gets asked again without them.
    while (candidates.length > 0) {
      let picked: CA[];
      try {
        const current = await storage.listOffers({ chatId });
        picked = ctx.config.routing.select({
          chat,
          candidates: [...candidates],
          offers: current,
          now: clock.now(),
        });
      } catch (error) {
        ctx.reportError(error, { op: 'routing.select', chatId, strategy: ctx.config.routing.name });
        return;
      }
      const ids = new Set((Array.isArray(picked) ? picked : []).map((ca) => ca?.id));
      const chosen = candidates.filter((ca) => ids.has(ca.id));
      if (chosen.length === 0) return;
      const sent = await Promise.all(
        chosen.map((ca) => ctx.modules.offers.send(chat, ca, firstMessage)),
      );
      if (sent.some(Boolean)) return;
      candidates = candidates.filter((ca) => !ids.has(ca.id));
    }
  };

  const route = (chatId: string): Promise<void> =>
    ctx.chatLocks.run(chatId, () => routeLocked(chatId));

  const requireChat = async (chatId: string): Promise<Chat> => {
    const chat = typeof chatId === 'string' ? await storage.getChat(chatId) : null;
    if (!chat) throw new CaChatError('unknown_chat', 'no such chat');
    return chat;
  };

  const reconcileOffers: Matching['reconcileOffers'] = async (caId) => {
    const moved: string[] = [];
    for (const open of await storage.listOffers({ caId, state: 'open' })) {
      await ctx.chatLocks.run(open.chatId, async () => {
        const [offer, chat, ca] = await Promise.all([
          storage.getOffer(open.chatId, caId),
          storage.getChat(open.chatId),
          storage.getCA(caId),
        ]);
        if (!offer || offer.state !== 'open' || !chat) return;
        if (chat.state === 'waiting' && ca && (await isEligible(ctx, ca, chat))) return;
        await ctx.modules.offers.close(chat, offer, 'withdrawn', 'withdrawn');
        moved.push(chat.id);
      });
    }
    for (const chatId of moved) await route(chatId);
  };

  return {
    async requestChat(clientId, request) {
      await identities.requireClient(clientId);
      if (typeof request !== 'object' || request === null)
        throw new CaChatError('invalid_input', 'expected a chat request');
      const language = normaliseLanguage(request.language, ctx.config.languages);
      const topic = optionalTopic(request.topic, ctx.config.topics);
      const text =
        request.text === undefined || request.text === null
          ? null
          : validateText(request.text, ctx.config.maxTextLength);
      const clientMsgId = optionalKey(request.clientMsgId, 'clientMsgId');

      const { chat, message } = await ctx.locks.run(`client:${clientId}`, async () => {
        const open = await storage.countChats({ clientId, state: ['waiting', 'active'] });
        if (open >= ctx.config.maxOpenChatsPerClient) {
          throw new CaChatError(
            'too_many_chats',
            `at most ${ctx.config.maxOpenChatsPerClient} open chats at once`,
            {
              details: { maxOpenChatsPerClient: ctx.config.maxOpenChatsPerClient },
            },
          );
        }
        const now = clock.now();
        const chat: Chat = {
          id: newSortableId(now),
          clientId,
          caId: null,
          language,
          topic,
          state: 'waiting',
          endReason: null,
          createdAt: now,
          matchedAt: null,
          endedAt: null,
        };
        await storage.createChat(chat);
        let message: Message | null = null;
        if (text !== null) {
          const appended = await storage.appendMessage({
            chatId: chat.id,
            from: 'client',
            text,
            file: null,
            createdAt: now,
            idempotencyKey: clientMsgId,
            delivery: pendingDelivery(now),
          });
          message = appended.message;
        }
        return { chat, message };
      });

      armMatchTimeout(chat);
      const [position, noCaForLanguage] = await Promise.all([
        ctx.modules.queue.positionOf(chat),
        ctx.modules.queue.noCaForLanguage(language),
      ]);
      ctx.emit('chat.requested', chat);
      if (message) ctx.emit('message.stored', message, chat);
      await ctx.modules.queue.announce(chat, position, noCaForLanguage);
      // The client already knows its place in line; resolving after the offers went out makes
      // the request's outcome observable (and keeps a slow channel from piling up requests).
      await route(chat.id).catch((error) =>
        ctx.reportError(error, { op: 'route', chatId: chat.id }),
      );
      return { chat, position, noCaForLanguage, message };
    },

    async acceptOffer(caId, chatId) {
      const ca = await requireCA(ctx, caId);
      if (ca.approval !== 'approved')
        throw new CaChatError('ca_not_approved', 'this CA is not approved');
      const outcome = await ctx.chatLocks.run(chatId, async () => {
        const chat = await requireChat(chatId);
        if (chat.state === 'active' && chat.caId === caId) return { chat, won: null };
        if (chat.state === 'ended') throw new CaChatError('chat_ended', 'this chat has ended');
        if (chat.state === 'active')
          throw new CaChatError('chat_already_taken', 'another CA took this chat');
        const offer = await storage.getOffer(chatId, caId);
        if (!offer || offer.state !== 'open')
          throw new CaChatError('offer_not_open', 'this offer is no longer open');
        const claim = await storage.claimChat(chatId, caId, clock.now());
        if (!claim.ok) {
          if (claim.reason === 'at_capacity') {
            ctx.tasks.run('reconcile offers', () => reconcileOffers(caId));
            throw new CaChatError('ca_at_capacity', 'you are at your chat limit');
          }
          if (claim.reason === 'ca_not_found')
            throw new CaChatError('ca_not_registered', 'this CA is not registered');
          if (claim.reason === 'not_found') throw new CaChatError('unknown_chat', 'no such chat');
          throw new CaChatError('chat_already_taken', 'another CA took this chat');
        }
        const chat2 = claim.chat;
        matchingNow.add(chatId);
        // The outbox may hold this chat as it was (no CA) or its history as pending.
        ctx.modules.outbox.touched();
        try {
          ctx.timers.clear(matchTimerKey(chatId));
          await ctx.modules.offers.close(chat2, offer, 'accepted', 'accepted');
          await ctx.modules.offers.closeAll(chat2, 'withdrawn', 'taken', caId);
          const winner = (await storage.getCA(caId)) ?? ca;
          const history = await storage.listMessages(chatId);
          const delivered: Message[] = [];
          try {
            await callChannel(
              ctx,
              winner,
              'chatMatched',
              (channel) => channel.chatMatched(winner, chat2, history),
              history.some((m) => m.file !== null) ? FILE_CALL_TIMEOUT_MS : undefined,
            );
            // The history carried the client's messages so far: they reached the CA.
            for (const m of history) {
              if (m.from !== 'client' || m.delivery.state !== 'pending') continue;
              const delivery = {
                state: 'delivered' as const,
                peerMessageId: null,
                attempts: m.delivery.attempts + 1,
                nextAttemptAt: null,
                error: null,
              };
              await storage.updateDelivery(chatId, m.seq, delivery);
              delivered.push({ ...m, delivery });
            }
          } catch (error) {
            // The outbox delivers the pending history one by one instead.
            ctx.reportError(error, { op: 'chatMatched', chatId, caId });
          }
          return { chat: chat2, won: { ca: winner, delivered } };
        } finally {
          // Again: a worker that read the history as pending meanwhile must not send it twice.
          ctx.modules.outbox.touched();
          matchingNow.delete(chatId);
        }
      });
      const { chat, won } = outcome;
      if (!won) return chat;
      ctx.modules.queue.forget(chat.id);
      ctx.modules.lifecycle.activity(chat.id);
      await tellClient(ctx, chat.clientId, {
        type: 'chat.matched',
        chatId: chat.id,
        ca: { name: won.ca.name, languages: [...won.ca.languages] },
      });
      ctx.emit('chat.matched', chat, won.ca);
      for (const m of won.delivered) {
        ctx.emit('message.delivered', m, chat);
        await tellClient(ctx, chat.clientId, {
          type: 'message.status',
          chatId: chat.id,
          seq: m.seq,
          state: 'delivered',
        });
      }
      ctx.tasks.run('after match', async () => {
        ctx.modules.outbox.kick(chat.id);
        await ctx.modules.queue.refresh(chat.language);
        if (!(await hasCapacity(ctx, won.ca))) await reconcileOffers(caId);
      });
      return chat;
    },

    async declineOffer(caId, chatId) {
      await requireCA(ctx, caId);
      await ctx.chatLocks.run(chatId, async () => {
        const chat = await requireChat(chatId);
        const offer = await storage.getOffer(chatId, caId);
        if (!offer || offer.state !== 'open')
          throw new CaChatError('offer_not_open', 'this offer is no longer open');
        await ctx.modules.offers.close(chat, offer, 'declined', 'declined');
      });
      // Round-robin moves on now; resolving after that keeps the hand-over observable.
      await route(chatId).catch((error) => ctx.reportError(error, { op: 'route', chatId }));
    },

    route,

    async offerExpired(chatId, caId) {
      await ctx.chatLocks.run(chatId, async () => {
        const [offer, chat] = await Promise.all([
          storage.getOffer(chatId, caId),
          storage.getChat(chatId),
        ]);
        if (offer?.state === 'open' && chat)
          await ctx.modules.offers.close(chat, offer, 'expired', 'expired');
      });
      await route(chatId);
    },

    async caFreed(caId) {
      const ca = await storage.getCA(caId);
      if (!ca || !(await canTakeChats(ctx, ca))) return;
      const waiting = await ctx.modules.queue.waitingChats(ca.languages, MAX_REOFFERS);
      for (const chat of waiting) if (fitsChat(ca, chat)) await route(chat.id);
    },

    reconcileOffers,

    async resume() {
      const waiting = await storage.listChats({ state: 'waiting' });
      for (const chat of waiting) armMatchTimeout(chat);
      await ctx.modules.offers.resumeTimers();
      for (const chat of waiting) ctx.tasks.run('re-offer after restart', () => route(chat.id));
    },

    isMatching: (chatId) => matchingNow.has(chatId),
  };
}
