// The admin's forms: fill the code name from the name as the user types, until they edit the
// code name themselves.

import { codeNameFromDisplayName } from './code-name.js';

document.addEventListener('DOMContentLoaded', () => {
  const source = document.querySelector('[data-code-source]');
  const target = document.querySelector('[data-code-target]');
  if (!source || !target) return;
  let edited = target.value !== '';
  target.addEventListener('input', () => {
    edited = target.value !== '';
  });
  source.addEventListener('input', () => {
    if (!edited) target.value = codeNameFromDisplayName(source.value);
  });
});
