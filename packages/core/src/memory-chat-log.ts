import type { Delivery, DeliveryState, FileRef, Message, Party } from './domain.js';
import { copyFileRef } from './memory-copies.js';
import type { NewMessage } from './storage.js';

const STATES: readonly DeliveryState[] = ['pending', 'delivered', 'failed'];
const STATE_CODES: Record<DeliveryState, number> = { pending: 0, delivered: 1, failed: 2 };
const PARTIES: readonly Party[] = ['client', 'ca', 'system'];
const PARTY_CODES: Record<Party, number> = { client: 0, ca: 1, system: 2 };
const PENDING = STATE_CODES.pending;

/** Messages per record block; the first block grows to this size, later ones are made at it. */
const BLOCK_BITS = 10;
const BLOCK = 1 << BLOCK_BITS;
const FIRST_BLOCK = 8;
/** Doubles per message in a block (the fields below): 64 bytes, one cache line. */
const STRIDE = 8;
const TEXT_AT = 0; // arena position of the text's UTF-8 bytes, the key's right after them
const TEXT_LEN = 1; // bytes, -1 for a null text
const KEY_LEN = 2; // bytes, -1 for no key
const PEER_AT = 3;
const PEER_LEN = 4; // bytes, -1 for null
const CREATED_AT = 5;
const NEXT_ATTEMPT_AT = 6; // NaN for null
const META = 7; // attempts * 16 + state * 4 + sender

/** Arena chunks double from this size up to MAX_CHUNK; a string larger than that gets its own. */
const FIRST_CHUNK = 512;
const MAX_CHUNK = 1 << 20;
/** An arena position is chunk index * 2^32 + offset: exact in a double. */
const CHUNK_SPAN = 2 ** 32;

/**
 * One chat's messages as the memory store keeps them: outside the JS heap. Texts, keys and
 * peer message ids are UTF-8 in the chat's own byte arena; every other field is a number in a
 * block of `Float64Array` records; idempotency keys are found through an open-addressing table
 * of seqs and hashes. A stored message costs 64 bytes (8–16 more with a key) plus its strings'
 * bytes and no heap object at all, so a store holding hundreds of thousands of messages gives
 * the garbage collector nothing to trace or copy: with every message kept as JS strings and
 * arrays, the growing heap's collections were what held up the event loop under load
 * (bench/README.md `## ws`). Rare fields (files, errors) live in maps by seq. Dropping the log
 * (deleteChat) frees it all.
 */
export class ChatLog {
  private readonly blocks: Float64Array[] = [new Float64Array(FIRST_BLOCK * STRIDE)];
  private count = 0;
  private readonly chunks: Buffer[] = [];
  /** Where the next string goes in the last chunk. */
  private used = 0;
  /** The byte length of what `put` wrote last. */
  private putBytes = 0;
  /**
   * Pairs of (seq of the message holding a key, 0 for a free slot; the key's hash); a
   * power-of-two number of pairs. The hash beside the seq lets a probe pass other keys
   * without reading their records, which are scattered over the blocks (a cache miss each).
   */
  private keySlots: Int32Array | null = null;
  private keyCount = 0;
  /** Where `findKey` last found no key: `append` stores that key there without probing again. */
  private freeKey: string | null = null;
  private freeFrom: Party = 'client';
  private freeHash = 0;
  private freeSlot = 0;
  private files: Map<number, FileRef> | null = null;
  private errors: Map<number, string> | null = null;
  /** How many messages are pending, and a seq below which none is (they settle in order). */
  private pendingCount = 0;
  private pendingFrom = 1;

  constructor(readonly chatId: string) {}

  get length(): number {
    return this.count;
  }

