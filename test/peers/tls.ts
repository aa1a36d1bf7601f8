import { readFileSync } from 'node:fs';

const dir = new URL('../fixtures/tls/', import.meta.url);

/** The TEST-ONLY self-signed certificate for 127.0.0.1/localhost (see test/fixtures/tls/README.md). */
export const TEST_TLS = {
  key: readFileSync(new URL('test-only-localhost.key.pem', dir), 'utf8'),
  cert: readFileSync(new URL('test-only-localhost.cert.pem', dir), 'utf8'),
};

/** A CA that signed nothing here: passed as the only CA, it makes the test certificate untrusted. */
export const UNRELATED_CA = readFileSync(new URL('test-only-unrelated-ca.cert.pem', dir), 'utf8');
