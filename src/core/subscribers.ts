/**
 * Listeners of one kind of value, called synchronously in the order they subscribed. One that
 * throws is reported to `onListenerError` and stops neither the others nor the sender.
 */
export class Subscribers<T> {
  private listeners: ReadonlyArray<(value: T) => void> = [];
  onListenerError: (err: unknown) => void = () => {};

  /** Subscribes; returns the function that unsubscribes. */
  subscribe(listener: (value: T) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  get listenerCount(): number {
    return this.listeners.length;
  }

  emit(value: T): void {
    for (const l of this.listeners) {
      try {
        l(value);
      } catch (err) {
        try {
          this.onListenerError(err);
        } catch {
          // An error handler that throws has nowhere left to report to.
        }
      }
    }
  }
}
