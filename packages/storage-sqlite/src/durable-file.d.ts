import type { FileHandle } from 'node:fs/promises';

export declare function writeFully(
  handle: FileHandle,
  bytes: Uint8Array,
  position: number,
): Promise<void>;
export declare function fsyncDirectory(dir: string): Promise<void>;
export declare function replaceFileDurably(
  path: string,
  tempPath: string,
  bytes: Uint8Array,
  beforeRename?: () => void,
): Promise<void>;
