// customer.js: the demo customer page. ?account=NAME picks the account the widget calls (default
// demo); the page also shows the snippet that embeds the widget elsewhere.
(function () {
  'use strict';
  var acct = new URLSearchParams(location.search).get('account');
  var box = document.getElementById('webcall');
  if (acct && /^[a-z0-9][a-z0-9_-]{0,62}$/.test(acct)) box.setAttribute('data-account', acct);
  document.getElementById('snippet').textContent =
    '<script src="' + location.origin + '/static/webcall.js" defer></script>\n' +
    '<div data-cti-webcall data-account="' + box.getAttribute('data-account') + '"></div>';
})();
