// amazon-cognito-identity-js against Portcullis, unmodified: SRP sign-in on a pool that
// tracks devices (the library confirms the new device itself), remembering the device
// (setDeviceStatusRemembered), then a sign-in on the remembered device, which the
// library proves with DEVICE_SRP_AUTH. Usage: node devices.js URL SETUP_JSON
'use strict';

const assert = require('node:assert/strict');
const {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
} = require('amazon-cognito-identity-js');

const [url, setupJson] = process.argv.slice(2);
const setup = JSON.parse(setupJson);

// What a browser's localStorage would keep between sign-ins (tokens, device keys).
class MemoryStorage {
  constructor() { this.items = {}; }
  setItem(key, value) { this.items[key] = String(value); }
  getItem(key) { return Object.hasOwn(this.items, key) ? this.items[key] : null; }
  removeItem(key) { delete this.items[key]; }
  clear() { this.items = {}; }
}

const storage = new MemoryStorage();
const pool = new CognitoUserPool({
  UserPoolId: setup.pool_id,
  ClientId: setup.client_id,
  endpoint: url,
  Storage: storage,
});

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

function signIn() {
  const user = new CognitoUser({ Username: setup.username, Pool: pool, Storage: storage });
  const details = new AuthenticationDetails({
    Username: setup.username,
    Password: setup.password,
  });
  return new Promise((resolve, reject) => {
    user.authenticateUser(details, {
      onSuccess: (session, userConfirmationNecessary) =>
        resolve({ user, session, userConfirmationNecessary }),
      onFailure: reject,
      newPasswordRequired: () => reject(new Error('unexpected NEW_PASSWORD_REQUIRED')),
      mfaRequired: () => reject(new Error('unexpected MFA')),
      totpRequired: () => reject(new Error('unexpected MFA')),
    });
  });
}

function call(user, method) {
  return new Promise((resolve, reject) => {
    user[method]({ onSuccess: resolve, onFailure: reject });
  });
}

function deviceKeyInStorage() {
  const key = Object.keys(storage.items).find((k) => k.endsWith('.deviceKey'));
  return key && storage.items[key];
}

async function main() {
  // 1. SRP sign-in on a new device: the library confirms it (ConfirmDevice) and, as the
  //    pool remembers devices on the user's prompt, is told to ask the user.
  const first = await signIn();
  assert.equal(first.userConfirmationNecessary, true);
  const deviceKey = deviceKeyInStorage();
  assert.ok(deviceKey && deviceKey.startsWith('us-east-1_'), `device key ${deviceKey}`);
  assert.equal(claims(first.session.getAccessToken().getJwtToken()).device_key, deviceKey);

  // 2. The user says yes.
  const remembered = await call(first.user, 'setDeviceStatusRemembered');
  assert.equal(remembered, 'SUCCESS');
  const device = await call(first.user, 'getDevice');
  const attributes = Object.fromEntries(
    device.Device.DeviceAttributes.map((a) => [a.Name, a.Value]),
  );
  assert.equal(device.Device.DeviceKey, deviceKey);
  assert.equal(attributes['dev:device_remembered_status'], 'remembered');

  // 3. A later sign-in on this device: SRP, then DEVICE_SRP_AUTH with the device secret
  //    the library kept; the tokens name the device and no new device is issued.
  const second = await signIn();
  const access = claims(second.session.getAccessToken().getJwtToken());
  assert.equal(access.device_key, deviceKey);
  assert.equal(deviceKeyInStorage(), deviceKey);
  console.log('node devices ok');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
