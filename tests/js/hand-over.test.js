// Cross-site hand-overs: kxt-handover.js on the main site's pages, and kxt-cs.js taking a token
// over, keeping its credential, and failing at once when nothing names the visitor.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fakePage, plain, scriptCode, settle } from './fake-browser.js';
import {
  CROSS_SITE,
  collectErrors,
  loadedPage,
  MAIN,
  PREFIX,
  SAME_SITE,
  VARIANTS,
} from './pages.js';

const SHOP = 'https://shop.example';
const ENDPOINT = `${MAIN}${PREFIX}/cross-site/`;
const HANDOVER = `${PREFIX}/cross-site/handover?to=`;

/** A main-site page at `level` with kxt.js and kxt-handover.js loaded as their tags load them. */
const mainPage = async (variant, level) => {
  const page = await loadedPage(SAME_SITE, variant, { level });
  page.run(scriptCode('kxt-handover.js', variant), {
    dataset: { fn: 'kxt', sites: ` ${SHOP} https://blog.example `, handover: HANDOVER },
  });
  return page;
};

/** A click (or `type`) on an <a href> (the event's target is inside it); returns the link. */
const click = (page, href, type = 'click') => {
  const link = { href, origin: new URL(href).origin };
  page.dispatch(type, { target: { closest: (selector) => selector === 'a' && link } });
  return link;
};

/** kxt-cs.js on a shop page at `url`, answered by `server`, with the snippet's calls queued. */
const shopPage = async (variant, { url = `${SHOP}/offers`, server, storage } = {}) => {
  const page = fakePage({ url, server, storage });
  CROSS_SITE.stub(page, variant);
  page.call('kxt', 'init', { mainSiteUrl: MAIN });
  page.call('kxt', 'pagevisit');
  page.run(scriptCode('kxt-cs.js', variant), {
    dataset: { fn: 'kxt' },
    src: `${MAIN}${PREFIX}/kxt-cs.js`,
  });
  await settle();
  return page;
};

for (const variant of VARIANTS) {
  describe(`hand-over (${variant})`, () => {
    test('a consenting visitor: links to registered sites go through the hand-over', async () => {
      const page = await mainPage(variant, 200);
      const link = click(page, `${SHOP}/offers?x=1#top`);
      assert.equal(link.href, HANDOVER + encodeURIComponent(`${SHOP}/offers?x=1#top`));
      // a middle-button click opens a new tab: handed over too
      const tab = click(page, 'https://blog.example/', 'auxclick');
      assert.equal(tab.href, HANDOVER + encodeURIComponent('https://blog.example/'));
      // other origins (even one that starts like a registered one) are left alone
      assert.equal(click(page, `${SHOP}:8443/`).href, `${SHOP}:8443/`);
      assert.equal(click(page, 'https://elsewhere.example/').href, 'https://elsewhere.example/');
      // a click outside any link does nothing
      page.dispatch('click', { target: { closest: () => null } });
    });

    test('below Visitor nothing is decorated, until the visitor agrees on the page', async () => {
      const page = await mainPage(variant, 0);
      assert.equal(click(page, `${SHOP}/`).href, `${SHOP}/`);
      page.call('kxt', 'consentagree');
      await settle();
      assert.equal(click(page, `${SHOP}/`).href, HANDOVER + encodeURIComponent(`${SHOP}/`));
      page.call('kxt', 'consentrevoke');
      assert.equal(click(page, `${SHOP}/`).href, `${SHOP}/`);
    });

    test('kxt-cs.js takes the token out of the address bar and keeps the credential', async () => {
      const page = await shopPage(variant, { url: `${SHOP}/offers?a=1&kxt_handover=TOKEN#top` });
      assert.equal(page.window.location.href, `${SHOP}/offers?a=1#top`);
      const [init] = page.sent('/init');
      assert.equal(init.body.handover, 'TOKEN');
      assert.equal(init.body.credential, undefined);
      init.answer(200, { level: 1000, credential: 'CREDENTIAL' });
      await settle();
      assert.equal(page.window.localStorage[ENDPOINT], 'CREDENTIAL');
      const [activities] = page.sent('/activities');
      assert.equal(activities.body.credential, 'CREDENTIAL');
      assert.deepEqual(plain(activities.body.activities.map((a) => a.type)), ['pagevisit']);
      // a revoke carries the credential (the main site erases its contact), then drops it
      page.call('kxt', 'consentrevoke');
      assert.equal(page.sent('/consent')[0].body.credential, 'CREDENTIAL');
      assert.equal(page.window.localStorage[ENDPOINT], undefined);
      page.call('kxt', 'consentagree');
      assert.equal(page.sent('/consent')[1].body.credential, undefined);
    });

    test('a later page sends the kept credential; a refused one is dropped', async () => {
      const page = await shopPage(variant, { storage: { [ENDPOINT]: 'OLD' } });
      const errors = collectErrors(page);
      const [init] = page.sent('/init');
      assert.equal(init.body.credential, 'OLD');
      assert.equal(init.body.handover, null);
      const refusal = { error: 'handover_erased', detail: 'erased', credential: null, level: 0 };
      init.answer(403, { ...refusal, blocked: true });
      await settle();
      assert.equal(page.window.localStorage[ENDPOINT], undefined);
      // the held page visit fails as the answer is handled; then the refusal is reported
      assert.deepEqual(
        errors.map(([error]) => error),
        ['error_cookies_blocked', 'error_bad_response'],
      );
      assert.equal(errors[1][1].body.error, 'handover_erased');
    });

    test('nothing names the visitor: every call fails at once with error_cookies_blocked', async () => {
      const page = await shopPage(variant, { storage: null });
      const errors = collectErrors(page);
      page.call('kxt', 'click', { label: 'Buy' }); // held until init answers
      page.sent('/init')[0].answer(200, { level: 0, blocked: true });
      await settle();
      assert.deepEqual(
        errors.map(([error, detail]) => [error, detail.type]),
        [
          ['error_cookies_blocked', 'pagevisit'],
          ['error_cookies_blocked', 'click'],
        ],
      );
      page.call('kxt', 'customactivity', { type: 'custom_cta' });
      await settle();
      assert.equal(errors.length, 3);
      assert.equal(errors[2][0], 'error_cookies_blocked');
      assert.deepEqual(page.sent('/activities'), []);
    });
  });
}
