// Federated sign-in in a real browser, against a real OpenID Connect provider:
// oidc-provider (its own development sign-in and consent pages) is the pool's upstream;
// headless chromium goes from the app to Portcullis's authorize endpoint, on to the
// provider's pages, back through /oauth2/idpresponse and to the app's callback;
// openid-client, the app, finishes the code flow (PKCE, state, nonce, the ID token's
// signature by the pool's keys) and reads the federated user's claims.
//
// Usage: node federation_browser.mjs SETUP_JSON IDP_PORT
// (SETUP_JSON is what e2e/federation_node_setup.py prints; its callback is
// http://localhost:<free port>/callback, served here.)

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const setup = JSON.parse(process.argv[2]);
const idpPort = Number(process.argv[3]);
assert.ok(idpPort > 0, 'usage: node federation_browser.mjs SETUP_JSON IDP_PORT');

// --- the upstream provider --------------------------------------------------------------
const provider = new Provider(`http://localhost:${idpPort}`, {
  clients: [{
    client_id: setup.upstream_client_id,
    client_secret: setup.upstream_client_secret,
    redirect_uris: [setup.idp_response],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@upstream.example`, email_verified: true, name: `User ${id}` };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: { devInteractions: { enabled: true } },
});
// oidc-provider warns about its development-only defaults; that is what this test wants.
console.warn = () => {};
const upstream = provider.listen(idpPort);

// --- the app's callback -----------------------------------------------------------------
const callback = new URL(setup.callback);
const landed = [];
const app = createServer((req, res) => {
  // Only the callback itself: the browser also asks for other things (a favicon), at
  // any moment, which must not be taken for where it landed.
  const url = new URL(req.url, callback);
  if (url.pathname === callback.pathname) landed.push(url);
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>app</title><link rel="icon" href="data:,"><p>signed in</p>');
});
await new Promise((resolve) => app.listen(Number(callback.port), 'localhost', resolve));

const checks = [client.allowInsecureRequests];
const config = await client.discovery(new URL(setup.issuer), setup.client_id, undefined, client.None(), { execute: checks });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'], headless: true });
try {
  const page = await browser.newPage();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: setup.callback, scope: 'openid email', state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  // The client's only provider: Portcullis sends the browser straight there.
  await page.goto(url.href);
  await page.waitForURL(new RegExp(`^http://localhost:${idpPort}/interaction/`));
  await page.fill('input[name=login]', 'grace');
  await page.fill('input[name=password]', 'anything');
  await page.click('button[type=submit]');
  await page.waitForURL(new RegExp(`^http://localhost:${idpPort}/interaction/`));
  await page.click('button[type=submit]');
  await page.waitForURL((u) => u.href.startsWith(setup.callback));
  console.log('ok - chromium signed in at oidc-provider and came back to the app');

  const back = landed.at(-1);
  const tokens = await client.authorizationCodeGrant(config, back, {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
  });
  const claims = tokens.claims();
  assert.equal(claims['cognito:username'], 'Upstream_grace');
  assert.equal(claims.email, 'grace@upstream.example');
  assert.equal(claims.identities[0].providerType, 'OIDC');
  assert.equal(claims.identities[0].issuer, `http://localhost:${idpPort}`);
  console.log('ok - openid-client verified the pool\'s tokens for Upstream_grace');

  // A second authorization in the same browser is silent: no provider page.
  const again = client.buildAuthorizationUrl(config, {
    redirect_uri: setup.callback, scope: 'openid', state: 'again',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  await page.goto(again.href);
  await page.waitForURL((u) => u.href.startsWith(setup.callback));
  assert.equal(landed.at(-1).searchParams.get('state'), 'again');
  console.log('ok - the browser session makes the next sign-in silent');
} finally {
  await browser.close();
  upstream.close();
  app.close();
}
console.log('node federation ok');
