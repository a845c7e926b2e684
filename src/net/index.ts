export { type Cidr, CidrSet, cidrsOverlap, normalizeCidr, normalizeIp, parseCidr, prefixKey } from './cidr.js';
export { formatIPv4, formatIPv6, type ParsedIp, parseIp } from './ip.js';
export { SourceKeys } from './source-key.js';
