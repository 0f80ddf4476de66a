// kxt-cs.js: cross-site activity logging for external sites registered with the main site.
//
// Loaded by the copy-paste snippet (kxt_middleware.cross_site_snippet / `kxt sites snippet`):
//
//   (function(w,d,n,u){w[n]=w[n]||function(){(w[n].q=w[n].q||[]).push(arguments)};
//    var s=d.createElement('script');s.async=true;s.src=u;s.setAttribute('data-fn',n);
//    d.head.appendChild(s)})(window,document,'kxt','https://main.example/Kentico.Tracking/kxt-cs.js');
//   kxt('init', {mainSiteUrl: 'https://main.example'});
//   kxt('pagevisit');
//
// Commands: init {mainSiteUrl}, pagevisit, click {label}, customactivity {type, value, title},
// consentagree, consentrevoke, onerror(fn). fn(errorName, detail) receives error_bad_response,
// error_cookies_blocked (the browser blocks the main site's cookies here) or error_other.
//
// Requests go to the main site with credentials (its SameSite=None cookies identify the
// contact) as CORS-simple text/plain POSTs, with keepalive so a click that leaves the page
// still arrives. Until the visitor's level is known to be Visitor or All, calls are held in
// this page's memory; consentagree sends them, consentrevoke drops them.
(function (w, d) {
  var me = d.currentScript;
  var name = (me && me.getAttribute('data-fn')) || 'kxt';
  var queued = (w[name] && w[name].q) || [];
  // Endpoints sit next to this script: .../Kentico.Tracking/kxt-cs.js -> .../cross-site/
  var base = me ? me.src.replace(/[^/]*$/, '') + 'cross-site/' : '';
  var level = -1;
  var known = false;
  var agreed = false;
  var held = [];
  // Consent changes so far: an answer to a request sent before the latest change must not set
  // the level (a late answer would switch tracking back on after a revoke).
  var changes = 0;
  var handlers = [];
  var early = [];

  function report(error, detail) {
    if (handlers.length) {
      for (var i = 0; i < handlers.length; i++) {
        try { handlers[i](error, detail); } catch (e) { /* a handler's bug is its own */ }
      }
    } else if (early.length < 10) {
      early.push([error, detail]);
    }
  }

  function id() {
    var c = w.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var b = new Uint8Array(16);
    c.getRandomValues(b);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = '';
    for (var i = 0; i < 16; i++) h += (i == 4 || i == 6 || i == 8 || i == 10 ? '-' : '') + (b[i] + 256).toString(16).slice(1);
    return h;
  }

  // done(answer, fresh) runs on a 2xx answer; fresh is false when the consent changed since the
  // request was sent (its level is out of date).
  function post(path, body, done) {
    var at = changes;
    fetch(base + path, {
      method: 'POST',
      body: JSON.stringify(body),
      credentials: 'include',
      keepalive: true,
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' }
    }).then(function (r) {
      return r.json().then(function (j) {
        if (r.ok) {
          if (done) done(j, at == changes);
        } else {
          report(j.error == 'cookies_blocked' ? 'error_cookies_blocked' : 'error_bad_response', { status: r.status, body: j });
        }
      }, function () {
        report('error_bad_response', { status: r.status, body: null });
      });
    }, function (e) {
      report('error_other', e);
    });
  }

  function sent(j, fresh) {
    if (fresh) level = j.level;
    for (var i = 0; i < j.results.length; i++) {
      if (j.results[i].status != 'logged') report('error_bad_response', j.results[i]);
    }
  }

  // Send what is held, in batches of at most 20 activities (the server's limit) and 60,000
  // bytes of JSON (a keepalive body may not exceed 64 KiB); a larger activity goes alone.
  function flush() {
    if (!known || level < 200) return;
    while (held.length) {
      var n = 1;
      while (n < 20 && n < held.length && new Blob([JSON.stringify(held.slice(0, n + 1))]).size < 60000) n++;
      post('activities', { activities: held.splice(0, n), agreed: agreed }, sent);
    }
  }

  function log(activity) {
    activity.id = id();
    activity.url = location.href;
    activity.referrer = d.referrer;
    held.push(activity);
    flush();
  }

  function text(v) {
    return v == null ? '' : String(v);
  }

  var commands = {
    init: function () {
      post('init', {}, function (j, fresh) {
        if (fresh) {
          level = j.level;
          known = true;
          flush();
        }
      });
    },
    pagevisit: function () {
      log({ type: 'pagevisit', title: d.title });
    },
    click: function (o) {
      log({ type: 'click', value: text(o && o.label) });
    },
    customactivity: function (o) {
      o = o || {};
      log({ type: text(o.type), value: text(o.value), title: text(o.title) });
    },
    consentagree: function () {
      changes++;
      post('consent', { agree: true }, function (j, fresh) {
        if (!fresh) return;
        level = j.level;
        known = agreed = true;
        flush();
      });
    },
    consentrevoke: function () {
      changes++;
      held = [];
      level = -1; // nothing is sent until the server answers with the new level
      agreed = false;
      post('consent', { agree: false }, function (j, fresh) { if (fresh) level = j.level; });
    },
    onerror: function (fn) {
      if (typeof fn != 'function') return;
      handlers.push(fn);
      var waiting = early;
      early = [];
      for (var i = 0; i < waiting.length; i++) report(waiting[i][0], waiting[i][1]);
    }
  };

  function call(command, options) {
    var run = commands[command];
    if (run) run(options);
    else report('error_other', 'unknown command ' + command);
  }

  w[name] = call;
  for (var i = 0; i < queued.length; i++) call(queued[i][0], queued[i][1]);
})(window, document);
