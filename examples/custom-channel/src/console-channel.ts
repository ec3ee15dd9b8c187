import { randomUUID } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Readable, Writable } from 'node:stream';
import { CaChatError, silentLogger } from '@ca-chat/core';
import type {
  CA,
  CAChannel,
  CANotice,
  Chat,
  DeliveryReceipt,
  EndReason,
  Logger,
  Message,
  OfferCloseReason,
  OfferNotice,
  RelayApi,
} from '@ca-chat/core';
import { HELP_TEXT, parseCommand, type ConsoleCommand } from './commands.js';
import { format } from './format.js';

export interface ConsoleChannelOptions {
  /** Where CA commands come from, one a line (a terminal's stdin, a socket…). */
  input: Readable;
  /** Where offers, messages and command results go. */
  output: Writable;
  /** Matches `CA.channel` of the CAs it serves. Default `console`. */
  name?: string;
  /** Longer lines are refused (and skipped up to the next newline). Default 8192 characters. */
  maxLineLength?: number;
  /** A write the output has not taken within this fails the relay's call (retried later). Default 10 s. */
  writeTimeoutMs?: number;
  logger?: Logger;
}

export interface ConsoleChannel extends CAChannel {
  /** Resolves when the input has ended and every command read was carried out. */
  readonly finished: Promise<void>;
}

/**
 * A CA channel on a pair of streams: a whole "CA app" in a terminal. It only translates —
 * every rule (who may accept, capacity, queue, delivery) stays in the relay — which is the
 * point: a second channel needs no change in core.
 */
