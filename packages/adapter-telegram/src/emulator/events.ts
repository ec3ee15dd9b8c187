import type { EmulatorEvent } from './types.js';

export type EmulatorListener = (event: EmulatorEvent) => void;

/** Fans emulator events out to listeners; a throwing listener never breaks the emulator. */
export class EventHub {
  private readonly listeners = new Set<EmulatorListener>();

  subscribe(listener: EmulatorListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(event: EmulatorEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's bug is the listener's problem; the emulator keeps going.
      }
    }
  }
}
