// What both entries do alike (the shared core): replay, renaming, consent, batching, delivery,
// stale answers, odd answers, errors. Each test runs on the readable sources and on the built
// files the package serves, for kxt.js and for kxt-cs.js.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fakePage, plain, sentActivities, settle } from './fake-browser.js';
import {
  collectErrors,
  ENTRIES,
  fakeServer,
  loadedPage,
  manualPage,
  UUID4,
  VARIANTS,
} from './pages.js';

const cta = (value) => ({ type: 'custom_cta', value, title: 'CTA' });
const values = (page) => sentActivities(page).map((activity) => activity.value);

for (const entry of ENTRIES) {
  for (const variant of VARIANTS) {
    describe(`${entry.title} (${variant})`, () => {
      test('calls queued by the stub are replayed in order, then the function is the real one', async () => {
        const page = fakePage({ server: fakeServer(1000) });
        entry.stub(page, variant);
        page.call('kxt', 'customactivity', cta('first'));
        page.call('kxt', 'customactivity', cta('second'));
        assert.equal(page.window.kxt.q.length, 2);
        const stub = page.window.kxt;
        await entry.load(page, variant);
        page.call('kxt', 'customactivity', cta('third'));
        await settle();
        assert.deepEqual(values(page), ['first', 'second', 'third']);
        assert.notEqual(page.window.kxt, stub);
        assert.equal(page.window.kxt.q, undefined);
        assert.equal(stub.q.length, 0); // taken: the stub's send-on-leave has nothing left to send
      });

      test('a renamed function leaves a foreign kxt alone', async () => {
        const page = fakePage({ server: fakeServer(1000) });
        let foreignCalls = 0;
        const foreign = () => foreignCalls++;
        page.window.kxt = foreign;
        entry.stub(page, variant, 'customActivityTracker');
        page.call('customActivityTracker', 'customactivity', cta('queued'));
        await entry.load(page, variant, { fn: 'customActivityTracker' });
        page.call('customActivityTracker', 'customactivity', cta('direct'));
        await settle();
        assert.deepEqual(values(page), ['queued', 'direct']);
        assert.equal(page.window.kxt, foreign);
        assert.equal(foreignCalls, 0);
        assert.equal(foreign.q, undefined);
      });

      test('calls made together travel together, each activity with its own id', async () => {
        const page = await loadedPage(entry, variant, {
          url: 'https://www.example.com/offers?x=1',
          referrer: 'https://search.example/',
        });
        page.call('kxt', 'customactivity', { type: 'custom_cta', value: 5, title: null });
        page.call('kxt', 'customactivity', { type: 'custom_cta' });
        page.call('kxt', 'customactivity'); // no details: an invalid activity, not an exception
        await settle();
        const [request] = page.sent('/activities');
        assert.equal(request.url, `${entry.endpoint}activities`);
        assert.equal(request.options.method, 'POST');
        assert.equal(request.options.keepalive, true);
        assert.equal(typeof request.options.body, 'string'); // text/plain: no CORS preflight
        const [first, second, third] = request.body.activities;
        assert.deepEqual(
          { ...first, id: undefined },
          {
            id: undefined,
            type: 'custom_cta',
            value: '5',
            title: '',
            url: 'https://www.example.com/offers?x=1',
            referrer: 'https://search.example/',
          },
        );
        assert.deepEqual([second.value, second.title, third.type], ['', '', '']);
        const ids = request.body.activities.map((activity) => activity.id);
        assert.ok(
          ids.every((id) => UUID4.test(id)),
          ids,
        );
        assert.equal(new Set(ids).size, 3);
      });

      test('below Visitor calls are held; consentagree sends them once the server agrees', async () => {
        const page = await manualPage(entry, variant, { level: 0 });
        page.call('kxt', 'customactivity', cta('held1'));
        page.call('kxt', 'pagevisit');
        await settle();
        assert.deepEqual(page.sent('/activities'), []);

        const server = fakeServer(0);
        page.call('kxt', 'consentagree');
        const [consent] = page.sent('/consent');
        assert.equal(consent.body.agree, true);
        await settle();
        assert.deepEqual(page.sent('/activities'), []); // not before the answer
        consent.answer(200, server(consent).body);
        await settle();
        assert.deepEqual(
          sentActivities(page).map((activity) => [activity.type, activity.value]),
          [
            ['custom_cta', 'held1'],
            ['pagevisit', ''],
          ],
        );
        assert.equal(sentActivities(page)[1].title, 'A page');
      });

      test('consentrevoke drops what is held and stops sending at once', async () => {
        const page = await loadedPage(entry, variant, { level: 0 });
        page.call('kxt', 'customactivity', cta('dropped'));
        page.call('kxt', 'consentrevoke');
        page.call('kxt', 'customactivity', cta('after revoke'));
        await settle();
        page.call('kxt', 'consentagree');
        await settle();
        page.call('kxt', 'customactivity', cta('after agree'));
        await settle();
        // Calls after the revoke wait for the next agreement, as before any consent.
        assert.deepEqual(values(page), ['after revoke', 'after agree']);
        assert.deepEqual(
          page.sent('/consent').map((request) => request.body.agree),
          [false, true],
        );
      });

      test('a revoke while consenting: nothing more is sent, whatever the server says later', async () => {
        const page = await manualPage(entry, variant);
        page.call('kxt', 'customactivity', cta('in flight'));
        await settle();
        const [late] = page.sent('/activities');
        page.call('kxt', 'consentrevoke');
        const [revoke] = page.sent('/consent');
        revoke.answer(200, { level: 0 });
        await settle();
        // The answer to the request sent before the revoke says tracking is on: it is stale.
        late.answer(200, {
          results: [{ id: late.body.activities[0].id, status: 'logged' }],
          level: 1000,
        });
        await settle();
        page.call('kxt', 'customactivity', cta('after'));
        await settle();
        assert.deepEqual(values(page), ['in flight']);
        // ... while an answer sent after the change does set the level.
        page.call('kxt', 'consentagree');
        page.sent('/consent').at(-1).answer(200, { level: 1000 });
        await settle();
        assert.deepEqual(values(page), ['in flight', 'after']);
      });

      test('a stale consent answer does not undo the latest choice', async () => {
        const page = await manualPage(entry, variant, { level: 0 });
        page.call('kxt', 'customactivity', cta('held'));
        page.call('kxt', 'consentagree');
        page.call('kxt', 'consentrevoke');
        const [agree, revoke] = page.sent('/consent');
        revoke.answer(200, { level: 0 });
        agree.answer(200, { level: 1000 });
        await settle();
        assert.deepEqual(page.sent('/activities'), []);
      });

      test('batches: at most 20 activities, one request after the other', async () => {
        const page = await manualPage(entry, variant, { level: 0 });
        for (let n = 1; n <= 45; n++) page.call('kxt', 'customactivity', cta(`c${n}`));
        const server = fakeServer(1000);
        page.call('kxt', 'consentagree');
        page.sent('/consent')[0].answer(200, { level: 1000 });
        await settle();
        const batches = () => page.sent('/activities');
        assert.deepEqual(
          batches().map((request) => request.body.activities.length),
          [20],
        );
        batches()[0].answer(200, server(batches()[0]).body);
        await settle();
        assert.equal(batches().length, 2);
        // A failed batch does not stop the next one.
        batches()[1].answer(500, { error: 'internal', detail: 'down' });
        await settle();
        assert.deepEqual(
          batches().map((request) => request.body.activities.length),
          [20, 20, 5],
        );
        assert.deepEqual(
          values(page),
          Array.from({ length: 45 }, (_, n) => `c${n + 1}`),
        );
      });

      test('batches stay under 60,000 bytes; a larger activity goes alone', async () => {
        const page = await loadedPage(entry, variant, {
          url: `https://www.example.com/?q=${'u'.repeat(4000)}`,
        });
        const big = 'é'.repeat(31000); // 62,000 bytes of UTF-8
        for (let n = 1; n <= 20; n++) page.call('kxt', 'customactivity', cta(`c${n}`));
        page.call('kxt', 'customactivity', cta(big));
        page.call('kxt', 'customactivity', cta('last'));
        for (let round = 0; round < 10; round++) await settle();
        const sizes = page.sent('/activities').map((request) => Buffer.byteLength(request.text));
        const counts = page.sent('/activities').map((request) => request.body.activities.length);
        assert.deepEqual(counts, [14, 6, 1, 1]);
        assert.ok(
          sizes.filter((size) => size > 60000).length === 1 && sizes[2] > 60000,
          `${sizes}`,
        );
        assert.deepEqual(values(page).slice(-2), [big, 'last']);
      });

      test('leaving the page sends at once what waits behind a request on its way', async () => {
        const page = await manualPage(entry, variant);
        page.call('kxt', 'customactivity', cta('first'));
        await settle();
        for (let n = 0; n < 25; n++) page.call('kxt', 'customactivity', cta(`w${n}`));
        await settle();
        assert.equal(page.sent('/activities').length, 1); // the rest waits for the first answer
        page.dispatch('pagehide');
        assert.deepEqual(
          page.sent('/activities').map((request) => request.body.activities.length),
          [1, 20, 5],
        );
      });

      test('a network failure is reported and retried once as a beacon with the same body', async () => {
        const page = await loadedPage(entry, variant, {
          server: (request) =>
            request.url.endsWith('/activities')
              ? { fail: new TypeError('offline') }
              : { status: 200, body: { level: 1000 } },
        });
        const errors = collectErrors(page);
        page.call('kxt', 'customactivity', cta('retried'));
        await settle();
        const [fetched, beacon] = page.sent('/activities');
        assert.equal(fetched.how, 'fetch');
        assert.equal(beacon.how, 'beacon');
        assert.equal(beacon.url, fetched.url);
        assert.equal(beacon.text, fetched.text); // same activity id: stored once
        assert.deepEqual(
          errors.map(([error, detail]) => [error, detail.message]),
          [['error_other', 'offline']],
        );
      });

      test('odd answers: nothing throws, nothing stops', async () => {
        const odd = [
          { status: 200, body: {} }, // no results, no level
          { status: 200, body: { results: 'logged', level: null } },
          { status: 200, body: { results: [null, 7, { status: 'logged' }] } },
          { status: 200, body: null },
          { status: 200, text: 'OK' },
          { status: 502, text: '<html>Bad gateway</html>' },
          { status: 503, body: 'overloaded' },
        ];
        let next = 0;
        const page = await loadedPage(entry, variant, {
          server: (request) =>
            request.url.endsWith('/activities')
              ? odd[next++]
              : { status: 200, body: { level: 1000 } },
        });
        const errors = collectErrors(page);
        for (let n = 0; n < odd.length; n++) {
          page.call('kxt', 'customactivity', cta(`odd${n}`));
          await settle();
          await settle();
        }
        assert.equal(page.sent('/activities').length, odd.length);
        assert.deepEqual(plain(errors), [
          ['error_not_logged', null],
          ['error_not_logged', 7],
          ['error_bad_response', { status: 502, body: null }],
          ['error_bad_response', { status: 503, body: 'overloaded' }],
        ]);
      });

      test('onerror: the same error names; early errors kept for the first handler', async () => {
        const page = await loadedPage(entry, variant, {
          server: (request) =>
            request.url.endsWith('/activities')
              ? {
                  status: 200,
                  body: {
                    results: [{ id: 'x', status: 'type_disabled', reason: 'off' }],
                    level: 1000,
                  },
                }
              : { status: 200, body: { level: 1000 } },
        });
        for (let n = 0; n < 12; n++) page.call('kxt', `nonsense${n}`);
        page.call('kxt', 'customactivity', cta('off'));
        await settle();
        const errors = collectErrors(page);
        await settle();
        // At most 10 kept: the unknown commands; the not-logged result came after.
        assert.deepEqual(
          plain(errors),
          Array.from({ length: 10 }, (_, n) => ['error_other', `nonsense${n}`]),
        );
        errors.length = 0;
        page.call('kxt', 'customactivity', cta('off'));
        await settle();
        assert.deepEqual(plain(errors), [
          ['error_not_logged', { id: 'x', status: 'type_disabled', reason: 'off' }],
        ]);
      });

      test('onerror replaces the handler; a handler that throws stops nothing', async () => {
        const page = await loadedPage(entry, variant);
        const first = collectErrors(page);
        page.call('kxt', 'onerror', () => {
          throw new Error('a bug in the handler');
        });
        page.call('kxt', 'nonsense');
        page.call('kxt', 'customactivity', cta('still sent'));
        await settle();
        const second = collectErrors(page);
        page.call('kxt', 'nonsense again');
        await settle();
        assert.deepEqual(first, []);
        assert.deepEqual(plain(second), [['error_other', 'nonsense again']]);
        assert.deepEqual(values(page), ['still sent']);
        assert.deepEqual(
          page.uncaught.map((error) => error.message),
          ['a bug in the handler'],
        );
      });

      test('cookies_blocked is error_cookies_blocked in both entries', async () => {
        const page = await loadedPage(entry, variant, {
          server: (request) =>
            request.url.endsWith('/activities')
              ? { status: 409, body: { error: 'cookies_blocked', detail: 'third-party cookies' } }
              : { status: 200, body: { level: 1000 } },
        });
        const errors = collectErrors(page);
        page.call('kxt', 'customactivity', cta('blocked'));
        await settle();
        await settle();
        assert.deepEqual(plain(errors), [
          [
            'error_cookies_blocked',
            { status: 409, body: { error: 'cookies_blocked', detail: 'third-party cookies' } },
          ],
        ]);
      });
    });
  }
}
