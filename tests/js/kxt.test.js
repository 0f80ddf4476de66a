// kxt.js on the site's own pages, and its inline stub (with the send-on-leave part).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fakePage, fill, plain, scriptCode, sentActivities, settle } from './fake-browser.js';
import {
  collectErrors,
  fakeServer,
  loadedPage,
  PREFIX,
  SAME_SITE,
  UUID4,
  VARIANTS,
} from './pages.js';

const ENDPOINT = `${PREFIX}/browser`;
const cta = (value) => ({ type: 'custom_cta', value, title: 'CTA' });

/** The stub a consenting visitor gets: the queue, and its send-on-leave part. */
const leavingStub = (page, variant, fn = 'kxt') => {
  const code = scriptCode('stub-leave.js', variant);
  page.run(fill(code, { FUNCTION_NAME: fn, ENDPOINT }));
};

for (const variant of VARIANTS) {
  describe(`kxt.js (${variant})`, () => {
    test('settings come from its own script element; requests are same-origin', async () => {
      const page = await loadedPage(SAME_SITE, variant, { pv: '1', title: 'Loans' });
      const [request] = page.sent('/activities');
      assert.equal(request.url, `${ENDPOINT}/activities`);
      assert.equal(request.options.credentials, undefined); // fetch's default: same-origin
      assert.deepEqual(
        request.body.activities.map((activity) => [activity.type, activity.title]),
        [['pagevisit', 'Loans']],
      );
    });

    test('the page visit goes first, before the replayed calls', async () => {
      const page = fakePage({ server: fakeServer(1000) });
      SAME_SITE.stub(page, variant);
      page.call('kxt', 'customactivity', cta('early'));
      await SAME_SITE.load(page, variant, { pv: '1' });
      assert.deepEqual(
        sentActivities(page).map((activity) => activity.type),
        ['pagevisit', 'custom_cta'],
      );
    });

    test('data-ca="0" makes customactivity a no-op, not an error', async () => {
      const page = await loadedPage(SAME_SITE, variant, { ca: '0' });
      const errors = collectErrors(page);
      page.call('kxt', 'customactivity', cta('ignored'));
      page.call('kxt', 'pagevisit');
      await settle();
      assert.deepEqual(
        sentActivities(page).map((activity) => activity.type),
        ['pagevisit'],
      );
      assert.deepEqual(errors, []);
    });

    test('a missing level counts as no consent', async () => {
      const page = fakePage({ server: fakeServer(0) });
      page.run(scriptCode('kxt.js', variant), { dataset: { endpoint: ENDPOINT } });
      page.call('kxt', 'customactivity', cta('held'));
      await settle();
      assert.deepEqual(page.requests, []);
      assert.equal(typeof page.window.kxt, 'function'); // data-fn missing: the name is kxt
    });

    test('without fetch, activities go as beacons; a refused beacon is reported', async () => {
      const page = await loadedPage(SAME_SITE, variant, { fetch: false });
      const errors = collectErrors(page);
      page.call('kxt', 'customactivity', cta('beacon'));
      await settle();
      page.call('kxt', 'consentagree');
      assert.deepEqual(
        page.requests.map((request) => [request.how, request.url]),
        [
          ['beacon', `${ENDPOINT}/activities`],
          ['beacon', `${ENDPOINT}/consent`],
        ],
      );
      assert.deepEqual(errors, []);

      const refused = await loadedPage(SAME_SITE, variant, { fetch: false, beacon: false });
      const refusedErrors = collectErrors(refused);
      refused.call('kxt', 'customactivity', cta('lost'));
      await settle();
      assert.deepEqual(
        refusedErrors.map(([error]) => error),
        ['error_other'],
      );
    });

    test('a fetch that throws at once goes as a beacon', async () => {
      const page = await loadedPage(SAME_SITE, variant);
      page.window.fetch = () => {
        throw new TypeError('keepalive not supported');
      };
      const errors = collectErrors(page);
      page.call('kxt', 'customactivity', cta('beacon'));
      await settle();
      assert.deepEqual(
        page.requests.map((request) => request.how),
        ['beacon'],
      );
      assert.deepEqual(errors, []);
    });
  });

  describe(`inline stub (${variant})`, () => {
    test('without the leave part it only queues, under its own name', () => {
      const page = fakePage();
      SAME_SITE.stub(page, variant, 'customActivityTracker');
      page.call('customActivityTracker', 'customactivity', cta('a'));
      page.dispatch('pagehide');
      assert.equal(page.window.customActivityTracker.q.length, 1);
      assert.equal(page.window.kxt, undefined);
      assert.deepEqual(page.requests, []);
    });

    test('left before kxt.js ran: custom activities go as beacons, the rest stays queued', () => {
      const page = fakePage({ referrer: 'https://search.example/' });
      leavingStub(page, variant);
      page.call('kxt', 'customactivity', cta('early'));
      page.call('kxt', 'onerror', () => {});
      page.call('kxt', 'customactivity', { type: 'custom_cta', value: 7 });
      page.dispatch('pagehide');
      const beacons = page.sent('/activities');
      assert.deepEqual(
        beacons.map((request) => [request.how, request.url, request.body.activities.length]),
        [
          ['beacon', `${ENDPOINT}/activities`, 1],
          ['beacon', `${ENDPOINT}/activities`, 1],
        ],
      );
      const [early, seven] = sentActivities(page);
      assert.deepEqual(
        { ...early, id: undefined },
        {
          id: undefined,
          type: 'custom_cta',
          value: 'early',
          title: 'CTA',
          url: 'https://www.example.com/page',
          referrer: 'https://search.example/',
        },
      );
      assert.equal(seven.value, '7');
      assert.ok(UUID4.test(early.id) && UUID4.test(seven.id));
      // Restored from the back/forward cache: only what was not sent is replayed.
      assert.deepEqual(plain(page.window.kxt.q.map((call) => call[0])), ['onerror']);
      page.dispatch('pagehide');
      assert.equal(page.sent('/activities').length, 2);
    });

    test('a refused beacon keeps its activity in the queue', () => {
      const page = fakePage({ beacon: false });
      leavingStub(page, variant);
      page.call('kxt', 'customactivity', cta('kept'));
      page.dispatch('pagehide');
      assert.equal(page.window.kxt.q.length, 1);
    });

    test('a queued consentrevoke wins: only the revocation is sent', () => {
      const page = fakePage();
      leavingStub(page, variant);
      page.call('kxt', 'customactivity', cta('before'));
      page.call('kxt', 'consentrevoke');
      page.call('kxt', 'customactivity', cta('after'));
      page.dispatch('pagehide');
      assert.deepEqual(
        page.requests.map((request) => [request.how, request.url, request.text]),
        [['beacon', `${ENDPOINT}/consent`, '{"agree":false}']],
      );
      assert.equal(page.window.kxt.q.length, 0);
    });

    test('once kxt.js has run, leaving sends nothing twice', async () => {
      const page = fakePage({ server: fakeServer(1000) });
      leavingStub(page, variant);
      page.call('kxt', 'customactivity', cta('once'));
      await SAME_SITE.load(page, variant);
      page.dispatch('pagehide');
      await settle();
      assert.deepEqual(
        sentActivities(page).map((activity) => activity.value),
        ['once'],
      );
      assert.deepEqual(
        page.requests.map((request) => request.how),
        ['fetch'],
      );
    });
  });
}
