// SAML sign-in against a real SAML implementation: samlify plays the identity provider.
// It parses Portcullis's AuthnRequest (HTTP-Redirect binding), answers it with a login
// response signed by its own code (xml-crypto), which is posted to /saml2/idpresponse;
// the app's code is exchanged at the token endpoint for the federated user's tokens.
// samlify knows the service provider from the pool's /saml2/metadata. Then the same with
// assertions encrypted (xml-encryption) to the certificate of a provider with
// `EncryptedResponses`, from that provider's metadata, and what such a provider must
// refuse; then signed AuthnRequests (verified by samlify), single logout started by
// either side, and sign-in started at the provider.
//
// Usage: node federation_samlify.mjs SETUP_JSON   (what e2e/federation_samlify_setup.py prints)

import assert from 'node:assert/strict';
import * as samlify from 'samlify';

const setup = JSON.parse(process.argv[2]);
// samlify checks documents against the SAML schemas only with a validator plugged in;
// the checks under test here are Portcullis's.
samlify.setSchemaValidator({ validate: () => Promise.resolve('not validated') });
const { post, redirect } = samlify.Constants.namespace.binding;

const { encryption } = samlify.Constants.algorithms;

function identityProvider(extra = {}) {
  return samlify.IdentityProvider({
    entityID: setup.idp_entity,
    privateKey: setup.idp_key,
    signingCert: setup.idp_cert,
    singleSignOnService: [{ Binding: redirect, Location: setup.sso }],
    singleLogoutService: [{ Binding: redirect, Location: `${setup.sso}/logout` }],
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    ...extra,
  });
}

// The service provider as the pool's own metadata describes it: the pool's, and the
// Sealed provider's view with its encryption certificate.
async function metadataOf(query) {
  const answer = await fetch(`${setup.base}/saml2/metadata${query}`);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get('content-type'), 'application/samlmetadata+xml');
  return answer.text();
}
const poolMetadata = await metadataOf('');
const sealedMetadata = await metadataOf('?identity_provider=Sealed');
assert.ok(!poolMetadata.includes('use="encryption"'), 'the pool has no encryption key');
assert.equal((await fetch(`${setup.base}/saml2/metadata?identity_provider=Nobody`)).status, 404);

function serviceProvider(extra = {}) {
  const sp = samlify.ServiceProvider({ metadata: poolMetadata, ...extra });
  assert.equal(sp.entityMeta.getEntityID(), `urn:amazon:cognito:sp:${setup.pool_id}`);
  return sp;
}

// What samlify needs to check a redirect binding's signature: the parameters, and the
// octet string signed (the query as sent, without the signature).
function redirected(url) {
  const target = new URL(url);
  const octetString = target.search.slice(1).split('&')
    .filter((pair) => !pair.startsWith('Signature=')).join('&');
  return { query: Object.fromEntries(target.searchParams), octetString };
}

// The cookies a response sets, as a Cookie header (with those of `before`).
function cookiesOf(response, before = '') {
  const set = response.headers.getSetCookie().map((c) => c.split(';')[0]);
  return [before, ...set].filter(Boolean).join('; ');
}

// The app sends the browser to the pool, the pool sends it to the provider `name`, and
// samlify (`idp`, answering as to `sp`) posts its response back. Returns the answer to
// that post (`back.cookie`: the browser's cookies after it).
async function signIn(name, idp, sp, encryptThenSign = false) {
  const authorize = new URL(`${setup.base}/oauth2/authorize`);
  authorize.search = new URLSearchParams({
    client_id: setup.client_id, response_type: 'code', redirect_uri: setup.callback,
    scope: 'openid email', state: 'app-state', identity_provider: name,
  }).toString();
  const started = await fetch(authorize, { redirect: 'manual' });
  assert.equal(started.status, 302);
  const cookie = cookiesOf(started);
  const toProvider = new URL(started.headers.get('location'));
  assert.equal(`${toProvider.origin}${toProvider.pathname}`, setup.sso);

  const parsed = await idp.parseLoginRequest(sp, 'redirect', redirected(toProvider));
  assert.equal(parsed.extract.issuer, `urn:amazon:cognito:sp:${setup.pool_id}`);
  assert.ok(parsed.extract.request.id, 'the AuthnRequest has an ID');

  const answer = await idp.createLoginResponse(
    sp, parsed, 'post', { email: 'sam@corp.example' }, undefined, encryptThenSign);
  const back = await fetch(`${setup.base}/saml2/idpresponse`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({
      SAMLResponse: answer.context,
      RelayState: toProvider.searchParams.get('RelayState'),
    }).toString(),
  });
  back.cookie = cookiesOf(back, cookie);
  return back;
}

// The pool's tokens for the code a successful answer carries.
async function tokensOf(back, what) {
  const page = back.status === 303 ? '' : await back.text();
  assert.equal(back.status, 303, page.match(/id="error">([^<]*)/)?.[1] ?? page.slice(0, 200));
  const landed = new URL(back.headers.get('location'));
  assert.equal(`${landed.origin}${landed.pathname}`, setup.callback);
  assert.equal(landed.searchParams.get('state'), 'app-state');
  console.log(`ok - Portcullis took ${what}`);
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
  return JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString());
}

async function refused(back, what) {
  assert.equal(back.status, 400, `${what} was taken`);
  assert.match(await back.text(), /returned an invalid answer/);
  console.log(`ok - Portcullis refused ${what}`);
}

const claims = await tokensOf(
  await signIn('Samlify', identityProvider(), serviceProvider()), "samlify's signed response");
assert.equal(claims['cognito:username'], 'Samlify_sam@corp.example');
assert.equal(claims.identities[0].issuer, setup.idp_entity);
console.log('ok - the federated user has the pool\'s tokens');

