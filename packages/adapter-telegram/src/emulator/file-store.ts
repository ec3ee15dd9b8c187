import { randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { TgDocument, TgFile, TgPhotoSize } from './bot-api-types.js';

export type StoredFileKind = 'document' | 'photo';

export interface StoredFile {
  fileId: string;
  fileUniqueId: string;
  /** file_ids belong to one bot, as on Telegram. */
  ownerBotId: number;
  kind: StoredFileKind;
  size: number;
  diskPath: string;
  fileName?: string;
  mimeType?: string;
  width?: number;
  height?: number;
  /** Set by the first getFile; only then can the file be downloaded. */
  filePath?: string;
}

export type NewFileMeta = Pick<StoredFile, 'ownerBotId' | 'kind'> &
  Partial<Pick<StoredFile, 'fileName' | 'mimeType' | 'width' | 'height'>>;

const FILE_ID_PREFIX: Record<StoredFileKind, string> = {
  document: 'BQACAgIAAxkBAA',
  photo: 'AgACAgIAAxkBAA',
};

/** Files uploaded by bots or sent by users, one disk file each under `dir`. */
export class FileStore {
  private readonly byId = new Map<string, StoredFile>();
  private readonly byFilePath = new Map<string, StoredFile>();
  private filePathCounter = 0;

  constructor(private readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** Takes over a finished upload (a temp file on the same file system). */
  async adopt(tempPath: string, size: number, meta: NewFileMeta): Promise<StoredFile> {
    const file = this.describe(size, meta);
    await rename(tempPath, file.diskPath);
    this.byId.set(file.fileId, file);
    return file;
  }

  async write(data: Buffer, meta: NewFileMeta): Promise<StoredFile> {
    const file = this.describe(data.length, meta);
    await writeFile(file.diskPath, data);
    this.byId.set(file.fileId, file);
    return file;
  }

  get(fileId: string): StoredFile | undefined {
    return this.byId.get(fileId);
  }

  /** Gives the file a `file_path` (once) and makes it downloadable under it. */
  publish(file: StoredFile): string {
    if (file.filePath === undefined) {
      this.filePathCounter += 1;
      const folder = file.kind === 'photo' ? 'photos' : 'documents';
      const extension = file.kind === 'photo' ? '.jpg' : safeExtension(file.fileName);
      file.filePath = `${folder}/file_${this.filePathCounter}${extension}`;
      this.byFilePath.set(`${file.ownerBotId}/${file.filePath}`, file);
    }
    return file.filePath;
  }

  findPublished(botId: number, filePath: string): StoredFile | undefined {
    return this.byFilePath.get(`${botId}/${filePath}`);
  }

  read(file: StoredFile): Promise<Buffer> {
    return readFile(file.diskPath);
  }

  stream(file: StoredFile): ReadStream {
    return createReadStream(file.diskPath);
  }

  private describe(size: number, meta: NewFileMeta): StoredFile {
    const fileId = FILE_ID_PREFIX[meta.kind] + randomBytes(33).toString('base64url');
    return {
      ...meta,
      fileId,
      fileUniqueId: 'AgAD' + randomBytes(9).toString('base64url'),
      size,
      diskPath: join(this.dir, fileId),
    };
  }
}

/** The first `maxBytes` bytes of a file (enough for image headers). */
export async function readHead(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(maxBytes);
    const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

export function toDocument(file: StoredFile): TgDocument {
  const document: TgDocument = { file_id: file.fileId, file_unique_id: file.fileUniqueId };
  if (file.fileName !== undefined) document.file_name = file.fileName;
  if (file.mimeType !== undefined) document.mime_type = file.mimeType;
  document.file_size = file.size;
  return document;
}

export function toPhotoSizes(file: StoredFile): TgPhotoSize[] {
  return [
    {
      file_id: file.fileId,
      file_unique_id: file.fileUniqueId,
      width: file.width ?? 0,
      height: file.height ?? 0,
      file_size: file.size,
    },
  ];
}

export function toTgFile(file: StoredFile): TgFile {
  const result: TgFile = {
    file_id: file.fileId,
    file_unique_id: file.fileUniqueId,
    file_size: file.size,
  };
  if (file.filePath !== undefined) result.file_path = file.filePath;
  return result;
}

function safeExtension(fileName: string | undefined): string {
  const extension = extname(fileName ?? '').toLowerCase();
  return /^\.[a-z0-9]{1,8}$/.test(extension) ? extension : '';
}

const MIME_BY_EXTENSION: Record<string, string> = {
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.txt': 'text/plain',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.zip': 'application/zip',
  '.xml': 'application/xml',
  '.doc': 'application/msword',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xls': 'application/vnd.ms-excel',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.mp4': 'video/mp4',
};

/**
 * The mime type Telegram reports for a document: from the file name's extension when it
 * knows it, else the declared type (multipart parts without a Content-Type read as
 * text/plain, which says nothing), else application/octet-stream.
 */
export function documentMimeType(fileName: string, declared: string | undefined): string {
  const known = MIME_BY_EXTENSION[extname(fileName).toLowerCase()];
  if (known) return known;
  if (declared && declared !== 'text/plain') return declared;
  return 'application/octet-stream';
}
