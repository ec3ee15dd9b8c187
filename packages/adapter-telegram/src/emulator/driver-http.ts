import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Driver } from './driver.js';
import type { EmulatorState } from './emulator-state.js';
import { BotApiError, EmulatorError, type EmulatorErrorCode } from './errors.js';
import { sendJson } from './http-util.js';
import { type ApiParams, readParams } from './params.js';
import type { EmulatorEvent, EmulatorFault } from './types.js';

/** Users may send Telegram files of up to 2 GB (bots are the ones limited to 50 MB). */
const MAX_USER_UPLOAD_BYTES = 2000 * 1024 * 1024;
/** JSON bodies (base64 files included) are buffered. */
const MAX_DRIVER_JSON_BYTES = 100 * 1024 * 1024;
const MAX_WAIT_MS = 120_000;
const SSE_KEEPALIVE_MS = 15_000;

const STATUS_BY_CODE: Record<EmulatorErrorCode, number> = {
  invalid_input: 400,
  not_found: 404,
  timeout: 408,
  payload_too_large: 413,
  shutting_down: 503,
};

interface DriverRequest {
  req: IncomingMessage;
  res: ServerResponse;
  params: ApiParams;
}

type RouteHandler = (request: DriverRequest) => Promise<unknown> | unknown;

/**
 * The driver API over HTTP under `/_emulator/`, for tests in another process and the CA
 * page. JSON in and out; errors are `{error: {code, message}}` with a 4xx/5xx status.
 */
export class DriverHttp {
  private readonly streams = new Set<ServerResponse>();
  private readonly routes: Record<string, RouteHandler>;

  constructor(
    private readonly state: EmulatorState,
    private readonly driver: Driver,
  ) {
    this.routes = {
      'GET /bots': () => state.allBots().map((bot) => ({ ...bot.info })),
      'POST /bots': ({ params }) =>
        state.createBot({
          token: params.string('token'),
          username: params.string('username'),
          firstName: params.string('firstName'),
        }),
      'GET /users': () => state.allUsers(),
      'POST /users': ({ params }) =>
        state.createUser({
          id: params.integer('id'),
          firstName: params.string('firstName'),
          lastName: params.string('lastName'),
          username: params.string('username'),
          languageCode: params.string('languageCode'),
        }),
      'POST /send-text': ({ params }) =>
        driver.sendText(token(params), userId(params), required(params.string('text'), 'text'), {
          replyToMessageId: params.integer('replyToMessageId'),
        }),
      'POST /send-document': ({ params }) => {
        const upload = fileFrom(params);
        const fileName = params.string('fileName') ?? upload.fileName;
        return driver.sendDocument(
          token(params),
          userId(params),
          {
            ...upload.file,
            fileName: required(fileName, 'fileName'),
            mimeType: params.string('mimeType') ?? upload.mimeType,
          },
          {
            caption: params.string('caption'),
            replyToMessageId: params.integer('replyToMessageId'),
          },
        );
      },
      'POST /send-photo': ({ params }) =>
        driver.sendPhoto(
          token(params),
          userId(params),
          {
            ...fileFrom(params).file,
            width: params.integer('width'),
            height: params.integer('height'),
          },
          {
            caption: params.string('caption'),
            replyToMessageId: params.integer('replyToMessageId'),
          },
        ),
      'POST /press-button': ({ params }) =>
        driver.pressButton(
          token(params),
          userId(params),
          required(params.integer('messageId'), 'messageId'),
          required(params.string('callbackData'), 'callbackData'),
        ),
      'GET /callback-answer': ({ params }) => {
        const answer = driver.callbackAnswer(required(params.string('id'), 'id'));
        if (!answer)
          throw new EmulatorError('not_found', 'the bot has not answered this callback query');
        return answer;
      },
      'GET /messages': ({ params }) =>
        params.boolean('all')
          ? driver.chatHistory(token(params), chatId(params))
          : driver.botMessages(token(params), chatId(params)),
      'GET /wait-message': ({ params }) => {
        const textIncludes = params.string('textIncludes');
        return driver.waitForBotMessage(token(params), chatId(params), {
          afterMessageId: params.integer('afterMessageId') ?? 0,
          timeoutMs: Math.min(params.integer('timeoutMs') ?? 5000, MAX_WAIT_MS),
          ...(textIncludes === undefined
            ? {}
            : { match: (m) => (m.text ?? m.caption ?? '').includes(textIncludes) }),
        });
      },
      'POST /faults': ({ params }) => {
        const nested = params.json('fault');
        const fault = (nested ?? {
          kind: params.string('kind'),
          method: params.string('method'),
          count: params.integer('count'),
          retryAfter: params.integer('retryAfter'),
          status: params.integer('status'),
          ms: params.integer('ms'),
          afterProcessing: params.boolean('afterProcessing'),
        }) as EmulatorFault;
        injectFault(state, token(params), fault);
        return { ok: true };
      },
      'GET /calls': ({ params }) => state.bot(token(params)).calls(),
    };
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, path: string): Promise<void> {
    try {
      if (req.method === 'GET' && path.startsWith('/files/')) {
        await this.sendFile(res, decodeURIComponent(path.slice('/files/'.length)));
        return;
      }
      if (req.method === 'GET' && path === '/events') {
        this.openEventStream(req, res, url);
        return;
      }
      const route = this.routes[`${req.method ?? 'GET'} ${path}`];
      if (!route) throw new EmulatorError('not_found', `no driver endpoint ${req.method} ${path}`);
      const params = await readParams(req, url, {
        maxFileBytes: MAX_USER_UPLOAD_BYTES,
        maxBufferedBodyBytes: MAX_DRIVER_JSON_BYTES,
        tmpDir: this.state.tmpDir,
      });
      try {
        sendJson(res, 200, await route({ req, res, params }));
      } finally {
        await params.dispose();
      }
    } catch (error) {
      this.sendError(res, error);
    }
  }

