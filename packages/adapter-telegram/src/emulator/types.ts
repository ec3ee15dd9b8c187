import type { TgMessage } from './bot-api-types.js';

/** Telegram's limits, enforced the way Telegram enforces them. */
export interface EmulatorLimits {
  /** sendMessage / editMessageText text, in UTF-16 code units. Default 4096. */
  maxTextLength: number;
  /** Media captions. Default 1024. */
  maxCaptionLength: number;
  /** An inline button's callback_data, in UTF-8 bytes. Default 64. */
  maxCallbackDataBytes: number;
  /** A multipart file a bot uploads (sendDocument/sendPhoto). Default 50 MB. */
  maxUploadBytes: number;
  /** The largest file `getFile` lets a bot download. Default 20 MB. */
  maxDownloadBytes: number;
}

/** Flood limits on sending methods (sendMessage, sendDocument, sendPhoto), per bot. */
export interface EmulatorRateLimits {
  /** Sustained messages per second into one chat. Default 1. */
  perChatPerSecond: number;
  /** Messages one chat may take at once before the per-chat rate applies. Default 3. */
  perChatBurst: number;
  /** Messages per second across all chats of one bot. Default 30. */
  globalPerSecond: number;
}

export interface EmulatorBotSpec {
  token?: string;
  username?: string;
  firstName?: string;
}

export interface EmulatorWebhookOptions {
  /** First retry delay after a failed delivery. Default 100 ms. */
  retryMinDelayMs?: number;
  /** Retry delays double up to this. Default 5000 ms. */
  retryMaxDelayMs?: number;
  /** A delivery not answered within this fails ("Read timeout expired"). Default 10000 ms. */
  timeoutMs?: number;
}

export interface TelegramEmulatorOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Where uploaded files live. Default: a new temp folder, removed on close. */
  dataDir?: string;
  limits?: Partial<EmulatorLimits>;
  /** `false` turns flood limits off. */
  rateLimits?: false | Partial<EmulatorRateLimits>;
  /** Bots that exist from the start (tokens given here are accepted as-is). */
  bots?: Array<{ token: string; username?: string; firstName?: string }>;
  webhook?: EmulatorWebhookOptions;
  /** Called with emulator bugs (answered to the bot as 500). Telegram-style errors never come here. */
  onError?: (error: unknown) => void;
}

export interface EmulatedBot {
  id: number;
  token: string;
  username: string;
  firstName: string;
}

export interface EmulatedUser {
  id: number;
  /** Equals `id`: the emulator only has private chats. */
  chatId: number;
  firstName: string;
  lastName?: string;
  username?: string;
  languageCode?: string;
}

export interface EmulatorUserSpec {
  id?: number;
  firstName?: string;
  lastName?: string;
  username?: string;
  languageCode?: string;
}

/**
 * A fault applied to the next `count` (default 1) API calls of one bot that match `method`.
 * Without `method` a fault matches any method except getUpdates, so a polling bot does not
 * swallow it; name `getUpdates` to fault the poll itself.
 */
export type EmulatorFault =
  | { method?: string; count?: number; kind: 'rate_limit'; retryAfter: number }
  | { method?: string; count?: number; kind: 'server_error'; status?: number }
  | { method?: string; count?: number; kind: 'delay'; ms: number }
  /** Destroys the connection without an answer; the call is not performed unless `afterProcessing`. */
  | { method?: string; count?: number; kind: 'drop'; afterProcessing?: boolean };

export interface ApiCallRecord {
  /** Canonical method name (Telegram treats names case-insensitively). */
  method: string;
  /** Epoch milliseconds when the call arrived. */
  at: number;
  chatId?: number;
  /** HTTP status answered; 0 when the connection was dropped. */
  status: number;
}

export interface CallbackAnswer {
  text?: string;
  show_alert?: boolean;
  url?: string;
  cache_time?: number;
}

export interface WaitForBotMessageOptions {
  match?: (message: TgMessage) => boolean;
  /** Only messages with a larger message_id count. Default 0. */
  afterMessageId?: number;
  /** Default 5000. */
  timeoutMs?: number;
}

export interface UserFile {
  data: Buffer;
  fileName: string;
  mimeType?: string;
}

export interface UserPhoto {
  data: Buffer;
  width?: number;
  height?: number;
}

export interface UserMessageOptions {
  caption?: string;
  replyToMessageId?: number;
}

/** What happened in the emulator, for `subscribe` and `GET /_emulator/events`. */
export type EmulatorEvent =
  | { type: 'message.created'; botId: number; chatId: number; fromBot: boolean; message: TgMessage }
  | { type: 'message.edited'; botId: number; chatId: number; fromBot: boolean; message: TgMessage }
  | { type: 'message.deleted'; botId: number; chatId: number; messageId: number }
  | {
      type: 'callback.answered';
      botId: number;
      chatId: number;
      messageId: number;
      callbackQueryId: string;
      answer: CallbackAnswer;
    }
  | { type: 'chat.action'; botId: number; chatId: number; action: string }
  | { type: 'webhook.delivery'; botId: number; updateId: number; ok: boolean; error?: string };

export interface TelegramEmulator {
  /** API root for telegraf's `telegram.apiRoot`, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  createBot(options?: EmulatorBotSpec): EmulatedBot;
  createUser(options?: EmulatorUserSpec): EmulatedUser;
  bots(): EmulatedBot[];
  users(): EmulatedUser[];

  sendText(
    token: string,
    userId: number,
    text: string,
    options?: { replyToMessageId?: number },
  ): Promise<TgMessage>;
  sendDocument(
    token: string,
    userId: number,
    file: UserFile,
    options?: UserMessageOptions,
  ): Promise<TgMessage>;
  sendPhoto(
    token: string,
    userId: number,
    file: UserPhoto,
    options?: UserMessageOptions,
  ): Promise<TgMessage>;
  pressButton(
    token: string,
    userId: number,
    messageId: number,
    callbackData: string,
  ): Promise<{ callbackQueryId: string }>;
  callbackAnswer(callbackQueryId: string): CallbackAnswer | undefined;

  /** The bot's messages in a chat, current state (edits applied, deleted removed), oldest first. */
  botMessages(token: string, chatId: number): TgMessage[];
  /** Every message in a chat, the user's and the bot's, oldest first. */
  chatHistory(token: string, chatId: number): TgMessage[];
  waitForBotMessage(
    token: string,
    chatId: number,
    options?: WaitForBotMessageOptions,
  ): Promise<TgMessage>;
  fileBytes(fileId: string): Promise<Buffer>;
  calls(token: string): ApiCallRecord[];
  injectFault(token: string, fault: EmulatorFault): void;
  /** Listen to everything that happens; returns the unsubscribe function. */
  subscribe(listener: (event: EmulatorEvent) => void): () => void;
  close(): Promise<void>;
}