export function createConsoleChannel(options: ConsoleChannelOptions): ConsoleChannel {
  const name = options.name ?? 'console';
  const maxLineLength = options.maxLineLength ?? 8192;
  const writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
  const logger = options.logger ?? silentLogger;
  const { input, output } = options;

  let relay: RelayApi | null = null;
  /** The CA this console acts as (set by `register` or `as`). */
  let currentCaId: string | null = null;
  let stopped = false;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));

  output.on('error', (error) => logger.warn({ err: error }, 'console output failed'));
  input.on('error', (error) => logger.warn({ err: error }, 'console input failed'));

  /** Resolves when the output took the line; a stuck output fails the call so the relay retries. */
  function write(line: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new CaChatError('channel_error', 'console output did not take the line in time', {
            retryable: true,
          }),
        );
      }, writeTimeoutMs);
      output.write(`${line}\n`, (error) => {
        clearTimeout(timer);
        if (error)
          reject(
            new CaChatError('channel_error', `console output failed: ${error.message}`, {
              retryable: true,
              cause: error,
            }),
          );
        else resolve();
      });
    });
  }

  /** Command results are best effort: a broken terminal must not break the reader loop. */
  function reply(line: string): Promise<void> {
    return write(line).catch((error: unknown) => logger.warn({ err: error }, 'console reply lost'));
  }

  async function currentCA(api: RelayApi): Promise<CA> {
    const ca = currentCaId ? await api.getCA(currentCaId) : null;
    if (!ca)
      throw new CaChatError(
        'ca_not_registered',
        'register or choose a CA with `as <handle>` first',
      );
    return ca;
  }

  async function run(command: ConsoleCommand): Promise<string[]> {
    const api = relay;
    if (!api) throw new CaChatError('not_started', 'the console channel is not started');
    switch (command.kind) {
      case 'help':
        return HELP_TEXT;
      case 'register': {
        const ca = await api.registerCA({
          channel: name,
          externalId: command.handle,
          address: command.handle,
          name: command.name,
          membershipNo: command.membershipNo,
          languages: command.languages,
        });
        currentCaId = ca.id;
        return [`ok register @${ca.externalId} approval=${ca.approval} status=${ca.status}`];
      }
      case 'as': {
        const ca = await api.getCAByExternalId(name, command.handle);
        if (!ca)
          throw new CaChatError('ca_not_registered', `no CA @${command.handle} on this console`);
        currentCaId = ca.id;
        return [`ok as @${ca.externalId} approval=${ca.approval} status=${ca.status}`];
      }
      case 'available':
      case 'away': {
        const ca = await api.setCAStatus((await currentCA(api)).id, command.kind);
        return [`ok ${command.kind} @${ca.externalId}`];
      }
      case 'chats': {
        const ca = await currentCA(api);
        const chats = await api.listCAChats(ca.id);
        return [
          `ok chats ${chats.length}`,
          ...chats.map(
            (chat) =>
              `  ${chat.id} language=${chat.language}${chat.topic ? ` topic=${chat.topic}` : ''}`,
          ),
        ];
      }
      case 'accept': {
        const chat = await api.acceptOffer((await currentCA(api)).id, command.chatId);
        return [`ok accept ${chat.id}`];
      }
      case 'decline':
        await api.declineOffer((await currentCA(api)).id, command.chatId);
        return [`ok decline ${command.chatId}`];
      case 'say': {
        const { message } = await api.sendCAMessage((await currentCA(api)).id, {
          chatId: command.chatId,
          text: command.text,
          // Lines are read once, so any unique key will do; random keeps it unique across restarts.
          idempotencyKey: `console:${randomUUID()}`,
        });
        return [`ok say ${message.chatId} #${message.seq}`];
      }
      case 'end': {
        const chat = await api.endChatByCA((await currentCA(api)).id, command.chatId);
        return [`ok end ${chat.id}`];
      }
    }
  }

  async function handleLine(line: string): Promise<void> {
    const parsed = parseCommand(line);
    if (!parsed.ok) return reply(`error invalid_input: ${parsed.message}`);
    if (parsed.command === null) return;
    try {
      for (const out of await run(parsed.command)) await reply(out);
    } catch (error) {
      const e = CaChatError.wrap(error, 'channel_error', 'command failed');
      await reply(`error ${e.code}: ${e.message}`);
    }
  }

  /** Reads lines with a length limit; iterating the stream applies backpressure while a command runs. */
  async function readLoop(): Promise<void> {
    const decoder = new StringDecoder('utf8');
    let buffer = '';
    let skipping = false;
    try {
      for await (const chunk of input) {
        if (stopped) break;
        buffer += typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer);
        let newline: number;
        while ((newline = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, newline).replace(/\r$/, '');
          buffer = buffer.slice(newline + 1);
          if (skipping) skipping = false;
          else if (line.length > maxLineLength)
            await reply(`error invalid_input: line longer than ${maxLineLength} characters`);
          else await handleLine(line);
          if (stopped) return;
        }
        if (buffer.length > maxLineLength) {
          if (!skipping)
            await reply(`error invalid_input: line longer than ${maxLineLength} characters`);
          skipping = true;
          buffer = '';
        }
      }
      buffer += decoder.end();
      if (!stopped && !skipping && buffer.trim() !== '') await handleLine(buffer);
    } catch (error) {
      logger.warn({ err: error }, 'console input loop failed');
    } finally {
      resolveFinished();
    }
  }

  return {
    name,
    finished,
    async start(api) {
      relay = api;
      void reply(`ca-chat console channel "${name}" ready — type help`);
      void readLoop();
    },
    async stop() {
      stopped = true;
      relay = null;
    },
    async sendOffer(ca: CA, offer: OfferNotice) {
      await write(format.offer(ca, offer));
      return `offer:${offer.chatId}`;
    },
    async closeOffer(ca: CA, _ref: string | null, chatId: string, reason: OfferCloseReason) {
      await write(format.offerClosed(ca, chatId, reason));
    },
    async chatMatched(ca: CA, chat: Chat, history: Message[]) {
      await write(format.matched(ca, chat));
      for (const message of history) await write(format.message(ca, message));
    },
    async deliverMessage(ca: CA, _chat: Chat, message: Message): Promise<DeliveryReceipt> {
      await write(format.message(ca, message));
      return { peerMessageId: `${message.chatId}#${message.seq}` };
    },
    async chatEnded(ca: CA, chat: Chat, reason: EndReason) {
      await write(format.ended(ca, chat.id, reason));
    },
    async clientTyping(ca: CA, chat: Chat) {
      await write(format.typing(ca, chat.id));
    },
    async notify(ca: CA, notice: CANotice) {
      await write(format.notice(ca, notice));
    },
  };
}
