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
