// A real headless browser (Debian's chromium, driven by playwright-core) on Portcullis's
// hosted pages, with the client's callback on a local HTTP server started here:
// - a user signs in (first with a wrong password), passes the TOTP MFA page (first with a
//   wrong code) and lands on the callback; a second authorize is silent; the callback page
//   exchanges its code itself, as a single-page app does; signing out ends the session
//   and leaves other applications' cookies alone;
// - another user signs in with JavaScript turned off, pressing Enter;
// - a temporary password is replaced on the new-password page (a first try that breaks
//   the policy can be tried again);
// - on a pool that requires MFA, a user sets up an authenticator app from the key on the
//   page; that pool allows no self sign-up, and its sign-up form refuses one;
// - a newcomer signs up, confirms with the emailed code and signs in, then resets a
//   forgotten password with another emailed code;
// - a bad redirect URI gets an error page; another site cannot frame the sign-in page.
// Every main page is saved as a screenshot, one at a phone-sized viewport (375x667, where
// nothing may overflow); every input has a label; no page may log a console error.
//
// Usage: node browser.mjs SETUP_JSON OUTBOX   (SETUP_JSON is what e2e/oidc_node_setup.py
// prints, its first callback URL http://localhost:<free port>/callback; OUTBOX is the
// server's <data-dir>/outbox.jsonl, where it writes the codes it sends)
// Screenshots go to $PORTCULLIS_TEST_OUTPUT, else <CARGO_TARGET_DIR or target>/test-output/hosted-ui.

import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const setup = JSON.parse(process.argv[2]);
const outbox = process.argv[3];
assert.ok(outbox, 'usage: node browser.mjs SETUP_JSON OUTBOX_PATH');
const callback = new URL(setup.callbacks[0]);
assert.equal(callback.hostname, 'localhost', 'the callback is served here, on http://localhost');
/** Where a pool's domain serves its pages, as discovery says. */
async function pagesOf(issuer) {
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  return discovery.authorization_endpoint.replace(/\/oauth2\/authorize$/, '');
}
const base = await pagesOf(setup.issuer);

const here = dirname(fileURLToPath(import.meta.url));
const output = process.env.PORTCULLIS_TEST_OUTPUT
  ?? join(process.env.CARGO_TARGET_DIR ?? resolve(here, '../../../../target'), 'test-output', 'hosted-ui');
mkdirSync(output, { recursive: true });

// --- RFC 6238 TOTP (HMAC-SHA1, 30-second steps, 6 digits) ---------------------------
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const value = alphabet.indexOf(c);
    assert.ok(value >= 0, `not base32: ${c}`);
    bits += value.toString(2).padStart(5, '0');
  }
  const bytes = bits.match(/.{8}/g).map((b) => parseInt(b, 2));
  return Buffer.from(bytes);
}

function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const number = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(number).padStart(6, '0');
}

// RFC 6238 appendix B test vector (SHA-1, T = 59 s): the code is right before it is used.
assert.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1), '287082');

/** A code of a time step after the one the setup spent (a code is accepted once). */
async function freshCode() {
  while (Math.floor(Date.now() / 1000 / 30) <= setup.totp_spent_step) {
    await new Promise((done) => setTimeout(done, 250));
  }
  return totp(setup.totp_secret, Math.floor(Date.now() / 1000 / 30));
}

/** The messages the server sent `username` (it writes each one to the outbox). */
function sentTo(username) {
  const lines = existsSync(outbox) ? readFileSync(outbox, 'utf8').split('\n').filter(Boolean) : [];
  return lines.map((line) => JSON.parse(line)).filter((message) => message.username === username);
}

/** The code of the next message to `username`, after the `seen` it has had. */
async function nextCode(username, seen = 0) {
  for (let tries = 0; tries < 100; tries += 1) {
    const messages = sentTo(username);
    if (messages.length > seen) return messages.at(-1).code;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`no new message for ${username} in ${outbox}`);
}

