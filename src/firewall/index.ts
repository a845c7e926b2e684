export { DEFAULT_MAX_BANS, type IptablesRenderInput, type IptablesRuleset, renderIptables } from './iptables.js';
export { type IptablesNames, iptablesNames, NFT_SETS } from './names.js';
export { renderNftables } from './nftables.js';
export {
  type AdminAccess,
  buildPlan,
  type FirewallListener,
  type FirewallPlan,
  FirewallRenderError,
  type FirewallRenderInput,
  LIMITS,
  type OpenPort,
  sipPorts,
} from './ports.js';
export {
  FirewallSync,
  type FirewallSyncLog,
  type FirewallSyncOptions,
  type FirewallSyncStats,
  MAX_KERNEL_TIMEOUT_S,
} from './sync.js';
export { detectTarpit, type TarpitSupport } from './tarpit.js';
