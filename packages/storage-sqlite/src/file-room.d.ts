import type { Database, SqlJsStatic } from 'sql.js';

export declare function allocateRoom(capacityBytes: number): Uint8Array | null;

export declare function openWithRoom(
  SQL: SqlJsStatic,
  image: Uint8Array | null,
  room: Uint8Array | null,
): { db: Database; file: Uint8Array | null };

export declare function pagesInFile(file: Uint8Array): number;

export declare function readIntoRoom(
  path: string,
  roomBytes: (fileBytes: number) => number,
): Promise<{ image: Buffer | null; room: Uint8Array | null }>;