// --- the client's callback: a tiny local server ---------------------------------------
const arrivals = [];
function serveCallback(host) {
  const server = createServer((req, res) => {
    arrivals.push(new URL(req.url, callback));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!DOCTYPE html><html lang="en"><title>App</title><link rel="icon" href="data:,"><p>Signed in.</p></html>');
  });
  return new Promise((done) => {
    server.once('error', () => done(null)); // no IPv6 loopback here
    server.listen(Number(callback.port), host, () => done(server));
  });
}
const servers = (await Promise.all([serveCallback('127.0.0.1'), serveCallback('::1')])).filter(Boolean);
assert.ok(servers.length, 'the callback server listens');

// --- the authorization request ----------------------------------------------------------
/** An authorization request to the pool whose pages are at `at`. */
function authorizeUrl(extra = {}, at = base) {
  const verifier = randomBytes(32).toString('base64url');
  const params = {
    client_id: setup.public_client_id,
    redirect_uri: callback.href,
    response_type: 'code',
    scope: 'openid email profile',
    state: randomBytes(12).toString('base64url'),
    nonce: randomBytes(12).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  };
  return { url: `${at}/oauth2/authorize?${new URLSearchParams(params)}`, params, verifier };
}

const screenshots = [];
async function shoot(page, name) {
  const path = join(output, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  screenshots.push(path);
}

const problems = [];
function watch(page) {
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const source = message.location().url;
    // A page answered with its own 4xx status on purpose (the error page, a form shown
    // again with its error): Chromium logs that status against the document itself.
    // And the pages name no icon, so Chromium asks the server's root for /favicon.ico.
    const expected = /^Failed to load resource/.test(message.text())
      && (source === page.url() || new URL(source).pathname === '/favicon.ico');
    if (!expected) problems.push(`${page.url()}: console error: ${message.text()} (${source})`);
  });
  page.on('pageerror', (error) => problems.push(`${page.url()}: page error: ${error.message}`));
  return page;
}

/** Fills the sign-in form and sends it. */
async function signIn(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Waits for the callback; checks it answers `request` (its state, a code, the issuer). */
async function landsOnCallback(page, request, issuer = setup.issuer) {
  await page.waitForURL((url) => url.href.startsWith(`${callback.href}?`));
  const landed = new URL(page.url());
  assert.equal(landed.searchParams.get('state'), request.params.state);
  assert.equal(landed.searchParams.get('iss'), issuer);
  assert.ok(landed.searchParams.get('code'), 'a code on the callback');
  return landed;
}

/** What a page shows a person: no text runs off a phone's screen, every input has a label. */
async function checkLayout(page, width) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= width, `the page is ${overflow}px wide at a ${width}px viewport`);
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input:not([type=hidden])')]
    .filter((input) => !input.labels?.length && !input.closest('label')).map((input) => input.name));
  assert.deepEqual(unlabelled, [], 'every visible input has a label');
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'], headless: true });

