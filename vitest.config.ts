import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The PagerDuty test peer serves TLS with a test-only certificate; pdjs speaks https only. Test
// workers are forked from this process, so they start trusting it (in addition to the system CAs),
// exactly as an operator would trust a private CA.
process.env.NODE_EXTRA_CA_CERTS = fileURLToPath(new URL('test/fixtures/tls/test-only-localhost.cert.pem', import.meta.url));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests share one real Redis; each one isolates itself with its own key prefix.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
