import { randomBytes } from 'node:crypto';
import type { TgChat, TgMessageEntity, TgUser } from './bot-api-types.js';
import { BotState } from './bot-state.js';
import { EmulatorError } from './errors.js';
import { EventHub } from './events.js';
import type { FileStore } from './file-store.js';
import type {
  CallbackAnswer,
  EmulatedBot,
  EmulatedUser,
  EmulatorBotSpec,
  EmulatorLimits,
  EmulatorRateLimits,
  EmulatorUserSpec,
} from './types.js';

export interface CallbackQueryRecord {
  id: string;
  botId: number;
  userId: number;
  messageId: number;
  answer?: CallbackAnswer;
}

const TOKEN_PATTERN = /^(\d{1,15}):[A-Za-z0-9_-]{1,100}$/;

/** The emulated Telegram: bots, users, files and callback queries, shared by API and driver. */
export class EmulatorState {
  readonly hub = new EventHub();
  readonly callbackQueries = new Map<string, CallbackQueryRecord>();
  private readonly botsByToken = new Map<string, BotState>();
  private readonly usersById = new Map<number, EmulatedUser>();
  private nextBotId = 7_000_000_001;
  private nextUserId = 100_000_001;
  private closed = false;

  constructor(
    readonly limits: EmulatorLimits,
    readonly rates: EmulatorRateLimits | false,
    readonly files: FileStore,
    readonly tmpDir: string,
  ) {}

  /** Unix seconds, as Telegram dates are. */
  nowSeconds(): number {
    return Math.floor(Date.now() / 1000);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  markClosed(): void {
    this.closed = true;
  }

  createBot(spec: EmulatorBotSpec = {}): EmulatedBot {
    let id: number;
    let token: string;
    if (spec.token !== undefined) {
      const match = TOKEN_PATTERN.exec(spec.token);
      if (!match?.[1]) {
        throw new EmulatorError('invalid_input', 'a bot token looks like "<digits>:<secret>"');
      }
      if (this.botsByToken.has(spec.token)) {
        throw new EmulatorError('invalid_input', 'a bot with this token already exists');
      }
      id = Number(match[1]);
      token = spec.token;
    } else {
      id = this.nextBotId++;
      token = `${id}:AA${randomBytes(25).toString('base64url').slice(0, 33)}`;
    }
    const username = (spec.username ?? `emulated_${this.botsByToken.size + 1}_bot`).replace(
      /^@/,
      '',
    );
    // BotFather also wants a trailing "bot"; the emulator does not insist.
    if (!/^[A-Za-z0-9_]{1,32}$/.test(username)) {
      throw new EmulatorError(
        'invalid_input',
        `bot username "${username}" must be 1-32 letters, digits or _`,
      );
    }
    const bot: EmulatedBot = { id, token, username, firstName: spec.firstName ?? 'Emulated Bot' };
    this.botsByToken.set(token, new BotState(bot, this.rates, this.hub));
    return { ...bot };
  }

  findBot(token: string): BotState | undefined {
    return this.botsByToken.get(token);
  }

  /** For the driver: an unknown token is the caller's mistake. */
  bot(token: string): BotState {
    const bot = this.botsByToken.get(token);
    if (!bot) throw new EmulatorError('not_found', 'no emulated bot has this token');
    return bot;
  }

  allBots(): BotState[] {
    return [...this.botsByToken.values()];
  }

  createUser(spec: EmulatorUserSpec = {}): EmulatedUser {
    const id = spec.id ?? this.nextUserIdFree();
    if (!Number.isSafeInteger(id) || id <= 0) {
      throw new EmulatorError('invalid_input', 'a user id is a positive integer');
    }
    if (this.usersById.has(id))
      throw new EmulatorError('invalid_input', `user ${id} already exists`);
    const user: EmulatedUser = { id, chatId: id, firstName: spec.firstName ?? `User ${id}` };
    if (spec.lastName !== undefined) user.lastName = spec.lastName;
    if (spec.username !== undefined) user.username = spec.username;
    if (spec.languageCode !== undefined) user.languageCode = spec.languageCode;
    this.usersById.set(id, user);
    return { ...user };
  }

  findUser(id: number): EmulatedUser | undefined {
    return this.usersById.get(id);
  }

  allUsers(): EmulatedUser[] {
    return [...this.usersById.values()].map((user) => ({ ...user }));
  }

  tgUser(user: EmulatedUser): TgUser {
    const tg: TgUser = { id: user.id, is_bot: false, first_name: user.firstName };
    if (user.lastName !== undefined) tg.last_name = user.lastName;
    if (user.username !== undefined) tg.username = user.username;
    if (user.languageCode !== undefined) tg.language_code = user.languageCode;
    return tg;
  }

  privateChat(user: EmulatedUser): TgChat {
    const chat: TgChat = { id: user.id, type: 'private', first_name: user.firstName };
    if (user.lastName !== undefined) chat.last_name = user.lastName;
    if (user.username !== undefined) chat.username = user.username;
    return chat;
  }

  private nextUserIdFree(): number {
    while (this.usersById.has(this.nextUserId)) this.nextUserId += 1;
    return this.nextUserId++;
  }
}

/** Telegram marks every /command (optionally /command@bot) as a bot_command entity. */
export function commandEntities(text: string): TgMessageEntity[] {
  const entities: TgMessageEntity[] = [];
  const pattern = /(^|\s)(\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?)(?![A-Za-z0-9_@])/g;
  for (const match of text.matchAll(pattern)) {
    const command = match[2] ?? '';
    entities.push({
      type: 'bot_command',
      offset: (match.index ?? 0) + (match[1]?.length ?? 0),
      length: command.length,
    });
  }
  return entities;
}
