// Progressive enhancement only: every page works without this file.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-copy]");
  if (!b) return;
  var input = document.getElementById(b.getAttribute("data-copy"));
  if (!input) return;
  input.select();
  if (navigator.clipboard) {
    navigator.clipboard.writeText(input.value).then(function () { b.textContent = "Copied"; });
  }
});
document.addEventListener("focusin", function (e) {
  if (e.target.matches && e.target.matches("input.link")) e.target.select();
});
// Company type-ahead: an input with data-companies="LIST" fills the <datalist> LIST from
// /api/admin/companies?q= as staff type (the server also resolves a typed name without it).
(function () {
  var timer;
  document.addEventListener("input", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[data-companies]")) return;
    var list = document.getElementById(input.getAttribute("data-companies"));
    var q = input.value.trim();
    clearTimeout(timer);
    if (!list || q.length < 2) return;
    timer = setTimeout(function () {
      fetch("/api/admin/companies?limit=10&q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { companies: [] }; })
        .then(function (data) {
          list.textContent = "";
          (data.companies || []).forEach(function (c) {
            var o = document.createElement("option");
            o.value = c.company_name;
            o.label = c.company_id;
            list.appendChild(o);
          });
        })
        .catch(function () {});
    }, 200);
  });
})();
// "Copy offer link" without a reload: post the suggestion's form (with the offer chosen next
// to the button) asking for JSON, copy the link, and show it. Without JavaScript, or when
// anything fails, the button submits the form and the page shows the link to copy.
document.addEventListener("click", function (e) {
  var b = e.target.closest && e.target.closest("button[data-copy-link]");
  if (!b || !window.fetch) return;
  var form = b.form;
  e.preventDefault();
  var out = form.querySelector("output.copied");
  fetch(b.getAttribute("formaction"), {
    method: "POST", credentials: "same-origin",
    headers: { Accept: "application/json" },
    body: new URLSearchParams(new FormData(form))
  }).then(function (r) {
    if (!r.ok) throw new Error("status " + r.status);
    return r.json();
  }).then(function (data) {
    var shown = function (msg) {
      if (!out) return;
      out.textContent = msg + " ";
      var input = document.createElement("input");
      input.className = "link";
      input.readOnly = true;
      input.value = data.url;
      input.setAttribute("aria-label", "Offer link");
      out.appendChild(input);
      // Preview: a signed-in staff visit is shown a banner and records nothing.
      var old = document.getElementById("offer-preview");
      if (old) old.removeAttribute("id");
      var preview = document.createElement("a");
      preview.id = "offer-preview";
      preview.className = "button secondary";
      preview.href = data.url + "?preview=1";
      preview.target = "_blank";
      preview.rel = "noopener";
      preview.textContent = "Preview";
      out.appendChild(document.createTextNode(" "));
      out.appendChild(preview);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(data.url).then(function () { shown("Copied (" + data.offer_key + " offer):"); },
        function () { shown("Copy this link:"); });
    } else {
      shown("Copy this link:");
    }
  }).catch(function () {
    form.action = b.getAttribute("formaction");
    form.submit();
  });
});
