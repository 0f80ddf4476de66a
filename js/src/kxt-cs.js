// kxt-cs.js: activity logging on registered external sites, for the main site's contacts.
//
// Loaded by the copy-paste snippet (cross_site_snippet / `kxt sites snippet`), which defines the
// queue stub and then calls kxt('init', {mainSiteUrl}) and kxt('pagevisit').
//
// Commands: those of kxt.js, plus init and click {label} (as the reference has them). The main
// site's endpoints sit next to this script (…/Kentico.Tracking/kxt-cs.js -> …/cross-site/).
//
// Where it differs from kxt.js, because the visitor's cookies belong to another site:
// - requests carry credentials (the main site's SameSite=None cookies identify the contact, in
//   browsers that send third-party cookies);
// - a visitor handed over from the main site arrives with ?kxt_handover=TOKEN: the script takes
//   it out of the address bar (history.replaceState), init exchanges it for a site credential,
//   kept in this site's localStorage and sent with every later request, so the contact is named
//   without third-party cookies; a refused token or credential (another site's, expired, erased
//   contact) is reported (error_bad_response; a refused credential is dropped); consentrevoke
//   drops the credential;
// - the page does not know the level until `init` asks the main site: until then calls are held.
//   When neither a hand-over nor cookies name the visitor (loading this script set a probe
//   cookie, and not even that came back), init answers "blocked": every call held or made later
//   fails at once with error_cookies_blocked. So calls wait for init's answer at most;
// - activities say whether this page saw the visitor agree, so the main site can answer
//   cookies_blocked (error_cookies_blocked) when the browser withholds its third-party cookies.

import { startTracker } from './core.js';

const script = document.currentScript;
const endpoint = script.src.replace(/[^/]*$/, 'cross-site/');
const address = new URL(location.href);
const handover = address.searchParams.get('kxt_handover');
let agreed = false;
let credential;

// The credential lives in this site's own storage, under the main site's endpoint (storage may
// be switched off: then the hand-over names the visitor for this page only). keep() drops it.
const keep = (value) => {
  credential = value;
  try {
    localStorage[value ? 'setItem' : 'removeItem'](endpoint, value);
  } catch {}
};
try {
  credential = localStorage[endpoint];
} catch {}
if (handover) {
  // Out of the address bar at once: not bookmarked, shared, or sent on as a Referer by later pages.
  address.searchParams.delete('kxt_handover');
  history.replaceState(history.state, '', address);
}

startTracker(
  script.dataset.fn || 'kxt',
  endpoint,
  undefined, // the level is not known until init asks the main site
  'include',
  false, // the snippet logs the page visit itself
  // Every request carries the credential and whether this page saw the visitor agree; a consent
  // request changes the latter, and a revoke drops the credential once it has gone along (the
  // main site erases the contact it names).
  (fields, body = { ...fields, agreed, credential }) => {
    if (fields.agree != null) {
      agreed = fields.agree;
      if (!agreed) keep();
    }
    return body;
  },
  (log, post, _consent, sendWaiting) => ({
    // The main site answers a credential for a token it accepts, and null for a credential it
    // refuses (its 403 answer still carries the level, and whether the visitor is blocked).
    init: () =>
      post('init', { handover }, (answer) => {
        if ('credential' in answer) keep(answer.credential);
        sendWaiting();
      }),
    click: (details) => log({ type: 'click', value: details?.label }),
  }),
);
