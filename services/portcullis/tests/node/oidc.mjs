// openid-client (a certified OpenID Connect relying party) against a Portcullis pool:
// discovery, the authorization code flow with PKCE (S256), nonce and state, ID token
// validation (signature by the published JWKS, iss, aud, nonce; at_hash checked here),
// userinfo, refresh, revocation and introspection, for a public client and a
// confidential one (client_secret_basic). The hosted sign-in form is driven over plain
// HTTP: fetch with manual redirects and a cookie jar, as a browser without JavaScript.
//
// Usage: node oidc.mjs SETUP_JSON   (what e2e/oidc_node_setup.py prints)

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as client from 'openid-client';

const setup = JSON.parse(process.argv[2]);
const issuer = new URL(setup.issuer);
const callback = setup.callbacks[0];
const checks = [client.allowInsecureRequests, client.enableNonRepudiationChecks];

/** A browser without JavaScript: keeps cookies, follows no redirect by itself. */
class Browser {
  cookies = new Map();

  async request(url, form) {
    const headers = {};
    if (this.cookies.size) {
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const response = await fetch(url, { method: form ? 'POST' : 'GET', headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
      const gone = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await response.text();
    const location = response.headers.get('location');
    return { status: response.status, headers: response.headers, text, location: location && new URL(location, url).href };
  }
}

const unescape = (text) =>
  text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The single form of a page: its action and its inputs' values. */
function formOf(page) {
  const forms = [...page.text.matchAll(/<form\b[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
  assert.equal(forms.length, 1, page.text);
  const fields = {};
  for (const [input] of forms[0][2].matchAll(/<input\b[^>]*>/g)) {
    const name = input.match(/\bname="([^"]*)"/);
    const value = input.match(/\bvalue="([^"]*)"/);
    if (name) fields[unescape(name[1])] = value ? unescape(value[1]) : '';
  }
  return { action: unescape(forms[0][1]), fields };
}

/** Authorize, then sign in on the hosted form; returns the URL the browser lands on. */
async function signIn(browser, authorizationUrl, username, password) {
  const first = await browser.request(authorizationUrl);
  assert.equal(first.status, 302, first.text);
  assert.match(first.location, /\/login\?/);
  const page = await browser.request(first.location);
  assert.equal(page.status, 200, page.text);
  assert.match(page.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  const form = formOf(page);
  assert.ok(form.fields._csrf, 'the form carries a CSRF token');
  assert.ok(browser.cookies.has('XSRF-TOKEN'), 'and the browser its cookie');
  const posted = await browser.request(new URL(form.action, first.location), { ...form.fields, username, password });
  assert.equal(posted.status, 303, posted.text);
  assert.ok(posted.location.startsWith(`${callback}?`), posted.location);
  return new URL(posted.location);
}

/** A fresh authorization request: its URL and what the callback must match. */
async function request(config, scope) {
  const verifier = client.randomPKCECodeVerifier();
  const expected = { pkceCodeVerifier: verifier, expectedNonce: client.randomNonce(), expectedState: client.randomState(), idTokenExpected: true };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: callback,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce: expected.expectedNonce,
    state: expected.expectedState,
  });
  return { url, expected };
}

const atHash = (accessToken) => createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');

/** Awaits an OAuth error: a token endpoint's `error`, or a resource's or a 401 token
 * endpoint's WWW-Authenticate challenge (then the body's `error`, if the challenge has none). */
async function rejects(promise, error, message) {
  let err;
  try {
    await promise;
  } catch (caught) {
    err = caught;
  }
  assert.ok(err, `${message}: no error`);
  let code = err.error ?? err.cause?.[0]?.parameters?.error;
  if (!code && err.response) code = (await err.response.json().catch(() => ({}))).error;
  assert.equal(code, error, `${message}: ${err.message}`);
  return err;
}

// --- discovery -------------------------------------------------------------------
const publicConfig = await client.discovery(issuer, setup.public_client_id, undefined, client.None(), { execute: checks });
const metadata = publicConfig.serverMetadata();
assert.equal(metadata.issuer, setup.issuer);
assert.ok(metadata.code_challenge_methods_supported.includes('S256'));
assert.ok(metadata.authorization_response_iss_parameter_supported);
for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'jwks_uri']) {
  assert.ok(metadata[endpoint], `discovery names the ${endpoint}`);
}

// --- the public client: code + PKCE + nonce, then userinfo, refresh, revocation ---
const browser = new Browser();
let { url, expected } = await request(publicConfig, 'openid email profile');
let landed = await signIn(browser, url, setup.user, setup.password);
assert.equal(landed.searchParams.get('iss'), setup.issuer, 'RFC 9207 iss in the response');
assert.ok(browser.cookies.has('cognito'), 'a browser session');
const tokens = await client.authorizationCodeGrant(publicConfig, landed, expected);
assert.equal(tokens.token_type.toLowerCase(), 'bearer');
assert.ok(tokens.refresh_token && tokens.id_token && tokens.access_token);
const claims = tokens.claims();
assert.equal(claims.iss, setup.issuer);
assert.equal(claims.aud, setup.public_client_id);
assert.equal(claims.nonce, expected.expectedNonce);
assert.equal(claims.at_hash, atHash(tokens.access_token), 'at_hash is the left half of SHA-256');
assert.equal(claims['cognito:username'], setup.user);
assert.equal(claims.email, `${setup.user}@example.com`);
if (setup.pre_token) {
  // The pool's pre token generation function (V2) shaped both tokens of the hosted flow.
  assert.equal(claims.tier, 'gold');
  assert.equal(claims.source, 'TokenGeneration_HostedAuth');
  const access = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString('utf8'));
  assert.equal(access.plan, 'pro');
}

