// An older exchange-rate widget ("Kurs eXchange Ticker") that has always owned window.kxt.
// It has nothing to do with activity tracking: it is here to show that the tracking script,
// renamed with logging_function_name="customActivityTracker", leaves this kxt alone.
(function () {
  var rates = { EUR: 1, USD: 1.08, GBP: 0.85, CHF: 0.94 };
  window.kxt = function (currency) {
    return rates[currency];
  };
  window.kxt.widget = 'exchange-rates';
  document.addEventListener('DOMContentLoaded', function () {
    var list = document.getElementById('exchange-rates');
    if (!list) return;
    list.textContent = '';
    Object.keys(rates).forEach(function (code) {
      if (code === 'EUR') return;
      var item = document.createElement('li');
      item.textContent = '1 EUR = ' + window.kxt(code).toFixed(2) + ' ' + code;
      list.appendChild(item);
    });
  });
})();
