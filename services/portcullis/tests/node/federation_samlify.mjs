// SAML sign-in against a real SAML implementation: samlify plays the identity provider.
// It parses Portcullis's AuthnRequest (HTTP-Redirect binding), answers it with a login
// response signed by its own code (xml-crypto), which is posted to /saml2/idpresponse;
// the app's code is exchanged at the token endpoint for the federated user's tokens.
//
// Usage: node federation_samlify.mjs SETUP_JSON   (what e2e/federation_samlify_setup.py prints)

import assert from 'node:assert/strict';
import * as samlify from 'samlify';

const setup = JSON.parse(process.argv[2]);
// samlify checks documents against the SAML schemas only with a validator plugged in;
// the checks under test here are Portcullis's.
samlify.setSchemaValidator({ validate: () => Promise.resolve('not validated') });
const { post, redirect } = samlify.Constants.namespace.binding;

const idp = samlify.IdentityProvider({
  entityID: setup.idp_entity,
  privateKey: setup.idp_key,
  signingCert: setup.idp_cert,
  singleSignOnService: [{ Binding: redirect, Location: setup.sso }],
  singleLogoutService: [{ Binding: redirect, Location: `${setup.sso}/logout` }],
  nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
});
const sp = samlify.ServiceProvider({
  entityID: `urn:amazon:cognito:sp:${setup.pool_id}`,
  assertionConsumerService: [{ Binding: post, Location: `${setup.base}/saml2/idpresponse` }],
  wantAssertionsSigned: true,
});

// The app sends the browser to the pool; the pool sends it to the provider.
const authorize = new URL(`${setup.base}/oauth2/authorize`);
authorize.search = new URLSearchParams({
  client_id: setup.client_id, response_type: 'code', redirect_uri: setup.callback,
  scope: 'openid email', state: 'app-state', identity_provider: 'Samlify',
}).toString();
const started = await fetch(authorize, { redirect: 'manual' });
assert.equal(started.status, 302);
const cookie = started.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
const toProvider = new URL(started.headers.get('location'));
assert.equal(`${toProvider.origin}${toProvider.pathname}`, setup.sso);

const parsed = await idp.parseLoginRequest(sp, 'redirect', {
  query: Object.fromEntries(toProvider.searchParams),
});
assert.equal(parsed.extract.issuer, `urn:amazon:cognito:sp:${setup.pool_id}`);
assert.ok(parsed.extract.request.id, 'the AuthnRequest has an ID');
console.log('ok - samlify read the AuthnRequest');

const answer = await idp.createLoginResponse(sp, parsed, 'post', { email: 'sam@corp.example' });
const back = await fetch(`${setup.base}/saml2/idpresponse`, {
  method: 'POST',
  redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
  body: new URLSearchParams({
    SAMLResponse: answer.context,
    RelayState: toProvider.searchParams.get('RelayState'),
  }).toString(),
});
const page = back.status === 303 ? '' : await back.text();
assert.equal(back.status, 303, page.match(/id="error">([^<]*)/)?.[1] ?? page.slice(0, 200));
const landed = new URL(back.headers.get('location'));
assert.equal(`${landed.origin}${landed.pathname}`, setup.callback);
assert.equal(landed.searchParams.get('state'), 'app-state');
console.log("ok - Portcullis took samlify's signed response");

const token = await fetch(`${setup.base}/oauth2/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({
    grant_type: 'authorization_code', client_id: setup.client_id,
    code: landed.searchParams.get('code'), redirect_uri: setup.callback,
  }).toString(),
});
assert.equal(token.status, 200);
const { id_token: idToken } = await token.json();
const claims = JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString());
assert.equal(claims['cognito:username'], 'Samlify_sam@corp.example');
assert.equal(claims.identities[0].issuer, setup.idp_entity);
console.log('ok - the federated user has the pool\'s tokens');
console.log('node samlify ok');
