import type { HttpErrorBody, StoredMessageBody } from '../protocol.js';
import { CaChatClientError } from './client-error.js';

/** A file to send: a `Blob`/`File`, or bytes with a name and type. */
export type FileInput =
  Blob | { data: Blob | ArrayBuffer | Uint8Array | string; name: string; type?: string };

export interface UploadProgress {
  loadedBytes: number;
  totalBytes: number;
}

export interface UploadRequest {
  url: string;
  token: string | null;
  chatId: string;
  clientMsgId: string;
  file: FileInput;
  caption?: string;
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
  fetch: typeof fetch;
  /** Use XMLHttpRequest (upload progress) when the environment has it. */
  preferXhr: boolean;
  timeoutMs: number;
}

function toBlob(file: FileInput): { blob: Blob; name: string } {
  if (typeof Blob !== 'undefined' && file instanceof Blob) {
    return { blob: file, name: (file as Blob & { name?: string }).name ?? 'file' };
  }
  const { data, name, type } = file as Exclude<FileInput, Blob>;
  const part = data instanceof Uint8Array ? new Uint8Array(data) : data;
  return { blob: new Blob([part as BlobPart], { type: type ?? 'application/octet-stream' }), name };
}

function form(request: UploadRequest): { body: FormData; size: number } {
  const { blob, name } = toBlob(request.file);
  const body = new FormData();
  // Order matters: the server needs chatId before the file part to stream it.
  body.append('chatId', request.chatId);
  body.append('clientMsgId', request.clientMsgId);
  if (request.caption !== undefined) body.append('text', request.caption);
  body.append('file', blob, name);
  return { body, size: blob.size };
}

function failure(status: number, body: unknown): CaChatClientError {
  const error = (body as Partial<HttpErrorBody> | null)?.error;
  if (error && typeof error.code === 'string')
    return new CaChatClientError(error.code, error.message, { status });
  return new CaChatClientError('transport_error', `upload failed with HTTP ${status}`, { status });
}

/** `POST /chat` with a multipart body; resolves with the stored message. */
export function uploadFile(request: UploadRequest): Promise<StoredMessageBody> {
  const { body, size } = form(request);
  const XHR = (globalThis as { XMLHttpRequest?: typeof XMLHttpRequest }).XMLHttpRequest;
  if (request.preferXhr && XHR) return viaXhr(XHR, request, body);
  return viaFetch(request, body, size);
}

async function viaFetch(
  request: UploadRequest,
  body: FormData,
  size: number,
): Promise<StoredMessageBody> {
  // fetch reports no upload progress: the caller hears the start and the end.
  request.onProgress?.({ loadedBytes: 0, totalBytes: size });
  // One controller for the caller's signal and the timeout (AbortSignal.any is too new for some browsers).
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, request.timeoutMs);
  const onAbort = (): void => controller.abort();
  request.signal?.addEventListener('abort', onAbort, { once: true });
  let response: Response;
  try {
    response = await request.fetch(request.url, {
      method: 'POST',
      body,
      headers: request.token ? { Authorization: `Bearer ${request.token}` } : {},
      credentials: request.token ? 'same-origin' : 'include',
      signal: controller.signal,
    });
  } catch (error) {
    throw new CaChatClientError(
      timedOut ? 'timeout' : 'transport_error',
      `upload failed: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
    request.signal?.removeEventListener('abort', onAbort);
  }
  const parsed = await response.json().catch(() => null);
  if (response.status !== 201) throw failure(response.status, parsed);
  request.onProgress?.({ loadedBytes: size, totalBytes: size });
  return parsed as StoredMessageBody;
}

function viaXhr(
  XHR: typeof XMLHttpRequest,
  request: UploadRequest,
  body: FormData,
): Promise<StoredMessageBody> {
  return new Promise((resolve, reject) => {
    const xhr = new XHR();
    xhr.open('POST', request.url);
    xhr.timeout = request.timeoutMs;
    if (request.token) xhr.setRequestHeader('Authorization', `Bearer ${request.token}`);
    else xhr.withCredentials = true;
    xhr.responseType = 'json';
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable)
        request.onProgress?.({ loadedBytes: event.loaded, totalBytes: event.total });
    };
    xhr.onload = () =>
      xhr.status === 201
        ? resolve(xhr.response as StoredMessageBody)
        : reject(failure(xhr.status, xhr.response));
    xhr.onerror = () =>
      reject(new CaChatClientError('transport_error', 'upload failed: network error'));
    xhr.ontimeout = () => reject(new CaChatClientError('timeout', 'upload timed out'));
    xhr.onabort = () => reject(new CaChatClientError('transport_error', 'upload aborted'));
    request.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}
