import type { Delivery, DeliveryState, FileRef, Message, Party } from './domain.js';
import { copyFileRef } from './memory-copies.js';
import type { NewMessage } from './storage.js';

const STATES: readonly DeliveryState[] = ['pending', 'delivered', 'failed'];
const STATE_CODES: Record<DeliveryState, number> = { pending: 0, delivered: 1, failed: 2 };
const PARTIES: readonly Party[] = ['client', 'ca', 'system'];
const PARTY_CODES: Record<Party, number> = { client: 0, ca: 1, system: 2 };
const PENDING = STATE_CODES.pending;

/**
 * One chat's messages as the memory store keeps them: column by column, so a stored message
 * costs its text and key strings and a slot in each column, not an object per message (plus
 * a boxed number per timestamp). The store keeps every message of every chat, and at tens of
 * thousands of messages a second the objects the garbage collector had to copy and mark were
 * what held up the event loop. Number columns stay unboxed (V8 keeps arrays of doubles flat);
 * `null` timestamps are NaN. Rare fields (files, errors) live in maps by seq.
 */
export class ChatLog {
  private readonly texts: (string | null)[] = [];
  private readonly keys: (string | null)[] = [];
  private readonly senders: number[] = [];
  private readonly createdAts: number[] = [];
  private readonly states: number[] = [];
  private readonly attempts: number[] = [];
  private readonly nextAttemptAts: number[] = [];
  private readonly peerIds: (string | null)[] = [];
  private files: Map<number, FileRef> | null = null;
  private errors: Map<number, string> | null = null;
  /** How many messages are pending, and a seq below which none is (they settle in order). */
  private pendingCount = 0;
  private pendingFrom = 1;

  constructor(readonly chatId: string) {}

  get length(): number {
    return this.texts.length;
  }

  /** Appends `m` (copied) and returns its seq. */
  append(m: NewMessage): number {
    const seq = this.texts.length + 1;
    this.texts.push(m.text);
    this.keys.push(m.idempotencyKey);
    this.senders.push(PARTY_CODES[m.from]);
    this.createdAts.push(m.createdAt);
    this.states.push(STATE_CODES[m.delivery.state]);
    this.attempts.push(m.delivery.attempts);
    this.nextAttemptAts.push(m.delivery.nextAttemptAt ?? NaN);
    this.peerIds.push(m.delivery.peerMessageId);
    if (m.file !== null) (this.files ??= new Map()).set(seq, copyFileRef(m.file));
    if (m.delivery.error !== null) (this.errors ??= new Map()).set(seq, m.delivery.error);
    if (m.delivery.state === 'pending') this.pendingAdded(seq);
    return seq;
  }

  /** A new `Message` for `seq` (1-based); `seq` must exist. */
  message(seq: number): Message {
    const i = seq - 1;
    const file = this.files?.get(seq);
    const next = this.nextAttemptAts[i]!;
    return {
      chatId: this.chatId,
      seq,
      from: PARTIES[this.senders[i]!]!,
      text: this.texts[i]!,
      file: file === undefined ? null : copyFileRef(file),
      createdAt: this.createdAts[i]!,
      idempotencyKey: this.keys[i]!,
      delivery: {
        state: STATES[this.states[i]!]!,
        peerMessageId: this.peerIds[i]!,
        attempts: this.attempts[i]!,
        nextAttemptAt: Number.isNaN(next) ? null : next,
        error: this.errors?.get(seq) ?? null,
      },
    };
  }

  pending(seq: number): boolean {
    return this.states[seq - 1] === PENDING;
  }

  /** The seqs of the pending messages, in order. */
  pendingSeqs(): number[] {
    const out: number[] = [];
    if (this.pendingCount === 0) return out;
    for (let seq = this.pendingFrom; seq <= this.length; seq++)
      if (this.pending(seq)) out.push(seq);
    return out;
  }

  setDelivery(seq: number, delivery: Delivery): void {
    const i = seq - 1;
    const was = this.states[i] === PENDING;
    const now = delivery.state === 'pending';
    if (now && !was) this.pendingAdded(seq);
    else if (was && !now) this.pendingCount--;
    this.states[i] = STATE_CODES[delivery.state];
    this.attempts[i] = delivery.attempts;
    this.nextAttemptAts[i] = delivery.nextAttemptAt ?? NaN;
    this.peerIds[i] = delivery.peerMessageId;
    if (delivery.error !== null) (this.errors ??= new Map()).set(seq, delivery.error);
    else this.errors?.delete(seq);
    // The lower bound walks past what is settled (usually just this message).
    if (this.pendingCount === 0) this.pendingFrom = this.length + 1;
    else
      while (this.pendingFrom <= this.length && !this.pending(this.pendingFrom)) this.pendingFrom++;
  }

  private pendingAdded(seq: number): void {
    if (this.pendingCount === 0 || seq < this.pendingFrom) this.pendingFrom = seq;
    this.pendingCount++;
  }
}
