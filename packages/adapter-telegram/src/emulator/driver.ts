import { createHash, randomBytes } from 'node:crypto';
import type { TgCallbackQuery, TgMessage } from './bot-api-types.js';
import type { BotState } from './bot-state.js';
import { commandEntities, type EmulatorState } from './emulator-state.js';
import { EmulatorError } from './errors.js';
import {
  documentMimeType,
  readHead,
  type StoredFile,
  toDocument,
  toPhotoSizes,
} from './file-store.js';
import { imageSize } from './image-size.js';
import { withoutReply } from './method-context.js';
import type {
  CallbackAnswer,
  EmulatedUser,
  UserMessageOptions,
  WaitForBotMessageOptions,
} from './types.js';

/** A file a user sends, either in memory or already streamed to a temp file. */
export type UserUpload =
  { data: Buffer; path?: undefined } | { path: string; size: number; data?: undefined };

const DEFAULT_PHOTO_SIZE = { width: 1280, height: 960 };

/**
 * What users do (send text, files, press buttons) and what tests read back. Each user
 * action creates the message in the chat and queues the Update for the bot.
 */
export class Driver {
  private readonly pendingWaits = new Set<(error: Error) => void>();

  constructor(private readonly state: EmulatorState) {}

  async sendText(
    token: string,
    userId: number,
    text: string,
    options: { replyToMessageId?: number } = {},
  ): Promise<TgMessage> {
    const { bot, user } = this.actors(token, userId);
    if (text.trim() === '')
      throw new EmulatorError('invalid_input', 'a user cannot send empty text');
    if (text.length > this.state.limits.maxTextLength) {
      throw new EmulatorError(
        'invalid_input',
        `text is longer than ${this.state.limits.maxTextLength}`,
      );
    }
    const message = this.newUserMessage(bot, user, options.replyToMessageId);
    message.text = text;
    const entities = commandEntities(text);
    if (entities.length > 0) message.entities = entities;
    return this.deliver(bot, message);
  }

  async sendDocument(
    token: string,
    userId: number,
    file: UserUpload & { fileName: string; mimeType?: string },
    options: UserMessageOptions = {},
  ): Promise<TgMessage> {
    const { bot, user } = this.actors(token, userId);
    this.checkCaption(options.caption);
    if (file.fileName === '')
      throw new EmulatorError('invalid_input', 'a document needs a fileName');
    const stored = await this.store(bot, file, {
      kind: 'document',
      fileName: file.fileName,
      mimeType: file.mimeType ?? documentMimeType(file.fileName, undefined),
    });
    const message = this.newUserMessage(bot, user, options.replyToMessageId);
    message.document = toDocument(stored);
    if (options.caption) message.caption = options.caption;
    return this.deliver(bot, message);
  }

  async sendPhoto(
    token: string,
    userId: number,
    file: UserUpload & { width?: number; height?: number },
    options: UserMessageOptions = {},
  ): Promise<TgMessage> {
    const { bot, user } = this.actors(token, userId);
    this.checkCaption(options.caption);
    const head = file.data ?? (await readHead(file.path, 512 * 1024));
    const sniffed = imageSize(head);
    const stored = await this.store(bot, file, {
      kind: 'photo',
      width: file.width ?? sniffed?.width ?? DEFAULT_PHOTO_SIZE.width,
      height: file.height ?? sniffed?.height ?? DEFAULT_PHOTO_SIZE.height,
    });
    const message = this.newUserMessage(bot, user, options.replyToMessageId);
    message.photo = toPhotoSizes(stored);
    if (options.caption) message.caption = options.caption;
    return this.deliver(bot, message);
  }

  /** Like a Telegram client, only a button that is on the message can be pressed. */
  async pressButton(
    token: string,
    userId: number,
    messageId: number,
    callbackData: string,
  ): Promise<{ callbackQueryId: string }> {
    const { bot, user } = this.actors(token, userId);
    const stored = bot.findMessage(user.chatId, messageId);
    if (!stored || !stored.fromBot) {
      throw new EmulatorError('not_found', `no bot message ${messageId} in chat ${user.chatId}`);
    }
    const buttons = stored.message.reply_markup?.inline_keyboard.flat() ?? [];
    if (!buttons.some((button) => button.callback_data === callbackData)) {
      const available = buttons.map((button) => JSON.stringify(button.callback_data ?? button.url));
      throw new EmulatorError(
        'not_found',
        `message ${messageId} has no button with callback_data ${JSON.stringify(callbackData)}` +
          ` (it has: ${available.join(', ') || 'no buttons'})`,
      );
    }
    const id = randomBytes(8).readBigUInt64BE().toString();
    this.state.callbackQueries.set(id, { id, botId: bot.info.id, userId, messageId });
    const query: TgCallbackQuery = {
      id,
      from: this.state.tgUser(user),
      message: structuredClone(stored.message),
      chat_instance: chatInstance(bot.info.id, user.chatId),
      data: callbackData,
    };
    bot.updates.push('callback_query', query);
    return { callbackQueryId: id };
  }

  callbackAnswer(callbackQueryId: string): CallbackAnswer | undefined {
    const answer = this.state.callbackQueries.get(callbackQueryId)?.answer;
    return answer === undefined ? undefined : { ...answer };
  }

  botMessages(token: string, chatId: number): TgMessage[] {
    return structuredClone(this.state.bot(token).messages(chatId, 'bot'));
  }

