import { CaChatError } from '@ca-chat/core';
import type { CaChatErrorCode, FileRef, RelayApi } from '@ca-chat/core';
import type { ResolvedOptions } from './options.js';
import type { ServerFrame } from './protocol.js';
import { createUrlSigner, type UrlSigner } from './signed-url.js';
import { createKeyedRateLimiter, type KeyedRateLimiter } from './token-bucket.js';
import type { Connection } from './ws/connection.js';
import { ConnectionRegistry } from './ws/connection-registry.js';

/** What the WebSocket side and the HTTP side of the transport share. */
export interface TransportContext {
  readonly options: ResolvedOptions;
  /** The relay, once `start(relay)` ran; `not_started` before and `shutting_down` after `stop()`. */
  relay(): RelayApi;
  readonly registry: ConnectionRegistry;
  readonly signer: UrlSigner;
  readonly ipLimits: {
    newIdentities: KeyedRateLimiter;
    chatRequests: KeyedRateLimiter;
    httpRequests: KeyedRateLimiter;
  };
  /** A signed download URL for a file (absolute when `publicUrl` is set). */
  fileUrl(file: FileRef): string;
  /** Pushes a frame to every connection of the client except `except`; true when one took it. */
  broadcast(clientId: string, frame: ServerFrame, except?: Connection): boolean;
  /** Counts a refused request for metrics. */
  rejected(code: CaChatErrorCode): void;
}

export interface MutableContext extends TransportContext {
  setRelay(relay: RelayApi | null, state: 'running' | 'stopped'): void;
}

export function createTransportContext(options: ResolvedOptions): MutableContext {
  let current: RelayApi | null = null;
  let state: 'idle' | 'running' | 'stopped' = 'idle';
  const filesBase = `${(options.publicUrl ?? '').replace(/\/+$/, '')}${options.basePath}/files/`;
  const safely = (hook: (() => void) | undefined): void => {
    try {
      hook?.();
    } catch (error) {
      options.logger.warn({ err: error }, 'metrics hook threw');
    }
  };
  const registry = new ConnectionRegistry(
    (clientId) => current?.clientConnected(clientId),
    (clientId) => current?.clientDisconnected(clientId),
  );
  const signer = createUrlSigner(options.signingSecret, options.fileUrlTtlMs);
  const { maxTrackedIps } = options.ipLimits;

  return {
    options,
    registry,
    signer,
    ipLimits: {
      newIdentities: createKeyedRateLimiter(options.ipLimits.newIdentities, maxTrackedIps),
      chatRequests: createKeyedRateLimiter(options.ipLimits.chatRequests, maxTrackedIps),
      httpRequests: createKeyedRateLimiter(options.ipLimits.httpRequests, maxTrackedIps),
    },
    relay() {
      if (current) return current;
      throw state === 'stopped'
        ? new CaChatError('shutting_down', 'the server is shutting down')
        : new CaChatError('not_started', 'the transport has not been started');
    },
    setRelay(relay, next) {
      current = relay;
      state = next;
    },
    fileUrl(file) {
      const { exp, sig } = signer.sign(file.id, options.clock.now());
      return `${filesBase}${encodeURIComponent(file.id)}?exp=${exp}&sig=${sig}`;
    },
    broadcast(clientId, frame, except) {
      let taken = false;
      for (const connection of registry.of(clientId)) {
        if (connection !== except && connection.push(frame)) taken = true;
      }
      return taken;
    },
    rejected(code) {
      safely(options.metrics.requestRejected && (() => options.metrics.requestRejected!(code)));
    },
  };
}