// The code is single use: a second exchange fails (and revokes what the first issued).
await rejects(client.authorizationCodeGrant(publicConfig, landed, expected), 'invalid_grant', 'a replayed code');
await rejects(client.fetchUserInfo(publicConfig, tokens.access_token, claims.sub), 'invalid_token',
  "a replayed code's tokens are revoked");

// A silent authorize (the browser session), then the rest of the lifecycle.
({ url, expected } = await request(publicConfig, 'openid email profile'));
const silent = await browser.request(url);
assert.equal(silent.status, 302);
landed = new URL(silent.location);
assert.ok(landed.href.startsWith(`${callback}?`), 'a second authorize is silent');
const second = await client.authorizationCodeGrant(publicConfig, landed, expected);
const sub = second.claims().sub;
assert.equal(sub, claims.sub);
assert.equal(second.claims().nonce, expected.expectedNonce);

if (setup.pre_token) {
  // The implicit grant on the same browser session: its tokens, in the fragment, are
  // shaped by the function too.
  const implicit = new URL(metadata.authorization_endpoint);
  for (const [name, value] of Object.entries({
    response_type: 'token', client_id: setup.public_client_id, redirect_uri: callback,
    scope: 'openid email', state: 'implicit-state', nonce: 'implicit-nonce',
  })) implicit.searchParams.set(name, value);
  const answer = await browser.request(implicit.href);
  assert.equal(answer.status, 302);
  const fragment = new URLSearchParams(new URL(answer.location).hash.slice(1));
  assert.equal(fragment.get('state'), 'implicit-state');
  const payload = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
  const idClaims = payload(fragment.get('id_token'));
  assert.equal(idClaims.nonce, 'implicit-nonce');
  assert.equal(idClaims.tier, 'gold');
  assert.equal(idClaims.source, 'TokenGeneration_HostedAuth');
  assert.equal(payload(fragment.get('access_token')).plan, 'pro');
}

const info = await client.fetchUserInfo(publicConfig, second.access_token, sub);
assert.equal(info.sub, sub);
assert.equal(info.email, `${setup.user}@example.com`);
assert.equal(info.username, setup.user);
await assert.rejects(client.fetchUserInfo(publicConfig, second.access_token, 'someone-else'), 'userinfo sub is checked');

