/**
 * The dashboard in a real headless Chromium against a running sipwarden: login, a flood that
 * shows in the live feed and the charts, an unban from the page that lets the source's next
 * message through, attacker text that stays text, the page's own assets within its CSP, and
 * the screenshots (written to docs/ with UPDATE_SCREENSHOTS=1, else to a temporary directory, so
 * that a test run leaves the checkout as it was).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { DESKTOP, launchChromium, type PageWatch, PHONE, watchPage } from '../helpers/browser.js';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { waitFor } from '../helpers/process.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { options, sleep, UdpPeer } from '../helpers/udp.js';

const HOST = '127.113.0.1';
const SIP_PORT = 40160;
const UPSTREAM_PORT = 40170;
const ADMIN = `http://${HOST}:40180`;
const TOKEN = 'dashboard-test-token-6f1c2a9e';
const FLOODER = '127.113.0.5';
const SCANNER = '127.113.0.6';

const IMG = '<img src=x onerror=alert(1)>';
const SCRIPT = '"><script>alert(1)</script>';

const CONFIG = `listen: [udp://${HOST}:${SIP_PORT}]
upstreams:
  - name: pbx
    targets: [udp://${HOST}:${UPSTREAM_PORT}]
    ping: false
admin:
  listen: ${ADMIN}
  token: ${TOKEN}
guards:
  scanner:
    signals:
      user_agent: honeypot
      sql_injection: honeypot
      shell_metacharacters: honeypot
`;

/** A request as a scanner sends it, with attacker text where a page could go wrong. */
function hostileRequest(method: 'OPTIONS' | 'REGISTER' | 'INVITE', port: number, n: number, userAgent: string): string {
  const uri = method === 'INVITE' ? 'sip:0044123456789@example.com' : 'sip:example.com';
  return [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${SCANNER}:${port};branch=z9hG4bK-hostile-${n};rport`,
    `From: <sip:1001@example.com>;tag=h${n}`,
    `To: <sip:1001@example.com>`,
    `Call-ID: ${IMG.replaceAll(' ', '')}${n}@${SCANNER}`,
    `CSeq: ${n} ${method}`,
    'Max-Forwards: 70',
    `User-Agent: ${userAgent}`,
    ...(method === 'REGISTER'
      ? [
          `Authorization: Digest username="${IMG}", realm="asterisk", nonce="x", uri="sip:example.com", response="00000000000000000000000000000000"`,
        ]
      : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

async function adminReady(): Promise<boolean> {
  try {
    return (await fetch(`${ADMIN}/login`)).ok;
  } catch {
    return false;
  }
}

describe('dashboard in Chromium', { timeout: 120_000 }, () => {
  let sw: SipwardenInstance;
  let upstream: UdpPeer;
  let browser: Browser;

  before(async () => {
    upstream = await UdpPeer.bind(HOST, UPSTREAM_PORT);
    sw = await startSipwarden(CONFIG, { listeners: 1 });
    const deadline = Date.now() + 10_000;
    while (!(await adminReady())) {
      if (Date.now() > deadline) throw new Error(`admin listener not up:\n${sw.run.output()}`);
      await sleep(50);
    }
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await sw?.stop();
    upstream?.close();
  });

  it('serves its pages with the CSP and security headers, and its assets with their types', async () => {
    for (const path of ['/login', '/']) {
      const res = await fetch(`${ADMIN}${path}`, { redirect: 'manual' });
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/, path);
      assert.match(csp, /script-src 'self'(;|$)/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
    }
    const root = await fetch(`${ADMIN}/`, { redirect: 'manual' });
    assert.equal(root.status, 302, 'no session: sent to the login page');
    assert.equal(root.headers.get('location'), '/login');
    const types: Record<string, RegExp> = {
      '/ui/app.js': /^text\/javascript/,
      '/ui/style.css': /^text\/css/,
      '/ui/vendor/uplot.esm.js': /^text\/javascript/,
      '/ui/vendor/uplot.min.css': /^text\/css/,
    };
    for (const [path, type] of Object.entries(types)) {
      const res = await fetch(`${ADMIN}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', type, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    }
    for (const path of ['/ui/nothing.js', '/ui/dashboard.html', '/ui/..%2fpackage.json']) {
      assert.equal((await fetch(`${ADMIN}${path}`)).status, 404, path);
    }
    // Decoded to /package.json before routing: not a dashboard path, so the API's 401.
    assert.equal((await fetch(`${ADMIN}/ui/%2e%2e/package.json`)).status, 401);
  });

  it('sets the session cookie HttpOnly and SameSite=Strict, refuses a wrong token', async () => {
    const wrong = await fetch(`${ADMIN}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: 'not-the-token' }),
      redirect: 'manual',
    });
    assert.equal(wrong.status, 303);
    assert.equal(wrong.headers.get('location'), '/login?failed');
    assert.equal(wrong.headers.get('set-cookie'), null);

    const right = await fetch(`${ADMIN}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN }),
      redirect: 'manual',
    });
    assert.equal(right.status, 303);
    assert.equal(right.headers.get('location'), '/');
    const cookie = right.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^sipwarden_session=[\w-]+\.\d+;/);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Strict/);
    assert.match(cookie, /; Path=\//);
    assert.doesNotMatch(cookie, /Secure/, 'plain http: no Secure flag');
    const session = cookie.split(';')[0]!;
    const page = await fetch(`${ADMIN}/`, { headers: { cookie: session }, redirect: 'manual' });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /src="\/ui\/app\.js"/);
    const api = await fetch(`${ADMIN}/api/bans`, { headers: { cookie: session } });
    assert.equal(api.status, 200, 'the cookie opens the API');
  });

  it('shows a flood live, unbans from the page, renders attacker text as text, stays within its CSP', async () => {
    const context = await browser.newContext(DESKTOP);
    const page = await context.newPage();
    const watch = await watchPage(page);
    const assetFailures: string[] = [];
    page.on('response', (res) => {
      if (res.url().startsWith(`${ADMIN}/ui/`) && res.status() !== 200)
        assetFailures.push(`${res.status()} ${res.url()}`);
    });

    await login(page);
    await page.waitForSelector('#live.on', { timeout: 10_000 });

    // The flood: 150 OPTIONS from one source in well under 2 s (flood: 100 per 2 s).
    const flooder = await UdpPeer.bind(FLOODER, 40190);
    const floodStart = Date.now();
    for (let i = 0; i < 150 && Date.now() - floodStart < 1500; i++) {
      await flooder.send(options(FLOODER, 40190, `flood${i}`), SIP_PORT, HOST);
    }
    const floodEnd = Date.now();

    const banItem = page.locator('#feed li[data-kind="ban"]', { hasText: FLOODER });
    await banItem.first().waitFor({ timeout: 10_000 });
    assert.match((await banItem.first().textContent()) ?? '', /flood/);
    await page.waitForFunction(() => Number(document.getElementById('chart-traffic')?.dataset.blocked) > 0, null, {
      timeout: 10_000,
    });
    await page.waitForFunction(() => (document.getElementById('chart-guards')?.dataset.guards ?? '') !== '', null, {
      timeout: 10_000,
    });
    assert.equal(await page.locator('#chart-traffic canvas').count(), 1, 'the traffic chart is drawn');
    assert.equal(await page.locator('#chart-guards canvas').count(), 1, 'the guards chart is drawn');
    await page.locator(`#sources tr[data-source="${FLOODER}"]`).waitFor({ timeout: 10_000 });

    // Attacker text: a scanner's User-Agent, digest username and Call-ID carry markup.
    const scanner = await UdpPeer.bind(SCANNER, 40191);
    await scanner.send(hostileRequest('OPTIONS', 40191, 1, `friendly-scanner ${IMG}`), SIP_PORT, HOST);
    await sleep(100);
    await scanner.send(hostileRequest('REGISTER', 40191, 2, `friendly-scanner ${SCRIPT}`), SIP_PORT, HOST);
    await scanner.send(hostileRequest('INVITE', 40191, 3, `friendly-scanner ${IMG}`), SIP_PORT, HOST);
    const attack = page.locator(`#attacks tr[data-attack="${SCANNER}"]`);
    await attack.waitFor({ timeout: 15_000 });
    await page.waitForFunction(
      ([needle]) => document.getElementById('attacks')?.textContent?.includes(needle!) ?? false,
      [SCRIPT],
      { timeout: 15_000 },
    );
    const attackText = (await attack.textContent()) ?? '';
    assert.ok(attackText.includes(`friendly-scanner ${IMG}`), `User-Agent shown as text: ${attackText}`);
    assert.ok(attackText.includes(`friendly-scanner ${SCRIPT}`), 'the second User-Agent too');
    assert.ok(attackText.includes(IMG), 'the username shown as text');
    const feedText = (await page.locator('#feed').textContent()) ?? '';
    assert.ok(feedText.includes(SCANNER), 'the scanner is in the feed');

    // Unban the flooder from the page; once its flood window has passed, it gets through.
    const unban = page.locator(`#bans tr[data-ban="${FLOODER}"] button[data-unban]`);
    await unban.waitFor({ timeout: 10_000 });
    await unban.click();
    await page.locator(`#bans tr[data-ban="${FLOODER}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    await page.locator('#feed li[data-kind="unban"]', { hasText: FLOODER }).first().waitFor({ timeout: 10_000 });
    await sleep(Math.max(0, floodEnd + 2500 - Date.now()));
    await flooder.send(options(FLOODER, 40190, 'after-unban'), SIP_PORT, HOST);
    await waitFor(() => upstream.matching('Call-ID: after-unban@test').length === 1, 'the message after the unban');

    // Nothing the attackers sent became markup or ran.
    await sleep(500);
    const markup = await page.evaluate(() => ({
      images: document.querySelectorAll('img').length,
      scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
    }));
    assert.equal(markup.images, 0, 'no <img> from attacker text');
    assert.deepEqual(markup.scripts, ['/ui/app.js'], 'only the page’s own script');
    assert.deepEqual(watch.dialogs, [], 'no dialog opened');
    assert.deepEqual(watch.cspViolations, [], 'no CSP violation');
    assert.deepEqual(watch.errors, [], 'no uncaught error');
    assert.deepEqual(assetFailures, []);

    await page.evaluate(() => window.scrollTo(0, 0));
    const desktop = screenshot('dashboard-desktop.png');
    await page.screenshot({ path: desktop });
    assert.ok(statSync(desktop).size > 10_000, 'a desktop screenshot with content');
    await phoneScreenshot();
    await context.close();
    flooder.close();
    scanner.close();
  });

  async function login(page: Page): Promise<void> {
    await page.goto(`${ADMIN}/`);
    assert.equal(new URL(page.url()).pathname, '/login', 'sent to the login page');
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(`${ADMIN}/`), page.click('button[type="submit"]')]);
  }

  async function phoneScreenshot(): Promise<void> {
    const context = await browser.newContext(PHONE);
    const page = await context.newPage();
    const watch: PageWatch = await watchPage(page);
    await login(page);
    await page.waitForSelector('#live.on', { timeout: 10_000 });
    await page.locator('#chart-traffic canvas').waitFor({ timeout: 10_000 });
    await page.locator(`#attacks tr[data-attack="${SCANNER}"]`).waitFor({ timeout: 10_000 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `no sideways scrolling on a phone (page is ${width} px wide)`);
    assert.deepEqual(watch.cspViolations, []);
    assert.deepEqual(watch.dialogs, []);
    await page.screenshot({ path: screenshot('dashboard-phone.png') });
    await context.close();
  }
});

/** Where a screenshot goes: docs/ when asked to refresh them, else a temporary directory. */
function screenshot(name: string): string {
  shots ??=
    process.env.UPDATE_SCREENSHOTS === '1'
      ? join(PROJECT_ROOT, 'docs')
      : mkdtempSync(join(tmpdir(), 'sipwarden-shots-'));
  return join(shots, name);
}
let shots: string | undefined;
