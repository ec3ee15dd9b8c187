import type { ServerResponse } from 'node:http';
import type { CaChatError, CaChatErrorCode } from '@ca-chat/core';
import type { HttpErrorBody } from '../protocol.js';

const STATUS: Partial<Record<CaChatErrorCode, number>> = {
  unauthorized: 401,
  forbidden: 403,
  not_your_chat: 403,
  not_found: 404,
  unknown_chat: 404,
  chat_ended: 409,
  chat_not_active: 409,
  too_many_chats: 409,
  payload_too_large: 413,
  file_too_large: 413,
  unsupported_protocol: 426,
  rate_limited: 429,
  shutting_down: 503,
  not_started: 503,
  storage_full: 507,
  internal: 500,
  storage_error: 500,
  corrupt_data: 500,
  timeout: 504,
};

/** The HTTP status of an error code: 400 for input problems, 500 for plumbing. */
export function statusOf(error: CaChatError): number {
  const explicit = error.details?.httpStatus;
  if (typeof explicit === 'number') return explicit;
  const status = STATUS[error.code];
  if (status !== undefined) return status;
  return error.retryable || /(_error|locked|delivery_failed)$/.test(error.code) ? 503 : 400;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

/** `{error:{code,message}}` with the status of its code (or `status` when given, e.g. 405/415). */
export function sendError(
  res: ServerResponse,
  error: CaChatError,
  status = statusOf(error),
  headers: Record<string, string> = {},
): void {
  const body: HttpErrorBody = { error: { code: error.code, message: error.message } };
  if (error.code === 'unauthorized') headers = { 'WWW-Authenticate': 'Bearer', ...headers };
  sendJson(res, status, body, headers);
}
