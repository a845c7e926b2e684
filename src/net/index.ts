export { type Cidr, CidrSet, normalizeCidr, normalizeIp, parseCidr, prefixKey } from './cidr.js';
export { formatIPv4, formatIPv6, type ParsedIp, parseIp } from './ip.js';
