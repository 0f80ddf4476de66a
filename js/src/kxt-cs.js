// kxt-cs.js: activity logging on registered external sites, for the main site's contacts.
//
// Loaded by the copy-paste snippet (cross_site_snippet / `kxt sites snippet`), which defines the
// queue stub and then calls kxt('init', {mainSiteUrl}) and kxt('pagevisit').
//
// Commands: those of kxt.js, plus init and click {label} (as the reference has them). The main
// site's endpoints sit next to this script (…/Kentico.Tracking/kxt-cs.js -> …/cross-site/).
//
// Where it differs from kxt.js, because the visitor's cookies belong to another site:
// - requests carry credentials (the main site's SameSite=None cookies identify the contact);
// - the page does not know the level until `init` asks the main site: until then calls are held;
// - activities say whether this page saw the visitor agree, so the main site can answer
//   cookies_blocked (error_cookies_blocked) when the browser withholds its third-party cookies.

import { startTracker } from './core.js';

const script = document.currentScript;
let agreed = false;

startTracker(
  script.dataset.fn || 'kxt',
  script.src.replace(/[^/]*$/, 'cross-site/'),
  undefined, // the level is not known until init asks the main site
  'include',
  false, // the snippet logs the page visit itself
  (activities) => ({ activities, agreed }),
  (log, post, consent, sendWaiting) => ({
    init: () => post('init', {}, sendWaiting),
    click: (details) => log({ type: 'click', value: details?.label }),
    consentagree: () => {
      agreed = true;
      consent(true);
    },
    consentrevoke: () => {
      agreed = false;
      consent(false);
    },
  }),
);
