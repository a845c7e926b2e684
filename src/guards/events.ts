import type { SecurityEvent, SecurityEventListener } from './types.js';

/**
 * The one stream every guard decision goes to. Listeners run synchronously in the order they
 * subscribed; one that throws is reported to `onListenerError` and does not stop the others
 * or the message's way through the proxy.
 */
export class EventStream {
  private listeners: SecurityEventListener[] = [];
  onListenerError: (err: unknown) => void = () => {};

  /** Subscribes; returns the function that unsubscribes. */
  on(listener: SecurityEventListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  get listenerCount(): number {
    return this.listeners.length;
  }

  emit(event: SecurityEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
