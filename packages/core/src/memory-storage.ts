import { CaChatError } from './errors.js';
import { ChatLog } from './memory-chat-log.js';
import type {
  CA,
  Chat,
  Client,
  EndReason,
  FileRecord,
  FileRef,
  Invite,
  Message,
  Offer,
} from './domain.js';
import type {
  AppendResult,
  ImmediateMessages,
  CAFilter,
  CAPatch,
  ChatFilter,
  ClaimResult,
  ClientPatch,
  NewMessage,
  OfferFilter,
  Storage,
} from './storage.js';
import {
  copyCA,
  copyChat,
  copyClient,
  copyFileRecord,
  copyInvite,
  copyJson,
  copyOffer,
} from './memory-copies.js';

/**
 * A Storage kept in process memory: fast, and gone when the process exits. For tests,
 * demos, and embedders who persist elsewhere. Each method runs synchronously inside its
 * promise, so every method is atomic in a single process.
 */
export function createMemoryStorage(): Storage {
  return new MemoryStorage();
}

class MemoryStorage implements Storage {
  /** Every method is async and throws only CaChatErrors (see `Storage.typedErrors`). */
  readonly typedErrors = true;
  /** The message calls the relay makes per message, answered at once (`Storage.immediate`). */
  readonly immediate: ImmediateMessages = {
    appendMessage: (input) => this.appendNow(input),
    updateDelivery: (chatId, seq, delivery) => this.updateDeliveryNow(chatId, seq, delivery),
  };
  private cas = new Map<string, CA>();
  private clients = new Map<string, Client>();
  private chats = new Map<string, Chat>();
  /** chatId → messages in seq order (index = seq - 1). */
  private messages = new Map<string, ChatLog>();
  /** chatId → caId → offer */
  private offers = new Map<string, Map<string, Offer>>();
  private files = new Map<string, FileRecord>();
  private invites = new Map<string, Invite>();
  private kv = new Map<string, unknown>();
  private closed = false;

  async init(): Promise<void> {
    this.closed = false;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new CaChatError('storage_error', 'storage is closed');
  }

  // ---- CAs
  async createCA(ca: CA): Promise<void> {
    this.check();
    if (this.cas.has(ca.id)) throw new CaChatError('storage_error', `CA ${ca.id} already exists`);
    for (const other of this.cas.values()) {
      if (other.channel === ca.channel && other.externalId === ca.externalId) {
        throw new CaChatError(
          'ca_already_registered',
          `a CA with ${ca.channel} id ${ca.externalId} already exists`,
        );
      }
    }
    this.cas.set(ca.id, copyCA(ca));
  }

  async getCA(id: string): Promise<CA | null> {
    this.check();
    const ca = this.cas.get(id);
    return ca ? copyCA(ca) : null;
  }

  async getCAByExternalId(channel: string, externalId: string): Promise<CA | null> {
    this.check();
    for (const ca of this.cas.values()) {
      if (ca.channel === channel && ca.externalId === externalId) return copyCA(ca);
    }
    return null;
  }

  async updateCA(id: string, patch: CAPatch): Promise<CA | null> {
    this.check();
    const ca = this.cas.get(id);
    if (!ca) return null;
    const next = copyCA({ ...ca, ...pickDefined(patch, CA_PATCH_KEYS) });
    this.cas.set(id, next);
    return copyCA(next);
  }

  async listCAs(filter: CAFilter = {}): Promise<CA[]> {
    this.check();
    const out: CA[] = [];
    for (const ca of this.cas.values()) {
      if (filter.approval && ca.approval !== filter.approval) continue;
      if (filter.status && ca.status !== filter.status) continue;
      if (filter.channel && ca.channel !== filter.channel) continue;
      if (filter.language && !ca.languages.includes(filter.language)) continue;
      out.push(copyCA(ca));
    }
    return out.sort((a, b) => a.registeredAt - b.registeredAt || cmp(a.id, b.id));
  }

  // ---- invites
  async createInvite(invite: Invite): Promise<void> {
    this.check();
    if (this.invites.has(invite.codeHash))
      throw new CaChatError('storage_error', 'invite already exists');
    this.invites.set(invite.codeHash, copyInvite(invite));
  }

  async useInvite(codeHash: string, usedBy: string, now: number): Promise<boolean> {
    this.check();
    const invite = this.invites.get(codeHash);
    if (!invite || invite.usedAt !== null) return false;
    if (invite.expiresAt !== null && invite.expiresAt <= now) return false;
    invite.usedAt = now;
    invite.usedBy = usedBy;
    return true;
  }

  // ---- clients
  async createClient(client: Client): Promise<void> {
    this.check();
    if (this.clients.has(client.id))
      throw new CaChatError('storage_error', `client ${client.id} already exists`);
    this.clients.set(client.id, copyClient(client));
  }

