// kxt.js: consent-aware custom activity tracking in the browser, for kxt-middleware.
//
// Included by the tag helper `activity_logging_script(request, ...)`:
//
//   <script>window.kxt=window.kxt||function(){(window.kxt.q=window.kxt.q||[]).push(arguments)};</script>
//   <script async src="P/kxt.HASH.js" data-fn="kxt" data-endpoint="P/browser"
//           data-level="0" data-pv="1" data-ca="1"></script>
//
// Each execution reads its own configuration from the data attributes of its <script> element
// (document.currentScript) and keeps its own state in this closure, so the script can be
// included twice under two function names. It only ever assigns window[data-fn]: any other
// global (for example a `window.kxt` of another library) is left alone and never called.
//
// Commands:
//   fn('customactivity', {type, value, title})  log a custom activity (no-op when data-ca="0")
//   fn('pagevisit')                             log a page visit (sent on load if data-pv="1")
//   fn('consentagree') / fn('consentrevoke')    give or withdraw consent to tracking
//   fn('onerror', function (name, detail) {})   hear 'error_bad_response' ({status, body}),
//                                               'error_not_logged' (the result object) and
//                                               'error_other' (the error: a request that
//                                               failed on the network, an unknown command)
//
// Protocol: POST P/browser/activities {"activities": [{id, type, value, title, url, referrer}]}
// and POST P/browser/consent {"agree": true|false}; both answer JSON with the visitor's "level".
//
// The served copy is minified with rjsmin, which drops comments but keeps names (hence the
// short local names), and must stay under 1 KiB gzipped. ES2015 (arrows, spread) is fine:
// every browser with fetch keepalive or sendBeacon has it.
((w, d) => {
  var c = d.currentScript.dataset, // configuration, from this copy's own <script> element
    f = c.fn || 'kxt', // the global function name this copy owns
    p = c.endpoint, // "P/browser"
    // The visitor's cookie level, updated from every answer. Below 200 (Visitor) activities
    // are held in memory, never sent. A missing attribute counts as no consent.
    l = +c.level || 0,
    a = c.ca != '0', // log custom activities?
    q = (w[f] && w[f].q) || [], // calls the inline stub queued: `arguments` objects
    // Activities not sent yet: held while the level is below 200, otherwise waiting for the
    // end of the current task (calls made together go out together, in order).
    h = [],
    e = [], // errors reported before an onerror handler registered (at most 10 kept)
    b, // the onerror handler
    // Report an error to the handler, or keep it for the handler to come.
    r = (x, y) => (b ? b(x, y) : e.length < 10 && e.push([x, y])),
    // Text of an optional field.
    s = x => (x == null ? '' : '' + x),
    // A random UUID v4; crypto.randomUUID exists only in secure contexts (https, localhost).
    k = w.crypto,
    u = () =>
      k.randomUUID
        ? k.randomUUID()
        : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, x =>
            (x ^ (k.getRandomValues(new Uint8Array(1))[0] & (15 >> (x / 4)))).toString(16)
          ),
    // Consent changes so far: an answer to a request sent before the latest change must not
    // set the level (a late answer would switch tracking back on after a revoke).
    n = 0,
    // POST `o` as JSON text to p + `t`, as a CORS-simple request: a string body makes fetch
    // and sendBeacon send `Content-Type: text/plain;charset=UTF-8`, and fetch's default
    // credentials mode is 'same-origin'. keepalive lets the request outlive the page, so a
    // click that navigates away is never delayed. Without fetch, or when fetch throws, send a
    // beacon (error_other if it is not queued); when the fetch fails on the network, report
    // error_other and retry once with a beacon (same body, hence the same activity ids: the
    // server stores each id once). `done(answer)` runs once the request is over, whatever
    // the outcome (the answer is {} when there is none), before errors are reported: a
    // handler that throws cannot stop the sending.
    t = (t, o, done, i) => {
      t = p + t;
      o = JSON.stringify(o);
      i = n;
      var y = (x, e) => {
        try {
          e = !navigator.sendBeacon(t, o) || e;
        } catch (z) {
          e = 1;
        }
        done({});
        e && r('error_other', x);
      };
      try {
        fetch(t, { method: 'POST', body: o, keepalive: !0 }).then(
          z =>
            z
              .json()
              .then(null, () => {}) // a body that is not JSON reads as undefined
              .then(j => {
                // the server knows the current level best
                z.ok && i == n && j && j.level != null && (l = j.level);
                done(j || {});
                z.ok || r('error_bad_response', { status: z.status, body: j });
              }),
          x => y(x, 1)
        );
      } catch (x) {
        y(x);
      }
    },
    // Send activities; a result other than "logged" is reported as error_not_logged. `k` (if
    // any) runs once the request is over, first.
    g = (x, k) =>
      t('/activities', { activities: x }, j => {
        k && k();
        (j.results || []).forEach(y => y.status != 'logged' && r('error_not_logged', y));
      }),
    // Send what waits in h once the visitor consented, each batch after the previous one is
    // over (so they are stored in order, and a failed batch does not stop the rest): at most
    // 20 activities (the server's limit) and 60,000 bytes of JSON (a keepalive body may not
    // exceed 64 KiB); a single larger activity goes alone, and its failure is reported.
    z = x => {
      if (l >= 200 && h[0]) {
        for (x = 1; x < 20 && h[x] && new Blob([JSON.stringify(h.slice(0, x + 1))]).size < 6e4; )
          x++;
        g(h.splice(0, x), z);
      }
    },
    // Log an activity: it waits in h, sent at the end of this task if the visitor consented.
    // (A microtask: it runs as soon as the click handler returns, and the click never waits.)
    v = (x, o) => {
      o = o || {};
      x = {
        id: u(),
        type: x,
        value: s(o.value),
        title: s(o.title),
        url: location.href,
        referrer: d.referrer
      };
      h.push(x);
      Promise.resolve().then(z);
    },
    // Agree (x true) or withdraw consent. Withdrawing drops what is held at once, and nothing
    // is sent until the server answers with the new level. Agreeing sends what is held once
    // the server has raised the level.
    // Either way, answers to requests sent before no longer set the level.
    m = x => {
      n++;
      x || ((h = []), (l = 0));
      t('/consent', { agree: x }, z);
    },
    // The function published as window[f].
    F = (x, y) =>
      x == 'customactivity'
        ? a && v(y && y.type, y)
        : x == 'pagevisit'
        ? v(x, { title: d.title })
        : x == 'consentagree'
        ? m(!0)
        : x == 'consentrevoke'
        ? m(!1)
        : x == 'onerror'
        ? ((b = y), e.splice(0).forEach(z => y(...z)))
        : r('error_other', x); // an unknown command

  // Take over the name first (calls made while replaying reach the real function), then log
  // the page visit and replay what the stub queued, in order.
  w[f] = F;
  c.pv != '0' && F('pagevisit');
  q.forEach(x => F(...x));
})(window, document);
