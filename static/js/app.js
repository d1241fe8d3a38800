// Upload progress for the backup form (htmx posts it with XMLHttpRequest and reports progress).
document.addEventListener("htmx:xhr:progress", function (event) {
  var form = event.target.closest ? event.target.closest("#upload-form") : null;
  if (!form || !event.detail.lengthComputable) return;
  var bar = document.getElementById("upload-progress");
  var label = document.getElementById("upload-percent");
  var pct = Math.round((event.detail.loaded / event.detail.total) * 100);
  bar.hidden = false;
  bar.value = pct;
  label.textContent = pct < 100 ? "Uploading… " + pct + "%" : "Uploaded; saving…";
});
// Refuse a file over the limit before sending it.
document.addEventListener("change", function (event) {
  var input = event.target;
  var form = input.closest ? input.closest("#upload-form") : null;
  if (!form || input.type !== "file" || !input.files.length) return;
  var max = parseInt(form.dataset.maxBytes, 10);
  var result = document.getElementById("upload-result");
  if (input.files[0].size > max) {
    input.setCustomValidity("This file is larger than the upload limit.");
    result.textContent = "This file is larger than the upload limit (" + Math.round(max / 1048576) + " MB).";
    result.className = "error";
  } else {
    input.setCustomValidity("");
    result.textContent = "";
  }
});
// htmx errors (4xx/5xx on partial requests) are shown, not swallowed.
document.addEventListener("htmx:responseError", function (event) {
  var status = event.detail.xhr.status;
  var text = status === 403 ? "Your role does not allow this action." : "The server could not do this (HTTP " + status + "). Reload the page and try again.";
  alert(text);
});
// A form that says data-confirm="…" asks first (Cancel, Dismiss, Roll back): no destructive click
// goes through by accident.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.dataset ? form.dataset.confirm : null;
  var button = event.submitter;
  if (button && button.dataset && button.dataset.confirm) question = button.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
}, true);
// A form marked hx-disabled-elt is sent once: htmx disables the elements for its own requests;
// a plain form's buttons are disabled here right after it is submitted (after the browser took
// the clicked button's value), and enabled again when the page comes back from the history.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented || !form.hasAttribute || !form.hasAttribute("hx-disabled-elt")) return;
  if (form.hasAttribute("hx-post") || form.hasAttribute("hx-get")) return;
  setTimeout(function () {
    form.querySelectorAll("button").forEach(function (button) {
      button.disabled = true;
      button.dataset.sent = "1";
    });
  }, 0);
});
window.addEventListener("pageshow", function (event) {
  if (!event.persisted) return;
  document.querySelectorAll("button[data-sent]").forEach(function (button) {
    button.disabled = false;
    delete button.dataset.sent;
  });
});
