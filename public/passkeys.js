/* global window, document */
/*
 * Passkey ceremonies on the login and enrolment pages (CONTRACT §9). Forms marked data-passkey are hidden
 * without JavaScript; here they are shown, and their button (or, on the login page, the browser's
 * autofill: conditional mediation) runs the ceremony with @simplewebauthn/browser, puts the answer in
 * the form and submits it. The server checks everything.
 */
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  if (!lib || !window.PublicKeyCredential) return;
  var forms = document.querySelectorAll('form[data-passkey]');
  Array.prototype.forEach.call(forms, function (form) {
    var mode = form.getAttribute('data-passkey');
    var options = JSON.parse(form.getAttribute('data-options'));
    var field = form.querySelector('input[name="credential"]');
    var status = form.querySelector('[data-passkey-status]');
    var button = form.querySelector('button');
    // The page's language: the server puts the message in the form.
    var notUsed = form.getAttribute('data-not-used') || 'The passkey was not used. You can try again.';
    form.hidden = false;

    function run(autofill) {
      var ceremony = mode === 'register'
        ? lib.startRegistration({ optionsJSON: options })
        : lib.startAuthentication({ optionsJSON: options, useBrowserAutofill: autofill });
      return ceremony.then(function (answer) {
        field.value = JSON.stringify(answer);
        form.submit();
      }, function () {
        if (!autofill && status) status.textContent = notUsed;
      });
    }

    button.addEventListener('click', function (event) {
      event.preventDefault();
      run(false);
    });
    if (mode === 'login' && lib.browserSupportsWebAuthnAutofill) {
      lib.browserSupportsWebAuthnAutofill().then(function (supported) {
        if (supported) run(true);
      });
    }
  });
})();