const refreshed = await client.refreshTokenGrant(publicConfig, second.refresh_token);
if (setup.pre_token) {
  assert.equal(refreshed.claims().source, 'TokenGeneration_RefreshTokens');
}
assert.ok(refreshed.access_token && refreshed.id_token);
assert.equal(refreshed.claims().sub, sub);
assert.equal(refreshed.claims().auth_time, second.claims().auth_time, 'auth_time survives a refresh');
assert.equal(refreshed.scope ?? 'openid email profile', 'openid email profile');

assert.equal(refreshed.claims().at_hash, atHash(refreshed.access_token), 'at_hash on a refreshed ID token');

// Introspection is for confidential clients (a resource server), of any client's
// access tokens; a public client cannot introspect at all (RFC 7662 section 4).
const introspector = await client.discovery(issuer, setup.confidential_client_id, undefined,
  client.ClientSecretBasic(setup.confidential_client_secret), { execute: checks });
await rejects(client.tokenIntrospection(publicConfig, refreshed.access_token), 'invalid_client',
  'a public client cannot introspect');
let introspection = await client.tokenIntrospection(introspector, refreshed.access_token);
assert.equal(introspection.active, true);
assert.equal(introspection.sub, sub);
assert.equal(introspection.client_id, setup.public_client_id);
assert.equal(introspection.username, setup.user);
assert.deepEqual(introspection.scope.split(' ').sort(), ['email', 'openid', 'profile']);
introspection = await client.tokenIntrospection(introspector, second.refresh_token);
assert.equal(introspection.active, false, "a refresh token only to its own client");

await client.tokenRevocation(publicConfig, second.refresh_token, { token_type_hint: 'refresh_token' });
introspection = await client.tokenIntrospection(introspector, refreshed.access_token);
assert.equal(introspection.active, false, 'revocation is visible to introspection');
await rejects(client.refreshTokenGrant(publicConfig, second.refresh_token), 'invalid_grant', 'a revoked refresh token');
await rejects(client.fetchUserInfo(publicConfig, refreshed.access_token, sub), 'invalid_token', 'userinfo after revocation');

// max_age: the ID token carries auth_time, which the client checks against it.
({ url, expected } = await request(publicConfig, 'openid'));
url.searchParams.set('max_age', '3600');
landed = new URL((await browser.request(url)).location);
const recent = await client.authorizationCodeGrant(publicConfig, landed, { ...expected, maxAge: 3600 });
assert.equal(recent.claims().auth_time, claims.auth_time, 'the browser session keeps the sign-in time');

// prompt=none without a browser session: the client sees login_required.
({ url, expected } = await request(publicConfig, 'openid'));
url.searchParams.set('prompt', 'none');
const none = await new Browser().request(url);
assert.equal(none.status, 302);
await assert.rejects(client.authorizationCodeGrant(publicConfig, new URL(none.location), expected),
  (err) => err instanceof client.AuthorizationResponseError && err.error === 'login_required');

// From the OpenID Foundation's basic OP plan: another scope order, unknown parameters,
// the display / locale / acr hints and id_token_hint leave a request working.
for (const extra of [{}, { foo: 'bar' }, { ui_locales: 'se', claims_locales: 'se', display: 'page', acr_values: '1 2' },
  { display: 'popup' }, { id_token_hint: second.id_token }]) {
  ({ url, expected } = await request(publicConfig, 'email openid'));
  for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
  const answer = await browser.request(url);
  assert.equal(answer.status, 302, JSON.stringify(extra));
  const grant = await client.authorizationCodeGrant(publicConfig, new URL(answer.location), expected);
  assert.equal(grant.claims().sub, sub, JSON.stringify(extra));
}