  /** Ends every open event stream (the emulator is closing). */
  close(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  private async sendFile(res: ServerResponse, fileId: string): Promise<void> {
    const file = this.state.files.get(fileId);
    if (!file) throw new EmulatorError('not_found', `no file with file_id ${fileId}`);
    res.writeHead(200, {
      'content-type':
        file.mimeType ?? (file.kind === 'photo' ? 'image/jpeg' : 'application/octet-stream'),
      'content-length': file.size,
      'content-disposition': `inline; filename*=UTF-8''${encodeURIComponent(file.fileName ?? 'photo.jpg')}`,
      'x-content-type-options': 'nosniff',
    });
    await pipeline(this.state.files.stream(file), res).catch(() => {});
  }

  /** Server-Sent Events: every emulator event, or one bot's with `?token=`. */
  private openEventStream(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const filterToken = url.searchParams.get('token');
    const botId = filterToken === null ? undefined : this.state.bot(filterToken).info.id;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write(': connected\n\n');
    const write = (event: EmulatorEvent) => {
      if (botId !== undefined && event.botId !== botId) return;
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    const unsubscribe = this.state.hub.subscribe(write);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), SSE_KEEPALIVE_MS);
    keepAlive.unref();
    this.streams.add(res);
    req.on('close', () => {
      clearInterval(keepAlive);
      unsubscribe();
      this.streams.delete(res);
    });
  }

  private sendError(res: ServerResponse, error: unknown): void {
    let code: EmulatorErrorCode = 'invalid_input';
    let message = error instanceof Error ? error.message : String(error);
    if (EmulatorError.isInstance(error)) code = error.code;
    else if (error instanceof BotApiError) {
      code = error.errorCode === 413 ? 'payload_too_large' : 'invalid_input';
      message = error.description;
    }
    sendJson(
      res,
      STATUS_BY_CODE[code],
      { error: { code, message } },
      {
        closeConnection: code === 'payload_too_large',
      },
    );
  }
}

/** Validates a fault before arming it, so a typo fails loudly instead of never firing. */
export function injectFault(state: EmulatorState, botToken: string, fault: EmulatorFault): void {
  const bot = state.bot(botToken);
  const count = fault.count ?? 1;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new EmulatorError('invalid_input', 'fault.count must be a positive integer');
  }
  const invalid = (what: string) => new EmulatorError('invalid_input', `fault: ${what}`);
  switch (fault.kind) {
    case 'rate_limit':
      if (!Number.isSafeInteger(fault.retryAfter) || fault.retryAfter < 1) {
        throw invalid('rate_limit needs retryAfter, whole seconds >= 1');
      }
      break;
    case 'server_error':
      if (fault.status !== undefined && (fault.status < 500 || fault.status > 599)) {
        throw invalid('server_error status must be 5xx');
      }
      break;
    case 'delay':
      if (!Number.isFinite(fault.ms) || fault.ms < 0) throw invalid('delay needs ms >= 0');
      break;
    case 'drop':
      break;
    default:
      throw invalid('kind must be rate_limit, server_error, delay or drop');
  }
  bot.armFault({ ...fault });
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined || value === '') {
    throw new EmulatorError('invalid_input', `"${name}" is required`);
  }
  return value;
}

const token = (params: ApiParams): string => required(params.string('token'), 'token');
const userId = (params: ApiParams): number => required(params.integer('userId'), 'userId');
const chatId = (params: ApiParams): number => required(params.integer('chatId'), 'chatId');

/** The file of a driver upload: a multipart part (streamed to disk) or JSON `dataBase64`. */
function fileFrom(params: ApiParams): {
  file: { data: Buffer } | { path: string; size: number };
  fileName?: string;
  mimeType?: string;
} {
  const part = params.anyFile();
  if (part) {
    // No claim: the driver moves the temp file into the store, and dispose() ignores gone files.
    const declared = part.mimeType === 'text/plain' ? undefined : part.mimeType;
    return {
      file: { path: part.path, size: part.size },
      fileName: part.fileName,
      mimeType: declared,
    };
  }
  const base64 = required(params.string('dataBase64'), 'dataBase64 (or a multipart file part)');
  return { file: { data: Buffer.from(base64, 'base64') } };
}
