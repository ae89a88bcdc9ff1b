// amazon-cognito-identity-js's custom authentication against Portcullis, unmodified:
// initiateAuth with CUSTOM_AUTH, each CUSTOM_CHALLENGE handed to the customChallenge
// callback and answered with sendCustomChallengeAnswer (a wrong answer first, then the
// right one), until the pool's functions issue tokens; then authenticateUser with the
// CUSTOM_AUTH flow type, which proves the password by SRP before the challenge.
// Usage: node custom_auth.js URL SETUP_JSON (pool_id, client_id, username, password)
'use strict';

const assert = require('node:assert/strict');
const {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
} = require('amazon-cognito-identity-js');

const [url, setupJson] = process.argv.slice(2);
const setup = JSON.parse(setupJson);

const pool = new CognitoUserPool({
  UserPoolId: setup.pool_id,
  ClientId: setup.client_id,
  endpoint: url,
});

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

async function main() {
  const user = new CognitoUser({ Username: setup.username, Pool: pool });
  user.setAuthenticationFlowType('CUSTOM_AUTH');
  const details = new AuthenticationDetails({
    Username: setup.username,
    ClientMetadata: { channel: 'js' },
  });
  const answers = ['41', '42'];
  const questions = [];
  const session = await new Promise((resolve, reject) => {
    const callbacks = {
      customChallenge: (parameters) => {
        questions.push(parameters.question);
        user.sendCustomChallengeAnswer(answers.shift(), callbacks);
      },
      onSuccess: resolve,
      onFailure: reject,
    };
    user.initiateAuth(details, callbacks);
  });
  assert.deepEqual(questions, ['What is 6 x 7?', 'What is 6 x 7?']);
  assert.equal(answers.length, 0);
  assert.equal(claims(session.getAccessToken().getJwtToken()).username, setup.username);
  assert.ok(session.isValid());

  const withPassword = new CognitoUser({ Username: setup.username, Pool: pool });
  withPassword.setAuthenticationFlowType('CUSTOM_AUTH');
  const passwordDetails = new AuthenticationDetails({
    Username: setup.username,
    Password: setup.password,
  });
  const asked = [];
  const second = await new Promise((resolve, reject) => {
    const callbacks = {
      customChallenge: (parameters) => {
        asked.push(parameters.question);
        withPassword.sendCustomChallengeAnswer('42', callbacks);
      },
      onSuccess: resolve,
      onFailure: reject,
    };
    withPassword.authenticateUser(passwordDetails, callbacks);
  });
  assert.deepEqual(asked, ['What is 6 x 7?']);
  assert.equal(claims(second.getIdToken().getJwtToken())['cognito:username'], setup.username);
  console.log('node custom auth ok');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
