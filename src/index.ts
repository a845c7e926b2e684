/** sipwarden as a library: the SIP message layer (parser, serializer, framer). */
export * from './sip/index.js';
