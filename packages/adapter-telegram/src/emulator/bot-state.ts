import type { TgBotCommand, TgBotUser, TgMessage } from './bot-api-types.js';
import type { EventHub } from './events.js';
import { SendRateLimiter } from './rate-limiter.js';
import type { ApiCallRecord, EmulatedBot, EmulatorFault, EmulatorRateLimits } from './types.js';
import { UpdateQueue } from './updates.js';

export interface WebhookConfig {
  url: string;
  secretToken?: string;
  maxConnections: number;
}

export interface WebhookStatus {
  lastErrorDate?: number;
  lastErrorMessage?: string;
}

interface StoredMessage {
  message: TgMessage;
  fromBot: boolean;
}

interface ChatLog {
  nextMessageId: number;
  messages: Map<number, StoredMessage>;
}

const MAX_CALL_LOG = 10_000;

/** Everything one bot has: its chats' messages, updates, webhook, commands, call log, faults. */
export class BotState {
  readonly updates: UpdateQueue;
  readonly limiter: SendRateLimiter;
  readonly user: TgBotUser;
  commands: TgBotCommand[] = [];
  webhook: WebhookConfig | undefined;
  webhookStatus: WebhookStatus = {};
  private readonly callLog: ApiCallRecord[] = [];
  private readonly chats = new Map<number, ChatLog>();
  private readonly faults: Array<{ fault: EmulatorFault; remaining: number }> = [];

  constructor(
    readonly info: EmulatedBot,
    rates: EmulatorRateLimits | false,
    private readonly hub: EventHub,
  ) {
    this.updates = new UpdateQueue(1000);
    this.limiter = new SendRateLimiter(rates);
    this.user = {
      id: info.id,
      is_bot: true,
      first_name: info.firstName,
      username: info.username,
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    };
  }

  /** Message ids count up per chat, shared by both sides, as in a Telegram private chat. */
  allocateMessageId(chatId: number): number {
    const chat = this.chat(chatId);
    return chat.nextMessageId++;
  }

  addMessage(message: TgMessage, fromBot: boolean): TgMessage {
    this.chat(message.chat.id).messages.set(message.message_id, { message, fromBot });
    this.hub.emit({
      type: 'message.created',
      botId: this.info.id,
      chatId: message.chat.id,
      fromBot,
      message,
    });
    return message;
  }

  findMessage(chatId: number, messageId: number): StoredMessage | undefined {
    return this.chats.get(chatId)?.messages.get(messageId);
  }

  /** Replaces a stored message with its edited version. */
  replaceMessage(message: TgMessage): TgMessage {
    const stored = this.findMessage(message.chat.id, message.message_id);
    if (!stored) throw new Error(`message ${message.message_id} not found`);
    stored.message = message;
    this.hub.emit({
      type: 'message.edited',
      botId: this.info.id,
      chatId: message.chat.id,
      fromBot: stored.fromBot,
      message,
    });
    return message;
  }

  deleteMessage(chatId: number, messageId: number): boolean {
    const deleted = this.chats.get(chatId)?.messages.delete(messageId) ?? false;
    if (deleted) {
      this.hub.emit({ type: 'message.deleted', botId: this.info.id, chatId, messageId });
    }
    return deleted;
  }

  /** Oldest first. */
  messages(chatId: number, which: 'bot' | 'all'): TgMessage[] {
    const chat = this.chats.get(chatId);
    if (!chat) return [];
    return [...chat.messages.values()]
      .filter((stored) => which === 'all' || stored.fromBot)
      .map((stored) => stored.message)
      .sort((a, b) => a.message_id - b.message_id);
  }

  armFault(fault: EmulatorFault): void {
    this.faults.push({ fault, remaining: fault.count ?? 1 });
  }

  /** The first armed fault matching this call, counted down; undefined when none applies. */
  takeFault(method: string): EmulatorFault | undefined {
    const index = this.faults.findIndex(({ fault }) =>
      fault.method === undefined
        ? method !== 'getUpdates'
        : fault.method.toLowerCase() === method.toLowerCase(),
    );
    const armed = this.faults[index];
    if (!armed) return undefined;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.faults.splice(index, 1);
    return armed.fault;
  }

  logCall(record: ApiCallRecord): void {
    this.callLog.push(record);
    if (this.callLog.length > MAX_CALL_LOG)
      this.callLog.splice(0, this.callLog.length - MAX_CALL_LOG);
  }

  calls(): ApiCallRecord[] {
    return this.callLog.map((record) => ({ ...record }));
  }

  private chat(chatId: number): ChatLog {
    let chat = this.chats.get(chatId);
    if (!chat) {
      chat = { nextMessageId: 1, messages: new Map() };
      this.chats.set(chatId, chat);
    }
    return chat;
  }
}