/** A new browser profile, opened at a new authorization request. */
async function newVisitor(options = {}, extra = {}, at = base) {
  const context = await browser.newContext(options);
  const page = watch(await context.newPage());
  const request = authorizeUrl(extra, at);
  await page.goto(request.url);
  return { context, page, request };
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = watch(await context.newPage());

  // A redirect URI the client did not register: an error page, no redirect.
  const bad = await page.goto(authorizeUrl({ redirect_uri: `${callback.href}/evil` }).url);
  assert.equal(bad.status(), 400);
  assert.ok(page.url().startsWith(base), 'no redirect on a bad redirect URI');
  await page.getByRole('alert').waitFor();
  await shoot(page, 'error-bad-redirect-uri');

  // The login page.
  const request = authorizeUrl();
  await page.goto(request.url);
  assert.ok(page.url().startsWith(`${base}/login?`), page.url());
  assert.equal(await page.title(), 'Sign in');
  await checkLayout(page, 1280);
  await shoot(page, 'login');

  // A wrong password: the page says so in plain words.
  await signIn(page, setup.mfa_user, 'not-the-password');
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByRole('alert').innerText(), 'Incorrect username or password.');
  assert.equal(await page.getByLabel('Username').inputValue(), setup.mfa_user, 'the username is kept');
  await shoot(page, 'login-error');

  // The right password, then the MFA page.
  await page.getByLabel('Password').fill(setup.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname.endsWith('/mfa'));
  await page.getByLabel('Code').waitFor();
  assert.match(await page.locator('h1').innerText(), /authenticator app/);
  await checkLayout(page, 1280);
  await shoot(page, 'mfa');

  // A wrong code: said in the page, and the right one still works after it.
  const code6 = await freshCode();
  await page.getByLabel('Code').fill(code6 === '000000' ? '111111' : '000000');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByRole('alert').innerText(), 'That code is not correct. Try again.');
  await shoot(page, 'mfa-error');
  await page.getByLabel('Code').fill(code6);
  await page.getByRole('button', { name: 'Continue' }).click();
  const code = (await landsOnCallback(page, request)).searchParams.get('code');
  assert.ok(arrivals.some((url) => url.searchParams.get('code') === code), 'the callback server saw it');

  // The code is real: the token endpoint takes it with the PKCE verifier.
  const exchanged = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', client_id: setup.public_client_id, code,
      redirect_uri: callback.href, code_verifier: request.verifier,
    }),
  });
  assert.equal(exchanged.status, 200);
  const idToken = (await exchanged.json()).id_token;
  const claims = JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url'));
  assert.equal(claims['cognito:username'], setup.mfa_user);
  assert.equal(claims.nonce, request.params.nonce);

  // A second authorize is silent: straight to the callback, no page in between.
  const visited = [];
  page.on('framenavigated', (frame) => frame === page.mainFrame() && visited.push(frame.url()));
  const again = authorizeUrl();
  await page.goto(again.url);
  await landsOnCallback(page, again);
  assert.ok(!visited.some((url) => url.includes('/login') || url.includes('/mfa')), visited.join('\n'));

  // The app is a single-page app: its page exchanges the code and reads userInfo itself,
  // across origins, which needs CORS on the token and userInfo endpoints.
  const spa = await page.evaluate(async ({ base, clientId, redirectUri, verifier }) => {
    try {
      const code = new URL(location.href).searchParams.get('code');
      const token = await fetch(`${base}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: redirectUri, code_verifier: verifier }),
      });
      const tokens = await token.json();
      const info = await fetch(`${base}/oauth2/userInfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      return { token: token.status, info: info.status, username: (await info.json()).username };
    } catch (error) {
      return { error: String(error) };
    }
  }, { base, clientId: setup.public_client_id, redirectUri: callback.href, verifier: again.verifier });
  assert.deepEqual(spa, { token: 200, info: 200, username: setup.mfa_user }, 'a single-page app completes the code flow');

  // Signing out returns to the app's sign-out URL; the next authorize asks again. It ends
  // this pool's browser session only: another application's cookie on the same host stays.
  await context.addCookies([{ name: 'another-app', value: 'kept', url: new URL(base).origin }]);
  const signedOut = setup.logout_urls[0];
  await page.goto(`${base}/logout?${new URLSearchParams({ client_id: setup.public_client_id, logout_uri: signedOut })}`);
  assert.equal(page.url(), signedOut);
  const left = (await context.cookies(new URL(base).origin)).map((cookie) => cookie.name);
  assert.ok(!left.includes('cognito'), 'the browser session cookie is gone');
  assert.ok(left.includes('another-app'), `sign-out cleared cookies that are not its own: ${left}`);
  await page.goto(authorizeUrl().url);
  assert.ok(page.url().startsWith(`${base}/login?`), 'signed out: the form again');
  await context.close();

  // Without JavaScript (the pages need none), submitting with the Enter key.
  const { context: plain, page: noScript, request: plainRequest } = await newVisitor({ javaScriptEnabled: false });
  await noScript.getByLabel('Username').fill(setup.user);
  await noScript.getByLabel('Password').fill(setup.password);
  await noScript.getByLabel('Password').press('Enter');
  await landsOnCallback(noScript, plainRequest);
  await plain.close();

  // A temporary password: the next page asks for a new one, then on to the callback.
  const { context: fresh, page: first, request: firstRequest } = await newVisitor();
  await signIn(first, setup.new_password_user, setup.temporary_password);
  await first.getByLabel('New password').waitFor();
  assert.equal(await first.locator('h1').innerText(), 'Choose a new password');
  await checkLayout(first, 1280);
  await shoot(first, 'new-password');
  // One that breaks the password policy: said in the page, and another try still works.
  await first.getByLabel('New password').fill('short');
  await first.getByRole('button', { name: 'Continue' }).click();
  await first.getByRole('alert').waitFor();
  assert.match(await first.getByRole('alert').innerText(), /Password did not conform with policy/);
  await shoot(first, 'new-password-error');
  await first.getByLabel('New password').fill(`${setup.password}-new`);
  await Promise.all([
    first.waitForEvent('framenavigated', (frame) => frame === first.mainFrame()),
    first.getByRole('button', { name: 'Continue' }).click(),
  ]);
  const shown = await first.getByRole('alert').innerText().catch(() => '');
  assert.ok(first.url().startsWith(`${callback.href}?`), `a second try at a new password: ${shown || first.url()}`);
  await landsOnCallback(first, firstRequest);
  await fresh.close();

  // A pool that requires MFA: the first sign-in sets up an authenticator app, with the
  // key shown on the page.
  const strict = setup.mfa_required;
  const strictBase = await pagesOf(strict.issuer);
  const { context: enrolling, page: enrol, request: enrolRequest } =
    await newVisitor({}, { client_id: strict.client_id, scope: 'openid' }, strictBase);
  await signIn(enrol, strict.user, setup.password);
  await enrol.getByLabel('Code from the app').waitFor();
  assert.equal(await enrol.locator('h1').innerText(), 'Set up an authenticator app');
  const key = (await enrol.locator('#secret').innerText()).replace(/\s+/g, '');
  assert.match(await enrol.getByRole('link', { name: 'Open in an authenticator app' }).getAttribute('href'),
    new RegExp(`^otpauth://totp/.*secret=${key}`));
  await checkLayout(enrol, 1280);
  await shoot(enrol, 'mfa-setup');
  await enrol.getByLabel('Code from the app').fill(totp(key, Math.floor(Date.now() / 1000 / 30)));
  await enrol.getByRole('button', { name: 'Continue' }).click();
  await landsOnCallback(enrol, enrolRequest, strict.issuer);

  // Only an administrator creates this pool's users: its sign-up form refuses.
  const closed = watch(await enrolling.newPage());
  await closed.goto(`${strictBase}/signup?${new URLSearchParams(authorizeUrl({ client_id: strict.client_id, scope: 'openid' }, strictBase).params)}`);
  await closed.getByLabel('Username').fill('walk-in');
  await closed.getByLabel('Password').fill(setup.password);
  await closed.getByRole('button', { name: 'Sign up' }).click();
  await closed.getByRole('alert').waitFor({ timeout: 5_000 }).catch(() => {});
  assert.ok(!closed.url().includes('/confirmUser'), 'a pool with AllowAdminCreateUserOnly took a self sign-up');
  assert.equal(await closed.getByRole('alert').innerText(), 'Sign-up is not available here.');
  await enrolling.close();

  // Sign up from the login page, confirm with the emailed code, then sign in.
  const { context: newcomer, page: join, request: joinRequest } = await newVisitor();
  await join.getByRole('link', { name: 'Sign up' }).click();
  await join.waitForURL((url) => url.pathname.endsWith('/signup'));
  assert.equal(new URL(join.url()).searchParams.get('state'), joinRequest.params.state, 'the request goes along');
  const name = `nia-${randomBytes(4).toString('hex')}`;
  await join.getByLabel('Username').fill(name);
  await join.getByLabel('Email').fill(`${name}@example.com`);
  await join.getByLabel('Password').fill(setup.password);
  await checkLayout(join, 1280);
  await shoot(join, 'signup');
  await join.getByRole('button', { name: 'Sign up' }).click();
  await join.waitForURL((url) => url.pathname.endsWith('/confirmUser'));
  assert.equal(await join.getByLabel('Username').inputValue(), name);
  await checkLayout(join, 1280);
  await shoot(join, 'confirm-user');
  await join.getByLabel('Confirmation code').fill(await nextCode(name));
  await join.getByRole('button', { name: 'Confirm' }).click();
  await join.waitForURL((url) => url.pathname.endsWith('/login'));
  await shoot(join, 'login-after-confirmation');
  await signIn(join, name, setup.password);
  await landsOnCallback(join, joinRequest);
  await newcomer.close();

  // A forgotten password: a code by email, a new password, then sign in with it.
  const { context: forgetful, page: reset, request: resetRequest } = await newVisitor();
  await reset.getByRole('link', { name: 'Forgot your password?' }).click();
  await reset.waitForURL((url) => url.pathname.endsWith('/forgotPassword'));
  const seen = sentTo(name).length;
  await reset.getByLabel('Username').fill(name);
  await shoot(reset, 'forgot-password');
  await reset.getByRole('button', { name: 'Send code' }).click();
  await reset.waitForURL((url) => url.pathname.endsWith('/confirmForgotPassword'));
  await reset.getByLabel('Code').fill(await nextCode(name, seen));
  await reset.getByLabel('New password').fill(`${setup.password}-reset`);
  await checkLayout(reset, 1280);
  await shoot(reset, 'reset-password');
  await reset.getByRole('button', { name: 'Change password' }).click();
  await reset.waitForURL((url) => url.pathname.endsWith('/login'));
  await signIn(reset, name, `${setup.password}-reset`);
  await landsOnCallback(reset, resetRequest);
  await forgetful.close();

  // A phone: the login page fits a 375x667 screen.
  const phone = await browser.newContext({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const small = watch(await phone.newPage());
  await small.goto(authorizeUrl().url);
  assert.ok(small.url().startsWith(`${base}/login?`));
  await checkLayout(small, 375);
  const box = await small.getByRole('button', { name: 'Sign in' }).boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 375, 'the button is on the screen');
  await shoot(small, 'login-phone');
  await phone.close();

  // Another site cannot frame the sign-in page (clickjacking): the frame stays empty.
  const framing = await browser.newContext();
  const other = await framing.newPage();
  await other.goto(new URL('/another-site', callback).href);
  await other.evaluate((src) => new Promise((done) => {
    const frame = document.createElement('iframe');
    frame.onload = done;
    frame.src = src;
    document.body.append(frame);
  }), authorizeUrl().url);
  const framed = other.frames().filter((frame) => frame !== other.mainFrame());
  assert.equal(framed.length, 1);
  assert.ok(!framed[0].url().startsWith(base), `the login page loaded in a frame: ${framed[0].url()}`);
  assert.equal(await framed[0].locator('form').count().catch(() => 0), 0);
  await framing.close();
} finally {
  await browser.close();
  for (const server of servers) server.close();
}

assert.deepEqual(problems, [], 'no console errors');
console.log(`screenshots of the hosted UI: ${output}`);
for (const path of screenshots) console.log(`  ${path}`);
console.log('node browser ok');
