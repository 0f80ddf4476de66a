// A fake browser page for the scripts' unit tests: the scripts run in a vm context whose global
// is a fake window, with a fake fetch and sendBeacon (every request is recorded and answered by
// the test), a fake document, and pagehide to dispatch.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { buildSync } from 'esbuild';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const bundles = new Map();

/**
 * The code of a script: `built` is the committed file in js/dist, as the package serves it;
 * `source` bundles js/src as is (not minified), so a failure points at readable code.
 */
export const scriptCode = (name, variant) => {
  const key = `${variant}:${name}`;
  if (!bundles.has(key)) {
    const code =
      variant === 'built'
        ? readFileSync(join(ROOT, 'js', 'dist', name), 'utf8')
        : buildSync({
            entryPoints: [join(ROOT, 'js', 'src', name)],
            bundle: true,
            format: 'iife',
            write: false,
          }).outputFiles[0].text;
    bundles.set(key, code);
  }
  return bundles.get(key);
};

/** Replace the placeholders KXT_<KEY> of a stub or snippet, as script.py's fill() does. */
export const fill = (code, values) =>
  code.replace(/\bKXT_([A-Z_]+)\b/g, (_, key) => JSON.stringify(values[key]));

/** Let every pending microtask and promise reaction run (answers are handled by then). */
export const settle = () => new Promise((resolve) => setImmediate(resolve));

/** JSON through the test's own realm (objects made in the page compare as plain objects). */
export const plain = (value) => (value === undefined ? value : JSON.parse(JSON.stringify(value)));

/**
 * A page at `url`. `server(request)` may answer each fetch at once with {status, body} (or
 * {text} for a body that is not JSON, or {fail: error}); otherwise the test answers it with
 * request.answer(...). Options: fetch: false (a browser without fetch), beacon: false
 * (sendBeacon refuses), referrer, title, storage (localStorage's items; null: storage is off).
 */
export const fakePage = ({
  url = 'https://www.example.com/page',
  referrer = '',
  title = 'A page',
  fetch = true,
  beacon = true,
  storage = {},
  server,
} = {}) => {
  const requests = [];
  const listeners = {};
  const uncaught = [];
  const record = (how, target, body, options) => {
    const request = { how, url: target, body: JSON.parse(body), text: body, options };
    requests.push(request);
    return request;
  };

  const window = {
    location: { href: url },
    navigator: {
      sendBeacon: (target, body) => {
        record('beacon', target, body);
        return beacon;
      },
    },
    addEventListener: (type, listener) => {
      listeners[type] = [...(listeners[type] || []), listener];
    },
    // A handler's error reaches the console as an uncaught error: record it instead.
    queueMicrotask: (task) =>
      queueMicrotask(() => {
        try {
          task();
        } catch (error) {
          uncaught.push(error);
        }
      }),
    // The address bar: replaceState changes it (the page's history is not modelled).
    history: {
      state: null,
      replaceState: (_state, _title, target) => {
        window.location.href = String(target);
        document.URL = String(target);
      },
    },
    URL,
    Blob,
    JSON,
    console,
  };
  window.window = window;
  if (storage) {
    // Items are properties too (localStorage[key] reads one), as in a browser.
    const items = { ...storage };
    Object.defineProperties(items, {
      setItem: { value: (key, value) => (items[key] = String(value)) },
      removeItem: { value: (key) => delete items[key] },
    });
    window.localStorage = items;
  } else {
    Object.defineProperty(window, 'localStorage', {
      get: () => {
        throw new Error('SecurityError: storage is off');
      },
    });
  }
  if (fetch) {
    window.fetch = (target, options) =>
      new Promise((resolve, reject) => {
        const request = record('fetch', target, options.body, options);
        request.answer = (status, body) =>
          resolve({ ok: status >= 200 && status < 300, status, json: async () => plain(body) });
        request.answerText = (status, text) =>
          resolve({
            ok: status >= 200 && status < 300,
            status,
            json: async () => JSON.parse(text),
          });
        request.fail = (error = new TypeError('Failed to fetch')) => reject(error);
        const answer = server?.(request);
        if (answer?.fail) request.fail(answer.fail);
        else if (answer?.text !== undefined) request.answerText(answer.status, answer.text);
        else if (answer) request.answer(answer.status, answer.body);
      });
  }
  const document = {
    URL: url,
    title,
    referrer,
    currentScript: null,
    head: { children: [], appendChild: (element) => document.head.children.push(element) },
    createElement: (tag) => ({ tag, dataset: {} }),
  };
  window.document = document;
  const context = vm.createContext(window);

  return {
    window,
    requests,
    uncaught,
    /** Requests sent to a path ending with `path` ("activities", "consent", "init"). */
    sent: (path) => requests.filter((request) => request.url.endsWith(path)),
    /** Run `code` as a classic script; `script` is its element's (document.currentScript). */
    run: (code, script = null) => {
      document.currentScript = script;
      vm.runInContext(code, context);
      document.currentScript = null;
    },
    /** Call the page's global function `name` (as the page's own code would). */
    call: (name, ...args) => window[name](...args),
    /** Dispatch an event of `type` (with the properties of `event`) to the window's listeners. */
    dispatch: (type, event = {}) => {
      for (const listener of listeners[type] || []) listener({ type, ...event });
    },
  };
};

/** The activities of every request to the activities endpoint, in order. */
export const sentActivities = (page) =>
  page.sent('/activities').flatMap((request) => request.body.activities);
