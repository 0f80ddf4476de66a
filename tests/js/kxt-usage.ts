// Checked by `tsc -p tests/js` (make js-test): what kxt.d.ts accepts, and what it must refuse.

kxt('customactivity', { type: 'custom_cta', value: 'btnCTA', title: 'Custom CTA click' });
kxt('customactivity', { type: 'custom_loan_calculator', value: 25000 });
kxt('pagevisit');
kxt('consentagree');
kxt('consentrevoke');
kxt('init', { mainSiteUrl: 'https://www.example.com' });
kxt('click', { label: 'Buy' });
window.kxt('pagevisit');
const level: number | undefined = kxt('level');
console.info(level);

kxt('onerror', (error, detail) => {
  if (error === 'error_not_logged') {
    const result = detail as KxtNotLogged;
    console.warn(result.status, result.reason);
  }
});

const handler: KxtErrorHandler = (error, detail) => console.warn(error, detail);
kxt('onerror', handler);

declare const customActivityTracker: KxtFunction;
customActivityTracker('customactivity', { type: 'custom_cta' });

// @ts-expect-error a custom activity needs its type
kxt('customactivity', { value: 'no type' });
// @ts-expect-error an unknown command
kxt('customActivity', { type: 'custom_cta' });
// @ts-expect-error onerror takes a function
kxt('onerror', 'console.warn');
// @ts-expect-error an object is no value
kxt('customactivity', { type: 'custom_cta', value: { amount: 1 } });
// @ts-expect-error a click's label
kxt('click', { value: 'Buy' });
