// The example app's own guards, called as a fetch handler (the browser flows are in test/e2e).
import { createMemoryStore } from '../src/memory.js';
import { createApp } from '../worker-example/app.js';
import { describe, expect, it } from './harness.js';
import { SECRET } from './helpers.js';

const ORIGIN = 'https://app.example';
const app = () => createApp({ store: createMemoryStore(), secrets: [SECRET], runtime: 'test' });
const post = (path: string, init: { origin?: string; body?: BodyInit; type?: string } = {}) => {
  const headers = new Headers();
  if (init.origin !== undefined) headers.set('Origin', init.origin);
  if (init.type !== undefined) headers.set('Content-Type', init.type);
  return new Request(`${ORIGIN}${path}`, { method: 'POST', headers, body: init.body ?? null });
};

describe('example app', () => {
  it('refuses a form posted from another site, or with no Origin (login CSRF)', async () => {
    const form = new URLSearchParams({ name: 'mallory' });
    for (const origin of ['https://evil.example', undefined]) {
      const response = await app()(post('/login', { origin, body: form }));
      expect(response.status).toBe(403);
      expect(response.headers.getSetCookie()).toEqual([]);
    }
  });

  it('answers 400, not a crash, to a login that is not a form', async () => {
    const json = await app()(post('/login', { origin: ORIGIN, body: '{"name":"x"}', type: 'application/json' }));
    expect(json.status).toBe(400);
    expect((await app()(post('/login', { origin: ORIGIN }))).status).toBe(400);
  });

  it('signs in from its own page', async () => {
    const response = await app()(post('/login', { origin: ORIGIN, body: new URLSearchParams({ name: 'ada' }) }));
    expect(response.status).toBe(303);
    expect(response.headers.getSetCookie()[0]).toMatch(/^__Host-sid=/);
  });
});