  async getClient(id: string): Promise<Client | null> {
    this.check();
    const client = this.clients.get(id);
    return client ? copyClient(client) : null;
  }

  async updateClient(id: string, patch: ClientPatch): Promise<Client | null> {
    this.check();
    const client = this.clients.get(id);
    if (!client) return null;
    const next = copyClient({ ...client, ...pickDefined(patch, CLIENT_PATCH_KEYS) });
    this.clients.set(id, next);
    return copyClient(next);
  }

  // ---- chats
  async createChat(chat: Chat): Promise<void> {
    this.check();
    if (this.chats.has(chat.id))
      throw new CaChatError('storage_error', `chat ${chat.id} already exists`);
    this.chats.set(chat.id, copyChat(chat));
  }

  async getChat(id: string): Promise<Chat | null> {
    this.check();
    const chat = this.chats.get(id);
    return chat ? copyChat(chat) : null;
  }

  private filterChats(filter: ChatFilter): Chat[] {
    const states = filter.state === undefined ? null : ([] as string[]).concat(filter.state);
    const out: Chat[] = [];
    for (const chat of this.chats.values()) {
      if (states && !states.includes(chat.state)) continue;
      if (filter.clientId && chat.clientId !== filter.clientId) continue;
      if (filter.caId && chat.caId !== filter.caId) continue;
      if (filter.language && chat.language !== filter.language) continue;
      if (
        filter.endedBefore !== undefined &&
        !(chat.endedAt !== null && chat.endedAt < filter.endedBefore)
      )
        continue;
      out.push(chat);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id));
  }

  async listChats(filter: ChatFilter = {}): Promise<Chat[]> {
    this.check();
    const chats = this.filterChats(filter);
    return (filter.limit !== undefined ? chats.slice(0, filter.limit) : chats).map(copyChat);
  }

  async countChats(filter: ChatFilter = {}): Promise<number> {
    this.check();
    return this.filterChats({ ...filter, limit: undefined }).length;
  }

  async claimChat(chatId: string, caId: string, now: number): Promise<ClaimResult> {
    this.check();
    const chat = this.chats.get(chatId);
    if (!chat) return { ok: false, reason: 'not_found', chat: null };
    if (chat.state !== 'waiting') return { ok: false, reason: 'not_waiting', chat: copyChat(chat) };
    const ca = this.cas.get(caId);
    if (!ca) return { ok: false, reason: 'ca_not_found', chat: copyChat(chat) };
    let active = 0;
    for (const c of this.chats.values()) if (c.caId === caId && c.state === 'active') active++;
    if (active >= ca.maxChats) return { ok: false, reason: 'at_capacity', chat: copyChat(chat) };
    chat.state = 'active';
    chat.caId = caId;
    chat.matchedAt = now;
    ca.lastAssignedAt = now;
    return { ok: true, chat: copyChat(chat) };
  }

  async endChat(chatId: string, reason: EndReason, now: number): Promise<Chat | null> {
    this.check();
    const chat = this.chats.get(chatId);
    if (!chat || chat.state === 'ended') return null;
    chat.state = 'ended';
    chat.endReason = reason;
    chat.endedAt = now;
    return copyChat(chat);
  }

  async deleteChat(chatId: string): Promise<FileRef[]> {
    this.check();
    this.chats.delete(chatId);
    this.messages.delete(chatId);
    this.offers.delete(chatId);
    const removed: FileRef[] = [];
    for (const [id, file] of this.files) {
      if (file.chatId !== chatId) continue;
      this.files.delete(id);
      removed.push({
        id: file.id,
        name: file.name,
        mime: file.mime,
        size: file.size,
        sha256: file.sha256,
      });
    }
    return removed;
  }

  // ---- messages
  async appendMessage(input: NewMessage): Promise<AppendResult> {
    return this.appendNow(input);
  }

  private appendNow(input: NewMessage): AppendResult {
    this.check();
    let log = this.messages.get(input.chatId);
    if (log === undefined) this.messages.set(input.chatId, (log = new ChatLog(input.chatId)));
    if (input.idempotencyKey !== null) {
      const seq = log.findKey(input.from, input.idempotencyKey);
      if (seq !== 0) return { message: log.message(seq), duplicate: true };
    }
    return { message: log.append(input), duplicate: false };
  }

  async getMessage(chatId: string, seq: number): Promise<Message | null> {
    this.check();
    const log = this.messages.get(chatId);
    return log !== undefined && seq >= 1 && seq <= log.length ? log.message(seq) : null;
  }

  async listMessages(
    chatId: string,
    options: { afterSeq?: number; limit?: number } = {},
  ): Promise<Message[]> {
    this.check();
    const log = this.messages.get(chatId);
    if (log === undefined) return [];
    const start = Math.max(0, options.afterSeq ?? 0);
    const end = Math.min(
      log.length,
      options.limit === undefined ? log.length : start + Math.max(0, options.limit),
    );
    const out: Message[] = [];
    for (let seq = start + 1; seq <= end; seq++) out.push(log.message(seq));
    return out;
  }

  async lastSeq(chatId: string): Promise<number> {
    this.check();
    return this.messages.get(chatId)?.length ?? 0;
  }

  async updateDelivery(chatId: string, seq: number, delivery: Message['delivery']): Promise<void> {
    this.updateDeliveryNow(chatId, seq, delivery);
  }

  private updateDeliveryNow(chatId: string, seq: number, delivery: Message['delivery']): void {
    this.check();
    const log = this.messages.get(chatId);
    if (log === undefined || !Number.isInteger(seq) || seq < 1 || seq > log.length)
      throw new CaChatError('not_found', `message ${chatId}#${seq} does not exist`);
    log.setDelivery(seq, delivery);
  }

  async listPendingDeliveries(options: { limit?: number } = {}): Promise<Message[]> {
    this.check();
    const found: { log: ChatLog; seq: number }[] = [];
    for (const log of this.messages.values()) {
      for (const seq of log.pendingSeqs()) found.push({ log, seq });
    }
    found.sort((a, b) => cmp(a.log.chatId, b.log.chatId) || a.seq - b.seq);
    const chosen = options.limit === undefined ? found : found.slice(0, options.limit);
    return chosen.map(({ log, seq }) => log.message(seq));
  }

  // ---- offers
  async putOffer(offer: Offer): Promise<void> {
    this.check();
    let byCa = this.offers.get(offer.chatId);
    if (!byCa) this.offers.set(offer.chatId, (byCa = new Map()));
    byCa.set(offer.caId, copyOffer(offer));
  }

  async getOffer(chatId: string, caId: string): Promise<Offer | null> {
    this.check();
    const offer = this.offers.get(chatId)?.get(caId);
    return offer ? copyOffer(offer) : null;
  }

  async listOffers(filter: OfferFilter = {}): Promise<Offer[]> {
    this.check();
    const out: Offer[] = [];
    const maps = filter.chatId
      ? [this.offers.get(filter.chatId) ?? new Map<string, Offer>()]
      : [...this.offers.values()];
    for (const byCa of maps) {
      for (const offer of byCa.values()) {
        if (filter.caId && offer.caId !== filter.caId) continue;
        if (filter.state && offer.state !== filter.state) continue;
        out.push(copyOffer(offer));
      }
    }
    return out.sort(
      (a, b) => a.createdAt - b.createdAt || cmp(a.chatId, b.chatId) || cmp(a.caId, b.caId),
    );
  }

  // ---- files
  async createFile(file: FileRecord): Promise<void> {
    this.check();
    if (this.files.has(file.id))
      throw new CaChatError('storage_error', `file ${file.id} already exists`);
    this.files.set(file.id, copyFileRecord(file));
  }

  async getFile(id: string): Promise<FileRecord | null> {
    this.check();
    const file = this.files.get(id);
    return file ? copyFileRecord(file) : null;
  }

  // ---- kv
  async kvGet<T = unknown>(namespace: string, key: string): Promise<T | null> {
    this.check();
    const value = this.kv.get(kvKey(namespace, key));
    return value === undefined ? null : (copyJson(value) as T);
  }

  async kvSet(namespace: string, key: string, value: unknown): Promise<void> {
    this.check();
    this.kv.set(kvKey(namespace, key), copyJson(value));
  }

  async kvSetIfAbsent(namespace: string, key: string, value: unknown): Promise<boolean> {
    this.check();
    const k = kvKey(namespace, key);
    if (this.kv.has(k)) return false;
    this.kv.set(k, copyJson(value));
    return true;
  }

  async kvDelete(namespace: string, key: string): Promise<void> {
    this.check();
    this.kv.delete(kvKey(namespace, key));
  }
}

// Only these fields may change; anything else in a patch (an id, say) is ignored so a
// sloppy caller can't re-key a record.
const CA_PATCH_KEYS: readonly (keyof CAPatch)[] = [
  'address',
  'name',
  'membershipNo',
  'languages',
  'topics',
  'approval',
  'status',
  'maxChats',
  'lastAssignedAt',
];
const CLIENT_PATCH_KEYS: readonly (keyof ClientPatch)[] = ['name', 'language', 'tokenHash'];

function pickDefined<T extends object>(value: T, keys: readonly (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const key of keys) if (value[key] !== undefined) out[key] = value[key];
  return out;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const kvKey = (namespace: string, key: string): string => `${namespace}\u0000${key}`;