  /** The seq of the message `from` stored with idempotency key `key`, or 0. */
  findKey(from: Party, key: string): number {
    const slots = this.keySlots;
    if (slots === null) return 0;
    key = wellFormed(key);
    const hash = hashKey(from, key);
    const mask = (slots.length >> 1) - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const seq = slots[slot * 2]!;
      if (seq === 0) {
        this.freeKey = key;
        this.freeFrom = from;
        this.freeHash = hash;
        this.freeSlot = slot;
        return 0;
      }
      if (slots[slot * 2 + 1] !== hash) continue;
      const block = this.block(seq);
      const at = recordAt(seq);
      if (block[at + META]! % 4 === PARTY_CODES[from] && this.key(block, at) === key) return seq;
    }
  }

  /**
   * Appends `m` (copied) and returns it as stored. The caller checked its key with `findKey`.
   */
  append(m: NewMessage): Message {
    const seq = this.count + 1;
    const i = this.count;
    if (i >= BLOCK) {
      if ((i & (BLOCK - 1)) === 0) this.blocks.push(new Float64Array(BLOCK * STRIDE));
    } else if (i * STRIDE >= this.blocks[0]!.length) {
      const grown = new Float64Array(Math.min(BLOCK, i * 2) * STRIDE);
      grown.set(this.blocks[0]!);
      this.blocks[0] = grown;
    }
    this.count = seq;
    const block = this.block(seq);
    const at = recordAt(seq);
    const text = m.text === null ? null : wellFormed(m.text);
    const key = m.idempotencyKey === null ? null : wellFormed(m.idempotencyKey);
    // The key's bytes follow the text's: one write for both (a call into C++ costs more than
    // the copy). An all-ASCII pair, the usual case, has as many bytes as UTF-16 units.
    const both = text === null ? (key ?? '') : key === null ? text : text + key;
    const where = this.put(both);
    const bytes = this.putBytes;
    let textLen = -1;
    if (text !== null) {
      if (key === null) textLen = bytes;
      else textLen = bytes === both.length ? text.length : Buffer.byteLength(text);
    }
    block[at + TEXT_AT] = where;
    block[at + TEXT_LEN] = textLen;
    block[at + KEY_LEN] = key === null ? -1 : bytes - Math.max(0, textLen);
    block[at + PEER_LEN] = -1;
    block[at + CREATED_AT] = m.createdAt;
    block[at + META] = PARTY_CODES[m.from];
    if (key !== null) this.indexKey(seq, m.from, key);
    if (m.file !== null) (this.files ??= new Map()).set(seq, copyFileRef(m.file));
    this.putDelivery(block, at, seq, m.delivery);
    if (m.delivery.state === 'pending') this.pendingAdded(seq);
    return this.message(seq, text, key);
  }

  /**
   * A new `Message` for `seq` (1-based); `seq` must exist. `append` passes the strings it
   * has just stored, so they are not decoded again.
   */
  message(seq: number, text?: string | null, key?: string | null): Message {
    const block = this.block(seq);
    const at = recordAt(seq);
    const file = this.files?.get(seq);
    const next = block[at + NEXT_ATTEMPT_AT]!;
    const meta = block[at + META]!;
    const peerLen = block[at + PEER_LEN]!;
    return {
      chatId: this.chatId,
      seq,
      from: PARTIES[meta % 4]!,
      text: text !== undefined ? text : this.text(block, at),
      file: file === undefined ? null : copyFileRef(file),
      createdAt: block[at + CREATED_AT]!,
      idempotencyKey: key !== undefined ? key : this.key(block, at),
      delivery: {
        state: STATES[Math.floor(meta / 4) % 4]!,
        peerMessageId: peerLen < 0 ? null : this.read(block[at + PEER_AT]!, peerLen),
        attempts: Math.floor(meta / 16),
        nextAttemptAt: Number.isNaN(next) ? null : next,
        error: this.errors?.get(seq) ?? null,
      },
    };
  }

  pending(seq: number): boolean {
    const block = this.block(seq);
    const at = recordAt(seq);
    return Math.floor(block[at + META]! / 4) % 4 === PENDING;
  }

  /** The seqs of the pending messages, in order. */
  pendingSeqs(): number[] {
    const out: number[] = [];
    if (this.pendingCount === 0) return out;
    for (let seq = this.pendingFrom; seq <= this.count; seq++) if (this.pending(seq)) out.push(seq);
    return out;
  }

  setDelivery(seq: number, delivery: Delivery): void {
    const block = this.block(seq);
    const at = recordAt(seq);
    const was = Math.floor(block[at + META]! / 4) % 4 === PENDING;
    const now = delivery.state === 'pending';
    if (now && !was) this.pendingAdded(seq);
    else if (was && !now) this.pendingCount--;
    this.putDelivery(block, at, seq, delivery);
    // The lower bound walks past what is settled (usually just this message).
    if (this.pendingCount === 0) this.pendingFrom = this.count + 1;
    else
      while (this.pendingFrom <= this.count && !this.pending(this.pendingFrom)) this.pendingFrom++;
  }

  private putDelivery(block: Float64Array, at: number, seq: number, delivery: Delivery): void {
    const sender = block[at + META]! % 4;
    block[at + META] = delivery.attempts * 16 + STATE_CODES[delivery.state] * 4 + sender;
    block[at + NEXT_ATTEMPT_AT] = delivery.nextAttemptAt ?? NaN;
    const peer = delivery.peerMessageId;
    const peerLen = block[at + PEER_LEN]!;
    if (peer === null) block[at + PEER_LEN] = -1;
    else if (peerLen < 0 || this.read(block[at + PEER_AT]!, peerLen) !== peer) {
      const len = Buffer.byteLength(peer);
      const where = this.reserve(len);
      this.write(where, peer, len);
      block[at + PEER_AT] = where;
      block[at + PEER_LEN] = len;
    }
    if (delivery.error !== null) (this.errors ??= new Map()).set(seq, delivery.error);
    else this.errors?.delete(seq);
  }

  private pendingAdded(seq: number): void {
    if (this.pendingCount === 0 || seq < this.pendingFrom) this.pendingFrom = seq;
    this.pendingCount++;
  }

  /** The block holding `seq`'s record (see `at` for where in it). */
  private block(seq: number): Float64Array {
    return this.blocks[(seq - 1) >> BLOCK_BITS]!;
  }

  private text(block: Float64Array, at: number): string | null {
    const len = block[at + TEXT_LEN]!;
    return len < 0 ? null : this.read(block[at + TEXT_AT]!, len);
  }

  private key(block: Float64Array, at: number): string | null {
    const len = block[at + KEY_LEN]!;
    if (len < 0) return null;
    return this.read(block[at + TEXT_AT]! + Math.max(0, block[at + TEXT_LEN]!), len);
  }

  /** Writes `s` into the arena and returns its position; `putBytes` is its length in bytes. */
  private put(s: string): number {
    const last = this.chunks.length - 1;
    if (s.length === 0) {
      this.putBytes = 0;
      return 0;
    }
    // Room for the worst case (3 bytes per UTF-16 unit): write first, count after.
    if (last >= 0 && this.used + s.length * 3 <= this.chunks[last]!.length) {
      const where = last * CHUNK_SPAN + this.used;
      this.putBytes = this.chunks[last]!.write(s, this.used);
      this.used += this.putBytes;
      return where;
    }
    const bytes = Buffer.byteLength(s);
    const where = this.reserve(bytes);
    this.write(where, s, bytes);
    this.putBytes = bytes;
    return where;
  }

  /** The arena position of `bytes` free bytes in one chunk (a new chunk when the last is full). */
  private reserve(bytes: number): number {
    if (bytes === 0) return 0;
    const last = this.chunks.length - 1;
    if (last >= 0 && this.used + bytes <= this.chunks[last]!.length) {
      const where = last * CHUNK_SPAN + this.used;
      this.used += bytes;
      return where;
    }
    const previous = last >= 0 ? this.chunks[last]!.length : FIRST_CHUNK / 2;
    const size = Math.max(bytes, Math.min(MAX_CHUNK, previous * 2));
    // Unpooled: a chunk must not keep a shared pool slab (or other chats' bytes) alive.
    this.chunks.push(Buffer.allocUnsafeSlow(size));
    this.used = bytes;
    return (last + 1) * CHUNK_SPAN;
  }

  private write(where: number, s: string, bytes: number): void {
    if (bytes === 0) return;
    const chunk = this.chunks[Math.floor(where / CHUNK_SPAN)]!;
    chunk.write(s, where % CHUNK_SPAN, bytes, 'utf8');
  }

  private read(where: number, bytes: number): string {
    if (bytes === 0) return '';
    const offset = where % CHUNK_SPAN;
    return this.chunks[Math.floor(where / CHUNK_SPAN)]!.toString('utf8', offset, offset + bytes);
  }

  private indexKey(seq: number, from: Party, key: string): void {
    let slots = this.keySlots;
    // The slot `findKey` found free for this very key is still the place, unless the
    // table grows now.
    const probed = this.freeKey === key && this.freeFrom === from;
    this.freeKey = null;
    const hash = probed ? this.freeHash : hashKey(from, key);
    if (slots === null || (this.keyCount + 1) * 4 > slots.length) {
      // Grows at half full; stored hashes let it rehash without reading a key.
      const grown = new Int32Array(slots === null ? 32 : slots.length * 2);
      const mask = (grown.length >> 1) - 1;
      if (slots !== null) {
        for (let i = 0; i < slots.length; i += 2) {
          if (slots[i] === 0) continue;
          let slot = slots[i + 1]! & mask;
          while (grown[slot * 2] !== 0) slot = (slot + 1) & mask;
          grown[slot * 2] = slots[i]!;
          grown[slot * 2 + 1] = slots[i + 1]!;
        }
      }
      this.keySlots = slots = grown;
    } else if (probed && slots[this.freeSlot * 2] === 0) {
      slots[this.freeSlot * 2] = seq;
      slots[this.freeSlot * 2 + 1] = hash;
      this.keyCount++;
      return;
    }
    const mask = (slots.length >> 1) - 1;
    let slot = hash & mask;
    while (slots[slot * 2] !== 0) slot = (slot + 1) & mask;
    slots[slot * 2] = seq;
    slots[slot * 2 + 1] = hash;
    this.keyCount++;
  }
}

/**
 * `s` as it comes back from UTF-8: strings are kept as UTF-8, as a SQL store keeps them, so a
 * lone surrogate half reads back as U+FFFD. Keys are compared in that form too.
 */
function wellFormed(s: string): string {
  const t = s as string & { isWellFormed(): boolean; toWellFormed(): string };
  return t.isWellFormed() ? s : t.toWellFormed();
}

/** Where `seq`'s record starts in its block. */
function recordAt(seq: number): number {
  return ((seq - 1) & (BLOCK - 1)) * STRIDE;
}

/** FNV-1a over the key's UTF-16 code units, seeded by the sender; a non-negative int32. */
function hashKey(from: Party, key: string): number {
  let h = (0x811c9dc5 ^ PARTY_CODES[from]) | 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h & 0x7fffffff;
}
