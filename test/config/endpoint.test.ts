import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointError, formatDuration, parseDuration, parseEndpoint, parseHostPort } from '../../src/config/index.js';

describe('parseEndpoint', () => {
  const ok: [string, ReturnType<typeof parseEndpoint>][] = [
    ['udp://1.2.3.4', { transport: 'udp', host: '1.2.3.4', port: 5060, family: 4, url: 'udp://1.2.3.4:5060' }],
    ['tcp://1.2.3.4:5070', { transport: 'tcp', host: '1.2.3.4', port: 5070, family: 4, url: 'tcp://1.2.3.4:5070' }],
    ['tls://1.2.3.4', { transport: 'tls', host: '1.2.3.4', port: 5061, family: 4, url: 'tls://1.2.3.4:5061' }],
    [
      'UDP://[2001:DB8::0:1]',
      { transport: 'udp', host: '2001:db8::1', port: 5060, family: 6, url: 'udp://[2001:db8::1]:5060' },
    ],
    ['tls://[::1]:443', { transport: 'tls', host: '::1', port: 443, family: 6, url: 'tls://[::1]:443' }],
    ['tcp://[::]:5060', { transport: 'tcp', host: '::', port: 5060, family: 6, url: 'tcp://[::]:5060' }],
    [
      'udp://PBX.Example.com',
      { transport: 'udp', host: 'pbx.example.com', port: 5060, family: 0, url: 'udp://pbx.example.com:5060' },
    ],
    [
      'tcp://localhost:5080',
      { transport: 'tcp', host: 'localhost', port: 5080, family: 0, url: 'tcp://localhost:5080' },
    ],
    [
      'udp://pbx.example.com.:65535',
      { transport: 'udp', host: 'pbx.example.com.', port: 65535, family: 0, url: 'udp://pbx.example.com.:65535' },
    ],
  ];
  for (const [url, expected] of ok) {
    it(`parses ${url}`, () => assert.deepEqual(parseEndpoint(url), expected));
  }

  const bad: [string, string][] = [
    ['udpx://1.2.3.4', '"udpx://1.2.3.4" is not a SIP endpoint URL (udp://, tcp://, tls://)'],
    ['1.2.3.4:5060', '"1.2.3.4:5060" is not a SIP endpoint URL (udp://, tcp://, tls://)'],
    ['sip:1.2.3.4', '"sip:1.2.3.4" is not a SIP endpoint URL (udp://, tcp://, tls://)'],
    ['udp://', '"udp://": no host'],
    ['udp://1.2.3.4:0', '"udp://1.2.3.4:0": port must be from 1 to 65535'],
    ['udp://1.2.3.4:65536', '"udp://1.2.3.4:65536": port must be from 1 to 65535'],
    ['udp://1.2.3.4:50x', '"udp://1.2.3.4:50x": port "50x" is not a number'],
    ['udp://1.2.3.4:', '"udp://1.2.3.4:": port "" is not a number'],
    ['udp://::1', '"udp://::1": IPv6 addresses must be written in brackets, e.g. [::1]'],
    ['udp://[::1', '"udp://[::1": missing "]" after the IPv6 address'],
    ['udp://[1.2.3.4]', '"udp://[1.2.3.4]": "1.2.3.4" is not an IPv6 address'],
    ['udp://[::1]5060', '"udp://[::1]5060": unexpected text after "]"'],
    ['udp://[fe80::1%eth0]', '"udp://[fe80::1%eth0]": "fe80::1%eth0" is not an IPv6 address'],
    ['udp://1.2.3.256', '"udp://1.2.3.256": "1.2.3.256" is not a valid IPv4 address'],
    ['udp://010.0.0.1', '"udp://010.0.0.1": "010.0.0.1" is not a valid IPv4 address'],
    ['udp://1.2.3', '"udp://1.2.3": "1.2.3" is not a valid IPv4 address'],
    ['udp://host_name', '"udp://host_name": "host_name" is not a valid hostname or IP address'],
    ['udp://-bad.example', '"udp://-bad.example": "-bad.example" is not a valid hostname or IP address'],
    [
      'udp://user@1.2.3.4',
      '"udp://user@1.2.3.4": only host and port are allowed (no user, path, parameters or spaces)',
    ],
    ['udp://1.2.3.4/x', '"udp://1.2.3.4/x": only host and port are allowed (no user, path, parameters or spaces)'],
    [
      'udp://1.2.3.4;transport=tcp',
      '"udp://1.2.3.4;transport=tcp": only host and port are allowed (no user, path, parameters or spaces)',
    ],
  ];
  for (const [url, message] of bad) {
    it(`refuses ${url}`, () => {
      assert.throws(
        () => parseEndpoint(url),
        (err: unknown) => err instanceof EndpointError && err.message === message,
      );
    });
  }

  it('refuses hostnames where an IP address is required, and allows port 0 when asked', () => {
    assert.throws(() => parseEndpoint('udp://pbx', { requireIp: true }), /must be an IP address, not a hostname/);
    assert.equal(parseEndpoint('udp://127.0.0.1:0', { allowPortZero: true }).port, 0);
  });

  it('cuts very long input short in messages', () => {
    assert.throws(
      () => parseEndpoint(`bogus://${'a'.repeat(10_000)}`),
      (err: unknown) => err instanceof Error && err.message.length < 200,
    );
  });
});

describe('parseHostPort', () => {
  it('fills in the default port and brackets IPv6', () => {
    assert.deepEqual(parseHostPort('sip.example.com', 5061), {
      host: 'sip.example.com',
      port: 5061,
      family: 0,
      hostport: 'sip.example.com:5061',
    });
    assert.deepEqual(parseHostPort('[2001:db8::1]:5070', 5060), {
      host: '2001:db8::1',
      port: 5070,
      family: 6,
      hostport: '[2001:db8::1]:5070',
    });
    assert.deepEqual(parseHostPort('203.0.113.1', 5060), {
      host: '203.0.113.1',
      port: 5060,
      family: 4,
      hostport: '203.0.113.1:5060',
    });
  });
});

describe('parseDuration', () => {
  const cases: [unknown, number | undefined][] = [
    ['500ms', 500],
    ['2s', 2000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5s', 1500],
    [' 10 s ', 10_000],
    ['30', 30_000],
    [30, 30_000],
    [0.25, 250],
    [0, 0],
    ['0.0004s', 0],
    ['-1s', undefined],
    [-1, undefined],
    ['1w', undefined],
    ['5M', undefined],
    ['1h30m', undefined],
    ['', undefined],
    ['s', undefined],
    [Number.POSITIVE_INFINITY, undefined],
    [Number.NaN, undefined],
    [true, undefined],
    [null, undefined],
    [[1], undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => assert.equal(parseDuration(input), expected));
  }

  it('formats durations back in the largest exact unit', () => {
    assert.deepEqual([500, 2000, 90_000, 300_000, 3_600_000, 86_400_000, 1500].map(formatDuration), [
      '500ms',
      '2s',
      '90s',
      '5m',
      '1h',
      '1d',
      '1500ms',
    ]);
  });
});
