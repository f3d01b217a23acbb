// Rate deck upload with progress: the file transfer (a determinate bar fed by the upload's
// progress events), then the server's validation, compilation and diff (an indeterminate bar
// until the review arrives). Same origin, no inline code, so the console's CSP holds. Without
// JavaScript, or if anything here fails, the form posts as a plain form and still works.
(function () {
  "use strict";

  function bind() {
    var form = document.getElementById("deck-upload");
    var box = document.getElementById("deck-progress");
    if (!form || !box || !window.FormData || !window.XMLHttpRequest) { return; }
    form.addEventListener("submit", function (event) {
      var file = form.querySelector("input[type=file]");
      if (!file || !file.files || file.files.length === 0) { return; }  // the server says why
      event.preventDefault();
      send(form, box);
    });
  }

  // What the upload went through, kept on <body> (the page's main part is replaced): the
  // phases in order and the highest transfer percentage shown.
  function note(phase, percent) {
    var body = document.body.dataset;
    if (phase && (body.deckPhases || "").split(" ").indexOf(phase) < 0) {
      body.deckPhases = ((body.deckPhases || "") + " " + phase).trim();
    }
    if (percent !== undefined) { body.deckTransfer = String(percent); }
  }

  function send(form, box) {
    var transfer = document.getElementById("deck-transfer");
    var check = document.getElementById("deck-check-row");
    var status = document.getElementById("deck-status");
    var button = form.querySelector("button[type=submit]");
    var xhr = new XMLHttpRequest();
    box.hidden = false;
    box.dataset.phase = "transfer";
    note("transfer", 0);
    transfer.value = 0;
    check.hidden = true;
    button.disabled = true;
    status.textContent = box.dataset.uploading + " 0 %";
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var percent = Math.floor((e.loaded / e.total) * 100);
      transfer.value = percent;
      note(null, percent);
      status.textContent = box.dataset.uploading + " " + percent + " %";
    });
    xhr.upload.addEventListener("load", function () {
      transfer.value = 100;
      check.hidden = false;
      box.dataset.phase = "check";
      note("check", 100);
      status.textContent = box.dataset.checking;
    });
    xhr.addEventListener("load", function () {
      var doc = xhr.responseXML;
      var main = doc && doc.getElementById("main");
      if (!main) { form.submit(); return; }
      document.title = doc.title;
      document.getElementById("main").replaceWith(document.importNode(main, true));
      bind();  // the review page has the upload form again
      var done = document.getElementById("deck-progress");
      if (done) { done.dataset.phase = "done"; }
      note("done");
    });
    xhr.addEventListener("error", function () { form.submit(); });
    xhr.open("POST", form.action);
    xhr.responseType = "document";
    xhr.send(new FormData(form));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", bind);
  } else {
    bind();
  }
})();
