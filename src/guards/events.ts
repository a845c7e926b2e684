/**
 * The name under which the proxy (src/proxy/proxy.ts) still takes the event bus for its
 * topology refusals: a sink of guard decisions (core/events.ts `EventBus.decisions`). Every
 * other part uses the EventBus of core/events.ts; this file goes once the proxy does too.
 */
export type { DecisionSink as EventStream } from '../core/events.js';
