/**
 * Flood guard: bans a source that sends more than `maxMessages` messages in a sliding `window`,
 * as Kamailio's pike module does (docs/guards/flood.md).
 *
 * Every message counts (requests, responses, datagrams that do not parse): the guard runs in
 * `checkSource`, before parsing. Sources are aggregated by prefix as every guard does
 * (`sources.ipv4_prefix`, default /32; `sources.ipv6_prefix`, default /64, since one IPv6
 * attacker owns a whole /64); an IPv4-mapped IPv6 peer counts as its IPv4 address. Counting and
 * the memory bound are RateTable's job.
 *
 * A source that crosses the limit gets one `ban` verdict; its further messages get `drop`
 * while it stays over the limit. The episode ends (and a later crossing bans again) once its
 * rate falls to half the limit, so a source hovering around the limit produces one ban, not a
 * stream of them. In enforce mode with the bans guard earlier in the chain the banned source
 * never gets here again until its ban ends; in monitor mode, or without the bans guard, the
 * drops are what it sees.
 */

import type { Bounds } from '../../config/fields.js';
import { type BanVerdict, type DropVerdict, PASS, type Source, type Verdict } from '../../core/verdict.js';
import { classifyIp, formatIPv4, formatIPv6, v4Mask } from '../../net/ip.js';
import type { SourceKeys } from '../../net/source-key.js';
import type { Guard } from '../types.js';
import { FLOOD_MAX_MESSAGES, FLOOD_MAX_SOURCES, type FloodConfig } from './config.js';
import { RateTable, type TopEntry } from './rate-table.js';

/** Human text of a duration in ms: `2s`, `1.5s`, `250ms`. */
function durationText(ms: number): string {
  return ms >= 1000 && ms % 100 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The four 32-bit words of an IPv6 mask of `bits` bits. */
function v6Masks(bits: number): Int32Array {
  const masks = new Int32Array(4);
  for (let i = 0; i < 4; i++) masks[i] = v4Mask(Math.max(0, Math.min(32, bits - 32 * i))) | 0;
  return masks;
}

function checkInteger(name: string, value: number, { min, max }: Bounds): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`flood: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

export class FloodGuard implements Guard {
  readonly name = 'flood';

  private readonly table: RateTable;
  private readonly maxMessages: number;
  /** Estimate (whole messages) at or below which a flagged source's episode ends. */
  private readonly resetBelow: number;
  private readonly banDuration: number;
  private readonly keys: SourceKeys;
  private readonly v4Mask: number;
  private readonly v6Mask: Int32Array;
  private readonly windowText: string;
  private readonly dropVerdict: DropVerdict;
  // Scratch for address parsing (no allocation per message).
  private readonly v4Out = new Float64Array(1);
  private readonly v6Out = new Uint16Array(8);

  /** `keys`: what makes one source (`sources.*`), the same for every guard and ban. */
  constructor(config: FloodConfig, keys: SourceKeys) {
    if (!Number.isFinite(config.window) || config.window < 1) {
      throw new RangeError(`flood: window must be at least 1 ms, got ${config.window}`);
    }
    // The same bounds as the configuration's, for code that builds the guard itself.
    checkInteger('maxMessages', config.maxMessages, FLOOD_MAX_MESSAGES);
    checkInteger('maxSources', config.maxSources, FLOOD_MAX_SOURCES);
    if (!Number.isFinite(config.ban) || config.ban <= 0) throw new RangeError(`flood: ban must be > 0 ms`);
    this.table = new RateTable(config.maxSources, config.window, config.window / config.maxMessages);
    this.maxMessages = config.maxMessages;
    this.resetBelow = config.maxMessages / 2;
    this.banDuration = config.ban;
    this.keys = keys;
    this.v4Mask = v4Mask(keys.v4Bits) | 0;
    this.v6Mask = v6Masks(keys.v6Bits);
    this.windowText = durationText(config.window);
    this.dropVerdict = Object.freeze({
      action: 'drop',
      rule: 'density',
      detail: `over ${config.maxMessages} messages in ${this.windowText}`,
    });
  }

  /** Sources (prefixes) tracked now; never more than `maxSources`. */
  get trackedSources(): number {
    return this.table.size;
  }

  /** The tracked sources sending most now (prefix text, estimate), busiest first; read-only. */
  top(limit: number, now: number): { source: string; messages: number }[] {
    return this.table.top(limit, now).map((e) => ({ source: this.sourceText(e), messages: e.messages }));
  }

  /** Measurement window (ms). */
  get window(): number {
    return this.table.window;
  }

  private sourceText(e: TopEntry): string {
    if (e.family === 4) {
      const text = formatIPv4(e.key[0] >>> 0);
      return this.keys.v4Bits === 32 ? text : `${text}/${this.keys.v4Bits}`;
    }
    const words = new Uint16Array(8);
    for (let i = 0; i < 4; i++) {
      words[2 * i] = e.key[i]! >>> 16;
      words[2 * i + 1] = e.key[i]! & 0xffff;
    }
    const text = formatIPv6(words);
    return this.keys.v6Bits === 128 ? text : `${text}/${this.keys.v6Bits}`;
  }

  checkSource(source: Source, _bytes: number, now: number): Verdict {
    const family = classifyIp(source.address, this.v4Out, this.v6Out);
    const table = this.table;
    let estimate: number;
    if (family === 4) {
      table.key[0] = this.v4Out[0]! & this.v4Mask;
      estimate = table.hit4(now);
    } else if (family === 6) {
      const w = this.v6Out;
      const m = this.v6Mask;
      const key = table.key;
      key[0] = ((w[0]! << 16) | w[1]!) & m[0]!;
      key[1] = ((w[2]! << 16) | w[3]!) & m[1]!;
      key[2] = ((w[4]! << 16) | w[5]!) & m[2]!;
      key[3] = ((w[6]! << 16) | w[7]!) & m[3]!;
      estimate = table.hit6(now);
    } else {
      return PASS; // Not an address: nothing to count by (sockets never report one).
    }
    const slot = this.table.lastSlot;
    if (estimate > this.maxMessages) {
      if (this.table.isFlagged(slot)) return this.dropVerdict;
      this.table.setFlagged(slot, true);
      return this.ban(source.address, estimate);
    }
    if (estimate <= this.resetBelow && this.table.isFlagged(slot)) this.table.setFlagged(slot, false);
    return PASS;
  }

  private ban(address: string, estimate: number): BanVerdict {
    return {
      action: 'ban',
      rule: 'density',
      duration: this.banDuration,
      reason: 'flood',
      target: this.keys.of(address),
      detail: `${estimate} messages in ${this.windowText} (limit ${this.maxMessages})`,
    };
  }

  close(): void {
    this.table.clear();
  }
}
