// The inline stub activity_logging_script() puts before kxt.js: calls wait in kxt.q until the
// script runs. KXT_FUNCTION_NAME is replaced by the function's name (a JavaScript string) when
// the page is rendered.

import { defineQueue } from './queue.js';

defineQueue(KXT_FUNCTION_NAME);
