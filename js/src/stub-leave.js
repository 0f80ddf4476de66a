// The inline stub for a consenting visitor: the queue stub (as stub.js), and if the page is left
// before kxt.js has run (a link clicked while the async script still loads), the custom
// activities still waiting in the queue go out as beacons, one each, and leave the queue (a page
// restored from the back/forward cache must not send them twice). A queued consentrevoke wins:
// then only the revocation is sent, as kxt.js would have done. Once kxt.js runs, it takes the
// queue (leaving it empty) and this sends nothing. KXT_FUNCTION_NAME and KXT_ENDPOINT (the browser endpoints'
// base) are replaced by JavaScript strings when the page is rendered.

import { newActivity } from './activity.js';
import { defineQueue } from './queue.js';

const stub = defineQueue(KXT_FUNCTION_NAME);
const beacon = (path, body) => navigator.sendBeacon(KXT_ENDPOINT + path, JSON.stringify(body));

addEventListener('pagehide', () => {
  const queue = stub.q; // kxt.js empties it as it takes the calls
  if (!queue) return;
  if (queue.some((call) => call[0] === 'consentrevoke')) {
    if (beacon('/consent', { agree: false })) stub.q = [];
  } else {
    // What stays queued: the other calls, and an activity whose beacon was refused.
    stub.q = queue.filter(
      (call) =>
        call[0] !== 'customactivity' ||
        !beacon('/activities', { activities: [newActivity(call[1] || {})] }),
    );
  }
});
