// The copy-paste snippet's loader for external sites (cross_site_snippet / `kxt sites snippet`):
// defines the queue stub, then loads kxt-cs.js from the main site. KXT_FUNCTION_NAME and
// KXT_SCRIPT_URL are replaced by JavaScript strings when the snippet is made.

import { defineQueue } from './queue.js';

const name = KXT_FUNCTION_NAME;
const script = document.createElement('script');

defineQueue(name);
script.async = true;
script.src = KXT_SCRIPT_URL;
script.dataset.fn = name;
document.head.appendChild(script);
