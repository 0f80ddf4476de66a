// kxt-cs.js on registered external sites, and the snippet's loader.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fakePage, plain, scriptCode, sentActivities, settle } from './fake-browser.js';
import {
  CROSS_SITE,
  collectErrors,
  fakeServer,
  MAIN,
  manualPage,
  PREFIX,
  VARIANTS,
} from './pages.js';

for (const variant of VARIANTS) {
  describe(`kxt-cs.js (${variant})`, () => {
    test('the snippet queues init and pagevisit, and loads the script from the main site', () => {
      const page = fakePage();
      CROSS_SITE.stub(page, variant, 'shopTracker');
      page.call('shopTracker', 'init', { mainSiteUrl: MAIN });
      page.call('shopTracker', 'pagevisit');
      const [script] = page.window.document.head.children;
      assert.deepEqual(plain(script), {
        tag: 'script',
        dataset: { fn: 'shopTracker' },
        async: true,
        src: `${MAIN}${PREFIX}/kxt-cs.js`,
      });
      assert.deepEqual(plain(page.window.shopTracker.q.map((call) => call[0])), [
        'init',
        'pagevisit',
      ]);
    });

    test('nothing is sent until init says the visitor consents; credentials go along', async () => {
      const page = fakePage();
      CROSS_SITE.stub(page, variant);
      page.call('kxt', 'init', { mainSiteUrl: MAIN });
      page.call('kxt', 'pagevisit');
      page.call('kxt', 'click', { label: 'Buy' });
      page.run(scriptCode('kxt-cs.js', variant), {
        dataset: { fn: 'kxt' },
        src: `${MAIN}${PREFIX}/kxt-cs.js`,
      });
      await settle();
      const [init] = page.requests;
      assert.equal(init.url, `${MAIN}${PREFIX}/cross-site/init`);
      assert.equal(init.options.credentials, 'include');
      assert.equal(page.requests.length, 1);
      init.answer(200, { level: 1000 });
      await settle();
      const [request] = page.sent('/activities');
      assert.equal(request.options.credentials, 'include');
      assert.deepEqual(
        request.body.activities.map((activity) => [activity.type, activity.value]),
        [
          ['pagevisit', ''],
          ['click', 'Buy'],
        ],
      );
      assert.equal(request.body.agreed, false);
    });

    test('activities say the page saw the visitor agree (so blocked cookies can be told)', async () => {
      const page = await manualPage(CROSS_SITE, variant, { level: 0 });
      const errors = collectErrors(page);
      page.call('kxt', 'click', {});
      page.call('kxt', 'consentagree');
      page.sent('/consent')[0].answer(200, { level: 1000 });
      await settle();
      const [request] = page.sent('/activities');
      assert.equal(request.body.agreed, true);
      assert.equal(request.body.activities[0].value, '');
      request.answer(409, { error: 'cookies_blocked', detail: 'third-party cookies are blocked' });
      await settle();
      assert.deepEqual(
        errors.map(([error]) => error),
        ['error_cookies_blocked'],
      );
      page.call('kxt', 'consentrevoke');
      page.sent('/consent')[1].answer(200, { level: 0 });
      page.call('kxt', 'consentagree');
      page.sent('/consent')[2].answer(200, { level: 1000 });
      page.call('kxt', 'customactivity', { type: 'custom_cta' });
      await settle();
      assert.equal(page.sent('/activities')[1].body.agreed, true);
    });

    test('an init that fails leaves calls held and says why', async () => {
      const page = fakePage({ server: () => ({ fail: new TypeError('blocked by CORS') }) });
      await CROSS_SITE.load(page, variant);
      const errors = collectErrors(page);
      page.call('kxt', 'pagevisit');
      await settle();
      assert.deepEqual(
        page.requests.map((request) => [request.how, request.url.split('/').at(-1)]),
        [
          ['fetch', 'init'],
          ['beacon', 'init'],
        ],
      );
      assert.deepEqual(
        errors.map(([error]) => error),
        ['error_other'],
      );
      assert.deepEqual(sentActivities(page), []);
    });

    test('a consenting visitor: everything goes to the main site', async () => {
      const page = fakePage({ server: fakeServer(1000) });
      await CROSS_SITE.load(page, variant);
      page.call('kxt', 'customactivity', { type: 'custom_cta', value: 'shopCTA' });
      await settle();
      assert.deepEqual(
        page.requests.map((request) => request.url),
        [`${MAIN}${PREFIX}/cross-site/init`, `${MAIN}${PREFIX}/cross-site/activities`],
      );
    });
  });
}
