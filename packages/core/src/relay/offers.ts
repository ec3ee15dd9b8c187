import type { OfferCloseReason } from '../ca-channel.js';
import type { CA, Chat, Offer, OfferState } from '../domain.js';
import type { RelayContext } from './context.js';
import { callChannel, tellCA } from './plugins.js';

/** Offer records and their notifications. Every method expects the caller to hold the chat's lock. */
export interface Offers {
  /** Stores an open offer, then notifies the CA; a failed notification withdraws it again. */
  send(chat: Chat, ca: CA, firstMessage: string | null): Promise<boolean>;
  /** Closes one open offer and edits its notification. */
  close(
    chat: Chat,
    offer: Offer,
    state: Exclude<OfferState, 'open'>,
    reason: OfferCloseReason,
  ): Promise<void>;
  /** Closes every open offer of the chat (except `exceptCaId`'s). */
  closeAll(
    chat: Chat,
    state: Exclude<OfferState, 'open'>,
    reason: OfferCloseReason,
    exceptCaId?: string,
  ): Promise<void>;
  /** Re-arms expiry timers of open offers after a restart. */
  resumeTimers(): Promise<void>;
}

const timerKey = (chatId: string, caId: string): string => `offer:${chatId}:${caId}`;

export function createOffers(ctx: RelayContext): Offers {
  const timeoutMs = (): number | null => ctx.config.routing.offerTimeoutMs;

  const arm = (offer: Offer): void => {
    const ms = timeoutMs();
    if (ms === null) return;
    ctx.timers.set(timerKey(offer.chatId, offer.caId), offer.createdAt + ms - ctx.clock.now(), () =>
      ctx.modules.matching.offerExpired(offer.chatId, offer.caId),
    );
  };

  const close: Offers['close'] = async (chat, offer, state, reason) => {
    ctx.timers.clear(timerKey(offer.chatId, offer.caId));
    await ctx.storage.putOffer({ ...offer, state, closedAt: ctx.clock.now() });
    const ca = await ctx.storage.getCA(offer.caId);
    if (!ca) return;
    await tellCA(ctx, ca, 'closeOffer', (channel) =>
      channel.closeOffer(ca, offer.ref, chat.id, reason),
    );
    ctx.emit('chat.offer_closed', chat, ca, reason);
  };

  return {
    async send(chat, ca, firstMessage) {
      const offer: Offer = {
        chatId: chat.id,
        caId: ca.id,
        ref: null,
        state: 'open',
        createdAt: ctx.clock.now(),
        closedAt: null,
      };
      // Stored before the CA can see it, so an instant Accept finds it open.
      await ctx.storage.putOffer(offer);
      let ref: string | null;
      try {
        ref = await callChannel(ctx, ca, 'sendOffer', (channel) =>
          channel.sendOffer(ca, {
            chatId: chat.id,
            language: chat.language,
            topic: chat.topic,
            firstMessage,
            createdAt: chat.createdAt,
          }),
        );
      } catch (error) {
        ctx.reportError(error, { op: 'sendOffer', chatId: chat.id, caId: ca.id });
        await ctx.storage.putOffer({ ...offer, state: 'withdrawn', closedAt: ctx.clock.now() });
        return false;
      }
      const sent = { ...offer, ref: typeof ref === 'string' ? ref : null };
      await ctx.storage.putOffer(sent);
      arm(sent);
      ctx.emit('chat.offered', chat, ca);
      return true;
    },

    close,

    async closeAll(chat, state, reason, exceptCaId) {
      const open = await ctx.storage.listOffers({ chatId: chat.id, state: 'open' });
      await Promise.all(
        open.filter((o) => o.caId !== exceptCaId).map((o) => close(chat, o, state, reason)),
      );
    },

    async resumeTimers() {
      if (timeoutMs() === null) return;
      for (const offer of await ctx.storage.listOffers({ state: 'open' })) arm(offer);
    },
  };
}
