// The core both browser scripts share: the command queue and its replay, batching, delivery
// (keepalive fetch, beacon retry), consent holding and error reporting. kxt.js (same site) and
// kxt-cs.js (cross site) are thin entries on top of it.

import { batchSize, newActivity } from './activity.js';

// Activities are sent from the Visitor cookie level up; below it they are held in the page.
const VISITOR = 200;
// Errors kept for an onerror handler that is not registered yet.
const KEPT_ERRORS = 10;

/**
 * Publish the tracking function as window[name], log a page visit if asked, then replay the calls
 * the stub queued, in order. Returns the function.
 *
 * @param {string} name  the global function name this copy owns (any other global is left alone)
 * @param {string} endpoint  the endpoints' base URL, ending with '/'
 * @param {number | undefined} level  the visitor's cookie level, if known (unknown: none sent)
 * @param {RequestCredentials} credentials  fetch's credentials mode ('include' across sites)
 * @param {boolean} pageVisit  log a page visit before the replay
 * @param {(fields: object) => object} body  the JSON body of a request with these fields (the
 *   entry may add its own)
 * @param {(log, post, consent, sendWaiting) => object} entryCommands  the entry's own commands,
 *   added to the shared ones or replacing them (given four of the core's functions)
 */
export const startTracker = (
  name,
  endpoint,
  level,
  credentials,
  pageVisit,
  body,
  entryCommands,
) => {
  // Take the calls the stub queued (emptied: its send-on-leave must not send them again).
  const queued = (window[name]?.q || []).splice(0);
  // Consent changes so far: an answer to a request sent before the latest change must not set
  // the level (a late answer would switch tracking back on after a revoke).
  let consentChanges = 0;
  // Activities not sent yet: held while the level is below Visitor, otherwise waiting for the
  // end of the current task (calls made together travel together) or for the request on its way.
  let waiting = [];
  let sending = false;
  // Set once the main site answers that nothing identifies the visitor (cross-site, with the
  // browser withholding its cookies): activities fail at once instead of waiting for good.
  let blocked;
  let errorHandler;
  const earlyErrors = [];

  // Tell the onerror handler, or keep the error for the handler to come. The handler runs in a
  // microtask of its own: if it throws, nothing here stops, and its error reaches the console.
  const report = (error, detail) => {
    if (errorHandler) queueMicrotask(() => errorHandler(error, detail));
    else if (earlyErrors.length < KEPT_ERRORS) earlyErrors.push([error, detail]);
  };

  // POST `body` as JSON text to endpoint + `path`: a string body makes a CORS-simple text/plain
  // request (no preflight). keepalive lets it outlive the page, so a click that navigates away
  // is never delayed. When fetch is missing or throws, send a beacon (error_other if it is not
  // queued); when the fetch fails on the network, report error_other and retry once with a
  // beacon (the same body, so the same activity ids: the server stores each id once).
  // `done(answer)` runs once the request is over, whatever the outcome ({} without an answer),
  // before any error is reported.
  const post = (path, fields, done) => {
    const url = endpoint + path;
    const json = JSON.stringify(body(fields));
    const sentAt = consentChanges;
    const sendBeacon = (failure, failed) => {
      try {
        failed = !navigator.sendBeacon(url, json) || failed;
      } catch {
        failed = 1;
      }
      done({});
      if (failed) report('error_other', failure);
    };
    try {
      fetch(url, {
        method: 'POST',
        body: json,
        keepalive: true,
        credentials,
      }).then(
        (response) =>
          response
            .json()
            .catch(() => null) // a body that is not JSON
            .then((parsed) => {
              const answer = parsed || {};
              // The server knows the level best, unless the consent changed since (a refusal may
              // say it too: kxt-cs.js's init when a hand-over is refused).
              if (sentAt === consentChanges && answer.level != null) {
                level = answer.level;
              }
              blocked ||= answer.blocked;
              done(answer);
              if (!response.ok) {
                report(
                  answer.error === 'cookies_blocked'
                    ? 'error_cookies_blocked'
                    : 'error_bad_response',
                  { status: response.status, body: parsed },
                );
              }
            }),
        (failure) => sendBeacon(failure, 1),
      );
    } catch (failure) {
      sendBeacon(failure);
    }
  };

  // Send the next batch of what waits, if the visitor consented; say whether one went. Batches
  // go one after the other (stored in order; a failed batch does not stop the next).
  const sendNext = () => {
    if (blocked)
      for (const activity of waiting.splice(0)) report('error_cookies_blocked', activity);
    const ready = level >= VISITOR && waiting.length > 0;
    if (ready) {
      sending = true;
      post('activities', { activities: waiting.splice(0, batchSize(waiting)) }, (answer) => {
        sending = false;
        for (const result of Array.isArray(answer.results) ? answer.results : []) {
          if (result?.status !== 'logged') report('error_not_logged', result);
        }
        sendWaiting();
      });
    }
    return ready;
  };
  const sendWaiting = () => sending || sendNext();

  const log = (details) => {
    waiting.push(newActivity(details));
    queueMicrotask(sendWaiting);
  };

  // Agree or withdraw. Withdrawing drops what is held at once and sends nothing until the server
  // answers with the new level; agreeing sends what is held once the server raised the level.
  const consent = (agree) => {
    consentChanges++;
    if (!agree) {
      waiting = [];
      level = 0;
    }
    post('consent', { agree }, sendWaiting);
  };

  const commands = {
    pagevisit: () => log({ type: 'pagevisit', title: document.title }),
    customactivity: (details) => log(details || {}),
    consentagree: () => consent(true),
    consentrevoke: () => consent(false),
    level: () => level,
    onerror: (handler) => {
      errorHandler = handler;
      for (const [error, detail] of earlyErrors.splice(0)) report(error, detail);
    },
    ...entryCommands(log, post, consent, sendWaiting),
  };

  // A command's result is returned (the level command's); an unknown command is reported.
  const track = (command, details) =>
    Object.hasOwn(commands, command) ? commands[command](details) : report('error_other', command);

  // Take over the name first (calls made while replaying reach the real function).
  window[name] = track;
  // When the page is being left, nothing can wait for the request on its way: all goes now.
  addEventListener('pagehide', () => {
    while (sendNext());
  });
  if (pageVisit) track('pagevisit');
  for (const call of queued) track(...call);
  return track;
};
