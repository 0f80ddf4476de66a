// The admin's code-name suggestion (js/src/code-name.js) agrees with the server's
// code_name_from_display_name: tests/js/code-names.json holds the cases, and
// tests/test_code_names.py checks the Python side against the same file.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { codeNameFromDisplayName } from '../../js/src/code-name.js';
import { fakePage, ROOT } from './fake-browser.js';

const cases = JSON.parse(readFileSync(join(ROOT, 'tests', 'js', 'code-names.json'), 'utf8'));

test('the suggested code names are the server’s', () => {
  assert.deepEqual(
    cases.map(([name]) => [name, codeNameFromDisplayName(name)]),
    cases,
  );
});

test('the admin script fills the code name until the user edits it', () => {
  const page = fakePage();
  const field = () => {
    const element = { value: '', listeners: {} };
    element.addEventListener = (type, listener) => {
      element.listeners[type] = listener;
    };
    element.type = (text) => {
      element.value = text;
      element.listeners.input();
    };
    return element;
  };
  const name = field();
  const code = field();
  const ready = [];
  Object.assign(page.window.document, {
    addEventListener: (_DOMContentLoaded, listener) => ready.push(listener),
    querySelector: (selector) => (selector === '[data-code-source]' ? name : code),
  });
  const admin = join(ROOT, 'src', 'kxt_middleware', 'admin', 'static', 'admin.js');
  page.run(readFileSync(admin, 'utf8'));
  for (const listener of ready) listener();
  name.type('Über Café');
  assert.equal(code.value, 'uber_cafe');
  code.type('my_code');
  name.type('Something else');
  assert.equal(code.value, 'my_code');
  code.type('');
  name.type('Something else');
  assert.equal(code.value, 'something_else');
});
