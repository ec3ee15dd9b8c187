import { EventEmitter } from 'eventemitter3';

type Listener = (...args: unknown[]) => unknown;
interface Registration {
  event: string | symbol;
  wrapper: Listener;
  context: unknown;
}

/**
 * An eventemitter3 emitter whose listeners can't break the code that emits: each listener
 * is wrapped when added, so a throw (or a rejected promise) goes to `onListenerError` and
 * the other listeners still run. `off`/`removeListener`/`listeners` see the originals.
 */
export function createSafeEmitter<Events extends object>(
  onListenerError: (event: string | symbol, error: unknown) => void,
): EventEmitter<Events> {
  const emitter = new EventEmitter<Events>();
  const base = {
    on: emitter.on.bind(emitter) as unknown as (e: string | symbol, fn: Listener) => unknown,
    once: emitter.once.bind(emitter) as unknown as (e: string | symbol, fn: Listener) => unknown,
    removeListener: emitter.removeListener.bind(emitter) as unknown as (
      e: string | symbol,
      fn?: Listener,
      context?: unknown,
      once?: boolean,
    ) => unknown,
    removeAllListeners: emitter.removeAllListeners.bind(emitter) as unknown as (
      e?: string | symbol,
    ) => unknown,
    listeners: emitter.listeners.bind(emitter) as unknown as (e: string | symbol) => Listener[],
  };
  const byOriginal = new Map<Listener, Registration[]>();
  const originalOf = new WeakMap<Listener, Listener>();

  const wrap = (event: string | symbol, fn: Listener, context: unknown): Listener => {
    if (typeof fn !== 'function') throw new TypeError('The listener must be a function');
    const wrapper: Listener = (...args) => {
      try {
        const result = fn.apply(context ?? emitter, args);
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, (error) => onListenerError(event, error));
        }
      } catch (error) {
        onListenerError(event, error);
      }
    };
    originalOf.set(wrapper, fn);
    const list = byOriginal.get(fn) ?? [];
    list.push({ event, wrapper, context });
    byOriginal.set(fn, list);
    return wrapper;
  };

  const forget = (fn: Listener, wrapper: Listener): void => {
    const list = byOriginal.get(fn)?.filter((r) => r.wrapper !== wrapper) ?? [];
    if (list.length > 0) byOriginal.set(fn, list);
    else byOriginal.delete(fn);
  };

  const patched = emitter as unknown as Record<string, unknown>;
  patched.on = patched.addListener = (event: string | symbol, fn: Listener, context?: unknown) => {
    base.on(event, wrap(event, fn, context));
    return emitter;
  };
  patched.once = (event: string | symbol, fn: Listener, context?: unknown) => {
    base.once(event, wrap(event, fn, context));
    return emitter;
  };
  patched.removeListener = patched.off = (
    event: string | symbol,
    fn?: Listener,
    context?: unknown,
    once?: boolean,
  ) => {
    if (!fn) {
      for (const [original, list] of byOriginal) {
        for (const r of list) if (r.event === event) forget(original, r.wrapper);
      }
      base.removeListener(event);
      return emitter;
    }
    const original = originalOf.get(fn);
    if (original) {
      // eventemitter3 removing a fired `once` wrapper.
      forget(original, fn);
      base.removeListener(event, fn, undefined, once);
      return emitter;
    }
    for (const r of byOriginal.get(fn) ?? []) {
      if (r.event !== event || (context !== undefined && r.context !== context)) continue;
      forget(fn, r.wrapper);
      base.removeListener(event, r.wrapper, undefined, once);
    }
    return emitter;
  };
  patched.removeAllListeners = (event?: string | symbol) => {
    if (event === undefined) byOriginal.clear();
    else
      for (const [original, list] of byOriginal)
        for (const r of list) if (r.event === event) forget(original, r.wrapper);
    base.removeAllListeners(event);
    return emitter;
  };
  patched.listeners = (event: string | symbol) =>
    base.listeners(event).map((w) => originalOf.get(w) ?? w);
  return emitter;
}
