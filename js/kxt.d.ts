// Types of the tracking function that kxt-middleware's browser scripts publish: kxt.js on the
// site's own pages (activity_logging_script) and kxt-cs.js on registered external sites
// (cross_site_snippet). Shipped in the package as kxt_middleware/static/kxt.d.ts.
//
// Add it to a TypeScript project (copy it, or point `"files"`/`"include"` of tsconfig.json at it):
//
//   kxt('customactivity', {type: 'custom_cta', value: 'btnCTA', title: 'Custom CTA click'});
//   kxt('onerror', (error, detail) => console.warn(error, detail));
//
// A renamed function (logging_function_name="customActivityTracker") gets the same type:
//
//   declare const customActivityTracker: KxtFunction;

/** A custom activity: its type is an activity type's code name (e.g. "custom_cta"). */
interface KxtCustomActivity {
  type: string;
  /** At most 250 characters once turned into text. */
  value?: string | number | boolean | null;
  /** At most 250 characters once turned into text. */
  title?: string | number | boolean | null;
}

/** Why the server did not log an activity it was sent. */
type KxtNotLoggedStatus =
  | 'no_consent'
  | 'type_disabled'
  | 'type_unknown'
  | 'contact_erased'
  | 'invalid';

/** One activity's result that was not "logged". */
interface KxtNotLogged {
  /** The id the script gave the activity (null if the server could not read one). */
  id: string | null;
  status: KxtNotLoggedStatus;
  /** What to fix, in words. */
  reason: string;
}

/** A non-2xx answer: its status and its JSON body (null when the body is not JSON). */
interface KxtBadResponse {
  status: number;
  body: { error?: string; detail?: unknown } | null;
}

/** The details each error comes with. */
interface KxtErrors {
  /** The server answered with an error status (e.g. 503 overloaded). */
  error_bad_response: KxtBadResponse;
  /** An activity was not logged (e.g. a disabled or unknown type, a value too long). */
  error_not_logged: KxtNotLogged;
  /** kxt-cs.js only: the browser does not send the main site's cookies (third-party cookies
   * are blocked), so nothing can be logged for this visitor. */
  error_cookies_blocked: KxtBadResponse;
  /** A request failed on the network (the Error; it is retried once as a beacon), or an unknown
   * command was called (its name). */
  error_other: unknown;
}

type KxtErrorName = keyof KxtErrors;

/** Hears every error; the latest one registered replaces the one before. Errors that happened
 * before a handler was registered (up to 10) are told to the first one. */
type KxtErrorHandler = <Name extends KxtErrorName>(error: Name, detail: KxtErrors[Name]) => void;

/** The tracking function (`kxt` unless renamed). Calls made before the script loads wait in
 * the inline stub's queue and are replayed in order. Only `level` returns a value. */
interface KxtFunction {
  /** Log a custom activity of an enabled activity type (a no-op with log_custom_activity=False). */
  (command: 'customactivity', activity: KxtCustomActivity): void;
  /** Log a visit of this page (kxt.js logs one on load unless log_page_visit=False). */
  (command: 'pagevisit'): void;
  /** The visitor agrees to tracking: the level becomes All and held activities are sent. */
  (command: 'consentagree'): void;
  /** The visitor withdraws: held activities are dropped and nothing more is sent. */
  (command: 'consentrevoke'): void;
  /** The visitor's cookie level as the script knows it now (undefined before the script runs,
   * and on an external site until init is answered). */
  (command: 'level'): number | undefined;
  /** Hear what went wrong (replaces the handler registered before). */
  (command: 'onerror', handler: KxtErrorHandler): void;
  /** kxt-cs.js only: ask the main site for the visitor's level (the snippet calls it). */
  (command: 'init', options?: { mainSiteUrl?: string }): void;
  /** kxt-cs.js only: log a click. */
  (command: 'click', click: { label: string | number }): void;
}

/** The tracking function under its default name. */
declare var kxt: KxtFunction;
