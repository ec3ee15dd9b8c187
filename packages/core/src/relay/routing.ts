import type { CA, Chat, Offer } from '../domain.js';

/**
 * Decides which eligible CAs are offered a waiting chat. The relay computes eligibility
 * (approved, available, speaks the language, covers the topic, below capacity) and never
 * passes a CA at capacity; a strategy only chooses among them.
 */
export interface RoutingStrategy {
  readonly name: string;
  /**
   * Called whenever a chat may need new offers (requested, a CA freed up, an offer was
   * declined or expired). `candidates` are eligible CAs that have no offer for this chat
   * yet (or whose offer ended without being declined). Returns the CAs to offer it to now.
   */
  select(context: RoutingContext): CA[];
  /** How long an offer stays open before the relay expires it and asks again; null = until taken. */
  readonly offerTimeoutMs: number | null;
}

export interface RoutingContext {
  chat: Chat;
  candidates: CA[];
  /** Every offer of this chat so far (any state). */
  offers: Offer[];
  now: number;
}

/** Offers a chat to every eligible CA at once; the first to accept wins. */
export const broadcastStrategy: RoutingStrategy = Object.freeze({
  name: 'broadcast',
  offerTimeoutMs: null,
  select: (context: RoutingContext): CA[] => [...context.candidates],
});

/**
 * Offers a chat to one CA at a time: whoever was assigned a chat least recently (never
 * first), moving on after `offerTimeoutMs` or a decline. CAs whose earlier offer for this
 * chat expired go to the back, so the chat cycles through everyone before asking anyone twice.
 */
export function roundRobinStrategy(offerTimeoutMs = 60_000): RoutingStrategy {
  if (!(Number.isFinite(offerTimeoutMs) && offerTimeoutMs > 0)) {
    throw new RangeError('roundRobinStrategy: offerTimeoutMs must be a positive number');
  }
  return Object.freeze({
    name: 'round-robin',
    offerTimeoutMs,
    select(context: RoutingContext): CA[] {
      if (context.offers.some((o) => o.state === 'open')) return [];
      const lastOfferAt = new Map<string, number>();
      for (const offer of context.offers) {
        lastOfferAt.set(
          offer.caId,
          Math.max(lastOfferAt.get(offer.caId) ?? -Infinity, offer.createdAt),
        );
      }
      const ranked = [...context.candidates].sort(
        (a, b) =>
          (lastOfferAt.get(a.id) ?? -Infinity) - (lastOfferAt.get(b.id) ?? -Infinity) ||
          (a.lastAssignedAt ?? -Infinity) - (b.lastAssignedAt ?? -Infinity) ||
          a.registeredAt - b.registeredAt ||
          (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      );
      return ranked.slice(0, 1);
    },
  });
}
