// "Calculate instantly": the loan calculator in the page, logged from the browser.
// The form still posts without JavaScript (the server logs the activity then).
(function () {
  var form = document.getElementById('loan-form');
  var button = document.getElementById('calculate-instantly');
  var result = document.getElementById('instant-result');
  var output = document.getElementById('instant-payment');
  var saved = document.getElementById('instant-saved');
  var rate = Number(form.dataset.rate) / 12;
  var minAmount = Number(form.dataset.minAmount);
  var maxAmount = Number(form.dataset.maxAmount);
  var maxYears = Number(form.dataset.maxYears);
  var tracking = form.dataset.tracking === 'on';
  var euros = function (x, cents) {
    return '€' + x.toLocaleString('en-US', {
      minimumFractionDigits: cents ? 2 : 0,
      maximumFractionDigits: cents ? 2 : 0
    });
  };
  // Tell the visitor when the record did not reach us after all.
  kxt('onerror', function (name) {
    saved.textContent = name === 'error_other'
      ? 'Not saved: we could not reach our server.'
      : 'Not saved.';
  });
  button.hidden = false;
  button.addEventListener('click', function () {
    result.hidden = false;
    var amount = Number(form.elements.amount.value);
    var years = Number(form.elements.years.value);
    var valid = Number.isInteger(amount) && amount >= minAmount && amount <= maxAmount &&
      Number.isInteger(years) && years >= 1 && years <= maxYears;
    if (!valid) {
      output.textContent = 'Enter an amount of ' + euros(minAmount, false) + ' to ' + euros(maxAmount, false) +
        ' and a term of 1 to ' + maxYears + ' years.';
      saved.textContent = '';
      return;
    }
    var payment = amount * rate / (1 - Math.pow(1 + rate, -years * 12));
    output.textContent = 'Monthly payment: ' + euros(payment, true) + ' for ' +
      euros(amount, false) + ' over ' + years + ' years.';
    saved.textContent = tracking
      ? 'Saved to your data, so we can suggest offers that fit you.'
      : 'Not saved: you chose essential cookies only, so this stayed in your browser.';
    // The client-side way: held in the page until the visitor consents, never sent without.
    kxt('customactivity', {
      type: 'custom_loan_calculator',
      value: String(amount),
      title: 'Loan calculator usage'
    });
  });
})();