// Encrypted assertions, to the certificate of Sealed's metadata: the one Describe shows.
const sealedSp = (extra = {}) => {
  const sp = samlify.ServiceProvider({ metadata: sealedMetadata, ...extra });
  const pem = (text) => text.replace(/-----[^-]+-----|\s/g, '');
  assert.equal(pem(sp.entityMeta.getX509Certificate('encryption')), pem(setup.encrypt_cert));
  return sp;
};
const encrypting = (extra = {}) => identityProvider({
  isAssertionEncrypted: true,
  keyEncryptionAlgorithm: encryption.key.RSA_OAEP_MGF1P,
  ...extra,
});
const sealed = await tokensOf(
  await signIn('Sealed', encrypting({ dataEncryptionAlgorithm: encryption.data.AES_256 }),
    sealedSp()),
  'a signed assertion encrypted with AES-256-CBC and RSA-OAEP');
assert.equal(sealed['cognito:username'], 'Sealed_sam@corp.example');
assert.equal(sealed.identities[0].providerName, 'Sealed');
await tokensOf(
  await signIn('Sealed', encrypting({ dataEncryptionAlgorithm: encryption.data.AES_128_GCM }),
    sealedSp({ wantMessageSigned: true }), true),
  'an AES-128-GCM assertion in a response also signed after encryption');
await refused(await signIn('Sealed', identityProvider(), serviceProvider()),
  'an assertion in the clear where encryption is on');
await refused(
  await signIn('Sealed', encrypting({
    dataEncryptionAlgorithm: encryption.data.AES_256,
    keyEncryptionAlgorithm: encryption.key.RSA_1_5,
  }), sealedSp()),
  'RSA PKCS#1 v1.5 key transport');
await refused(
  await signIn('Samlify', encrypting({ dataEncryptionAlgorithm: encryption.data.AES_256 }),
    sealedSp()),
  'an encrypted assertion where encryption is off');

// Signed requests, single logout both ways and IdP-initiated sign-in, samlify checking
// Portcullis's signatures with the certificate of the provider's metadata.
const fullMetadata = await metadataOf('?identity_provider=Full');
assert.match(fullMetadata, /AuthnRequestsSigned="true"/);
const full = identityProvider({
  wantAuthnRequestsSigned: true, wantLogoutRequestSigned: true, wantLogoutResponseSigned: true,
});
const fullSp = samlify.ServiceProvider({
  metadata: fullMetadata, wantLogoutRequestSigned: true, wantLogoutResponseSigned: true,
});
const signedIn = await signIn('Full', full, fullSp);
await tokensOf(signedIn, 'a response to a signed AuthnRequest samlify verified');

// Sign-out started at the app: the pool's LogoutRequest, samlify's LogoutResponse.
const logout = new URL(`${setup.base}/logout`);
logout.search = new URLSearchParams({
  client_id: setup.client_id, logout_uri: setup.signed_out,
}).toString();
const toSlo = await fetch(logout, { redirect: 'manual', headers: { cookie: signedIn.cookie } });
assert.equal(toSlo.status, 302);
const sloUrl = toSlo.headers.get('location');
assert.ok(sloUrl.startsWith(`${setup.sso}/logout?`), sloUrl);
const sloRequest = await full.parseLogoutRequest(fullSp, 'redirect', redirected(sloUrl));
assert.equal(sloRequest.extract.nameID, 'sam@corp.example');
const sloAnswer = full.createLogoutResponse(fullSp, sloRequest, 'redirect', {
  relayState: new URL(sloUrl).searchParams.get('RelayState'),
});
const signedOut = await fetch(sloAnswer.context, { redirect: 'manual' });
assert.equal(signedOut.status, 302);
assert.equal(signedOut.headers.get('location'), setup.signed_out);
console.log("ok - single logout started by the app: samlify verified the pool's request");

// Sign-out started at the provider: samlify's signed LogoutRequest, the pool's answer.
const again = await signIn('Full', full, fullSp);
await tokensOf(again, 'a second sign-in');
const providerLogout = full.createLogoutRequest(fullSp, 'redirect',
  { logoutNameID: 'sam@corp.example' }, { relayState: 'idp-relay' });
const answered = await fetch(providerLogout.context, {
  redirect: 'manual', headers: { cookie: again.cookie },
});
assert.equal(answered.status, 302, await answered.text());
const backToIdp = answered.headers.get('location');
assert.ok(backToIdp.startsWith(`${setup.sso}/logout?`), backToIdp);
const sloResponse = await full.parseLogoutResponse(fullSp, 'redirect', redirected(backToIdp));
assert.equal(sloResponse.extract.response.inResponseTo, providerLogout.id);
assert.equal(new URL(backToIdp).searchParams.get('RelayState'), 'idp-relay');
console.log("ok - single logout started by samlify: it verified the pool's signed response");

// Sign-in started at the provider: no request, the authorization in RelayState.
const unsolicited = await full.createLoginResponse(fullSp, null, 'post', {
  email: 'sam@corp.example',
});
const relay = new URLSearchParams({
  client_id: setup.client_id, redirect_uri: setup.callback, response_type: 'code',
  scope: 'openid email', state: 'app-state', identity_provider: 'Full',
}).toString();
const idpInitiated = await tokensOf(await fetch(`${setup.base}/saml2/idpresponse`, {
  method: 'POST',
  redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ SAMLResponse: unsolicited.context, RelayState: relay }).toString(),
}), "samlify's unsolicited response (IdP-initiated)");
assert.equal(idpInitiated['cognito:username'], 'Full_sam@corp.example');
console.log('node samlify ok');
