import type { Database, Statement } from 'sql.js';

export type SqlParam = string | number | null;
/** One executed statement: SQL text and its positional parameters. */
export type RecordedStatement = [sql: string, params: SqlParam[]];
/** One committed Storage call: the statements it executed, in order. */
export type RecordedOp = RecordedStatement[];

export declare const FRAME_HEADER_BYTES: number;
export declare const REPLAY_OPS_PER_COMMIT: number;
export declare const REPLAY_CACHE_KIB: number;

export declare function encodeFrame(ops: RecordedOp[]): Buffer;

export interface FrameScan {
  payloads: Buffer[];
  /** Bytes up to the end of the last valid frame. */
  validBytes: number;
  tail: 'clean' | 'torn' | 'corrupt';
  badOffset: number | null;
}

export declare function scanFrames(bytes: Buffer): FrameScan;

export declare function replayFrame(
  db: Database,
  payload: Buffer,
  statements: Map<string, Statement>,
): number;
