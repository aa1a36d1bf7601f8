import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { loadConfig, secretsOf } from '../../src/config/env.js';
import { createLogger, secretSet } from '../../src/observability/logger.js';
import { burnRatePayload } from '../support/payloads.js';
import { cleanRedis, eventually, LogCapture, startTestRouter } from '../support/router.js';

const SECRETS = {
  WEBHOOK_TOKENS: 'whk-secret-0001,whk-secret-0002',
  ADMIN_TOKEN: 'adm-secret-0003',
  SLACK_BOT_TOKEN: 'xoxb-secret-0004',
  SMTP_URL: 'smtp://mailer:smtp-secret-0005@127.0.0.1:1',
  PAGERDUTY_ROUTING_KEY: 'pdkey-secret-0006-0000000000000',
};
const secretValues = ['whk-secret-0001', 'whk-secret-0002', 'adm-secret-0003', 'xoxb-secret-0004', 'smtp-secret-0005', 'pdkey-secret-0006'];

describe('credentials never reach a log line', () => {
  it('redacts credential fields by name, even without knowing their values', () => {
    const logs = new LogCapture();
    const logger = createLogger('info', logs);
    logger.info({ req: { headers: { authorization: 'Bearer whk-secret-0001' } } }, 'request');
    logger.info({ token: 'xoxb-secret-0004', routingKey: 'pdkey-secret-0006', password: 'smtp-secret-0005' }, 'flat');
    expect(logs.entries().map((e) => e.msg)).toEqual(['request', 'flat']);
    for (const secret of secretValues) expect(logs.text).not.toContain(secret);
  });

  it('scrubs configured secret values wherever they appear (nested config, URLs, error messages)', () => {
    const logs = new LogCapture();
    const config = loadConfig(SECRETS);
    const logger = createLogger('info', logs, secretSet(secretsOf(config)));
    logger.info({ config }, 'config');
    logger.error({ err: new Error(`cannot connect to ${SECRETS.SMTP_URL}`) }, 'smtp down');
    logger.info(`token was ${'"adm-secret-0003"'}`);
    expect(logs.lines).toHaveLength(3);
    expect(logs.text).toContain('[redacted]');
    for (const secret of secretValues) expect(logs.text).not.toContain(secret);
  });

  it('a router with every credential set logs none of them while it works and fails', async () => {
    const router = await startTestRouter({ ...SECRETS, DELIVERY_ATTEMPTS: '1', DELIVERY_TIMEOUT: '1s', SLACK_API_URL: 'http://127.0.0.1:1/api/' });
    try {
      const wrong = await request(router.server).post('/api/v1/webhooks/alertmanager').set('Authorization', 'Bearer whk-secret-9999').send(burnRatePayload());
      expect(wrong.status).toBe(401);
      // A real delivery that fails against closed ports: errors are logged with their reasons.
      const accepted = await request(router.server)
        .post('/api/v1/webhooks/alertmanager')
        .set('Authorization', 'Bearer whk-secret-0002')
        .send(burnRatePayload({ severity: 'warning', seed: 'rd' }));
      expect(accepted.status).toBe(202);
      await eventually(() => router.logs.text.includes('dead-lettered'), 20_000, 'a failed delivery to be logged');
      await request(router.server).get('/api/v1/routing').set('Authorization', 'Bearer adm-secret-0003').expect(200);
    } finally {
      await router.stop();
      await cleanRedis(router.prefix);
    }
    expect(router.logs.lines.length).toBeGreaterThan(3);
    for (const secret of secretValues) expect(router.logs.text).not.toContain(secret);
  });
});
