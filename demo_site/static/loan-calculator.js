// "Calculate instantly": the loan calculator in the page, logged from the browser.
// The form still posts without JavaScript (the server logs the activity then).
(function () {
  var form = document.getElementById('loan-form');
  var button = document.getElementById('calculate-instantly');
  var result = document.getElementById('instant-result');
  var output = document.getElementById('instant-payment');
  var rate = Number(form.dataset.rate) / 12;
  var maxAmount = Number(form.dataset.maxAmount);
  var maxYears = Number(form.dataset.maxYears);
  var money = function (x) {
    return x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  };
  button.hidden = false;
  button.addEventListener('click', function () {
    result.hidden = false;
    var amount = Number(form.elements.amount.value);
    var years = Number(form.elements.years.value);
    var valid = Number.isInteger(amount) && amount >= 1 && amount <= maxAmount &&
      Number.isInteger(years) && years >= 1 && years <= maxYears;
    if (!valid) {
      output.textContent = 'Enter an amount of 1 to ' + maxAmount.toLocaleString('en-US') +
        ' and a term of 1 to ' + maxYears + ' years.';
      return;
    }
    var payment = amount * rate / (1 - Math.pow(1 + rate, -years * 12));
    output.textContent = 'Monthly payment: ' + money(payment) + ' for ' +
      amount.toLocaleString('en-US') + ' over ' + years + ' years.';
    // The client-side way: held in the page until the visitor consents, never sent without.
    kxt('customactivity', {
      type: 'custom_loan_calculator',
      value: String(amount),
      title: 'Loan calculator usage'
    });
  });
})();
