import { describe, expect, it } from 'vitest';
import { brokerRefusal } from './broker-refusal.js';

const withCode = (message: string, code: unknown) => Object.assign(new Error(message), { code });

describe('brokerRefusal', () => {
  it('names the CONNACK refusals that a reconnect would get again', () => {
    expect(brokerRefusal(withCode('Connection refused: Not authorized', 5))).toBe(
      'not authorized (Connection refused: Not authorized)',
    );
    expect(brokerRefusal(withCode('Connection refused: Bad username or password', 4))).toMatch(
      /^authentication failed/,
    );
  });

  it('leaves a broker that is only unavailable to reconnecting', () => {
    expect(brokerRefusal(withCode('Connection refused: Server unavailable', 3))).toBeUndefined();
    expect(brokerRefusal(withCode('connect ECONNREFUSED 127.0.0.1:1883', 'ECONNREFUSED'))).toBeUndefined();
  });

  it('names a certificate the bridge does not trust', () => {
    expect(
      brokerRefusal(withCode('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN')),
    ).toBe('TLS handshake failed: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)');
  });

  it('keeps the words of an OpenSSL error, not its file and line', () => {
    const alert = withCode(
      '809C02D54A7F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116\n',
      'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    );
    expect(brokerRefusal(alert)).toBe(
      'TLS handshake failed: tlsv13 alert certificate required (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED)',
    );
  });
});
