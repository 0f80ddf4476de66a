// kxt.js: consent-aware custom activity tracking on the site's own pages, for kxt-middleware.
//
// activity_logging_script(request, ...) puts it at the end of <head>, after the inline stub:
//
//   <script>…stub: kxt(...) calls wait in kxt.q…</script>
//   <script async src="P/kxt.HASH.js" data-fn="kxt" data-endpoint="P/browser"
//           data-level="0" data-pv="1" data-ca="1"></script>
//
// Each copy reads its settings from its own <script> element, so the script can be included
// twice under two function names; it only ever assigns window[data-fn].
//
// Commands: fn('customactivity', {type, value, title}) (a no-op with data-ca="0"),
// fn('pagevisit') (sent on load with data-pv="1"), fn('consentagree'),
// fn('consentrevoke'), fn('onerror', (error, detail) => …). See kxt.d.ts.
//
// fn('level') answers the visitor's cookie level once the script runs (kxt-handover.js asks it).
//
// Protocol: POST P/browser/activities {"activities": [{id, type, value, title, url, referrer}]}
// and POST P/browser/consent {"agree": true|false}; both answer JSON with the visitor's "level".
// Requests are same-origin: the site's own cookies identify the visitor.

import { startTracker } from './core.js';

const settings = document.currentScript.dataset;

startTracker(
  settings.fn || 'kxt',
  `${settings.endpoint}/`,
  // The level the page was rendered with; a missing attribute counts as no consent.
  +settings.level || 0,
  undefined, // fetch's default credentials: same-origin
  settings.pv !== '0',
  (fields) => fields,
  () => (settings.ca === '0' ? { customactivity() {} } : {}),
);