  chatHistory(token: string, chatId: number): TgMessage[] {
    return structuredClone(this.state.bot(token).messages(chatId, 'all'));
  }

  waitForBotMessage(
    token: string,
    chatId: number,
    options: WaitForBotMessageOptions = {},
  ): Promise<TgMessage> {
    const bot = this.state.bot(token);
    const afterMessageId = options.afterMessageId ?? 0;
    const timeoutMs = options.timeoutMs ?? 5000;
    const accepts = (message: TgMessage) =>
      message.message_id > afterMessageId && (options.match?.(message) ?? true);
    const existing = bot.messages(chatId, 'bot').find(accepts);
    if (existing) return Promise.resolve(structuredClone(existing));
    if (this.state.isClosed) {
      return Promise.reject(new EmulatorError('shutting_down', 'the emulator is closed'));
    }
    return new Promise((resolve, reject) => {
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        unsubscribe();
        this.pendingWaits.delete(abort);
        outcome();
      };
      const abort = (error: Error) => settle(() => reject(error));
      const timer = setTimeout(() => {
        const error = new EmulatorError(
          'timeout',
          `waitForBotMessage timed out after ${timeoutMs} ms: no message from @${bot.info.username}` +
            ` in chat ${chatId} with message_id > ${afterMessageId} matched. ` +
            describeMessages(bot.messages(chatId, 'bot')),
        );
        abort(error);
      }, timeoutMs);
      const unsubscribe = this.state.hub.subscribe((event) => {
        if (event.type !== 'message.created' && event.type !== 'message.edited') return;
        if (event.botId !== bot.info.id || event.chatId !== chatId || !event.fromBot) return;
        let matched: boolean;
        try {
          matched = accepts(event.message);
        } catch (error) {
          abort(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (matched) settle(() => resolve(structuredClone(event.message)));
      });
      this.pendingWaits.add(abort);
    });
  }

  async fileBytes(fileId: string): Promise<Buffer> {
    const file = this.state.files.get(fileId);
    if (!file) throw new EmulatorError('not_found', `no file with file_id ${fileId}`);
    return this.state.files.read(file);
  }

  /** Rejects every wait still pending (the emulator is closing). */
  close(): void {
    for (const abort of [...this.pendingWaits]) {
      abort(new EmulatorError('shutting_down', 'the emulator closed while waiting'));
    }
  }

  private actors(token: string, userId: number): { bot: BotState; user: EmulatedUser } {
    if (this.state.isClosed) throw new EmulatorError('shutting_down', 'the emulator is closed');
    const bot = this.state.bot(token);
    // A user comes into being by acting, like someone opening the bot for the first time.
    const user = this.state.findUser(userId) ?? this.state.createUser({ id: userId });
    return { bot, user };
  }

  private checkCaption(caption: string | undefined): void {
    if (caption !== undefined && caption.length > this.state.limits.maxCaptionLength) {
      throw new EmulatorError(
        'invalid_input',
        `caption is longer than ${this.state.limits.maxCaptionLength}`,
      );
    }
  }

  private async store(
    bot: BotState,
    file: UserUpload,
    meta: Pick<StoredFile, 'kind'> & Partial<StoredFile>,
  ): Promise<StoredFile> {
    const fullMeta = { ...meta, ownerBotId: bot.info.id };
    if (file.data !== undefined) {
      if (file.data.length === 0)
        throw new EmulatorError('invalid_input', 'a file cannot be empty');
      return this.state.files.write(file.data, fullMeta);
    }
    if (file.size === 0) throw new EmulatorError('invalid_input', 'a file cannot be empty');
    return this.state.files.adopt(file.path, file.size, fullMeta);
  }

  private newUserMessage(bot: BotState, user: EmulatedUser, replyToMessageId?: number): TgMessage {
    let replyTo: TgMessage | undefined;
    if (replyToMessageId !== undefined) {
      const stored = bot.findMessage(user.chatId, replyToMessageId);
      if (!stored) {
        throw new EmulatorError(
          'not_found',
          `no message ${replyToMessageId} in chat ${user.chatId}`,
        );
      }
      replyTo = withoutReply(stored.message);
    }
    const message: TgMessage = {
      message_id: bot.allocateMessageId(user.chatId),
      from: this.state.tgUser(user),
      chat: this.state.privateChat(user),
      date: this.state.nowSeconds(),
    };
    if (replyTo) message.reply_to_message = replyTo;
    return message;
  }

  private deliver(bot: BotState, message: TgMessage): TgMessage {
    bot.addMessage(message, false);
    bot.updates.push('message', message);
    return structuredClone(message);
  }
}

function chatInstance(botId: number, chatId: number): string {
  const digest = createHash('sha256').update(`${botId}:${chatId}`).digest();
  return digest.readBigInt64BE().toString();
}

function describeMessages(messages: TgMessage[]): string {
  if (messages.length === 0) return 'The bot has sent nothing to this chat.';
  const lines = messages.slice(-5).map((message) => {
    const content =
      message.text ??
      (message.document ? `[document ${message.document.file_name ?? ''}]` : undefined) ??
      (message.photo ? '[photo]' : '[?]');
    const buttons = message.reply_markup?.inline_keyboard
      .flat()
      .map((button) => button.text)
      .join(' | ');
    return `#${message.message_id} ${JSON.stringify(content.slice(0, 80))}${buttons ? ` [${buttons}]` : ''}`;
  });
  return `Latest bot messages here: ${lines.join('; ')}`;
}
