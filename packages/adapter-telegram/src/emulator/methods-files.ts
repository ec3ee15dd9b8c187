import type { TgFile, TgMessage } from './bot-api-types.js';
import { badRequest } from './errors.js';
import {
  documentMimeType,
  readHead,
  type StoredFile,
  type StoredFileKind,
  toDocument,
  toPhotoSizes,
  toTgFile,
} from './file-store.js';
import { imageSize } from './image-size.js';
import { checkCaption, checkInlineKeyboard } from './limits.js';
import { type MethodContext, newBotMessage, requireChat, resolveReply } from './method-context.js';

/** Enough of a JPEG to reach its frame header past EXIF / ICC segments. */
const IMAGE_HEAD_BYTES = 512 * 1024;

export function sendDocument(context: MethodContext): Promise<TgMessage> {
  return sendMedia(context, 'document');
}

export function sendPhoto(context: MethodContext): Promise<TgMessage> {
  return sendMedia(context, 'photo');
}

/** A new upload (multipart, streamed to disk) or a file_id this bot already has. */
async function sendMedia(context: MethodContext, kind: StoredFileKind): Promise<TgMessage> {
  const { params, state, bot } = context;
  const { chat } = requireChat(context);
  const caption = params.string('caption');
  checkCaption(caption, state.limits);
  const markup = checkInlineKeyboard(params.json('reply_markup'), state.limits);
  const replyTo = resolveReply(context, chat.id);

  let file: StoredFile;
  const upload = params.file(kind);
  if (upload) {
    if (upload.size === 0) throw badRequest('file must be non-empty');
    const dimensions =
      kind === 'photo' ? imageSize(await readHead(upload.path, IMAGE_HEAD_BYTES)) : undefined;
    if (kind === 'photo' && !dimensions) throw badRequest('IMAGE_PROCESS_FAILED');
    bot.limiter.acquire(chat.id);
    file = await state.files.adopt(upload.path, upload.size, {
      ownerBotId: bot.info.id,
      kind,
      ...(kind === 'document'
        ? {
            fileName: upload.fileName,
            mimeType: documentMimeType(upload.fileName, upload.mimeType),
          }
        : dimensions),
    });
    params.claim(upload);
  } else {
    const reference = params.string(kind);
    if (reference === undefined || reference === '') {
      throw badRequest(`there is no ${kind} in the request`);
    }
    const existing = state.files.get(reference);
    // No Internet fetching here: URLs are as wrong as unknown file_ids.
    if (!existing || existing.ownerBotId !== bot.info.id) {
      throw badRequest('wrong file identifier/HTTP URL specified');
    }
    if (existing.kind !== kind) throw badRequest('type of file mismatch');
    bot.limiter.acquire(chat.id);
    file = existing;
  }

  const message = newBotMessage(context, chat);
  if (kind === 'document') message.document = toDocument(file);
  else message.photo = toPhotoSizes(file);
  if (caption !== undefined && caption !== '') message.caption = caption;
  if (replyTo) message.reply_to_message = replyTo;
  if (markup) message.reply_markup = markup;
  return bot.addMessage(message, true);
}

/** Files over the download limit get Telegram's "file is too big", not a partial file. */
export function getFile(context: MethodContext): TgFile {
  const { params, state, bot } = context;
  const fileId = params.string('file_id');
  if (fileId === undefined || fileId === '') throw badRequest('file_id not specified');
  const file = state.files.get(fileId);
  if (!file || file.ownerBotId !== bot.info.id) throw badRequest('invalid file_id');
  if (file.size > state.limits.maxDownloadBytes) throw badRequest('file is too big');
  state.files.publish(file);
  return toTgFile(file);
}