// The ID token's signature is checked against the JWKS: a forged one is refused.
({ url, expected } = await request(publicConfig, 'openid'));
landed = new URL((await browser.request(url)).location);
const forging = await client.discovery(issuer, setup.public_client_id, undefined, client.None(), { execute: checks });
forging[client.customFetch] = async (target, options) => {
  const response = await fetch(target, options);
  if (!String(target).endsWith('/oauth2/token')) return response;
  const body = await response.json();
  const [head, payload, signature] = body.id_token.split('.');
  const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
  body.id_token = [head, payload, flipped].join('.');
  return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
};
await assert.rejects(client.authorizationCodeGrant(forging, landed, expected),
  (err) => /signature verification failed/.test(err.cause?.message), 'a forged ID token');

// The client's own checks hold on what the server sends: another state, another iss.
({ url, expected } = await request(publicConfig, 'openid'));
landed = new URL((await browser.request(url)).location);
await assert.rejects(client.authorizationCodeGrant(publicConfig, landed, { ...expected, expectedState: 'other' }),
  (err) => /"state"/.test(err.cause?.message));
landed.searchParams.set('iss', `${setup.issuer}x`);
await assert.rejects(client.authorizationCodeGrant(publicConfig, landed, expected),
  (err) => /"iss"/.test(err.cause?.message));

// --- the confidential client, client_secret_basic ------------------------------
const confidential = await client.discovery(issuer, setup.confidential_client_id, undefined,
  client.ClientSecretBasic(setup.confidential_client_secret), { execute: checks });
({ url, expected } = await request(confidential, 'openid email'));
landed = await signIn(new Browser(), url, setup.user, setup.password);
const serverTokens = await client.authorizationCodeGrant(confidential, landed, expected);
assert.equal(serverTokens.claims().aud, setup.confidential_client_id);
assert.equal(serverTokens.claims().at_hash, atHash(serverTokens.access_token));
const serverInfo = await client.fetchUserInfo(confidential, serverTokens.access_token, serverTokens.claims().sub);
assert.deepEqual(Object.keys(serverInfo).sort(), ['email', 'email_verified', 'sub', 'username']);
const serverRefreshed = await client.refreshTokenGrant(confidential, serverTokens.refresh_token);
assert.equal((await client.tokenIntrospection(confidential, serverRefreshed.access_token)).active, true);
// Another client cannot revoke this client's tokens.
({ url, expected } = await request(publicConfig, 'openid'));
landed = await signIn(new Browser(), url, setup.user, setup.password);
const publicTokens = await client.authorizationCodeGrant(publicConfig, landed, expected);
await client.tokenRevocation(confidential, publicTokens.refresh_token).catch(() => {});
assert.equal((await client.tokenIntrospection(confidential, publicTokens.access_token)).active, true,
  "another client's revocation does nothing");
await client.tokenRevocation(confidential, serverTokens.refresh_token);
assert.equal((await client.tokenIntrospection(confidential, serverRefreshed.access_token)).active, false);

// client_secret_post works as well.
const posting = await client.discovery(issuer, setup.confidential_client_id, undefined,
  client.ClientSecretPost(setup.confidential_client_secret), { execute: checks });
({ url, expected } = await request(posting, 'openid'));
landed = await signIn(new Browser(), url, setup.user, setup.password);
assert.equal((await client.authorizationCodeGrant(posting, landed, expected)).claims().aud, setup.confidential_client_id);

// A wrong secret is refused at the token endpoint; no secret at all too.
({ url, expected } = await request(confidential, 'openid'));
landed = await signIn(new Browser(), url, setup.user, setup.password);
const wrongSecret = await client.discovery(issuer, setup.confidential_client_id, undefined,
  client.ClientSecretBasic('not-the-secret'), { execute: checks });
let refused = await rejects(client.authorizationCodeGrant(wrongSecret, landed, expected), 'invalid_client', 'a wrong client secret');
assert.equal(refused.status, 401, 'HTTP Basic that fails answers 401 (RFC 6749 section 5.2)');
assert.equal(refused.cause[0].scheme, 'basic', 'with a Basic challenge');
const noSecret = await client.discovery(issuer, setup.confidential_client_id, undefined, client.None(), { execute: checks });
await rejects(client.authorizationCodeGrant(noSecret, landed, expected), 'invalid_client', 'no client secret');

console.log('node oidc ok');
