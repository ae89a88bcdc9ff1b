// The peer of the client_credentials rows of loadtest/table.sh: oidc-provider with one
// confidential client allowed the client_credentials grant, issuing RS256 JWT access
// tokens for one resource server (resource indicators, `accessTokenFormat: 'jwt'`),
// with its default in-memory adapter. A fresh RSA-2048 key is made at start.
//
// table.sh installs oidc-provider@9 into a temporary folder and runs a copy of this file
// there (so `import 'oidc-provider'` resolves): `PORT=0 node server.mjs`. It prints
// `listening on <port>` once it accepts connections.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const CLIENT_ID = process.env.OIDC_CLIENT_ID ?? 'loadtest';
const CLIENT_SECRET = process.env.OIDC_CLIENT_SECRET ?? 'loadtest-secret';
const RESOURCE = 'urn:portcullis:loadtest';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'loadtest', use: 'sig', alg: 'RS256' };

const server = createServer();
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'read',
    }],
    jwks: { keys: [signingKey] },
    scopes: ['read'],
    cookies: { keys: ['loadtest-cookie-key'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'read',
          accessTokenFormat: 'jwt',
          accessTokenTTL: 3600,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  server.on('request', provider.callback());
  console.log(`listening on ${port}`);
});
