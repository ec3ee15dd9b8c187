import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { BotState } from './bot-state.js';
import type { EmulatorState } from './emulator-state.js';
import { BotApiError, badRequest, notFound, tooManyRequests, unauthorized } from './errors.js';
import { sendJson } from './http-util.js';
import type { WebhookControl } from './method-context.js';
import { chatIdOf, findMethod, runMethod } from './methods.js';
import { type ApiParams, hasBody, readParams } from './params.js';
import type { ApiCallRecord, EmulatorFault } from './types.js';

export interface ApiEndpointDeps {
  state: EmulatorState;
  webhooks: WebhookControl;
  /** Emulator bugs (never Telegram-style errors) end up here. */
  onError: (error: unknown) => void;
}

/** Non-file bodies are small on Telegram too; these are buffered, so they stay bounded. */
const MAX_BUFFERED_BODY_BYTES = 2 * 1024 * 1024;

/** One Bot API call: `/bot<token>/<method>`, any parameter encoding. */
export async function handleBotApiCall(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  token: string,
  methodName: string,
  deps: ApiEndpointDeps,
): Promise<void> {
  const { state } = deps;
  const at = Date.now();
  const bot = state.findBot(token);
  // Answers before the body is read close the connection rather than read an upload to discard it.
  const unreadBody = hasBody(req);
  if (!bot) {
    sendJson(res, 401, unauthorized().toResponse(), { closeConnection: unreadBody });
    return;
  }
  const method = findMethod(methodName);
  if (!method) {
    bot.logCall({ method: methodName, at, status: 404 });
    sendJson(res, 404, notFound().toResponse(), { closeConnection: unreadBody });
    return;
  }
  const record: ApiCallRecord = { method: method.name, at, status: 0 };
  const hangUp = new AbortController();
  res.on('close', () => hangUp.abort());

  let params: ApiParams;
  try {
    params = await readParams(req, url, {
      maxFileBytes: state.limits.maxUploadBytes,
      maxBufferedBodyBytes: MAX_BUFFERED_BODY_BYTES,
      tmpDir: state.tmpDir,
    });
  } catch (error) {
    const apiError = error instanceof BotApiError ? error : badRequest('invalid request');
    record.status = apiError.errorCode;
    bot.logCall(record);
    // The rest of the body stays unread, so this connection cannot carry another request.
    sendJson(res, apiError.errorCode, apiError.toResponse(), { closeConnection: true });
    return;
  }

  const chatId = chatIdOf({ params });
  if (chatId !== undefined) record.chatId = chatId;
  try {
    const fault = bot.takeFault(method.name);
    if (fault && (await applyFault(fault, req, res, record, hangUp.signal))) return;
    const { status, body } = await runMethod(
      method.handler,
      { state, bot, params, signal: hangUp.signal, webhooks: deps.webhooks },
      deps.onError,
    );
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    record.status = res.destroyed ? 0 : status;
    sendJson(res, status, body);
  } finally {
    bot.logCall(record);
    await params.dispose();
  }
}

/** Returns true when the fault answered (or dropped) the call instead of the method. */
async function applyFault(
  fault: EmulatorFault,
  req: IncomingMessage,
  res: ServerResponse,
  record: ApiCallRecord,
  signal: AbortSignal,
): Promise<boolean> {
  switch (fault.kind) {
    case 'delay':
      await delay(fault.ms, undefined, { signal }).catch(() => {});
      return signal.aborted;
    case 'rate_limit': {
      const error = tooManyRequests(fault.retryAfter);
      record.status = 429;
      sendJson(res, 429, error.toResponse());
      return true;
    }
    case 'server_error': {
      const status = fault.status ?? 500;
      record.status = status;
      sendJson(res, status, {
        ok: false,
        error_code: status,
        description: STATUS_CODES[status] ?? 'Internal Server Error',
      });
      return true;
    }
    case 'drop':
      if (fault.afterProcessing) return false;
      req.socket.destroy();
      return true;
  }
}

/** Runs a method a webhook answered with; Telegram never reports its outcome. */
export async function runWebhookReply(
  deps: ApiEndpointDeps,
  bot: BotState,
  methodName: string,
  params: ApiParams,
): Promise<void> {
  const method = findMethod(methodName);
  const record: ApiCallRecord = { method: method?.name ?? methodName, at: Date.now(), status: 404 };
  const chatId = chatIdOf({ params });
  if (chatId !== undefined) record.chatId = chatId;
  if (method) {
    const { status } = await runMethod(
      method.handler,
      {
        state: deps.state,
        bot,
        params,
        signal: new AbortController().signal,
        webhooks: deps.webhooks,
      },
      deps.onError,
    );
    record.status = status;
  }
  bot.logCall(record);
}

/** `GET /file/bot<token>/<file_path>`: only paths a getFile handed out exist. */
export async function handleFileDownload(
  req: IncomingMessage,
  res: ServerResponse,
  token: string,
  filePath: string,
  deps: ApiEndpointDeps,
): Promise<void> {
  const bot = deps.state.findBot(token);
  const file = bot ? deps.state.files.findPublished(bot.info.id, filePath) : undefined;
  if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
    sendJson(res, 404, notFound().toResponse());
    return;
  }
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': file.size,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await pipeline(deps.state.files.stream(file), res).catch(() => {
    // The client went away mid-download; nothing to clean up.
  });
}
