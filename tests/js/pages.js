// The two entries as a page loads them, and a fake main site that answers like the real one.

import { fakePage, fill, scriptCode, settle } from './fake-browser.js';

export const VARIANTS = ['source', 'built'];
export const PREFIX = '/Kentico.Tracking';
export const MAIN = 'https://main.example';
export const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * A server that answers like the middleware: the level (All after an agree, Essential after a
 * revoke), and "logged" for each activity of an enabled type (any type but 'custom_off').
 */
export const fakeServer = (level) => {
  const server = (request) => {
    if (request.url.endsWith('/consent')) level = request.body.agree ? 1000 : 0;
    if (!request.url.endsWith('/activities')) return { status: 200, body: { level } };
    const results = request.body.activities.map(({ id, type }) =>
      type === 'custom_off'
        ? { id, status: 'type_disabled', reason: 'off' }
        : { id, status: 'logged' },
    );
    return { status: 200, body: { results, level } };
  };
  return server;
};

/** kxt.js on the site's own pages: the level comes with the page. */
export const SAME_SITE = {
  title: 'kxt.js',
  script: 'kxt.js',
  endpoint: `${PREFIX}/browser/`,
  /** The inline stub activity_logging_script() renders for the function `fn`. */
  stub: (page, variant, fn = 'kxt') => {
    page.run(fill(scriptCode('stub.js', variant), { FUNCTION_NAME: fn }));
  },
  /** Load the script as its tag does; returns once the level is known. */
  load: async (page, variant, { level = 1000, fn = 'kxt', pv = '0', ca = '1' } = {}) => {
    const dataset = { fn, endpoint: `${PREFIX}/browser`, level: `${level}`, pv, ca };
    page.run(scriptCode('kxt.js', variant), { dataset });
    await settle();
  },
};

/** kxt-cs.js on a registered external site: the level comes from the main site, with init. */
export const CROSS_SITE = {
  title: 'kxt-cs.js',
  script: 'kxt-cs.js',
  endpoint: `${MAIN}${PREFIX}/cross-site/`,
  stub: (page, variant, fn = 'kxt') => {
    const url = `${MAIN}${PREFIX}/kxt-cs.js`;
    page.run(
      fill(scriptCode('cross-site-snippet.js', variant), { FUNCTION_NAME: fn, SCRIPT_URL: url }),
    );
  },
  load: async (page, variant, { fn = 'kxt' } = {}) => {
    const script = { dataset: { fn }, src: `${MAIN}${PREFIX}/kxt-cs.js` };
    page.run(scriptCode('kxt-cs.js', variant), script);
    page.call(fn, 'init', { mainSiteUrl: MAIN });
    await settle();
  },
};

export const ENTRIES = [SAME_SITE, CROSS_SITE];

/** A page whose visitor is at `level` (the fake main site knows it), with the entry loaded. */
export const loadedPage = async (entry, variant, { level = 1000, ...options } = {}) => {
  const page = fakePage({ server: fakeServer(level), ...options });
  await entry.load(page, variant, { level, ...options });
  return page;
};

/** Register an onerror handler that collects [error, detail] pairs. */
export const collectErrors = (page, fn = 'kxt') => {
  const errors = [];
  page.call(fn, 'onerror', (error, detail) => errors.push([error, detail]));
  return errors;
};

/** A page whose requests the test answers itself; the cross-site init is answered with `level`. */
export const manualPage = async (entry, variant, { level = 1000, ...options } = {}) => {
  const page = fakePage(options);
  await entry.load(page, variant, { level, ...options });
  for (const init of page.sent('/init')) init.answer(200, { level });
  await settle();
  return page;
};
